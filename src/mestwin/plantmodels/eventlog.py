"""The ground-truth event log: typed, append-only, hashable, kept as asked.

Everything the plant physically does is appended here as a flat tuple (cheap on the hot
path) whose first two fields are the time and the :class:`EventKind`. :meth:`EventLog.records`
turns rows into typed records for scorers; :meth:`EventLog.sha256` fingerprints a run so
that "same seed, same log, byte for byte" can be tested.

A long run cannot keep every row: :class:`Retention` says whether the log keeps them all
(ALL), none (NONE: only their count and hash, computed as the log goes) or streams them to a
file (STREAM). The file holds one line per row, :func:`format_row`: tab-separated fields in
the order of the row's :class:`EventKind` docstring, floats as ``repr``, a missing value as
``None``; the SHA-256 of the file's bytes is the run's ``event_log_sha256``, and
:func:`parse_line` reads a line back.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO


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


class Retention(enum.Enum):
    """What an :class:`EventLog` keeps of its rows (its count and hash are always exact)."""

    ALL = "all"
    """Keep every row in :attr:`EventLog.rows` (tests, the pytest fixture, short runs)."""
    NONE = "none"
    """Keep no rows: each is counted and hashed when the log is flushed, then dropped."""
    STREAM = "stream"
    """Like NONE, but first write each row as one line to a text file (:func:`format_row`)."""


def format_row(row: tuple[Any, ...]) -> str:
    """The canonical text of one row: fields separated by tabs, floats as ``repr``, ``None``
    as ``None``, no newline. The log's SHA-256 is that of these lines, each ended by ``\\n``."""
    return "\t".join(repr(v) if isinstance(v, float) else str(v) for v in row)


def parse_line(line: str) -> tuple[Any, ...]:
    """A row back from its :func:`format_row` text (what an outside scorer would do)."""
    fields = line.rstrip("\n").split("\t")
    kind = EventKind(int(fields[1]))
    values: list[Any] = [float(fields[0]), int(kind)]
    for text, convert in zip(fields[2:], _FIELD_TYPES[kind], strict=True):
        values.append(None if text == "None" else convert(text))
    return tuple(values)


_FIELD_TYPES: dict[EventKind, tuple[Any, ...]] = {
    EventKind.RELEASE: (str, str, str, str, str),
    EventKind.ENTER: (str, str),
    EventKind.STATE: (str, int, int, str, str),
    EventKind.CONSUME: (str, str, str, float),
    EventKind.COMPLETE: (str, str, str),
    EventKind.EXIT: (str, str),
    EventKind.DROP: (str, str),
}

RowListener = Callable[[list[tuple[Any, ...]]], None]
"""Called by :meth:`EventLog.flush` with the rows appended since the last flush, in order."""


class EventLog:
    """The ground-truth rows, in the order they happened, kept as *retention* says.

    Producers append with :attr:`append` (a bound ``list.append``: the hot path costs the
    same whatever is kept). :meth:`flush` hashes the rows appended since the last flush (the
    SHA-256 is computed as the log goes, so it is identical whatever is kept), writes them to
    *stream* and hands them to :attr:`listeners`; unless retention is ALL it then drops them,
    so memory stays flat however long the run. Whoever drives the environment calls
    :meth:`flush` now and then (:class:`~mestwin.plantmodels.plant.Plant` does, every
    :attr:`flush_interval` simulated seconds, when anything but ALL is asked for).
    """

    flush_interval = 60.0
    """Simulated seconds between two flushes driven by the plant."""

    def __init__(self, retention: Retention = Retention.ALL,
                 stream: TextIO | None = None) -> None:
        self.rows: list[tuple[Any, ...]] = []
        """Retention ALL: every row; otherwise the rows appended since the last flush."""
        self.append = self.rows.append
        self.listeners: list[RowListener] = []
        """Consumers of every row (e.g. a genealogy scorer), fed in order by :meth:`flush`."""
        self.retention = Retention.ALL
        self.stream: TextIO | None = None
        self._hash = hashlib.sha256()
        self._hashed = 0  # rows at the front of self.rows already hashed (ALL)
        self._dropped = 0  # rows hashed and no longer held
        self.retain(retention, stream)

    def retain(self, retention: Retention, stream: TextIO | None = None) -> None:
        """Choose what to keep; only before the first row (a log cannot forget selectively)."""
        if self.rows or self._dropped:
            raise RuntimeError("choose the event log's retention before the first event")
        if (retention is Retention.STREAM) != (stream is not None):
            raise ValueError("retention STREAM needs a stream, and only it takes one")
        self.retention, self.stream = retention, stream

    @property
    def keeps_rows(self) -> bool:
        """True if :attr:`rows` holds every row since the start."""
        return self.retention is Retention.ALL

    @property
    def needs_flushing(self) -> bool:
        """True if rows pile up until someone calls :meth:`flush`."""
        return not self.keeps_rows or bool(self.listeners)

    def __len__(self) -> int:
        return self._dropped + len(self.rows)

    def flush(self) -> None:
        """Hash, stream and hand on the rows appended since the last flush; drop them unless
        retention is ALL."""
        rows = self.rows
        new = rows[self._hashed:]  # a copy: listeners may keep it, rows is cleared below
        if not new:
            return
        text = "\n".join(map(format_row, new)) + "\n"
        self._hash.update(text.encode())
        if self.stream is not None:
            self.stream.write(text)
        for listener in self.listeners:
            listener(new)
        if self.keeps_rows:
            self._hashed = len(rows)
        else:
            self._dropped += len(rows)
            rows.clear()  # in place: producers hold the bound rows.append

    def _kept(self) -> list[tuple[Any, ...]]:
        if not self.keeps_rows:
            raise RuntimeError(f"the event log keeps no rows (retention {self.retention.value}); "
                               "use Retention.ALL, a stream or a listener to see them")
        return self.rows

    def records(self, kind: EventKind | None = None) -> Iterator[Record]:
        """Yield the rows as typed records, optionally only those of *kind* (retention ALL)."""
        for row in self._kept():
            if kind is None or row[1] == kind:
                yield _TYPES[row[1]](row[0], *row[2:])

    def lines(self) -> Iterator[str]:
        """Yield one canonical text line per row (:func:`format_row`; retention ALL)."""
        return map(format_row, self._kept())

    def sha256(self) -> str:
        """Fingerprint of the whole log so far: equal logs give equal hashes, byte for byte,
        whatever the retention. Flushes first."""
        self.flush()
        return self._hash.hexdigest()
