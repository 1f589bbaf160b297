"""The one interface through which the MES sees the plant: a source of PLC tag changes.

Three transports implement it: OPC UA subscriptions (:mod:`.opcua`), Modbus polling
(:mod:`.modbus`) and in-process (``mestwin.sim.inprocess``, for fast runs). The MES never
knows which one it has. Changes arrive in *batches*: everything a transport learned at once
(one simulated instant in-process, one notification over OPC UA, one poll over Modbus); the
MES applies a whole batch before it decides anything, as a real MES handles a notification.

MES logic stays synchronous: :meth:`TagSource.write` is fire-and-forget (a transport that
talks over a socket schedules the write on its own loop) and reports failures to
:attr:`TagSource.on_error` listeners, so only the transports are async.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

TagValue = bool | int | float | str | datetime
"""A tag value as the MES sees it."""


class TagChange(NamedTuple):
    """Tag *path* of *machine* took *value* at *time* (seconds on the plant's clock).

    A named tuple: one is made per tag change on the hot path."""

    machine: str
    path: str
    value: TagValue
    time: float


Batch = Sequence[TagChange]
BatchListener = Callable[[Batch], None]


class TagWriteError(RuntimeError):
    """A write the PLC refused or a transport could not deliver."""

    def __init__(self, machine: str, path: str, reason: str) -> None:
        super().__init__(f"{machine}.{path}: {reason}")
        self.machine = machine
        self.path = path
        self.reason = reason


class TagSource(ABC):
    """A set of machines whose tag changes the MES receives in batches."""

    def __init__(self) -> None:
        self.listeners: list[BatchListener] = []
        """Called with every batch, in order."""
        self.on_error: list[Callable[[TagWriteError], None]] = []
        """Called when a write fails."""

    @property
    @abstractmethod
    def machines(self) -> Sequence[str]:
        """The machines this source serves."""

    def subscribe(self, listener: BatchListener) -> None:
        """Deliver every future batch to *listener*."""
        self.listeners.append(listener)

    def deliver(self, batch: Batch) -> None:
        """Hand *batch* to the listeners (called by transports)."""
        if batch:
            for listener in self.listeners:
                listener(batch)

    def fail(self, error: TagWriteError) -> None:
        """Report a failed write (called by transports)."""
        for listener in self.on_error:
            listener(error)

    @abstractmethod
    def write(self, machine: str, path: str, value: TagValue) -> None:
        """Write *value* to tag *path* of *machine* (fire-and-forget; see :attr:`on_error`)."""

    async def start(self) -> None:  # noqa: B027 - optional for in-process sources
        """Connect and deliver an initial batch with every subscribed tag's current value."""

    async def stop(self) -> None:  # noqa: B027
        """Disconnect."""
