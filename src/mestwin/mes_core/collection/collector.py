"""Data collection: PLC tag changes in, MES production events out.

:class:`Collector` keeps an image of each machine's tags and turns each batch of changes
into :mod:`.events`, as a real MES collects:

- state intervals from the changes of the state tags and each change's time (the
  :class:`~.source.TagChange` time: the SourceTimestamp over OPC UA, the simulated instant
  in process, over Modbus the time of each record of the PLC's state log, ``StateLog.Seq``
  and ``StateLog.Record[k]``, which the polling transport delivers as changes of the
  state tags in order, see :mod:`.modbus`). Which tags give the state, and the ISO 22400
  element of each state, is configuration (:mod:`.state_models`): ``Status.MachineState``
  with ``StateReason`` (default), or the PackML ``StateCurrent`` with
  ``Admin.StopReason.ID`` and ``MachineryOperationMode``;
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
- collection gaps: the PLC's cumulative ``OEE.MachineStateTime[k]`` are used only to check
  the intervals (:mod:`.reconcile`): at :meth:`Collector.close` (or :meth:`Collector.reconcile`)
  an element whose interval time differs from theirs is a :class:`~.events.CollectionGap`
  event and a warning in the log, not a correction. A transport that samples (and misses
  short states) therefore shows its error instead of hiding it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mestwin.mes_core.collection.events import (
    CollectionGap,
    Counted,
    Event,
    Frozen,
    StateInterval,
    UnitStarted,
)
from mestwin.mes_core.collection.machine_state import ReasonCodes
from mestwin.mes_core.collection.reconcile import CHANGE_TIME, STATE_TIMES, Reconciler
from mestwin.mes_core.collection.source import Batch, TagChange, TagValue
from mestwin.mes_core.collection.state_models import (
    REASON,
    STATE,
    Classified,
    MachineStateModel,
    StateModel,
    is_stop,
)

_log = logging.getLogger(__name__)

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
RECORD_SLOTS = 16
RECORDS: tuple[str, ...] = tuple(f"Genealogy.Record[{k}]" for k in range(RECORD_SLOTS))
SEQ = "Genealogy.Seq"
TAG_PATHS: tuple[str, ...] = (*COUNTERS, ORDER, LOT, PRODUCT, CONSUMED, *RECORDS, SEQ, SERIAL,
                              *STATE_TIMES, CHANGE_TIME, REASON, STATE, HEARTBEAT)
"""The tags data collection needs with the default state source, in the order the PLC
writes them within one instant (counts of the cycle that ended, then the next unit's data,
then its state)."""
LOSSLESS_TAG_PATHS: tuple[str, ...] = tuple(p for p in TAG_PATHS
                                            if p != SEQ and p not in RECORDS)
"""What a transport that delivers every change needs: the genealogy FIFO is redundant."""
ACC_MODULUS = 2**32
_COUNTER, _STATE, _SEQ, _SERIAL, _HEARTBEAT = range(5)
_KIND: dict[str, int] = {**dict.fromkeys(COUNTERS, _COUNTER), SEQ: _SEQ, SERIAL: _SERIAL,
                         HEARTBEAT: _HEARTBEAT}
"""What a tag change means to the collector (tags not in it only update the image); the
state model's tags are state changes."""

EventSink = Callable[[list[Event]], None]


def tag_paths(states: StateModel, lossless: bool = False) -> tuple[str, ...]:
    """The tags to subscribe to for *states* (:data:`TAG_PATHS` plus the model's own, before
    the heartbeat); without the genealogy FIFO if *lossless*."""
    base = LOSSLESS_TAG_PATHS if lossless else TAG_PATHS
    extra = tuple(p for p in states.tags if p not in base)
    return (*base[:-1], *extra, HEARTBEAT)


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
    state: Classified | None = None
    """The state of the open interval (None until the state tags are seen)."""
    since: float = 0.0
    stop: str = "ADOT"
    """Element of the last stop state (for states booked with their stop)."""
    acc: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    pending_time: float = 0.0
    beat: TagValue | None = None
    beat_time: float = 0.0
    frozen: bool = False
    seq: int | None = None
    """Last genealogy record read; None until the PLC's FIFO is seen."""


class Collector:
    """Turns batches of :class:`TagChange` into MES events handed to *sinks*.

    *reasons* is the stop-reason table; *heartbeat_timeout* (plant seconds) is how long a
    heartbeat may stand still before the PLC counts as frozen; *states* says which tags
    give the machine state and how states map to ISO 22400 elements (default
    ``Status.MachineState``); *gap_tolerance_s* is the largest difference per element
    between intervals and the PLC's cumulative state times that is not a gap; with
    *reconcile_every* (plant seconds) the collector also reconciles at the end of the first
    batch that far after the last time (a gap is then found within that span, not only at
    :meth:`close`; the transport must deliver a batch complete up to its newest change, as
    in-process instants and OPC UA notifications are).
    """

    def __init__(self, reasons: ReasonCodes, sinks: Iterable[EventSink] = (),
                 heartbeat_timeout: float = 5.0, states: StateModel | None = None,
                 gap_tolerance_s: float = 0.01, reconcile_every: float | None = None) -> None:
        self.reasons = reasons
        self.sinks = list(sinks)
        self.heartbeat_timeout = heartbeat_timeout
        self.states = states if states is not None else MachineStateModel()
        self.machines: dict[str, _Machine] = {}
        self.reconciler = Reconciler(gap_tolerance_s)
        self.gaps: list[CollectionGap] = []
        """Every collection gap found so far."""
        self.reconcile_every = reconcile_every
        self._reconciled = float("-inf")
        self._kind = {**_KIND, **dict.fromkeys(self.states.tags, _STATE)}
        self._out: list[Event] = []
        self._checked = float("-inf")
        self.lost_records = 0
        """Genealogy records overwritten in a PLC's FIFO before the MES read them."""

    def on_batch(self, batch: Batch) -> None:
        """Apply *batch* in order and hand the resulting events to the sinks."""
        machines = self.machines
        # The FIFO's records are known once per batch: a transport may deliver them after
        # the sequence number (OPC UA does not order a notification's items).
        for name, path, value, _ in batch:
            if path in RECORDS:
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
        spans = self.reconciler.spans
        for name, machine in touched.items():
            if machine.pending:
                self._flush_counts(name, machine)
            if name not in spans and machine.state is not None:
                self.reconciler.begin(name, machine.image, machine.since)
        every = self.reconcile_every
        if every is not None and batch:
            if self._reconciled == float("-inf"):
                self._reconciled = latest
            elif latest - self._reconciled >= every:
                self._reconciled = latest
                self.reconcile(latest)
        self._emit()

    def _add(self, name: str) -> _Machine:
        machine = self.machines[name] = _Machine()
        return machine

    def checkpoint(self) -> dict[str, Any]:
        """What the collector must remember to resume exactly after a restart (JSON)."""
        return {name: {"acc": dict(m.acc), "seq": m.seq,
                       "state": None if m.state is None else list(m.state),
                       "since": m.since, "stop": m.stop,
                       "span": self.reconciler.checkpoint(name)}
                for name, m in self.machines.items()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Resume from a :meth:`checkpoint`: the next values seen are compared with the
        remembered ones, so what happened meanwhile is counted once."""
        for name, saved in checkpoint.items():
            machine = self.machines.setdefault(name, _Machine())
            machine.acc = {str(k): int(v) for k, v in saved["acc"].items()}
            machine.seq = saved["seq"]
            state = saved.get("state")
            machine.state = (Classified(int(state[0]), int(state[1]), str(state[2]))
                             if isinstance(state, list) else None)
            machine.since = float(saved["since"])
            machine.stop = str(saved.get("stop", "ADOT"))
            self.reconciler.restore(name, saved.get("span"))

    def close(self, time: float) -> None:
        """Close every open state interval at *time* (end of a run or of a report window)
        and reconcile the intervals with the PLC's cumulative state times up to it."""
        for name, machine in self.machines.items():
            if machine.state is not None and time > machine.since:
                self._interval(name, machine, time)
                machine.since = time
        self.reconcile(time)

    def reconcile(self, time: float) -> list[CollectionGap]:
        """Compare each machine's intervals since the last reconciliation with the PLC's
        cumulative state times up to *time* (the image must be up to date to it): every
        element that differs is a :class:`CollectionGap`, sent to the sinks and logged."""
        found: list[CollectionGap] = []
        for name, machine in self.machines.items():
            current = machine.state
            open_interval = None if current is None else (current.element, machine.since)
            found += self.reconciler.check(name, machine.image, time, open_interval)
        for gap in found:
            _log.warning("collection gap: %s %s from %g s to %g s: intervals %.3f s, PLC "
                         "state times %.3f s", gap.machine, gap.element, gap.start, gap.end,
                         gap.intervals_s, gap.plc_s)
        self.gaps += found
        self._out += found
        self._emit()
        return found

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
        kind = self._kind.get(path)
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
        """A state tag changed at *time*: end the open interval there if the state did."""
        state = self.states.classify(machine.image, machine.stop)
        if state is None or state == machine.state:
            return
        if is_stop(state.element):
            machine.stop = state.element
        if machine.state is None:
            machine.state, machine.since = state, time
            return
        if time > machine.since:
            self._interval(name, machine, time)
        machine.state, machine.since = state, max(time, machine.since)

    def _interval(self, name: str, machine: _Machine, end: float) -> None:
        state = machine.state
        assert state is not None
        code = self.reasons.get(state.reason)
        reason = "processing" if state.element == "APT" else code.name
        self._out.append(StateInterval(
            name, machine.since, end, state.state, reason, state.element,
            None if code.loss is None or state.element == "APT" else str(code.loss)))
        self.reconciler.add(name, state.element, machine.since, end)

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
