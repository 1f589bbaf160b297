"""A machine's tag values: effective changes only, versions, watchers, typed reads."""

from __future__ import annotations

import pytest

from mestwin.virtual_plc.tag_values import TagValues


def test_change_detection_reports_only_effective_changes() -> None:
    """Writing the value a tag already holds is not a change; changed_since(v) returns each
    tag changed after version v once, with its latest value."""
    values = TagValues()
    start = values.version
    assert not values.set("Diagnostics.ScanCount", 0)
    assert values.version == start
    assert values.set("Diagnostics.ScanCount", 1)
    mark = values.version
    values.set("Diagnostics.Heartbeat", 1)
    values.set("Diagnostics.ScanCount", 2)
    values.set("Diagnostics.ScanCount", 3)
    assert values.changed_since(mark) == {"Diagnostics.Heartbeat": 1,
                                          "Diagnostics.ScanCount": 3}
    assert values.changed_since(values.version) == {}
    assert values.changed_since(start) == {"Diagnostics.Heartbeat": 1,
                                           "Diagnostics.ScanCount": 3}


def test_change_detection_tells_bool_from_int() -> None:
    """False -> 0 is a change of type and counts as one (tags never mix them, but the
    detector must not hide it)."""
    values = TagValues()
    assert values.set("PackTags.Status.EquipmentInterlock.Blocked", True)
    assert values.set("PackTags.Status.EquipmentInterlock.Blocked", 1)


def test_watchers_see_effective_changes_of_their_paths_in_write_order() -> None:
    """A watcher of some paths (an in-process monitored item) is called for each effective
    change of those paths and of no other; a watcher of everything sees every change."""
    values = TagValues()
    some: list[tuple[str, object]] = []
    every: list[tuple[str, object]] = []
    values.watch(lambda path, value: some.append((path, value)),
                 ["Diagnostics.Heartbeat", "PackTags.Status.MachineState"])
    values.watch(lambda path, value: every.append((path, value)))
    values.set("PackTags.Status.MachineState", 3)
    values.set("Diagnostics.ScanCount", 1)
    values.set("Diagnostics.Heartbeat", 7)
    values.set("Diagnostics.Heartbeat", 7)  # no change, no call
    assert some == [("PackTags.Status.MachineState", 3), ("Diagnostics.Heartbeat", 7)]
    assert every == [("PackTags.Status.MachineState", 3), ("Diagnostics.ScanCount", 1),
                     ("Diagnostics.Heartbeat", 7)]
    with pytest.raises(KeyError, match="unknown tag"):
        values.watch(lambda path, value: None, ["No.Such.Tag"])


def test_typed_getters() -> None:
    """integer() and real() read numeric tags and refuse strings."""
    values = TagValues()
    values.set("PackTags.Command.CntrlCmd", 2)
    assert values.integer("PackTags.Command.CntrlCmd") == 2
    assert values.real("PackTags.Command.CntrlCmd") == 2.0
    with pytest.raises(TypeError):
        values.integer("PackTags.Command.WorkOrder")
    with pytest.raises(TypeError):
        values.real("PackTags.Command.WorkOrder")


def test_each_change_is_dated_by_the_clock_and_one_instant_is_shared() -> None:
    """With a clock, changed_at gives the clock's time of a tag's last effective change;
    a write of the same value keeps the old date; without a clock there is none."""
    now = [0.0]
    values = TagValues(clock=lambda: now[0])
    assert values.changed_at("Diagnostics.Heartbeat") is None  # never changed
    now[0] = 12.5
    values.set("Diagnostics.Heartbeat", 1)
    values.set("Diagnostics.ScanCount", 1)
    now[0] = 13.0
    values.set("Diagnostics.Heartbeat", 1)  # not a change
    assert values.changed_at("Diagnostics.Heartbeat") == 12.5
    assert values.changed_at("Diagnostics.ScanCount") == 12.5
    plain = TagValues()
    plain.set("Diagnostics.Heartbeat", 1)
    assert plain.changed_at("Diagnostics.Heartbeat") is None


def test_unwatch_stops_one_callback_and_leaves_the_others() -> None:
    """After unwatch a callback is no longer called for those paths; another watcher of
    the same path still is; unwatching what was never watched does nothing."""
    values = TagValues()
    first: list[object] = []
    second: list[object] = []

    def one(_path: str, value: object) -> None:
        first.append(value)

    def other(_path: str, value: object) -> None:
        second.append(value)

    values.watch(one, ["Diagnostics.Heartbeat"])
    values.watch(other, ["Diagnostics.Heartbeat"])
    values.set("Diagnostics.Heartbeat", 1)
    values.unwatch(one, ["Diagnostics.Heartbeat"])
    values.unwatch(one, ["Diagnostics.ScanCount"])
    values.set("Diagnostics.Heartbeat", 2)
    assert first == [1]
    assert second == [1, 2]
