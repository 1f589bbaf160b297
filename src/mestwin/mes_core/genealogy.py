"""Material genealogy: production and consumption events, splits, merges and traces.

ISA-95 Part 3 production tracking / B2MML MaterialActual: every consumption is a
:class:`~.store.GenealogyLink` "*quantity* of parent went into child at event *event_id*";
lots, sublots and serials share one id space, so lot -> lot, lot -> serial and serial ->
serial links form one graph. A split is one parent linked to several new sublots, a merge
several parents linked to one new lot. Lot quantities are the quantity created; what is left
is that minus the outgoing links (:func:`remaining`), so mass balance can be checked.

Traces run one recursive CTE (:func:`~.store.trace`) over the two covering indexes
``(child_id, parent_id)`` and ``(parent_id, child_id)``; consumption refuses held material
unless told to record what the plant did anyway (see :mod:`.quality.holds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mestwin.mes_core.audit import utc
from mestwin.mes_core.errors import InvalidValueError
from mestwin.mes_core.quality.holds import check_consumption
from mestwin.mes_core.store.lookup import by_code, by_id
from mestwin.mes_core.store.models import (
    GenealogyLink,
    Item,
    MaterialLot,
    MaterialSublot,
    SerialNumber,
    trace,
)

__all__ = [
    "LotKind",
    "TraceNode",
    "consume",
    "create_lot",
    "lot_by_code",
    "merge",
    "produce",
    "remaining",
    "split",
    "trace_backward",
    "trace_forward",
    "where_used",
]

LotKind = Literal["lot", "sublot", "serial"]
_KINDS: dict[str, type[MaterialLot]] = {
    "lot": MaterialLot, "sublot": MaterialSublot, "serial": SerialNumber,
}


@dataclass(frozen=True)
class TraceNode:
    """One lot, sublot or serial found by a trace."""

    id: int
    code: str
    kind: str
    item: str
    quantity: float
    disposition: str


def lot_by_code(session: Session, code: str) -> MaterialLot:
    """The lot, sublot or serial called *code*; :class:`NotFoundError` if unknown."""
    return by_code(session, MaterialLot, code, "lot")


def create_lot(
    session: Session, *, code: str, item_id: int, quantity: float, kind: LotKind = "lot",
    lot_id: int | None = None, at: datetime | None = None,
) -> MaterialLot:
    """Create a lot, sublot (of lot *lot_id*) or serial (quantity 1, of lot *lot_id*)."""
    if kind not in _KINDS:
        raise InvalidValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
    if quantity < 0:
        raise InvalidValueError(f"lot quantity {quantity} is negative")
    if kind == "serial" and quantity != 1:
        raise InvalidValueError("a serial has quantity 1")
    if kind != "lot" and lot_id is None:
        raise InvalidValueError(f"a {kind} belongs to a lot: give lot_id")
    by_id(session, Item, item_id, "item")
    if lot_id is not None:
        by_id(session, MaterialLot, lot_id, "lot")
    lot = _KINDS[kind](code=code, item_id=item_id, quantity=quantity, lot_id=lot_id,
                       created_at=utc(at))
    session.add(lot)
    session.flush()
    return lot


def remaining(session: Session, lot_id: int) -> float:
    """Quantity created minus the quantity that went into other lots (negative: overdrawn)."""
    lot = by_id(session, MaterialLot, lot_id, "lot")
    used = session.scalar(select(func.coalesce(func.sum(GenealogyLink.quantity), 0.0))
                          .where(GenealogyLink.parent_id == lot_id)) or 0.0
    return lot.quantity - used


def consume(
    session: Session, *, parent_id: int, child_id: int, quantity: float, event_id: str,
    order_operation_id: int | None = None, at: datetime | None = None,
    enforce_holds: bool = True,
) -> GenealogyLink:
    """Record that *quantity* of *parent_id* went into *child_id* at event *event_id*.

    With *enforce_holds* (the default, for decisions the MES makes) a held parent raises
    :class:`~.errors.HeldLotError` and nothing is written; the collector, which records what
    the plant did, passes ``False`` and :func:`~.quality.held_consumptions` flags it later.
    """
    if parent_id == child_id:
        raise InvalidValueError("a lot cannot be consumed into itself")
    if quantity < 0:
        raise InvalidValueError(f"consumed quantity {quantity} is negative")
    by_id(session, MaterialLot, parent_id, "lot")
    by_id(session, MaterialLot, child_id, "lot")
    if enforce_holds:
        check_consumption(session, parent_id)
    link = GenealogyLink(parent_id=parent_id, child_id=child_id, quantity=quantity,
                         event_id=event_id, order_operation_id=order_operation_id,
                         recorded_at=utc(at))
    session.add(link)
    session.flush()
    return link


def produce(
    session: Session, *, code: str, item_id: int, quantity: float,
    consumed: Sequence[tuple[int, float]], event_id: str, kind: LotKind = "lot",
    lot_id: int | None = None, order_operation_id: int | None = None,
    at: datetime | None = None, enforce_holds: bool = True,
) -> MaterialLot:
    """Create an output lot or serial and link every ``(parent id, quantity)`` it consumed.

    Held inputs are checked first, so a refused production writes nothing.
    """
    if enforce_holds:
        for parent_id, _ in consumed:
            check_consumption(session, parent_id)
    out = create_lot(session, code=code, item_id=item_id, quantity=quantity, kind=kind,
                     lot_id=lot_id, at=at)
    for parent_id, used in consumed:
        consume(session, parent_id=parent_id, child_id=out.id, quantity=used,
                event_id=event_id, order_operation_id=order_operation_id, at=at,
                enforce_holds=False)
    return out


def split(
    session: Session, parent_id: int, parts: Sequence[tuple[str, float]], *, event_id: str,
    at: datetime | None = None, enforce_holds: bool = True,
) -> list[MaterialLot]:
    """Split a lot into new sublots ``(code, quantity)``; they may not exceed what is left."""
    parent = by_id(session, MaterialLot, parent_id, "lot")
    if not parts:
        raise InvalidValueError("a split needs at least one part")
    total = sum(q for _, q in parts)
    left = remaining(session, parent_id)
    if total > left + 1e-9:
        raise InvalidValueError(f"split of {total:g} exceeds the {left:g} left in {parent.code}")
    if enforce_holds:
        check_consumption(session, parent_id)
    container = parent.id if parent.lot_id is None else parent.lot_id
    children = []
    for code, qty in parts:
        child = create_lot(session, code=code, item_id=parent.item_id, quantity=qty,
                           kind="sublot", lot_id=container, at=at)
        consume(session, parent_id=parent_id, child_id=child.id, quantity=qty,
                event_id=event_id, at=at, enforce_holds=False)
        children.append(child)
    return children


def merge(
    session: Session, parents: Sequence[tuple[int, float]], *, code: str, event_id: str,
    at: datetime | None = None, enforce_holds: bool = True,
) -> MaterialLot:
    """Merge ``(parent id, quantity)`` of lots of one item into a new lot called *code*."""
    if len(parents) < 2:
        raise InvalidValueError("a merge needs at least two parents")
    lots = [by_id(session, MaterialLot, pid, "lot") for pid, _ in parents]
    items = {lot.item_id for lot in lots}
    if len(items) != 1:
        raise InvalidValueError("merged lots must be of one item")
    for lot, (_, qty) in zip(lots, parents, strict=True):
        left = remaining(session, lot.id)
        if qty > left + 1e-9:
            raise InvalidValueError(f"merging {qty:g} of {lot.code} exceeds the {left:g} left")
    return produce(session, code=code, item_id=items.pop(), quantity=sum(q for _, q in parents),
                   consumed=parents, event_id=event_id, at=at, enforce_holds=enforce_holds)


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    it = iter(ids)
    while chunk := list(islice(it, size)):
        yield chunk


def _nodes(session: Session, ids: Iterable[int], item_id: int | None = None) -> list[TraceNode]:
    found: list[TraceNode] = []
    for chunk in _chunks(sorted(ids)):
        query = (
            select(MaterialLot.id, MaterialLot.code, MaterialLot.kind, Item.code,
                   MaterialLot.quantity, MaterialLot.disposition)
            .join(Item, MaterialLot.item_id == Item.id).where(MaterialLot.id.in_(chunk))
        )
        if item_id is not None:
            query = query.where(MaterialLot.item_id == item_id)
        rows = session.execute(query)
        found.extend(TraceNode(i, c, k, item, q, str(d)) for i, c, k, item, q, d in rows)
    return sorted(found, key=lambda n: n.code)


def trace_backward(session: Session, lot_id: int) -> list[TraceNode]:
    """Everything that went into *lot_id*, at any depth, sorted by code (start excluded)."""
    by_id(session, MaterialLot, lot_id, "lot")
    return _nodes(session, trace(session, lot_id, "backward"))


def trace_forward(session: Session, lot_id: int) -> list[TraceNode]:
    """Everything *lot_id* went into, at any depth, sorted by code (start excluded)."""
    by_id(session, MaterialLot, lot_id, "lot")
    return _nodes(session, trace(session, lot_id, "forward"))


def where_used(session: Session, lot_id: int, item_id: int | None = None) -> list[TraceNode]:
    """The end products made with *lot_id*: forward-trace nodes with nothing made from them,
    or, when *item_id* is given, the forward-trace nodes of that item."""
    by_id(session, MaterialLot, lot_id, "lot")
    reach = trace(session, lot_id, "forward")
    if item_id is not None:
        return _nodes(session, reach, item_id)
    parents: set[int] = set()
    for chunk in _chunks(sorted(reach)):
        parents.update(session.scalars(
            select(GenealogyLink.parent_id).where(GenealogyLink.parent_id.in_(chunk)).distinct()
        ))
    return _nodes(session, reach - parents)
