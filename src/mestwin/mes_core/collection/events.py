"""What data collection turns tag changes into: the MES's own production events.

Each is a small frozen record with the machine (ISA-95 work unit) it belongs to and its
plant time in seconds; :mod:`.writer` stores them, :mod:`mestwin.mes_core.reporting` and
the scorers read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StateInterval:
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


@dataclass(frozen=True, slots=True)
class Counted:
    """*machine* finished cycles at *time*: deltas of the PackTags counters."""

    machine: str
    time: float
    produced: int
    defective: int
    scrap: int
    rework: int
    product: str
    order: str


@dataclass(frozen=True, slots=True)
class UnitStarted:
    """*machine* started on *serial* at *time*, which consumed *consumed*: (lot or serial,
    quantity, lot of that serial or '')."""

    machine: str
    time: float
    serial: str
    product: str
    lot: str
    order: str
    consumed: tuple[tuple[str, float, str], ...]


@dataclass(frozen=True, slots=True)
class ElementTotals:
    """ISO 22400 elements of *machine* from *start* to *end*, from the PLC's cumulative
    state times (exact whatever the transport dropped in between)."""

    machine: str
    start: float
    end: float
    elements: dict[str, float]


@dataclass(frozen=True, slots=True)
class Frozen:
    """*machine*'s heartbeat stopped at *time* (``frozen``) or started again (not frozen)."""

    machine: str
    time: float
    frozen: bool


Event = StateInterval | Counted | UnitStarted | ElementTotals | Frozen
