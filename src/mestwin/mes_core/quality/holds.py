"""Quality holds on lots, sublots and serials, propagated through genealogy.

A held lot and every genealogy descendant of it (anything it went into, found by a backward
trace of the candidate) cannot be consumed; a sublot or serial is also blocked by a hold on
the lot that contains it (its ``lot_id``). Placing a hold sets the lot's B2MML disposition to
``Restricted``, releasing it to ``UnRestricted`` (the status ERP mirrors); both are written to
the append-only audit trail with who, when and why.

:func:`can_consume` is what the MES asks before a consumption; :func:`held_consumptions` is
the after-the-fact check (ISA-95 genealogy scoring: zero consumption of held lots or their
descendants while a hold was active).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from mestwin.mes_core.audit import record_change, utc
from mestwin.mes_core.errors import HeldLotError, StateConflictError
from mestwin.mes_core.store.lookup import by_id
from mestwin.mes_core.store.models import (
    GenealogyLink,
    LotDisposition,
    MaterialLot,
    trace,
)
from mestwin.mes_core.store.quality import Hold

__all__ = [
    "HeldConsumption",
    "active_hold",
    "active_holds",
    "blocking_holds",
    "can_consume",
    "check_consumption",
    "held_consumptions",
    "place_hold",
    "release_hold",
]

_CHUNK = 500


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    it = iter(ids)
    while chunk := list(islice(it, _CHUNK)):
        yield chunk


def active_hold(session: Session, lot_id: int) -> Hold | None:
    """The active hold placed on *lot_id* itself, if any."""
    return session.scalars(
        select(Hold).where(Hold.material_lot_id == lot_id, Hold.released_at.is_(None))
    ).first()


def active_holds(session: Session) -> list[Hold]:
    """Every hold not yet released, oldest first."""
    return list(session.scalars(
        select(Hold).where(Hold.released_at.is_(None)).order_by(Hold.placed_at, Hold.id)
    ))


def place_hold(
    session: Session, lot_id: int, *, who: str, why: str, at: datetime | None = None
) -> Hold:
    """Hold *lot_id*; raises :class:`StateConflictError` if it is already held."""
    lot = by_id(session, MaterialLot, lot_id, "lot")
    if active_hold(session, lot_id) is not None:
        raise StateConflictError(f"lot {lot.code} is already on hold")
    when = utc(at)
    hold = Hold(material_lot_id=lot_id, placed_by=who, placed_at=when, reason=why)
    record_change(session, entity="material_lot", entity_id=lot.code, field="hold",
                  old="released", new="held", who=who, why=why, at=when)
    record_change(session, entity="material_lot", entity_id=lot.code, field="disposition",
                  old=lot.disposition.value, new=LotDisposition.RESTRICTED.value,
                  who=who, why=why, at=when)
    lot.disposition = LotDisposition.RESTRICTED
    session.add(hold)
    session.flush()
    return hold


def release_hold(
    session: Session, lot_id: int, *, who: str, why: str, at: datetime | None = None
) -> Hold:
    """Release the active hold on *lot_id*; :class:`StateConflictError` if it is not held."""
    lot = by_id(session, MaterialLot, lot_id, "lot")
    hold = active_hold(session, lot_id)
    if hold is None:
        raise StateConflictError(f"lot {lot.code} is not on hold")
    when = utc(at)
    record_change(session, entity="material_lot", entity_id=lot.code, field="hold",
                  old="held", new="released", who=who, why=why, at=when)
    record_change(session, entity="material_lot", entity_id=lot.code, field="disposition",
                  old=lot.disposition.value, new=LotDisposition.UNRESTRICTED.value,
                  who=who, why=why, at=when)
    hold.released_by, hold.released_at, hold.release_reason = who, when, why
    lot.disposition = LotDisposition.UNRESTRICTED
    session.flush()
    return hold


def blocking_holds(session: Session, lot_id: int) -> list[Hold]:
    """Active holds that forbid consuming *lot_id*: on it, its container or any ancestor."""
    lot = by_id(session, MaterialLot, lot_id, "lot")
    held = {h.material_lot_id: h for h in active_holds(session)}
    if not held:
        return []
    roots = {lot_id} if lot.lot_id is None else {lot_id, lot.lot_id}
    suspects = set(roots)
    for root in roots:
        suspects |= trace(session, root, "backward")
    return sorted((held[i] for i in suspects & held.keys()), key=lambda h: h.id)


def can_consume(session: Session, lot_id: int) -> bool:
    """Whether *lot_id* may be consumed: no active hold on it or on anything upstream."""
    return not blocking_holds(session, lot_id)


def check_consumption(session: Session, lot_id: int) -> None:
    """Raise :class:`HeldLotError` when *lot_id* may not be consumed."""
    holds = blocking_holds(session, lot_id)
    if holds:
        codes = sorted({h.material_lot_id for h in holds})
        lot = by_id(session, MaterialLot, lot_id, "lot")
        raise HeldLotError(
            f"lot {lot.code} is held (holds {[h.id for h in holds]} "
            f"on lots {codes})", lot_id, tuple(h.id for h in holds),
        )


@dataclass(frozen=True)
class HeldConsumption:
    """A genealogy link that consumed held material while the hold was active."""

    hold_id: int
    link_id: int
    parent_id: int
    child_id: int
    recorded_at: datetime


def held_consumptions(
    session: Session, holds: Sequence[Hold] | None = None
) -> list[HeldConsumption]:
    """Consumptions of a held lot or its descendants recorded while a hold was active.

    Checks *holds* (every hold, released or not, by default): for each, the held lot and its
    forward trace are the restricted set, and any link whose parent is in that set with
    ``placed_at <= recorded_at < released_at`` is flagged. Empty means the holds were obeyed.
    """
    found: list[HeldConsumption] = []
    for hold in session.scalars(select(Hold).order_by(Hold.id)) if holds is None else holds:
        restricted = {hold.material_lot_id} | trace(session, hold.material_lot_id, "forward")
        start = utc(hold.placed_at)
        end = None if hold.released_at is None else utc(hold.released_at)
        for chunk in _chunks(sorted(restricted)):
            rows = session.scalars(
                select(GenealogyLink).where(GenealogyLink.parent_id.in_(chunk))
            )
            for link in rows:
                at = utc(link.recorded_at)
                if at >= start and (end is None or at < end):
                    found.append(HeldConsumption(hold.id, link.id, link.parent_id,
                                                 link.child_id, at))
    return sorted(found, key=lambda c: (c.recorded_at, c.link_id))
