"""Database plumbing of the MES store: engine, sessions, schema creation, batched inserts.

Any SQLAlchemy URL works (PostgreSQL through ``psycopg`` for production, SQLite for tests and
demos); the test suite runs the store on both. On SQLite every new connection gets
``journal_mode=WAL`` (readers do not block the writer), ``synchronous=NORMAL`` (durable at
checkpoints, safe with WAL) and ``foreign_keys=ON`` (SQLite leaves foreign keys unenforced
otherwise). On PostgreSQL every new connection gets ``TIME ZONE 'UTC'``: the MES takes naive
date-times as UTC (:func:`~mestwin.mes_core.audit.utc`), and so must the server, whatever its
configured zone; values then also come back in UTC. These settings are the only
dialect-specific SQL issued here; values are checked to fit their columns alike on every
back end (:mod:`.checks`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, insert
from sqlalchemy.orm import Session, sessionmaker

from mestwin.mes_core.store.checks import StoreValueError
from mestwin.mes_core.store.models import Base

__all__ = ["DEFAULT_URL", "create_all", "insert_batches", "make_engine", "session_factory"]

DEFAULT_URL = "sqlite:///mestwin.db"
"""A SQLite file in the working directory."""

SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON")
POSTGRESQL_SETUP = "SET TIME ZONE 'UTC'"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def _set_postgresql_utc(dbapi_connection: Any, _record: Any) -> None:
    # Outside a transaction, so that no later rollback can undo the setting.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(POSTGRESQL_SETUP)
    finally:
        cursor.close()
        dbapi_connection.autocommit = autocommit


def make_engine(url: str | URL = DEFAULT_URL, **kwargs: Any) -> Engine:
    """Create an engine for *url*; *kwargs* go to :func:`sqlalchemy.create_engine`.

    SQLite engines get the WAL / NORMAL / foreign-keys pragmas, PostgreSQL engines the UTC
    session time zone, on every connection.
    """
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _set_postgresql_utc)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to *engine*; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_all(engine: Engine) -> None:
    """Create every MES table (and the audit-trail guards) that does not exist yet."""
    Base.metadata.create_all(engine)


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_batches(
    session: Session,
    model: type[Base],
    rows: Iterable[Mapping[str, Any]],
    batch_size: int = 1000,
) -> int:
    """Insert *rows* (column -> value mappings) into *model*'s table in batches.

    Each batch is one executemany ``INSERT`` in the session's transaction (the caller
    commits), so event streams are written without building one ORM object per row.
    Only one value check is made (the rest of :mod:`.checks` is skipped for speed): a float
    that is not finite raises :class:`.StoreValueError` before its batch is sent.
    Returns the number of rows inserted.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    table = model.__table__.description
    count = 0
    for chunk in _chunks(rows, batch_size):
        for row in chunk:
            for key, value in row.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise StoreValueError(f"{table}.{key} is {value}; only finite numbers "
                                          "are accepted")
        session.execute(insert(model), chunk)
        count += len(chunk)
    return count
