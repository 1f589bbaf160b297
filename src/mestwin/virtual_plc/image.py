"""The event-driven part of a virtual PLC's tags: its process image for MES data collection.

Updated at the instant the plant machine changes (an interrupt-driven task beside the cyclic
scan), so that counts and state changes carry their exact simulated time: the PackTags
counters (Count and the non-resetting AccCount), the unit in work and what it consumed,
the OEE state (``Status.MachineState``, ``StateReason``, ``StateChangeTime``) with the
cumulative time per state (``OEE.MachineStateTime[k]``), and the genealogy FIFO
(``Genealogy.Record[k]``, ``Genealogy.Seq``) and the state log (``StateLog.Record[k]``,
``StateLog.Seq``: every change of MachineState or StateReason with its time, so a client
that polls loses no state shorter than its poll). Within one instant the order is fixed:
counts of the cycle that ended, the next unit's data, then its state, then its log record.
"""

from __future__ import annotations

import simpy

from mestwin.virtual_plc.machinery import consumed_text
from mestwin.virtual_plc.port import StationPort
from mestwin.virtual_plc.retain import CounterBase
from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import (
    ACC_COUNT_MAX,
    COUNT_MODULUS,
    GENEALOGY_SLOTS,
    RECORD_LENGTH,
    STATE_LOG_SLOTS,
    stop_reason,
)

PROCESSING = 1
"""Physical state code of processing (plantmodels MachineState.PROCESSING)."""

STATE_TIME_PATHS = tuple(f"OEE.MachineStateTime[{k}]" for k in range(8))

COUNTERS: tuple[tuple[str, int, str], ...] = (
    ("PackTags.Admin.ProdProcessedCount[0]", 1, "Processed"),
    ("PackTags.Admin.ProdDefectiveCount[0]", 2, "Defective"),
    ("PackTags.Admin.ProdDefectiveCount[1]", 3, "Scrap"),
    ("PackTags.Admin.ProdDefectiveCount[2]", 4, "Rework"),
    ("PackTags.Admin.ProdConsumedCount[0]", 5, "Consumed"),
)

PREFIXES = tuple(prefix for prefix, _, _ in COUNTERS)
_ACC_PATHS = tuple(f"{prefix}.AccCount" for prefix in PREFIXES)
_COUNT_PATHS = tuple(f"{prefix}.Count" for prefix in PREFIXES)


def station_counts(station: StationPort) -> dict[str, int]:
    produced = station.produced
    values = (produced, produced - station.good, station.scrap, station.rework,
              station.consumed)
    return {prefix: value for (prefix, _, _), value in zip(COUNTERS, values, strict=True)}


_LOG_PATHS = tuple(tuple(f"StateLog.Record[{k}].{field}"
                         for field in ("Seq", "Time", "State", "Reason"))
                   for k in range(STATE_LOG_SLOTS))
"""Per state-log slot: the paths of its sequence number, time, state and reason."""

_UNIT_PATHS = ("PackTags.Status.CurrentWorkOrder", "PackTags.Status.CurrentLot",
               "PackTags.Status.CurrentProduct", "PackTags.Status.Consumed")
_NO_UNIT = (None, None, None, None)


class ProcessImage:
    """The event-driven tags of *station*'s PLC, written into *tags*.

    It runs on every change of the plant machine, so it remembers what it last published
    and writes only what moved: most changes are one count or one state.
    """

    def __init__(self, station: StationPort, tags: TagValues, env: simpy.Environment,
                 counters: dict[str, CounterBase]) -> None:
        self.station = station
        self.tags = tags
        self.env = env
        self.counters = counters
        """Counter bases, shared with the PLC (restart and reset move them)."""
        self.last_counts: tuple[int, ...] | None = None
        self.last_serial: str | None = "\0"
        self.last_unit: tuple[str | None, ...] = _NO_UNIT
        self.last_image: tuple[int, str, str | None] | None = None

    def invalidate(self) -> None:
        """Rewrite everything at the next update (after counter bases or tags moved)."""
        self.last_counts = None
        self.last_image = None
        self.last_unit = _NO_UNIT

    def update(self) -> None:
        """Bring counts, the unit in work and the OEE state up to date, in that order."""
        st = self.station
        produced = st.produced
        counts = (produced, produced - st.good, st.scrap, st.rework, st.consumed)
        if counts != self.last_counts:
            self.publish_counters(counts)
        image = (st.state, st.reason, st.current_serial)
        if image != self.last_image:
            self.publish_oee(image)

    def record_start(self, serial: str, product: str, lot: str, order: str,
                      consumed: str) -> None:
        """Append a unit start to the genealogy FIFO (an event buffer, as real lines keep,
        so a client that samples does not lose a unit started between two samples)."""
        seq = self.tags.integer("Genealogy.Seq") + 1
        record = f"{seq}|{self.env.now!r}|{serial}|{product}|{lot}|{order}|{consumed}"
        self.tags.set(f"Genealogy.Record[{seq % GENEALOGY_SLOTS}]", record[:RECORD_LENGTH])
        self.tags.set("Genealogy.Seq", seq)

    def record_state(self, time: float, state: int, reason: int) -> None:
        """Append a change of (MachineState, StateReason) to the state log: the record's
        fields first, then ``StateLog.Seq`` (a client that reads Seq finds its records)."""
        put = self.tags.set
        seq = self.tags.integer("StateLog.Seq") + 1
        number, at, code, why = _LOG_PATHS[seq % STATE_LOG_SLOTS]
        put(number, seq)
        put(at, time)
        put(code, state)
        put(why, reason)
        put("StateLog.Seq", seq)

    def publish_counters(self, values: tuple[int, ...]) -> None:
        put, last = self.tags.set, self.last_counts
        self.last_counts = values
        for i, (prefix, value) in enumerate(zip(PREFIXES, values, strict=True)):
            if last is not None and last[i] == value:
                continue
            counter = self.counters[prefix]
            put(_ACC_PATHS[i], min(ACC_COUNT_MAX,
                                   counter.acc_base + max(0, value - counter.origin)))
            put(_COUNT_PATHS[i],
                (counter.count_base + max(0, value - counter.origin)) % COUNT_MODULUS)

    def publish_oee(self, image: tuple[int, str, str | None]) -> None:
        """Publish the OEE and genealogy image. Order matters to a client that reads changes
        in sequence: the unit's order, lot, product and consumption come before its serial,
        and the change time before the state it stamps."""
        st, tags, put = self.station, self.tags, self.tags.set
        self.last_image = image
        physical, reason, serial = int(image[0]), image[1], image[2]
        if serial != self.last_serial:
            self.last_serial = serial
            unit = ((st.current_order or "")[:32], (st.current_lot or "")[:32],
                    (getattr(st, "current_product", None) or "")[:32],
                    consumed_text(getattr(st, "current_consumed", ())))
            if unit != self.last_unit:
                for path, value, old in zip(_UNIT_PATHS, unit, self.last_unit, strict=True):
                    if value != old:
                        put(path, value)
                self.last_unit = unit
            if serial:
                order, lot, product, consumed = unit
                self.record_start(serial, product, lot, order, consumed)
            put("PackTags.Status.CurrentSerial", (serial or "")[:32])
        code = 0 if physical == PROCESSING else stop_reason(reason).id
        previous = tags.integer("PackTags.Status.MachineState")
        if previous != physical or tags["PackTags.Status.StateReason"] != code:
            now = float(self.env.now)
            since = tags.real("PackTags.Status.StateChangeTime")
            if previous != physical and now > since:
                path = STATE_TIME_PATHS[previous]
                put(path, tags.real(path) + (now - since))
            put("PackTags.Status.StateChangeTime", now)
            put("PackTags.Status.StateReason", code)
            put("PackTags.Status.MachineState", physical)
            self.record_state(now, physical, code)
