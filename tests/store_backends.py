"""The database back ends the MES store tests run on, and a fresh store on each.

SQLite (a file in the test's temporary folder) always; PostgreSQL as well when the
environment variable ``MESTWIN_PG_URL`` holds a SQLAlchemy URL such as the one
``scripts/pg-start.sh`` prints. Both go through the same :func:`make_engine` and
:func:`create_all` as production, so one test body checks both dialects.

Each PostgreSQL store is a schema of its own (a unique name, first on the connection's
``search_path``) that is dropped afterwards: tests stay independent of each other and of
other runs sharing the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, NullPool, text

from mestwin.mes_core.store import create_all, make_engine

__all__ = ["BACKENDS", "PG_URL_ENV", "store_engine_on"]

PG_URL_ENV = "MESTWIN_PG_URL"
"""Environment variable naming the PostgreSQL server to test on."""

BACKENDS: list[str] = ["sqlite", *(["postgresql"] if os.environ.get(PG_URL_ENV) else [])]
"""Back ends to parametrize store tests over, fixed when the test session imports this."""


@contextmanager
def _pg_schema(url: str) -> Iterator[str]:
    """A new empty schema on the server at *url*, dropped with its contents on exit."""
    schema = f"mestwin_{uuid.uuid4().hex}"
    admin = make_engine(url, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield schema
    finally:
        with admin.begin() as conn:
            # A connection a test leaked would make DROP wait for ever: fail instead.
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def store_engine_on(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new MES store (every table and guard created) on *backend*."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'mes.db'}")
        try:
            create_all(engine)
            yield engine
        finally:
            engine.dispose()
    elif backend == "postgresql":
        url = os.environ[PG_URL_ENV]
        with _pg_schema(url) as schema:
            engine = make_engine(url, connect_args={"options": f"-c search_path={schema}"})
            try:
                create_all(engine)
                yield engine
            finally:
                engine.dispose()
    else:
        raise ValueError(f"unknown store back end {backend!r}")
