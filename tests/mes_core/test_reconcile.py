"""The PLC's cumulative state times only check the intervals: a lost state change is a
collection gap on that machine and element, reported, never corrected."""

from __future__ import annotations

from mestwin.mes_core.collection.collector import Collector
from mestwin.mes_core.collection.events import CollectionGap, Event
from mestwin.mes_core.collection.machine_state import ReasonCode, ReasonCodes
from mestwin.mes_core.collection.source import TagChange
from mestwin.mes_core.ledger import ProductionLedger

REASONS = ReasonCodes({10: ReasonCode(10, "breakdown"), 80: ReasonCode(80, "starved")})
STATE, REASON = "PackTags.Status.MachineState", "PackTags.Status.StateReason"
CHANGE_TIME = "PackTags.Status.StateChangeTime"
CHANGES = [(0.0, 0, 80), (50.0, 1, 0), (80.0, 4, 10), (95.0, 1, 0)]
"""(time, MachineState, StateReason): starved, processing, a 15 s breakdown, processing."""


def _plc(changes: list[tuple[float, int, int]]) -> list[list[TagChange]]:
    """The batches a PLC publishes for *changes*, as docs/integrators.md describes the OEE
    image: the finished state's cumulative time, then StateChangeTime, reason and state."""
    times = [0.0] * 8
    batches, last = [], None
    for t, state, reason in changes:
        batch = []
        if last is None:
            batch += [TagChange("m", f"OEE.MachineStateTime[{k}]", 0.0, t) for k in range(8)]
        else:
            times[last[1]] += t - last[0]
            batch.append(TagChange("m", f"OEE.MachineStateTime[{last[1]}]", times[last[1]], t))
        batch += [TagChange("m", CHANGE_TIME, t, t), TagChange("m", REASON, reason, t),
                  TagChange("m", STATE, state, t)]
        batches.append(batch)
        last = (t, state)
    return batches


def _collect(batches: list[list[TagChange]]) -> tuple[list[Event], ProductionLedger]:
    events: list[Event] = []
    ledger = ProductionLedger()
    collector = Collector(REASONS, [events.extend, ledger])
    for batch in batches:
        collector.on_batch(batch)
    collector.close(120.0)
    return events, ledger


def test_a_lossless_stream_has_no_gap() -> None:
    events, ledger = _collect(_plc(CHANGES))
    assert not [e for e in events if isinstance(e, CollectionGap)]
    assert ledger.gaps == []
    assert ledger.measurements("m").time.adet == 15.0


def test_a_dropped_state_change_is_a_gap_on_that_machine_and_element() -> None:
    """The transport loses MachineState = 4 at 80 s (its reason still arrives): the
    intervals book the breakdown as processing; the PLC's state times say 15 s of ADET. The
    gap names both elements with both figures; the ledger keeps the intervals' figures."""
    batches = _plc(CHANGES)
    batches[2] = [c for c in batches[2] if c.path != STATE]
    events, ledger = _collect(batches)
    gaps = {(g.machine, g.element): (g.intervals_s, g.plc_s) for g in events
            if isinstance(g, CollectionGap)}
    assert gaps == {("m", "APT"): (70.0, 55.0), ("m", "ADET"): (0.0, 15.0)}
    assert {(g.start, g.end) for g in ledger.gaps} == {(0.0, 120.0)}
    assert ledger.measurements("m").time.adet == 0.0  # reported, not corrected
