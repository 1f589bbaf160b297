"""What the OPC UA publisher owes a PLC's tags: every change of a queued tag, bounded; the
latest value of the others, once."""

from __future__ import annotations

from mestwin.virtual_plc.opcua_history import ChangeHistory
from mestwin.virtual_plc.tag_values import TagValues

BEAT = "Diagnostics.Heartbeat"


def test_a_followed_tag_keeps_its_last_changes_up_to_the_queue_length_in_order() -> None:
    """100 changes, a queue of 5: the last 5, oldest first, each with its instant; then
    nothing until the next change (memory stays bounded however long nobody publishes)."""
    now = [0.0]
    tags = TagValues(clock=lambda: now[0])
    history = ChangeHistory(tags)
    history.follow(BEAT, 5)
    for beat in range(1, 101):
        now[0] = beat * 0.1
        tags.set(BEAT, beat)
    due = history.due(BEAT)
    assert [v for v, _ in due] == [96, 97, 98, 99, 100]
    assert [round(t or 0.0, 6) for _, t in due] == [9.6, 9.7, 9.8, 9.9, 10.0]
    assert history.due(BEAT) == []


def test_an_unfollowed_tag_is_due_its_latest_value_once() -> None:
    """Not followed (or forgotten, or a queue of 1): only the current value, and not again
    while it does not change."""
    tags = TagValues(clock=lambda: 3.0)
    history = ChangeHistory(tags)
    history.follow(BEAT, 10)
    history.follow(BEAT, 1)  # the queue went: forgotten
    assert history.paths == ()
    tags.set(BEAT, 1)
    tags.set(BEAT, 2)
    assert history.due(BEAT) == [(2, 3.0)]
    assert history.due(BEAT) == []
    tags.set(BEAT, 3)
    assert history.due(BEAT) == [(3, 3.0)]
