"""Values fit their columns on every back end: one rule for SQLite and PostgreSQL.

SQLite stores a 100-character string in a ``VARCHAR(64)``, a NUL character in text and a
64-bit number in an ``INTEGER``; PostgreSQL refuses all three with a driver error. So that
the MES answers the same on both (a :class:`StoreValueError`, which the API maps to 422,
instead of data SQLite keeps and PostgreSQL cannot), every row the ORM inserts or updates is
checked before it is written: strings no longer than their column and free of NUL, integers
within the 32-bit range of ``INTEGER``. Date-times with a zone other than UTC are converted to
UTC first: PostgreSQL keeps the instant of any zone, SQLite keeps the wall-clock reading and
drops the zone, so only UTC values mean the same on both. Bulk Core inserts (the collector's
writer, :func:`~.db.insert_batches`) skip all this: their values come from the MES itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, String, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper

from mestwin.mes_core.store.models import Base

__all__ = ["INTEGER_RANGE", "StoreValueError", "check_values"]

INTEGER_RANGE = (-(2**31), 2**31 - 1)
"""What an SQL ``INTEGER`` holds on PostgreSQL (SQLite's is wider)."""


_ZERO = timedelta(0)


class StoreValueError(ValueError):
    """A value does not fit its column (too long, a NUL character, out of range)."""


def _problem(column: Any, value: object) -> str | None:
    kind = column.type
    if isinstance(value, str) and isinstance(kind, String):
        if kind.length is not None and len(value) > kind.length:
            return f"is {len(value)} characters long; at most {kind.length} fit"
        if "\x00" in value:
            return "contains a NUL character"
    elif (isinstance(value, int) and not isinstance(value, bool)
          and isinstance(kind, Integer) and not isinstance(kind, BigInteger)):
        low, high = INTEGER_RANGE
        if not low <= value <= high:
            return f"is {value}, outside [{low}, {high}]"
    return None


def check_values(mapper: Mapper[Any], _connection: Connection, target: object) -> None:
    """Raise :class:`StoreValueError` if a loaded column value of *target* does not fit;
    convert zoned date-times to UTC.

    Only values already in the object are read (no lazy load inside a flush).
    """
    loaded = inspect(target).dict
    for attr in mapper.column_attrs:
        if attr.key not in loaded:
            continue
        value = loaded[attr.key]
        if isinstance(value, datetime) and value.utcoffset() not in (None, _ZERO):
            setattr(target, attr.key, value.astimezone(UTC))
            continue
        for column in attr.columns:
            problem = _problem(column, value)
            if problem is not None:
                raise StoreValueError(f"{mapper.local_table.description}.{column.name} "
                                      f"{problem}")


event.listen(Base, "before_insert", check_values, propagate=True)
event.listen(Base, "before_update", check_values, propagate=True)
