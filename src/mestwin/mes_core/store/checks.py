"""Values fit their columns on every back end: one rule for SQLite and PostgreSQL.

SQLite stores a 100-character string in a ``VARCHAR(64)``, a NUL character in text and a
64-bit number in an ``INTEGER``; PostgreSQL refuses all three with a driver error. So that
the MES answers the same on both (a :class:`StoreValueError`, which the API maps to 422,
instead of data SQLite keeps and PostgreSQL cannot), every row the ORM inserts or updates is
checked before it is written: strings no longer than their column and free of NUL, integers
within the 32-bit range of ``INTEGER``, and floats finite: SQLite stores infinity but turns
NaN into NULL, PostgreSQL keeps both, and no MES quantity, limit or measurement is either
(IEEE 754 infinity or NaN is a missing or broken value, not a number). Date-times with a
zone other than UTC are converted to UTC first: PostgreSQL keeps the instant of any zone,
SQLite keeps the wall-clock reading and drops the zone, so only UTC values mean the same on
both. Bulk Core inserts (the collector's writer, :func:`~.db.insert_batches`) skip all this
but the finite check: their values come from the MES itself.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, String, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper

from mestwin.mes_core.errors import InvalidValueError
from mestwin.mes_core.store.models import Base

__all__ = ["BIGINT_RANGE", "INTEGER_RANGE", "StoreValueError", "check_values", "finite"]

INTEGER_RANGE = (-(2**31), 2**31 - 1)
"""What an SQL ``INTEGER`` holds on PostgreSQL (SQLite's is wider)."""

BIGINT_RANGE = (-(2**63), 2**63 - 1)
"""What an SQL ``BIGINT`` holds on PostgreSQL, and any SQLite integer (also ``LIMIT``)."""


_ZERO = timedelta(0)


class StoreValueError(InvalidValueError):
    """A value does not fit its column (too long, a NUL character, out of range, not finite)."""


def _not_finite(value: float) -> str | None:
    try:
        number = float(value)
    except OverflowError:
        return "is too large for a floating-point number"
    if not math.isfinite(number):
        return f"is {number}; only finite numbers are accepted"
    return None


def finite(value: float, what: str) -> float:
    """*value* as a float; :class:`InvalidValueError` naming *what* if it is infinite, NaN or
    an integer too large for a float."""
    problem = _not_finite(value)
    if problem is not None:
        raise InvalidValueError(f"{what} {problem}")
    return float(value)


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
    elif (isinstance(value, (int, float)) and not isinstance(value, bool)
          and isinstance(kind, Float)):
        return _not_finite(value)
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
