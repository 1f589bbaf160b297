"""What data collection turns tag changes into: the MES's own production events.

Each is a small immutable record with the machine (ISA-95 work unit) it belongs to and its
plant time in seconds; :mod:`.writer` stores them, :mod:`mestwin.mes_core.reporting` and
the scorers read them. They are named tuples, like :class:`.source.TagChange`: a fast run
makes a few per machine cycle, and a named tuple costs a quarter of a frozen dataclass.
"""

from __future__ import annotations

from typing import NamedTuple


class StateInterval(NamedTuple):
    """*machine* was in *state* (with *reason*) from *start* to *end*."""

    machine: str
    start: float
    end: float
    state: int
    reason: str
    element: str
    """ISO 22400 element: APT, ASUT, ADET, ADOT or PDOT."""
    loss: str | None
    """Six-big-loss category of the reason, if any."""


class Counted(NamedTuple):
    """*machine* finished cycles at *time*: deltas of the PackTags counters."""

    machine: str
    time: float
    produced: int
    defective: int
    scrap: int
    rework: int
    product: str
    order: str


class UnitStarted(NamedTuple):
    """*machine* started on *serial* at *time*, which consumed *consumed*: (lot or serial,
    quantity, lot of that serial or '')."""

    machine: str
    time: float
    serial: str
    product: str
    lot: str
    order: str
    consumed: tuple[tuple[str, float, str], ...]


class CollectionGap(NamedTuple):
    """The state intervals of *machine* from *start* to *end* put *intervals_s* seconds in
    ISO 22400 *element* where the PLC's cumulative state times (``OEE.MachineStateTime[k]``)
    say *plc_s*: a state change the transport lost, or a state source that does not follow
    the machine. Reported, never corrected."""

    machine: str
    element: str
    start: float
    end: float
    intervals_s: float
    plc_s: float


class Frozen(NamedTuple):
    """*machine*'s heartbeat stopped at *time* (``frozen``) or started again (not frozen)."""

    machine: str
    time: float
    frozen: bool


Event = StateInterval | Counted | UnitStarted | CollectionGap | Frozen
