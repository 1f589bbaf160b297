"""Writing the append-only audit trail, and the UTC clock helpers the services share.

Every state change a person or a gate makes (a hold placed or released, an order stopped, an
NCR dispositioned) is one :class:`~.store.AuditRecord`: entity, field, old value, new value,
who, when, why. Corrections are new records; the store refuses edits (ISA-95 Part 3
tracking, 21 CFR Part 11 style).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from mestwin.mes_core.errors import InvalidValueError
from mestwin.mes_core.store.models import AuditRecord

__all__ = ["record_change", "utc"]


def utc(moment: datetime | None) -> datetime:
    """*moment* as an aware UTC datetime (naive values are taken as UTC; ``None`` is now).

    SQLite returns naive datetimes for ``DateTime(timezone=True)`` columns; the services
    compare only aware values.
    """
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def record_change(
    session: Session,
    *,
    entity: str,
    entity_id: str | int,
    field: str,
    old: object,
    new: object,
    who: str,
    why: str,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one audit record (values are stored as text, ``None`` as null) and return it."""
    if not who.strip():
        raise InvalidValueError("an audited change needs who made it")
    if not why.strip():
        raise InvalidValueError("an audited change needs why it was made")
    record = AuditRecord(
        entity=entity, entity_id=str(entity_id), field=field,
        old_value=None if old is None else str(old), new_value=None if new is None else str(new),
        who=who, why=why, at=utc(at),
    )
    session.add(record)
    return record
