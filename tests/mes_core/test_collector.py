"""Data collection turns tag changes into exact state intervals, counts and unit starts,
and survives reconnects, counter wrap and frozen PLCs."""

from __future__ import annotations

from mestwin.mes_core.collection.collector import COUNTERS, Collector, parse_consumed
from mestwin.mes_core.collection.events import Counted, Event, Frozen, StateInterval, UnitStarted
from mestwin.mes_core.collection.machine_state import ReasonCode, ReasonCodes
from mestwin.mes_core.collection.source import TagChange
from mestwin.mes_core.losses import SixBigLoss

PROCESSED = next(p for p, c in COUNTERS.items() if c == "produced")
REASONS = ReasonCodes({10: ReasonCode(10, "breakdown", SixBigLoss.BREAKDOWN),
                       80: ReasonCode(80, "starved")})


def _collector() -> tuple[Collector, list[Event]]:
    events: list[Event] = []
    return Collector(REASONS, [events.extend], heartbeat_timeout=2.0), events


def _state(t: float, state: int, reason: int) -> list[TagChange]:
    return [TagChange("m", "PackTags.Status.StateChangeTime", t, t),
            TagChange("m", "PackTags.Status.StateReason", reason, t),
            TagChange("m", "PackTags.Status.MachineState", state, t)]


def test_intervals_use_each_change_s_own_time_not_the_arrival_of_its_batch() -> None:
    """A change that arrives late (a slow transport, a publish that batches several
    instants) still starts its interval at its own time: the SourceTimestamp over OPC UA."""
    collector, events = _collector()
    collector.on_batch(_state(0.0, 0, 80))
    # one late batch with two instants: processing from 10 s, breakdown from 30 s
    collector.on_batch([*_state(10.0, 1, 0), *_state(30.0, 4, 10)])
    collector.close(40.0)
    intervals = [e for e in events if isinstance(e, StateInterval)]
    assert [(i.start, i.end, i.element, i.reason) for i in intervals] == [
        (0.0, 10.0, "ADOT", "starved"), (10.0, 30.0, "APT", "processing"),
        (30.0, 40.0, "ADET", "breakdown")]
    assert intervals[2].loss == "breakdown"


def test_reconnect_counts_nothing_twice_and_loses_nothing() -> None:
    """A reconnect re-sends current values: no new count; counts made while disconnected
    arrive as one delta."""
    collector, events = _collector()
    collector.on_batch([TagChange("m", PROCESSED, 5, 0.0)])  # baseline
    collector.on_batch([TagChange("m", PROCESSED, 7, 1.0)])
    collector.on_batch([TagChange("m", PROCESSED, 7, 5.0)])  # reconnect: same value
    collector.on_batch([TagChange("m", PROCESSED, 12, 9.0)])  # 5 made while away
    assert sum(e.produced for e in events if isinstance(e, Counted)) == 7


def test_counter_wrap_and_lost_retained_data() -> None:
    """A UInt32 that wraps counts across the wrap; a counter reset to a small value (a PLC
    that lost its retained data) counts from zero."""
    collector, events = _collector()
    collector.on_batch([TagChange("m", PROCESSED, 2**32 - 2, 0.0)])
    collector.on_batch([TagChange("m", PROCESSED, 3, 1.0)])  # wrapped: +5
    collector.on_batch([TagChange("m", PROCESSED, 10, 2.0)])  # +7
    collector.on_batch([TagChange("m", PROCESSED, 4, 3.0)])  # reset: +4
    assert [e.produced for e in events if isinstance(e, Counted)] == [5, 7, 4]


def test_unit_start_carries_what_the_plc_published_before_the_serial() -> None:
    """The lot, product and consumption published before a serial belong to that unit."""
    collector, events = _collector()
    collector.on_batch([
        TagChange("m", "PackTags.Status.CurrentLot", "raw-L1", 1.0),
        TagChange("m", "PackTags.Status.CurrentProduct", "widget", 1.0),
        TagChange("m", "PackTags.Status.Consumed", "caps-L1=2,pcb-7@pcb-L3=1", 1.0),
        TagChange("m", "PackTags.Status.CurrentSerial", "widget-000001", 1.0),
    ])
    (start,) = [e for e in events if isinstance(e, UnitStarted)]
    assert start.serial == "widget-000001"
    assert start.lot == "raw-L1"
    assert start.consumed == (("caps-L1", 2.0, ""), ("pcb-7", 1.0, "pcb-L3"))
    assert parse_consumed("") == ()


def test_a_frozen_heartbeat_is_detected_and_its_recovery_too() -> None:
    """No heartbeat change for longer than the timeout flags the PLC; a new beat clears it."""
    collector, events = _collector()
    collector.on_batch([TagChange("m", "PackTags.Status.Heartbeat", 1, 0.0)])
    collector.check(1.5)
    assert not [e for e in events if isinstance(e, Frozen)]
    collector.check(3.0)
    collector.on_batch([TagChange("m", "PackTags.Status.Heartbeat", 2, 4.0)])
    assert [(e.time, e.frozen) for e in events if isinstance(e, Frozen)] == [(3.0, True),
                                                                           (4.0, False)]


def _record(seq: int, serial: str, consumed: str = "") -> str:
    return f"{seq}|{float(seq)}|{serial}|widget|raw-L1||{consumed}"


def test_genealogy_fifo_catches_up_on_records_a_sample_missed() -> None:
    """Three starts between two samples: all three arrive, with their time and consumption."""
    collector, events = _collector()
    collector.on_batch([TagChange("m", "Genealogy.Seq", 0, 0.0)])  # baseline
    collector.on_batch([
        TagChange("m", "Genealogy.Seq", 3, 3.5),  # a transport may deliver Seq first
        TagChange("m", "Genealogy.Record[1]", _record(1, "w-1", "caps-L1=1"), 3.5),
        TagChange("m", "Genealogy.Record[2]", _record(2, "w-2"), 3.5),
        TagChange("m", "Genealogy.Record[3]", _record(3, "w-3"), 3.5),
        TagChange("m", "PackTags.Status.CurrentSerial", "w-3", 3.5),  # not counted twice
    ])
    starts = [e for e in events if isinstance(e, UnitStarted)]
    assert [(s.serial, s.time) for s in starts] == [("w-1", 1.0), ("w-2", 2.0), ("w-3", 3.0)]
    assert starts[0].consumed == (("caps-L1", 1.0, ""),)
    assert collector.lost_records == 0


def test_genealogy_fifo_overflow_is_counted_not_hidden() -> None:
    """More starts than slots between two samples: the overwritten ones are counted lost."""
    collector, events = _collector()
    collector.on_batch([TagChange("m", "Genealogy.Seq", 0, 0.0)])
    batch = [TagChange("m", f"Genealogy.Record[{n % 16}]", _record(n, f"w-{n}"), 20.0)
             for n in range(1, 21)]
    collector.on_batch([*batch, TagChange("m", "Genealogy.Seq", 20, 20.0)])
    starts = [e.serial for e in events if isinstance(e, UnitStarted)]
    assert starts == [f"w-{n}" for n in range(5, 21)]
    assert collector.lost_records == 4
