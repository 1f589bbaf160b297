"""Reading state intervals and production counts of work units from the store.

Each :class:`~mestwin.mes_core.store.EquipmentStateEvent` becomes an :class:`Interval` clipped
to the report window (an open event runs to the window's end), booked to the ISO 22400-2
time element stored with it, or, when none was stored, the one :data:`STATE_ELEMENTS` gives
for its PackML state. Times are POSIX seconds (floats) inside the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mestwin.mes_core.audit import utc
from mestwin.mes_core.errors import InvalidValueError, NotFoundError
from mestwin.mes_core.losses import SixBigLoss
from mestwin.mes_core.store.models import (
    Equipment,
    EquipmentLevel,
    EquipmentStateEvent,
    ProductionCount,
    TimeElement,
)

__all__ = [
    "STATE_ELEMENTS",
    "CountRow",
    "Interval",
    "counts",
    "intervals",
    "work_units",
]

E = TimeElement
STATE_ELEMENTS: Mapping[str, TimeElement] = MappingProxyType({
    "Execute": E.APT,
    "Held": E.ADET, "Holding": E.ADET, "Unholding": E.ADET,
    "Suspended": E.ADET, "Suspending": E.ADET, "Unsuspending": E.ADET,
    "Stopped": E.ADOT, "Stopping": E.ADOT, "Idle": E.ADOT, "Starting": E.ADOT,
    "Aborted": E.ADOT, "Aborting": E.ADOT, "Clearing": E.ADOT, "Resetting": E.ADOT,
    "Complete": E.ADOT, "Completing": E.ADOT,
})
"""PackML state -> time element for events stored without one (the packml reference's
mapping without order context: the collector should store the element, which can say ASUT,
PDOT or ADET-during-an-order where the state alone cannot)."""


@dataclass(frozen=True)
class Interval:
    """A piece of a work unit's state history, clipped to a window (POSIX seconds)."""

    work_unit: str
    start: float
    end: float
    state: str
    reason: str
    element: TimeElement
    loss: SixBigLoss | None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class CountRow:
    """Summed count deltas of one work unit at one ideal cycle time (POSIX seconds *at*)."""

    work_unit: str
    at: float
    produced: float
    good: float
    scrap: float
    rework: float
    ideal_cycle_time: float | None


def work_units(session: Session, code: str) -> dict[int, str]:
    """Work units at or below equipment *code* (id -> code); :class:`NotFoundError` if none."""
    rows = session.execute(select(Equipment.id, Equipment.code, Equipment.parent_id,
                                  Equipment.level)).all()
    root = next((r for r in rows if r.code == code), None)
    if root is None:
        raise NotFoundError(f"equipment {code!r} does not exist")
    children: dict[int | None, list[int]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r.id)
    by_id = {r.id: r for r in rows}
    found: dict[int, str] = {}
    stack = [root.id]
    while stack:
        node = by_id[stack.pop()]
        if node.level == EquipmentLevel.WORK_UNIT:
            found[node.id] = node.code
        stack.extend(children.get(node.id, []))
    return dict(sorted(found.items(), key=lambda kv: kv[1]))


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    ws, we = utc(start), utc(end)
    if we <= ws:
        raise InvalidValueError(
            f"window end {we.isoformat()} is not after its start {ws.isoformat()}")
    return ws, we


def intervals(
    session: Session, units: Mapping[int, str], start: datetime, end: datetime,
    state_elements: Mapping[str, TimeElement] = STATE_ELEMENTS,
) -> list[Interval]:
    """State intervals of *units* overlapping ``[start, end)``, clipped, by unit and start."""
    ws, we = _window(start, end)
    a, b = ws.timestamp(), we.timestamp()
    ev = EquipmentStateEvent
    rows = session.scalars(
        select(ev).where(ev.work_unit_id.in_(list(units)), ev.start < we,
                         or_(ev.end.is_(None), ev.end > ws))
        .order_by(ev.work_unit_id, ev.start, ev.id)
    )
    found: list[Interval] = []
    for row in rows:
        s = max(utc(row.start).timestamp(), a)
        e = b if row.end is None else min(utc(row.end).timestamp(), b)
        if e <= s:
            continue
        element = row.element if row.element is not None else state_elements.get(row.state)
        if element is None:
            raise ValueError(f"state {row.state!r} of {units[row.work_unit_id]} (event "
                             f"{row.id}) has no time element; store one or map the state")
        found.append(Interval(units[row.work_unit_id], s, e, row.state, row.reason,
                              TimeElement(element), row.loss))
    return found


def counts(
    session: Session, units: Mapping[int, str], start: datetime, end: datetime,
    by_time: bool = False,
) -> list[CountRow]:
    """Count deltas of *units* with ``start <= at < end``, summed per unit and cycle time.

    With *by_time* the rows are kept per instant (for splitting by shift).
    """
    ws, we = _window(start, end)
    pc = ProductionCount
    at = pc.at if by_time else func.min(pc.at)
    query = (
        select(pc.work_unit_id, pc.ideal_cycle_time, at, func.sum(pc.produced),
               func.sum(pc.good), func.sum(pc.scrap), func.sum(pc.rework))
        .where(pc.work_unit_id.in_(list(units)), pc.at >= ws, pc.at < we)
        .group_by(pc.work_unit_id, pc.ideal_cycle_time)
    )
    if by_time:
        query = query.group_by(pc.at)
    return [
        CountRow(units[uid], utc(when).timestamp(), p or 0.0, g or 0.0, s or 0.0, r or 0.0, ict)
        for uid, ict, when, p, g, s, r in session.execute(query)
    ]
