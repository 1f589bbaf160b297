"""The in-process transport: the MES reads virtual PLCs' tags without a socket.

Same interface as the OPC UA and Modbus transports (:class:`TagSource`), for fast runs. It
listens to every change of the PLCs' :class:`~mestwin.virtual_plc.tag_values.TagValues` at its
simulated time and delivers one batch per simulated instant. With *end_of_instant* (what a
dispatching MES needs) the batch is delivered *after* every other event of that instant (a
SimPy event of lower priority than NORMAL): completions and arrivals at one instant are all
known to the MES before it decides anything, which is what makes it build non-delay
schedules. Without it (data collection only) a batch is delivered when the first change of a
later instant arrives, or on :meth:`InProcessSource.flush`: same batches, no extra events.
Writes go straight to ``VirtualPLC.write``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from functools import partial
from typing import Any

import simpy
from simpy.events import EventPriority

from mestwin.mes_core.collection.source import TagChange, TagSource, TagValue, TagWriteError
from mestwin.virtual_plc.plc import VirtualPLC

END_OF_INSTANT = EventPriority(2)
"""After URGENT (0) and NORMAL (1): the batch of an instant is delivered last."""


class InProcessSource(TagSource):
    """Tag changes of *plcs* (machine name -> PLC) on *env*, filtered to *paths* if given."""

    def __init__(self, env: simpy.Environment, plcs: Mapping[str, VirtualPLC],
                 paths: Collection[str] | None = None, end_of_instant: bool = True) -> None:
        super().__init__()
        self.env = env
        self.end_of_instant = end_of_instant
        self._instant = -1.0
        self.plcs = dict(plcs)
        self.paths = None if paths is None else frozenset(paths)
        self._pending: list[TagChange] = []
        self._scheduled = False
        self.delivered_until = -math.inf
        """Time of the last instant delivered: the MES has seen every change up to it."""
        for name, plc in self.plcs.items():
            plc.tags.watch(partial(self._on_change, name), self.paths)

    @property
    def machines(self) -> Sequence[str]:
        return list(self.plcs)

    def _on_change(self, machine: str, path: str, value: TagValue) -> None:
        now = self.env._now
        if not self.end_of_instant:
            if now != self._instant and self._pending:
                self.flush()
            self._instant = now
            self._pending.append(TagChange(machine, path, value, now))
            return
        self._pending.append(TagChange(machine, path, value, now))
        if not self._scheduled:
            self._scheduled = True
            event = simpy.Event(self.env)
            event._ok = True
            event._value = None
            event.callbacks.append(self._flush)
            self.env.schedule(event, END_OF_INSTANT)

    def _flush(self, _event: Any) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Deliver what is pending now (end of a run, or of a lazily delivered instant)."""
        batch, self._pending = self._pending, []
        if batch:
            self.delivered_until = batch[-1].time
        self.deliver(batch)

    def initial_batch(self) -> list[TagChange]:
        """Every subscribed tag's current value, as a batch (what a new subscription gets)."""
        now = self.env.now
        return [TagChange(name, path, plc.tags[path], now)
                for name, plc in self.plcs.items() for path in plc.tags
                if self.paths is None or path in self.paths]

    def connect(self) -> None:
        """Deliver the initial batch (synchronous :meth:`start` for runs without asyncio)."""
        self.deliver(self.initial_batch())

    async def start(self) -> None:
        self.connect()

    def write(self, machine: str, path: str, value: TagValue) -> None:
        plc = self.plcs.get(machine)
        if plc is None:
            self.fail(TagWriteError(machine, path, "unknown machine"))
            return
        result = plc.write(path, value)
        if not result.accepted:
            self.fail(TagWriteError(machine, path, f"{result.status}: {result.message}"))
