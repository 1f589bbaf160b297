"""Finding one row by id or by code, with a :class:`NotFoundError` that names what was asked.

Every MES service and API route that takes a reference (a lot id, an order code...) goes
through these two, so a missing reference reads the same everywhere and maps to 404.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mestwin.mes_core.errors import NotFoundError
from mestwin.mes_core.store.models import (
    Base,
    Equipment,
    Item,
    MaterialLot,
    ProductionOrder,
    Routing,
)
from mestwin.mes_core.store.quality import Nonconformance

_Row = TypeVar("_Row", bound=Base)
_Coded = TypeVar("_Coded", Equipment, Item, MaterialLot, Nonconformance, ProductionOrder,
                 Routing)


def by_id(session: Session, model: type[_Row], ident: int, what: str) -> _Row:
    """The *model* row with primary key *ident*; :class:`NotFoundError` naming *what*."""
    found = session.get(model, ident)
    if found is None:
        raise NotFoundError(f"{what} {ident} does not exist")
    return found


def by_code(session: Session, model: type[_Coded], code: str, what: str) -> _Coded:
    """The *model* row called *code*; :class:`NotFoundError` naming *what*."""
    found = session.scalars(select(model).where(model.code == code)).first()
    if found is None:
        raise NotFoundError(f"{what} {code!r} does not exist")
    return found
