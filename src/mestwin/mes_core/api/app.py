"""The MES core's HTTP API (FastAPI, OpenAPI generated at ``/openapi.json`` and ``/docs``).

Resources: production orders and their release, dispatch lists of work centres, OEE per work
unit / line / shift, downtime Pareto, six big losses and MTBF/MTTR, lots and consumptions,
backward / forward trace and where-used, holds, specs, inspection results and NCRs.
Domain errors map to HTTP: unknown ids 404, state conflicts 409 (a held lot, an order that is
not planned, a lot that is not held, a duplicate code), bad values 422 (a request that breaks
its schema, a number that is not finite, a value that breaks a service's rule or does not fit
its column, alike on SQLite and PostgreSQL); every error body is ``{"detail": <reason>}``.
Only the domain's own exception types are mapped: any other exception, a builtin
:class:`ValueError` included, is a server fault and answers 500. Serve it bound to 127.0.0.1, e.g.
``uvicorn --factory ... --host 127.0.0.1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mestwin.mes_core.api import materials, orders, quality, reports
from mestwin.mes_core.api.deps import ApiConfig
from mestwin.mes_core.errors import (
    HeldLotError,
    InvalidValueError,
    NotFoundError,
    StateConflictError,
)
from mestwin.mes_core.losses import LossTaxonomy
from mestwin.mes_core.quality import StopHook
from mestwin.mes_core.reporting import ShiftCalendar

__all__ = ["create_app"]


def _json_safe(value: object) -> object:
    """*value* as JSON can carry it: a non-finite float as text (JSON has no infinity or NaN),
    a lone surrogate of a string (which JSON's ``\\ud800`` escape lets a client send, and
    UTF-8 cannot encode) as its escape."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _error(code: int, detail: object) -> JSONResponse:
    """The error body ``{"detail": ...}``; what the client sent and is echoed is made
    JSON-safe first, so that explaining a refusal cannot itself fail."""
    return JSONResponse(status_code=code, content={"detail": _json_safe(detail)})


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return _error(status.HTTP_404_NOT_FOUND, str(exc.args[0] if exc.args else exc))


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, HeldLotError):
        return _error(status.HTTP_409_CONFLICT, {"message": str(exc),
                                                 "hold_ids": list(exc.hold_ids)})
    return _error(status.HTTP_409_CONFLICT, str(exc))


async def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    return _error(status.HTTP_409_CONFLICT, f"conflicts with stored data: {exc.args[0]}")


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    return _error(422, str(exc))


async def _schema_broken(_request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own handler, except that the offending input is echoed JSON-safe: the input
    # of a "finite number" error is infinity or NaN, that of a "valid string" error may hold
    # a lone surrogate, and FastAPI's JSON encoding of either fails (a 500).
    errors = exc.errors() if isinstance(exc, RequestValidationError) else [str(exc)]
    return _error(422, jsonable_encoder(errors))


async def _unfit(_request: Request, exc: Exception) -> JSONResponse:
    # Values the ORM writes are checked first (store.checks); this catches what a query
    # sends, e.g. a NUL character in a code PostgreSQL cannot compare (SQLite can).
    reason = exc.orig if isinstance(exc, DataError) else exc
    return _error(422, f"a value does not fit the store: {reason}")


def create_app(
    session_factory: sessionmaker[Session], *, taxonomy: LossTaxonomy | None = None,
    calendar: ShiftCalendar | None = None, pru: Mapping[str, float] | None = None,
    on_stop: StopHook | None = None,
) -> FastAPI:
    """Build the MES API over the store that *session_factory* opens.

    *taxonomy*, *calendar* and *pru* feed the reports (see :class:`.deps.ApiConfig`);
    *on_stop* receives each quality-gate stop after it is committed.
    """
    app = FastAPI(title="mestwin MES core", version="0.1.0",
                  description="ISA-95 level 3 services of the mestwin digital twin.")
    app.state.mes = ApiConfig(session_factory, taxonomy, calendar, dict(pru or {}), on_stop)
    app.add_exception_handler(RequestValidationError, _schema_broken)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(StateConflictError, _conflict)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(InvalidValueError, _invalid)
    app.add_exception_handler(DataError, _unfit)
    for module in (orders, reports, materials, quality):
        app.include_router(module.router)
    return app
