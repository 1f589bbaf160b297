"""Nonconformance records (NCRs): a defect on a lot, serial or operation and its disposition.

Life cycle: ``open`` -> ``dispositioned`` (use as is, rework, scrap or return to supplier) ->
``closed``. Every status and disposition change is written to the audit trail; an NCR is
never deleted.
"""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from mestwin.mes_core.audit import record_change, utc
from mestwin.mes_core.errors import InvalidValueError, StateConflictError
from mestwin.mes_core.store.checks import finite
from mestwin.mes_core.store.lookup import by_code
from mestwin.mes_core.store.quality import Disposition, NcrStatus, Nonconformance

__all__ = ["close_ncr", "disposition_ncr", "get_ncr", "list_ncrs", "open_ncr"]


def open_ncr(
    session: Session,
    *,
    defect_code: str,
    who: str,
    lot_id: int | None = None,
    order_operation_id: int | None = None,
    inspection_id: int | None = None,
    quantity: float = 0.0,
    description: str = "",
    at: datetime | None = None,
) -> Nonconformance:
    """Open an NCR on a lot/serial and/or an order operation; its code is ``NCR-<id>``."""
    if lot_id is None and order_operation_id is None:
        raise InvalidValueError("an NCR names a lot or serial, an order operation, or both")
    if not defect_code.strip():
        raise InvalidValueError("an NCR needs a defect code")
    quantity = finite(quantity, "NCR quantity")
    if quantity < 0:
        raise InvalidValueError(f"NCR quantity {quantity} is negative")
    ncr = Nonconformance(
        code=f"NCR-pending-{uuid4().hex}", material_lot_id=lot_id,
        order_operation_id=order_operation_id, inspection_id=inspection_id,
        defect_code=defect_code, description=description, quantity=quantity,
        opened_by=who, opened_at=utc(at),
    )
    session.add(ncr)
    session.flush()
    ncr.code = f"NCR-{ncr.id:06d}"
    session.flush()
    return ncr


def get_ncr(session: Session, code: str) -> Nonconformance:
    """The NCR called *code*; :class:`NotFoundError` if there is none."""
    return by_code(session, Nonconformance, code, "NCR")


def list_ncrs(
    session: Session, *, status: NcrStatus | None = None, lot_id: int | None = None
) -> list[Nonconformance]:
    """NCRs, optionally of one *status* and/or one lot, oldest first."""
    query = select(Nonconformance).order_by(Nonconformance.id)
    if status is not None:
        query = query.where(Nonconformance.status == status)
    if lot_id is not None:
        query = query.where(Nonconformance.material_lot_id == lot_id)
    return list(session.scalars(query))


def disposition_ncr(
    session: Session, code: str, disposition: Disposition | str, *, who: str, why: str,
    at: datetime | None = None,
) -> Nonconformance:
    """Decide what happens to the material; an open or dispositioned NCR may be (re)decided."""
    ncr = get_ncr(session, code)
    try:
        decided = Disposition(disposition)
    except ValueError:
        raise InvalidValueError(f"disposition {disposition!r} is not one of "
                                f"{[d.value for d in Disposition]}") from None
    if ncr.status is NcrStatus.CLOSED:
        raise StateConflictError(f"{code} is closed")
    record_change(session, entity="nonconformance", entity_id=code, field="disposition",
                  old=None if ncr.disposition is None else ncr.disposition.value,
                  new=decided.value, who=who, why=why, at=at)
    if ncr.status is not NcrStatus.DISPOSITIONED:
        record_change(session, entity="nonconformance", entity_id=code, field="status",
                      old=ncr.status.value, new=NcrStatus.DISPOSITIONED.value, who=who, why=why,
                      at=at)
    ncr.disposition, ncr.status = decided, NcrStatus.DISPOSITIONED
    session.flush()
    return ncr


def close_ncr(
    session: Session, code: str, *, who: str, why: str, at: datetime | None = None
) -> Nonconformance:
    """Close a dispositioned NCR; an NCR without a disposition cannot be closed."""
    ncr = get_ncr(session, code)
    if ncr.status is not NcrStatus.DISPOSITIONED:
        raise StateConflictError(f"{code} is {ncr.status.value}; only a dispositioned NCR closes")
    record_change(session, entity="nonconformance", entity_id=code, field="status",
                  old=ncr.status.value, new=NcrStatus.CLOSED.value, who=who, why=why, at=at)
    ncr.status = NcrStatus.CLOSED
    session.flush()
    return ncr
