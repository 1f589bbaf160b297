"""The ground-truth event log: typed, append-only, hashable.

Everything the plant physically does is appended here as a flat tuple (cheap on the hot
path) whose first two fields are the time and the :class:`EventKind`. :meth:`EventLog.records`
turns rows into typed records for scorers; :meth:`EventLog.sha256` fingerprints a run so
that "same seed, same log, byte for byte" can be tested.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class EventKind(enum.IntEnum):
    """Kinds of ground-truth events (the second field of every row)."""

    RELEASE = 0
    """A unit enters the plant: (t, RELEASE, serial, product, lot, order, source)."""
    ENTER = 1
    """A unit enters a node's buffer: (t, ENTER, serial, node)."""
    STATE = 2
    """A server changes state: (t, STATE, station, server, state, reason, serial)."""
    CONSUME = 3
    """A unit consumes a component serial or a material lot:
    (t, CONSUME, station, serial, consumed_id, quantity)."""
    COMPLETE = 4
    """A processing cycle ends: (t, COMPLETE, station, serial, outcome) with outcome
    ``good``, ``scrap`` or ``rework``."""
    EXIT = 5
    """A unit leaves the plant: (t, EXIT, serial, sink)."""
    DROP = 6
    """An arrival is lost because the first buffer was full: (t, DROP, serial, source)."""


@dataclass(frozen=True, slots=True)
class Release:
    t: float
    serial: str
    product: str
    lot: str | None
    order: str | None
    source: str


@dataclass(frozen=True, slots=True)
class Enter:
    t: float
    serial: str
    node: str


@dataclass(frozen=True, slots=True)
class StateChange:
    t: float
    station: str
    server: int
    state: int
    reason: str
    serial: str | None


@dataclass(frozen=True, slots=True)
class Consume:
    t: float
    station: str
    serial: str
    consumed: str
    quantity: float


@dataclass(frozen=True, slots=True)
class Complete:
    t: float
    station: str
    serial: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Exit:
    t: float
    serial: str
    sink: str


@dataclass(frozen=True, slots=True)
class Drop:
    t: float
    serial: str
    source: str


Record = Release | Enter | StateChange | Consume | Complete | Exit | Drop

_TYPES: dict[int, Any] = {
    EventKind.RELEASE: Release,
    EventKind.ENTER: Enter,
    EventKind.STATE: StateChange,
    EventKind.CONSUME: Consume,
    EventKind.COMPLETE: Complete,
    EventKind.EXIT: Exit,
    EventKind.DROP: Drop,
}


class EventLog:
    """Append-only list of ground-truth rows, in the order they happened."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        """The raw rows; append with :attr:`append` (a bound ``list.append``)."""
        self.append = self.rows.append

    def __len__(self) -> int:
        return len(self.rows)

    def records(self, kind: EventKind | None = None) -> Iterator[Record]:
        """Yield the rows as typed records, optionally only those of *kind*."""
        for row in self.rows:
            if kind is None or row[1] == kind:
                yield _TYPES[row[1]](row[0], *row[2:])

    def lines(self) -> Iterator[str]:
        """Yield one canonical text line per row (tab separated, ``repr`` floats)."""
        for row in self.rows:
            yield "\t".join(repr(v) if isinstance(v, float) else str(v) for v in row)

    def sha256(self) -> str:
        """Fingerprint of the whole log: equal logs give equal hashes, byte for byte."""
        h = hashlib.sha256()
        for line in self.lines():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()
