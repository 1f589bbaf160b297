"""The state source is configuration: the OEE state tag, or PackML with its stop reason and
operation mode, each state booked to the ISO 22400 element docs/integrators.md gives it."""

from __future__ import annotations

import pytest

from mestwin.mes_core.collection.collector import Collector, tag_paths
from mestwin.mes_core.collection.events import Event, StateInterval
from mestwin.mes_core.collection.machine_state import ReasonCode, ReasonCodes
from mestwin.mes_core.collection.source import TagChange
from mestwin.mes_core.collection.state_models import (
    OPERATION_MODE,
    PACKML_STATE,
    STOP_REASON,
    PackMLMapping,
    PackMLModel,
    state_model,
)

REASONS = ReasonCodes({c: ReasonCode(c, n) for c, n in (
    (10, "breakdown"), (20, "setup"), (70, "break"), (73, "operator_stop"),
    (80, "starved"))})
MAPPING = PackMLMapping(planned=frozenset({70, 71, 72, 76, 77}), faults=frozenset({10, 11, 99}))
# PackML StateCurrent codes (ISA-TR88.00.02 PLC numbering, docs/integrators.md)
CLEARING, STOPPED, STARTING, IDLE, SUSPENDED, EXECUTE, STOPPING = 1, 2, 3, 4, 5, 6, 7
ABORTING, ABORTED, SUSPENDING, RESETTING = 8, 9, 13, 15


def _at(t: float, *changes: tuple[str, object]) -> list[TagChange]:
    return [TagChange("m", path, value, t) for path, value in changes]  # type: ignore[arg-type]


def _packml(t: float, *states: int, reason: int | None = None) -> list[TagChange]:
    """What the PLC writes at *t*: the stop reason (when it changes), then each state of the
    route PackML takes in that instant."""
    out = _at(t, (STOP_REASON, reason)) if reason is not None else []
    return out + [TagChange("m", PACKML_STATE, s, t) for s in states]


def test_packml_states_are_booked_as_the_integrator_table_says() -> None:
    """Execute is APT, ASUT in setup mode; a breakdown (Aborting, Aborted) and its way back
    (Clearing, Stopped, Resetting, Idle, Starting) are ADET; Suspended is ADOT; a stop for a
    planned-downtime reason is PDOT with its way back; an operator stop is ADOT."""
    events: list[Event] = []
    collector = Collector(REASONS, [events.extend], states=PackMLModel(MAPPING))
    for batch in (
        [*_at(0.0, (OPERATION_MODE, "Processing"), (STOP_REASON, 0)), *_packml(0.0, EXECUTE)],
        _at(100.0, (OPERATION_MODE, "Setup")),
        _at(130.0, (OPERATION_MODE, "Processing")),
        _packml(200.0, ABORTING, ABORTED, reason=10),
        _packml(260.0, CLEARING, STOPPED, RESETTING),
        _packml(262.0, IDLE), _packml(265.0, STARTING), _packml(266.0, EXECUTE),
        _packml(300.0, SUSPENDING, SUSPENDED, reason=80),
        _packml(320.0, STOPPING, STOPPED, reason=70),
        _packml(400.0, RESETTING, IDLE), _packml(405.0, STARTING, EXECUTE),
        _packml(450.0, STOPPING, STOPPED, reason=73),
        _packml(470.0, RESETTING, IDLE, STARTING, EXECUTE),
    ):
        collector.on_batch(batch)
    collector.close(500.0)
    intervals = [e for e in events if isinstance(e, StateInterval)]
    booked: dict[str, float] = {}
    for i in intervals:
        booked[i.element] = booked.get(i.element, 0.0) + i.end - i.start
    assert booked == {"APT": 100 + 70 + 34 + 45 + 30, "ASUT": 30.0, "ADET": 66.0,
                      "ADOT": 20 + 20, "PDOT": 85.0}
    by_reason: dict[str, float] = {}
    for i in intervals:
        if i.element != "APT":
            by_reason[i.reason] = by_reason.get(i.reason, 0.0) + i.end - i.start
    assert by_reason == {"setup": 30.0, "breakdown": 66.0, "starved": 20.0, "break": 85.0,
                         "operator_stop": 20.0}
    assert all(b.start < b.end for b in intervals)  # zero-length route steps make none


def test_a_reason_change_within_one_stop_splits_it_by_reason() -> None:
    """Suspended starved, then the stop reason becomes a break while PackML goes to Stopped
    in the same instant in another item order: the final state of the instant decides."""
    events: list[Event] = []
    collector = Collector(REASONS, [events.extend], states=PackMLModel(MAPPING))
    collector.on_batch([*_packml(0.0, EXECUTE), *_at(0.0, (STOP_REASON, 0))])
    collector.on_batch(_packml(10.0, SUSPENDING, SUSPENDED, reason=80))
    # states before the reason (OPC UA orders items of one instant only by configuration)
    collector.on_batch([*_packml(25.0, STOPPING, STOPPED), *_at(25.0, (STOP_REASON, 70))])
    collector.close(40.0)
    assert [(i.start, i.end, i.element, i.reason) for i in events
            if isinstance(i, StateInterval)] == [
        (0.0, 10.0, "APT", "processing"), (10.0, 25.0, "ADOT", "starved"),
        (25.0, 40.0, "PDOT", "break")]


def test_a_break_that_begins_during_a_breakdown_takes_the_clearing_too() -> None:
    """Repaired during a planned break, the machine clears to Stopped for the break (the
    stop reason follows the cause): Clearing and Stopped are PDOT, the breakdown ADET, and
    the way back to Execute after the break PDOT."""
    events: list[Event] = []
    collector = Collector(REASONS, [events.extend], states=PackMLModel(MAPPING))
    collector.on_batch([*_at(0.0, (STOP_REASON, 0)), *_packml(0.0, EXECUTE)])
    collector.on_batch(_packml(10.0, ABORTING, reason=10))
    collector.on_batch(_packml(11.0, ABORTED))
    collector.on_batch(_packml(50.0, CLEARING, reason=70))  # repaired during the break
    collector.on_batch(_packml(52.0, STOPPED))
    collector.on_batch(_packml(100.0, RESETTING))
    collector.on_batch(_packml(101.0, IDLE, STARTING))
    collector.on_batch(_packml(104.0, EXECUTE))
    collector.close(110.0)
    assert [(i.start, i.end, i.element) for i in events if isinstance(i, StateInterval)] == [
        (0.0, 10.0, "APT"), (10.0, 11.0, "ADET"), (11.0, 50.0, "ADET"), (50.0, 52.0, "PDOT"),
        (52.0, 100.0, "PDOT"), (100.0, 101.0, "PDOT"), (101.0, 104.0, "PDOT"),
        (104.0, 110.0, "APT")]


def test_state_sources_by_name_and_their_tags() -> None:
    """``machine_state`` reads MachineState and StateReason; ``packml`` adds StateCurrent,
    the stop reason and the operation mode to the subscription, before the heartbeat."""
    assert state_model("machine_state").tags == ("PackTags.Status.StateReason",
                                                 "PackTags.Status.MachineState")
    paths = tag_paths(state_model("packml"))
    assert {PACKML_STATE, STOP_REASON, OPERATION_MODE} <= set(paths)
    assert paths[-1] == "PackTags.Status.Heartbeat"
    assert len(paths) == len(set(paths))
    with pytest.raises(ValueError, match="unknown state source 'plc'"):
        state_model("plc")


TABLE = {10: "ADET", 11: "ADOT", 70: "PDOT", 73: "ADOT", 74: "ADET", 80: "ADOT"}
"""Part of the vendor's stop-reason -> element table (docs/integrators.md)."""
BY_TABLE = PackMLMapping(planned=MAPPING.planned, faults=MAPPING.faults, reasons=TABLE)
HOLDING, HELD, UNSUSPENDING = 10, 11, 14


def test_with_a_reason_table_every_stop_is_booked_by_its_reason() -> None:
    """An operator's Abort (Aborted, reason 11) is ADOT, a Suspend command (Suspended,
    reason 74) ADET, each with its way back; Execute stays APT; a stop without a reason
    (0) or with one the table lacks (55) is booked by its PackML state."""
    reasons = ReasonCodes({**REASONS.codes, 0: ReasonCode(0, "none"), 11: ReasonCode(11, "abort"),
                           74: ReasonCode(74, "operator_hold"), 55: ReasonCode(55, "x")})
    events: list[Event] = []
    collector = Collector(reasons, [events.extend], states=PackMLModel(BY_TABLE))
    for batch in (
        [*_at(0.0, (OPERATION_MODE, "Processing"), (STOP_REASON, 0)), *_packml(0.0, EXECUTE)],
        _packml(10.0, ABORTING, ABORTED, reason=11),
        _packml(30.0, CLEARING, STOPPED, reason=73),
        _packml(40.0, RESETTING, IDLE), _packml(45.0, STARTING), _packml(48.0, EXECUTE),
        _packml(60.0, SUSPENDING, SUSPENDED, reason=74),
        _packml(80.0, UNSUSPENDING), _packml(81.0, EXECUTE),
        _packml(90.0, HOLDING, HELD, reason=55),
        _packml(95.0, EXECUTE), _packml(100.0, ABORTING, ABORTED, reason=0),
    ):
        collector.on_batch(batch)
    collector.close(110.0)
    assert [(i.start, i.end, i.element, i.reason) for i in events
            if isinstance(i, StateInterval) and i.end > i.start] == [
        (0.0, 10.0, "APT", "processing"), (10.0, 30.0, "ADOT", "abort"),
        (30.0, 40.0, "ADOT", "operator_stop"), (40.0, 45.0, "ADOT", "operator_stop"),
        (45.0, 48.0, "ADOT", "operator_stop"), (48.0, 60.0, "APT", "processing"),
        (60.0, 80.0, "ADET", "operator_hold"), (80.0, 81.0, "ADET", "operator_hold"),
        (81.0, 90.0, "APT", "processing"), (90.0, 95.0, "ADET", "x"),
        (95.0, 100.0, "APT", "processing"), (100.0, 110.0, "ADET", "none")]


def test_the_same_stops_by_packml_state_alone_disagree() -> None:
    """Without the table (the PackML-state rule): the Abort is ADET and the Suspend ADOT,
    which is what the reason table corrects."""
    model = PackMLModel(MAPPING)
    assert model.classify({PACKML_STATE: ABORTED, STOP_REASON: 11}, "ADET") == (ABORTED, 11,
                                                                                 "ADET")
    assert model.classify({PACKML_STATE: SUSPENDED, STOP_REASON: 74}, "ADOT") == (
        SUSPENDED, 74, "ADOT")
    table = PackMLModel(BY_TABLE)
    assert table.classify({PACKML_STATE: ABORTED, STOP_REASON: 11}, "ADET") == (ABORTED, 11,
                                                                                "ADOT")
    assert table.classify({PACKML_STATE: SUSPENDED, STOP_REASON: 74}, "ADOT") == (
        SUSPENDED, 74, "ADET")
    assert table.classify({PACKML_STATE: EXECUTE, STOP_REASON: 74}, "ADET") == (EXECUTE, 0,
                                                                               "APT")
