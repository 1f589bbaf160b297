"""Schema-driven fuzzing of every MES API route: whatever a client sends, the answer is never
a server error (5xx), and every refusal (4xx) carries a reason.

Schemathesis (v4) reads the app's own OpenAPI document and generates requests from it, valid
ones and ones that break it (wrong types, missing fields, out-of-range numbers, odd strings),
for every operation. They go over a real socket to uvicorn on 127.0.0.1, serving the app over
a real SQLite store (PostgreSQL too when ``MESTWIN_PG_URL`` is set) seeded with a small plant,
orders, lots, a hold, a spec with inspections and an NCR, one store for all operations. So
that requests get past "not found", generated codes and ids are swapped for seeded ones three
times in four.

The number of examples per operation is bounded (``MESTWIN_FUZZ_EXAMPLES``, 25 by default)
so the run stays well under two minutes; set it higher for a long hunt by hand.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from mestwin.mes_core import genealogy, quality
from mestwin.mes_core.api import create_app
from mestwin.mes_core.losses import LossTaxonomy
from mestwin.mes_core.reporting import ShiftCalendar, ShiftPattern
from mestwin.mes_core.store import (
    EquipmentStateEvent,
    OrderOperation,
    OrderState,
    ProductionCount,
    ProductionOrder,
    TimeElement,
    session_factory,
)
from tests.mes_core.conftest import add_bottle_routing, build_plant
from tests.store_backends import BACKENDS, store_engine_on

EXAMPLES = int(os.environ.get("MESTWIN_FUZZ_EXAMPLES", "25"))
"""Examples per API operation and generation phase."""

TIMEOUT = 60 + EXAMPLES // 3
"""Seconds one operation's examples may take (a 1,000-example hunt needs minutes)."""

DAY0 = datetime(2024, 5, 6, tzinfo=UTC)


def seed(engine: Engine) -> dict[str, list[Any]]:
    """Write a small plant's data through the MES services; return the codes and ids a
    client could name, by the parameter or field names the API uses for them."""
    with session_factory(engine)() as db:
        eq = build_plant(db)
        bottle, cap, routing = add_bottle_routing(db, eq["WC1"])
        orders = []
        for code, state in (("PO-1", OrderState.RELEASED), ("PO-2", OrderState.PLANNED)):
            order = ProductionOrder(code=code, item_id=bottle.id, routing_id=routing.id,
                                    quantity=100, state=state, due_date=DAY0 + timedelta(1))
            order.operations = [OrderOperation(sequence=s.sequence, work_centre_id=s.work_centre_id)
                                for s in routing.operations]
            db.add(order)
            orders.append(order)
        wu1 = eq["WU1"].id
        db.add_all([
            EquipmentStateEvent(work_unit_id=wu1, start=DAY0 + timedelta(hours=6),
                                end=DAY0 + timedelta(hours=10), state="Execute",
                                element=TimeElement.APT),
            EquipmentStateEvent(work_unit_id=wu1, start=DAY0 + timedelta(hours=10),
                                end=DAY0 + timedelta(hours=11), state="Aborted",
                                reason="motor", element=TimeElement.ADET),
            ProductionCount(work_unit_id=wu1, at=DAY0 + timedelta(hours=9), produced=900,
                            good=880, scrap=20, ideal_cycle_time=2.0),
        ])
        db.flush()
        caps = genealogy.create_lot(db, code="C", item_id=cap.id, quantity=100)
        box = genealogy.create_lot(db, code="B-LOT", item_id=bottle.id, quantity=10)
        serial = genealogy.create_lot(db, code="B1", item_id=bottle.id, quantity=1, kind="serial",
                                      lot_id=box.id)
        genealogy.consume(db, parent_id=caps.id, child_id=serial.id, quantity=1,
                          event_id="cap-1")
        quality.place_hold(db, box.id, who="qa", why="seeded hold")
        fill = routing.operations[0]
        spec = quality.add_spec(db, routing_operation_id=fill.id, characteristic="fill_ml",
                                lsl=495, usl=505, target=500)
        quality.add_gate(db, routing_operation_id=fill.id, spec_id=spec.id)
        op = orders[0].operations[0]
        outcome = None
        for value in (499.0, 501.0, 520.0):
            outcome = quality.record_inspection(db, spec_id=spec.id, value=value,
                                                inspector="op", order_operation_id=op.id,
                                                lot_id=caps.id)
        assert outcome is not None
        assert outcome.ncr is not None
        db.commit()
        lots = ["C", "B-LOT", "B1"]
        return {
            "code": ["PO-1", "PO-2", "WC1", outcome.ncr.code, *lots], "equipment": list(eq),
            "lot": lots, "parent": lots, "child": lots, "item": ["BOTTLE", "CAP"],
            "routing": ["R-BOTTLE"], "work_centre": ["WC1", "WU1"], "spec_id": [spec.id],
            "routing_operation_id": [s.id for s in routing.operations],
            "order_operation_id": [o.id for order in orders for o in order.operations],
        }


KNOWN: dict[str, list[Any]] = {
    "code": ["PO-1", "PO-2", "WC1", "NCR-000001", "C", "B-LOT", "B1"],
    "equipment": ["S1", "A1", "L1", "WC1", "WU1", "WU2"],
    "lot": ["C", "B-LOT", "B1"], "parent": ["C", "B-LOT", "B1"], "child": ["C", "B-LOT", "B1"],
    "item": ["BOTTLE", "CAP"], "routing": ["R-BOTTLE"], "work_centre": ["WC1", "WU1"],
    "spec_id": [1], "routing_operation_id": [1, 2], "order_operation_id": [1, 2, 3, 4],
}
"""What :func:`seed` writes into a fresh store (ids count from 1 on every back end)."""


def _seeded(known: Mapping[str, Sequence[Any]], values: object) -> st.SearchStrategy[Any]:
    """*values* (a generated dict) with each known key set to a seeded value three times in
    four, else kept as generated."""
    if not isinstance(values, dict):
        return st.just(values)
    return st.fixed_dictionaries({
        key: st.integers(0, 3).flatmap(
            lambda roll, key=key, value=value: st.just(value) if roll == 0
            else st.sampled_from(list(known[key])))
        if key in known else st.just(value)
        for key, value in values.items()
    })


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """*app* served by uvicorn on a free port of 127.0.0.1 in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped"
            assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _app(engine: Engine | None = None) -> FastAPI:
    calendar = ShiftCalendar(DAY0, (ShiftPattern("early", 6 * 3600, 14 * 3600),
                                    ShiftPattern("late", 14 * 3600, 22 * 3600)))
    return create_app(session_factory(engine) if engine is not None else sessionmaker(),
                      calendar=calendar, taxonomy=LossTaxonomy({"motor": "breakdown"}),
                      pru={"WU1": 2.0})


schema = schemathesis.openapi.from_dict(_app().openapi())
"""The OpenAPI document the app generates (it does not depend on the store's contents)."""


@schema.hook
def flatmap_path_parameters(_context: Any, path_parameters: Any) -> Any:
    return _seeded(KNOWN, path_parameters)


@schema.hook
def flatmap_query(_context: Any, query: Any) -> Any:
    return _seeded(KNOWN, query)


@schema.hook
def flatmap_body(_context: Any, body: Any) -> Any:
    return _seeded(KNOWN, body)


@pytest.fixture(scope="module", params=BACKENDS)
def api_url(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served on 127.0.0.1 over a seeded store of each back end, shared by every
    operation in turn, so what one route wrote (a new order, a released hold) is what the
    next ones read."""
    with store_engine_on(request.param, tmp_path_factory.mktemp("fuzz")) as engine:
        assert seed(engine) == KNOWN
        with serving(_app(engine)) as url:
            yield url


@pytest.mark.timeout(TIMEOUT)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case: Case, api_url: str) -> None:
    """Any generated request to any route is answered below 500; a 4xx names its reason."""
    response = case.call_and_validate(base_url=api_url, checks=[not_a_server_error],
                                      timeout=30)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["detail"], response.text


def test_the_fuzzed_schema_has_every_route() -> None:
    """No route of the app is left out of its OpenAPI document, hence out of the fuzzing
    (FastAPI keeps an included router whole: its routes are read from it, none has a
    prefix)."""
    app = _app()
    pending, routes = list(app.routes), set()
    while pending:
        route = pending.pop()
        if isinstance(route, APIRoute):
            routes |= {(method, route.path) for method in route.methods}
        pending.extend(getattr(getattr(route, "original_router", None), "routes", []))
    documented = {(method.upper(), path) for path, item in app.openapi()["paths"].items()
                  for method in item}
    assert routes == documented
    assert len(routes) == 26
