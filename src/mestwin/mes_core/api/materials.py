"""Lots, genealogy (consumptions, backward and forward trace, where-used) and quality holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from mestwin.mes_core import genealogy
from mestwin.mes_core.api.deps import Db
from mestwin.mes_core.api.schemas import (
    CODE_LENGTH,
    REASON_LENGTH,
    ConsumptionIn,
    HoldIn,
    HoldOut,
    LinkOut,
    LotIn,
    LotOut,
    TraceNodeOut,
    TraceOut,
)
from mestwin.mes_core.audit import utc
from mestwin.mes_core.errors import StateConflictError
from mestwin.mes_core.quality import active_holds, can_consume, place_hold, release_hold
from mestwin.mes_core.store import Hold, Item, MaterialLot
from mestwin.mes_core.store.lookup import by_code

router = APIRouter(tags=["genealogy and holds"])


def _lot_out(db: Session, lot: MaterialLot) -> LotOut:
    item = db.get(Item, lot.item_id)
    return LotOut(code=lot.code, kind=lot.kind, item="" if item is None else item.code,
                  quantity=lot.quantity, remaining=genealogy.remaining(db, lot.id),
                  disposition=lot.disposition.value, consumable=can_consume(db, lot.id))


def _hold_out(db: Session, hold: Hold) -> HoldOut:
    lot = db.get(MaterialLot, hold.material_lot_id)
    return HoldOut(
        id=hold.id, lot="" if lot is None else lot.code, placed_by=hold.placed_by,
        placed_at=utc(hold.placed_at), reason=hold.reason, released_by=hold.released_by,
        released_at=None if hold.released_at is None else utc(hold.released_at),
        release_reason=hold.release_reason,
    )


@router.post("/lots", status_code=status.HTTP_201_CREATED, response_model=LotOut)
def create_lot(body: LotIn, db: Db) -> LotOut:
    """Create a lot, a sublot or a serial (a sublot of quantity 1) of an item."""
    if db.scalars(select(MaterialLot).where(MaterialLot.code == body.code)).first():
        raise StateConflictError(f"lot {body.code!r} already exists")
    container = None if body.lot is None else genealogy.lot_by_code(db, body.lot).id
    lot = genealogy.create_lot(db, code=body.code, item_id=by_code(db, Item, body.item, "item").id,
                               quantity=body.quantity, kind=body.kind, lot_id=container)
    db.commit()
    return _lot_out(db, lot)


@router.get("/lots/{code}", response_model=LotOut)
def get_lot(code: str, db: Db) -> LotOut:
    """A lot with what is left of it, its disposition and whether it may be consumed."""
    return _lot_out(db, genealogy.lot_by_code(db, code))


@router.post("/consumptions", status_code=status.HTTP_201_CREATED, response_model=LinkOut)
def consume(body: ConsumptionIn, db: Db) -> LinkOut:
    """Record a consumption; 409 when the parent is held or descends from a held lot."""
    parent = genealogy.lot_by_code(db, body.parent)
    child = genealogy.lot_by_code(db, body.child)
    link = genealogy.consume(db, parent_id=parent.id, child_id=child.id, quantity=body.quantity,
                             event_id=body.event_id)
    db.commit()
    return LinkOut(id=link.id, parent=parent.code, child=child.code, quantity=link.quantity,
                   event_id=link.event_id)


def _trace(db: Session, code: str, direction: str, item: str | None = None) -> TraceOut:
    lot = genealogy.lot_by_code(db, code)
    if direction == "backward":
        nodes = genealogy.trace_backward(db, lot.id)
    elif direction == "forward":
        nodes = genealogy.trace_forward(db, lot.id)
    else:
        item_id = None if item is None else by_code(db, Item, item, "item").id
        nodes = genealogy.where_used(db, lot.id, item_id)
    return TraceOut(lot=code, direction=direction,  # type: ignore[arg-type]
                    nodes=[TraceNodeOut(code=n.code, kind=n.kind, item=n.item,
                                        quantity=n.quantity, disposition=n.disposition)
                           for n in nodes])


@router.get("/trace/{code}/backward", response_model=TraceOut)
def trace_backward(code: str, db: Db) -> TraceOut:
    """Everything that went into lot or serial *code*, at any depth."""
    return _trace(db, code, "backward")


@router.get("/trace/{code}/forward", response_model=TraceOut)
def trace_forward(code: str, db: Db) -> TraceOut:
    """Everything lot or serial *code* went into, at any depth."""
    return _trace(db, code, "forward")


@router.get("/trace/{code}/where-used", response_model=TraceOut)
def where_used(
    code: str, db: Db,
    item: Annotated[str | None, Query(description="only nodes of this item code")] = None,
) -> TraceOut:
    """End products made with *code* (or the forward-trace nodes of *item*)."""
    return _trace(db, code, "where-used", item)


@router.get("/holds", response_model=list[HoldOut])
def list_holds(db: Db) -> list[HoldOut]:
    """Active holds, oldest first."""
    return [_hold_out(db, h) for h in active_holds(db)]


@router.post("/holds", status_code=status.HTTP_201_CREATED, response_model=HoldOut)
def hold(body: HoldIn, db: Db) -> HoldOut:
    """Hold a lot (and through genealogy its descendants); 409 if it is already held."""
    lot = genealogy.lot_by_code(db, body.lot)
    placed = place_hold(db, lot.id, who=body.who, why=body.why)
    db.commit()
    return _hold_out(db, placed)


@router.delete("/holds/{lot}", response_model=HoldOut)
def release(
    lot: str, db: Db,
    who: Annotated[str, Query(min_length=1, max_length=CODE_LENGTH)],
    why: Annotated[str, Query(min_length=1, max_length=REASON_LENGTH)],
) -> HoldOut:
    """Release the hold on *lot* (audited with *who* and *why*); 409 if it is not held."""
    found = genealogy.lot_by_code(db, lot)
    released = release_hold(db, found.id, who=who, why=why)
    db.commit()
    return _hold_out(db, released)
