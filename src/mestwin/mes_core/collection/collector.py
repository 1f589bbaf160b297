"""Data collection: PLC tag changes in, MES production events out.

:class:`Collector` keeps an image of each machine's tags and turns each batch of changes
into :mod:`.events`:

- state intervals from ``Status.MachineState`` / ``Status.StateReason``, stamped with the
  PLC's ``Status.StateChangeTime`` so that intervals are exact whatever the transport's delay;
- counts from the non-resetting ``Admin.*.AccCount`` counters (ISO 22400 PQ, SQ, RQ): the
  MES remembers the last value it saw, so a reconnect (which re-sends current values) counts
  nothing twice and loses nothing made while disconnected; a counter that goes backwards is
  a wrap (UInt32) when the drop is large, else a PLC that lost its retained data (counted
  from zero);
- unit starts (genealogy) from the PLC's FIFO of start records (``Genealogy.Record[k]``,
  ``Genealogy.Seq``): the MES reads every record since the last one it saw, so a transport
  that samples loses a start only if more than 16 happened between two samples (counted in
  :attr:`Collector.lost_records`); PLCs without the FIFO are read from
  ``Status.CurrentSerial`` with the lot, product, order and consumption published before it;
- frozen PLCs from a ``Status.Heartbeat`` that stops changing: checked as plant time moves
  on in batches (every half timeout), or explicitly with :meth:`Collector.check`;
- exact element totals from the PLC's cumulative ``OEE.MachineStateTime[k]`` (time per
  machine state up to ``StateChangeTime``): :meth:`Collector.close` reports the elements
  since the MES first saw the machine as differences of those, so a transport that samples
  (and misses short states) still gets time right, as AccCounts get counts right.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mestwin.mes_core.collection.events import (
    Counted,
    ElementTotals,
    Event,
    Frozen,
    StateInterval,
    UnitStarted,
)
from mestwin.mes_core.collection.machine_state import ELEMENT, MachineStateCode, ReasonCodes
from mestwin.mes_core.collection.source import Batch, TagChange, TagValue

STATE = "PackTags.Status.MachineState"
REASON = "PackTags.Status.StateReason"
CHANGE_TIME = "PackTags.Status.StateChangeTime"
SERIAL = "PackTags.Status.CurrentSerial"
LOT = "PackTags.Status.CurrentLot"
PRODUCT = "PackTags.Status.CurrentProduct"
ORDER = "PackTags.Status.CurrentWorkOrder"
CONSUMED = "PackTags.Status.Consumed"
HEARTBEAT = "PackTags.Status.Heartbeat"
COUNTERS: dict[str, str] = {
    "PackTags.Admin.ProdProcessedCount[0].AccCount": "produced",
    "PackTags.Admin.ProdDefectiveCount[0].AccCount": "defective",
    "PackTags.Admin.ProdDefectiveCount[1].AccCount": "scrap",
    "PackTags.Admin.ProdDefectiveCount[2].AccCount": "rework",
}
STATE_TIMES: tuple[str, ...] = tuple(f"OEE.MachineStateTime[{k}]" for k in range(8))
RECORD_SLOTS = 16
RECORDS: tuple[str, ...] = tuple(f"Genealogy.Record[{k}]" for k in range(RECORD_SLOTS))
SEQ = "Genealogy.Seq"
TAG_PATHS: tuple[str, ...] = (*COUNTERS, ORDER, LOT, PRODUCT, CONSUMED, *RECORDS, SEQ, SERIAL,
                              *STATE_TIMES, CHANGE_TIME, REASON, STATE, HEARTBEAT)
LOSSLESS_TAG_PATHS: tuple[str, ...] = tuple(p for p in TAG_PATHS
                                            if p != SEQ and p not in RECORDS)
"""What a transport that delivers every change needs: the genealogy FIFO is redundant."""
"""The tags data collection needs, in the order the PLC writes them within one instant
(counts of the cycle that ended, then the next unit's data, then its state)."""
ACC_MODULUS = 2**32
_EARLY = frozenset((CHANGE_TIME, *RECORDS))
_COUNTER, _STATE, _SEQ, _SERIAL, _HEARTBEAT = range(5)
_KIND: dict[str, int] = {**dict.fromkeys(COUNTERS, _COUNTER), STATE: _STATE, REASON: _STATE,
                         SEQ: _SEQ, SERIAL: _SERIAL, HEARTBEAT: _HEARTBEAT}
"""What a tag change means to the collector (tags not in it only update the image)."""

EventSink = Callable[[list[Event]], None]


def parse_consumed(text: str) -> tuple[tuple[str, float, str], ...]:
    """``'caps-L00001=1,pcb-000002@pcb-L00001=1'`` ->
    ``(('caps-L00001', 1.0, ''), ('pcb-000002', 1.0, 'pcb-L00001'))``: item, quantity and
    the lot a consumed serial came from ('' if none)."""
    items = []
    for part in text.split(","):
        if "=" in part:
            item, quantity = part.rsplit("=", 1)
            item, _, lot = item.partition("@")
            items.append((item, float(quantity), lot))
    return tuple(items)


def _int(value: TagValue | None) -> int:
    if isinstance(value, bool | int | float):
        return int(value)
    raise TypeError(f"expected a number, got {value!r}")


@dataclass
class _Machine:
    image: dict[str, TagValue] = field(default_factory=dict)
    state: int | None = None
    reason: int = 0
    since: float = 0.0
    acc: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    pending_time: float = 0.0
    beat: TagValue | None = None
    beat_time: float = 0.0
    frozen: bool = False
    baseline: dict[str, float] | None = None
    baseline_time: float = 0.0
    seq: int | None = None
    """Last genealogy record read; None until the PLC's FIFO is seen."""


class Collector:
    """Turns batches of :class:`TagChange` into MES events handed to *sinks*.

    *reasons* is the stop-reason table; *heartbeat_timeout* (plant seconds) is how long a
    heartbeat may stand still before the PLC counts as frozen.
    """

    def __init__(self, reasons: ReasonCodes, sinks: Iterable[EventSink] = (),
                 heartbeat_timeout: float = 5.0) -> None:
        self.reasons = reasons
        self.sinks = list(sinks)
        self.heartbeat_timeout = heartbeat_timeout
        self.machines: dict[str, _Machine] = {}
        self._out: list[Event] = []
        self._checked = float("-inf")
        self.lost_records = 0
        """Genealogy records overwritten in a PLC's FIFO before the MES read them."""

    def on_batch(self, batch: Batch) -> None:
        """Apply *batch* in order and hand the resulting events to the sinks."""
        machines = self.machines
        # The change time of a state, and the FIFO's records, are known once per batch: a
        # transport may deliver them after what they belong to (OPC UA does not order a
        # notification's items).
        for name, path, value, _ in batch:
            if path in _EARLY:
                (machines.get(name) or self._add(name)).image[path] = value
        touched: dict[str, _Machine] = {}
        for change in batch:
            name = change[0]
            known = touched.get(name)
            if known is None:
                known = touched[name] = machines.get(name) or self._add(name)
            self._apply(known, change)
        latest = batch[-1].time if batch else 0.0
        if latest - self._checked >= self.heartbeat_timeout / 2:
            self._checked = latest
            self.check(latest)
        for name, machine in touched.items():
            if machine.pending:
                self._flush_counts(name, machine)
            if machine.baseline is None and STATE_TIMES[0] in machine.image:
                machine.baseline = self._totals(machine, latest)
                machine.baseline_time = latest
        self._emit()

    def _add(self, name: str) -> _Machine:
        machine = self.machines[name] = _Machine()
        return machine

    def _totals(self, machine: _Machine, now: float) -> dict[str, float] | None:
        """Element totals up to *now*: cumulative state times plus the current state's
        time since its change (None if the PLC does not publish state times)."""
        image = machine.image
        if STATE_TIMES[0] not in image or STATE not in image:
            return None
        totals = dict.fromkeys(("APT", "ASUT", "ADET", "ADOT", "PDOT"), 0.0)
        for k, path in enumerate(STATE_TIMES):
            value = image.get(path, 0.0)
            totals[ELEMENT[MachineStateCode(k)]] += float(value) if isinstance(
                value, int | float) else 0.0
        stamp = image.get(CHANGE_TIME, now)
        since = float(stamp) if isinstance(stamp, int | float) else now
        totals[ELEMENT[MachineStateCode(_int(image[STATE]))]] += max(0.0, now - since)
        return totals

    def checkpoint(self) -> dict[str, Any]:
        """What the collector must remember to resume exactly after a restart (JSON)."""
        return {name: {"acc": dict(m.acc), "seq": m.seq, "state": m.state,
                       "reason": m.reason, "since": m.since, "baseline": m.baseline,
                       "baseline_time": m.baseline_time}
                for name, m in self.machines.items()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Resume from a :meth:`checkpoint`: the next values seen are compared with the
        remembered ones, so what happened meanwhile is counted once."""
        for name, saved in checkpoint.items():
            machine = self.machines.setdefault(name, _Machine())
            machine.acc = {str(k): int(v) for k, v in saved["acc"].items()}
            machine.seq = saved["seq"]
            machine.state = saved["state"]
            machine.reason = int(saved["reason"])
            machine.since = float(saved["since"])
            machine.baseline = saved["baseline"]
            machine.baseline_time = float(saved["baseline_time"])

    def close(self, time: float) -> None:
        """Close every open state interval at *time* (end of a run or of a report window)."""
        for name, machine in self.machines.items():
            if machine.state is not None and time > machine.since:
                self._interval(name, machine, time)
                machine.since = time
            totals = self._totals(machine, time)
            if totals is not None and machine.baseline is not None:
                base = machine.baseline
                self._out.append(ElementTotals(name, machine.baseline_time, time,
                                               {k: v - base[k] for k, v in totals.items()}))
        self._emit()

    def check(self, now: float) -> None:
        """Flag machines whose heartbeat has not changed for longer than the timeout."""
        for name, machine in self.machines.items():
            stale = machine.beat is not None and now - machine.beat_time > self.heartbeat_timeout
            if stale and not machine.frozen:
                machine.frozen = True
                self._out.append(Frozen(name, now, True))
        self._emit()

    # -- internals ---------------------------------------------------------------------------
    def _emit(self) -> None:
        if self._out:
            out, self._out = self._out, []
            for sink in self.sinks:
                sink(out)

    def _apply(self, machine: _Machine, change: TagChange) -> None:
        name, path, value, time = change
        kind = _KIND.get(path)
        if kind == _COUNTER:
            self._count(machine, COUNTERS[path], path, _int(value), time)
            return
        if machine.pending:
            self._flush_counts(name, machine)
        machine.image[path] = value
        if kind is None:
            return
        if kind == _STATE:
            self._state(name, machine, time)
        elif kind == _SEQ:
            self._records(name, machine, _int(value))
        elif kind == _SERIAL:
            if value and machine.seq is None:
                image = machine.image
                self._out.append(UnitStarted(
                    name, time, str(value), str(image.get(PRODUCT, "")),
                    str(image.get(LOT, "")), str(image.get(ORDER, "")),
                    parse_consumed(str(image.get(CONSUMED, "")))))
        else:
            machine.beat = value
            machine.beat_time = time
            if machine.frozen:
                machine.frozen = False
                self._out.append(Frozen(name, time, False))

    def _records(self, name: str, machine: _Machine, seq: int) -> None:
        last = machine.seq
        machine.seq = seq
        if last is None:
            return  # the first value seen is the baseline
        first = last + 1 if seq > last else 1  # a PLC restarted without retained data
        if seq - first >= RECORD_SLOTS:
            self.lost_records += seq - first - RECORD_SLOTS + 1
            first = seq - RECORD_SLOTS + 1
        for number in range(first, seq + 1):
            record = str(machine.image.get(RECORDS[number % RECORD_SLOTS], ""))
            fields = record.split("|", 6)
            if len(fields) != 7 or fields[0] != str(number):
                self.lost_records += 1
                continue
            _, time, serial, product, lot, order, consumed = fields
            self._out.append(UnitStarted(name, float(time), serial, product, lot, order,
                                         parse_consumed(consumed)))

    def _state(self, name: str, machine: _Machine, time: float) -> None:
        image = machine.image
        state = _int(image.get(STATE, 0))
        reason = _int(image.get(REASON, 0))
        stamp = image.get(CHANGE_TIME)
        at = float(stamp) if isinstance(stamp, int | float) and stamp >= machine.since else time
        if machine.state is None:
            machine.state, machine.reason, machine.since = state, reason, at
            return
        if state == machine.state and reason == machine.reason:
            return
        if at > machine.since:
            self._interval(name, machine, at)
        machine.state, machine.reason, machine.since = state, reason, max(at, machine.since)

    def _interval(self, name: str, machine: _Machine, end: float) -> None:
        assert machine.state is not None
        code = self.reasons.get(machine.reason)
        state = MachineStateCode(machine.state)
        reason = "processing" if state is MachineStateCode.PROCESSING else code.name
        self._out.append(StateInterval(
            name, machine.since, end, int(state), reason, ELEMENT[state],
            None if code.loss is None else str(code.loss)))

    def _count(self, machine: _Machine, counter: str, path: str, value: int,
               time: float) -> None:
        last = machine.acc.get(path)
        machine.acc[path] = value
        if last is None:
            return  # the first value seen is the baseline
        delta = value - last
        if delta < 0:
            delta = delta + ACC_MODULUS if last - value > ACC_MODULUS // 2 else value
        if delta:
            machine.pending[counter] = machine.pending.get(counter, 0) + delta
            machine.pending_time = time

    def _flush_counts(self, name: str, machine: _Machine) -> None:
        p, image = machine.pending, machine.image
        self._out.append(Counted(name, machine.pending_time, p.get("produced", 0),
                                 p.get("defective", 0), p.get("scrap", 0), p.get("rework", 0),
                                 str(image.get(PRODUCT, "")), str(image.get(ORDER, ""))))
        machine.pending = {}
