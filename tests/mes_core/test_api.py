"""The MES HTTP API on a real database (a SQLite file; PostgreSQL too when MESTWIN_PG_URL is
set) through FastAPI's TestClient: orders, dispatch lists, OEE and downtime reports, trace,
holds, inspections and NCRs; bad requests get a 4xx with the reason."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from mestwin.mes_core.api import create_app
from mestwin.mes_core.errors import InvalidValueError, NotFoundError, StateConflictError
from mestwin.mes_core.losses import LossTaxonomy
from mestwin.mes_core.quality import StopRequest
from mestwin.mes_core.reporting import ShiftCalendar, ShiftPattern
from mestwin.mes_core.store import (
    AuditRecord,
    EquipmentStateEvent,
    Inspection,
    ProductionCount,
    QualitySpec,
    RoutingOperation,
    TimeElement,
)
from tests.mes_core.conftest import add_bottle_routing, build_plant

DAY0 = datetime(2024, 5, 6, tzinfo=UTC)


def h(hours: float) -> str:
    return (DAY0 + timedelta(hours=hours)).isoformat()


@pytest.fixture
def stops() -> list[StopRequest]:
    return []


@pytest.fixture
def client(store_factory: sessionmaker[Session], stops: list[StopRequest]) -> Iterator[TestClient]:
    """The API over a store with the plant, items BOTTLE/CAP and routing R-BOTTLE
    (10 fill at WC1: setup 60 s, 1.2 s/unit; 20 cap at WC1: 0.5 s/unit)."""
    with store_factory() as db:
        eq = build_plant(db)
        add_bottle_routing(db, eq["WC1"])
        wu1 = eq["WU1"].id
        db.add_all([
            EquipmentStateEvent(work_unit_id=wu1, start=DAY0 + timedelta(hours=6),
                                end=DAY0 + timedelta(hours=10), state="Execute",
                                element=TimeElement.APT),
            EquipmentStateEvent(work_unit_id=wu1, start=DAY0 + timedelta(hours=10),
                                end=DAY0 + timedelta(hours=11), state="Aborted",
                                reason="motor", element=TimeElement.ADET),
            EquipmentStateEvent(work_unit_id=wu1, start=DAY0 + timedelta(hours=11),
                                end=DAY0 + timedelta(hours=14), state="Execute",
                                element=TimeElement.APT),
            ProductionCount(work_unit_id=wu1, at=DAY0 + timedelta(hours=9), produced=9000,
                            good=8800, scrap=200, ideal_cycle_time=2.0),
        ])
        db.commit()
    calendar = ShiftCalendar(DAY0, (ShiftPattern("early", 6 * 3600, 14 * 3600),
                                    ShiftPattern("late", 14 * 3600, 22 * 3600)))
    app = create_app(store_factory, taxonomy=LossTaxonomy({"motor": "breakdown"}),
                     calendar=calendar, on_stop=stops.append)
    with TestClient(app) as c:
        yield c


def ok(response: Any, code: int = 200) -> Any:
    assert response.status_code == code, response.text
    return response.json()


def refused(response: Any, *loc: str | int) -> list[dict[str, Any]]:
    """Assert a 422 whose validation errors name the field at *loc* (e.g. body, value)."""
    errors: list[dict[str, Any]] = ok(response, 422)["detail"]
    assert [*loc] in [e["loc"] for e in errors], errors
    return errors


def test_openapi_lists_every_resource(client: TestClient) -> None:
    """The generated OpenAPI document has the orders, dispatch, OEE, downtime, trace, hold,
    inspection and NCR paths."""
    paths = ok(client.get("/openapi.json"))["paths"]
    for path in ("/orders", "/orders/{code}", "/orders/{code}/release",
                 "/work-centres/{code}/dispatch-list", "/oee/{equipment}",
                 "/oee/{equipment}/shifts", "/downtime/{equipment}/pareto",
                 "/downtime/{equipment}/losses", "/trace/{code}/backward",
                 "/trace/{code}/forward", "/holds", "/holds/{lot}", "/inspections", "/ncrs"):
        assert path in paths, path


def test_orders_create_release_list_and_get(client: TestClient) -> None:
    """An order made from a routing gets its operations; release makes the first ready and is
    audited; errors name the reason: unknown item 404, duplicate 409, bad quantity 422,
    releasing twice 409, releasing to a work unit 422."""
    body = ok(client.post("/orders", json={"code": "PO-1", "item": "BOTTLE", "quantity": 1000,
                                           "routing": "R-BOTTLE", "due_date": h(20)}), 201)
    assert body["state"] == "planned"
    assert [(o["sequence"], o["work_centre"]) for o in body["operations"]] == [
        (10, "WC1"), (20, "WC1")]
    assert "NOPE" in ok(client.post("/orders", json={"code": "PO-2", "item": "NOPE",
                                                     "quantity": 1}), 404)["detail"]
    assert "already exists" in ok(client.post("/orders", json={
        "code": "PO-1", "item": "BOTTLE", "quantity": 1}), 409)["detail"]
    detail = ok(client.post("/orders", json={"code": "PO-3", "item": "BOTTLE",
                                             "quantity": -5}), 422)["detail"]
    assert detail[0]["loc"][-1] == "quantity"
    released = ok(client.post("/orders/PO-1/release", json={"who": "planner",
                                                            "why": "due today"}))
    assert released["state"] == "released"
    assert released["operations"][0]["state"] == "ready"
    assert "not planned" in ok(client.post("/orders/PO-1/release", json={}), 409)["detail"]
    ok(client.post("/orders", json={"code": "PO-4", "item": "BOTTLE", "quantity": 10}), 201)
    assert "work centre" in ok(client.post("/orders/PO-4/release",
                                           json={"work_centre": "WU1"}), 422)["detail"]
    assert "no routing" in ok(client.post("/orders/PO-4/release", json={}), 422)["detail"]
    ok(client.post("/orders/PO-4/release", json={"work_centre": "WC1"}))
    assert [o["code"] for o in ok(client.get("/orders", params={"state": "released"}))] == [
        "PO-1", "PO-4"]
    assert ok(client.get("/orders/PO-4"))["operations"][0]["work_centre"] == "WC1"
    ok(client.get("/orders/PO-9"), 404)


def test_dispatch_list_orders_by_rule_and_rejects_unknown_rules(client: TestClient) -> None:
    """SPT puts the shorter job first, EDD the earlier due date; an unknown rule is a 422
    that lists the valid rules; an unknown work centre is a 404."""
    for code, qty, due in (("PO-A", 100, 30), ("PO-B", 50, 40), ("PO-C", 10, 20)):
        ok(client.post("/orders", json={"code": code, "item": "BOTTLE", "quantity": qty,
                                        "routing": "R-BOTTLE", "due_date": h(due)}), 201)
        if code != "PO-C":
            ok(client.post(f"/orders/{code}/release", json={}))
    spt = ok(client.get("/work-centres/WC1/dispatch-list", params={"rule": "SPT",
                                                                  "now": h(8)}))
    assert [(r["order"], r["sequence"]) for r in spt["rows"]] == [("PO-B", 10), ("PO-A", 10)]
    assert spt["rows"][0]["processing_time"] == pytest.approx(60 + 1.2 * 50)
    assert spt["rows"][0]["remaining_ops"] == 2
    edd = ok(client.get("/work-centres/WC1/dispatch-list", params={"rule": "edd"}))
    assert [r["order"] for r in edd["rows"]] == ["PO-A", "PO-B"]
    bad = ok(client.get("/work-centres/WC1/dispatch-list", params={"rule": "RANDOM"}), 422)
    assert "RANDOM" in bad["detail"]
    assert "SPT" in bad["detail"]
    assert "ATC" in bad["detail"]
    ok(client.get("/work-centres/WC9/dispatch-list"), 404)


def test_oee_shift_pareto_losses_and_reliability(client: TestClient) -> None:
    """WU1 over 06:00-14:00: APT 7 h, ADET 1 h; OEE = PRU x GQ / PBT; the line rolls up;
    the early shift holds it all; the motor breakdown heads the Pareto; a reversed window is
    a 422 and an unknown equipment a 404."""
    window = {"start": h(6), "end": h(14)}
    unit = ok(client.get("/oee/WU1", params=window))
    assert (unit["time"]["apt"], unit["time"]["adet"], unit["time"]["pbt"]) == (25200, 3600,
                                                                              28800)
    assert unit["kpis"]["oee"] == pytest.approx(2 * 8800 / 28800)
    line = ok(client.get("/oee/L1", params=window))
    assert [u["work_unit"] for u in line["units"]] == ["WU1", "WU2"]
    assert line["kpis"]["oee"] == pytest.approx(unit["kpis"]["oee"])
    shifts = ok(client.get("/oee/WU1/shifts", params={"start": h(6), "end": h(22)}))
    assert [(s["shift"], s["time"]["apt"]) for s in shifts] == [("early", 25200), ("late", 0)]
    pareto = ok(client.get("/downtime/WU1/pareto", params=window))
    assert [(r["reason"], r["duration"]) for r in pareto] == [("motor", 3600)]
    losses = ok(client.get("/downtime/L1/losses", params=window))
    assert losses["durations"]["breakdown"] == 3600
    assert losses["durations"]["reduced_speed"] == pytest.approx(25200 - 18000)
    rel = ok(client.get("/downtime/L1/reliability", params=window))
    assert (rel[0]["equipment"], rel[0]["failures"], rel[0]["mttr"]) == ("WU1", 1, 3600)
    assert rel[-1]["equipment"] == "L1"
    assert "not after" in ok(client.get("/oee/WU1", params={"start": h(14), "end": h(6)}),
                             422)["detail"]
    ok(client.get("/oee/NOPE", params=window), 404)
    ok(client.get("/oee/WU1"), 422)
    ok(client.get("/downtime/WU1/pareto", params={**window, "by": "cost"}), 422)


def test_trace_holds_and_held_consumption(client: TestClient, store_factory: Any) -> None:
    """Caps lot C goes into bottles; holding C makes a bottle non-consumable and a
    consumption of it a 409 naming the hold; the release (DELETE with who and why) is
    audited; releasing again is a 409; trace and where-used follow the links."""
    ok(client.post("/lots", json={"code": "C", "item": "CAP", "quantity": 100}), 201)
    ok(client.post("/lots", json={"code": "B-LOT", "item": "BOTTLE", "quantity": 10}), 201)
    ok(client.post("/lots", json={"code": "B1", "item": "BOTTLE", "kind": "serial",
                                  "lot": "B-LOT"}), 201)
    ok(client.post("/lots", json={"code": "CASE", "item": "BOTTLE", "quantity": 1}), 201)
    ok(client.post("/consumptions", json={"parent": "C", "child": "B1", "quantity": 1,
                                          "event_id": "cap-1"}), 201)
    ok(client.post("/lots", json={"code": "C", "item": "CAP"}), 409)
    ok(client.post("/lots", json={"code": "X", "item": "CAP", "kind": "serial"}), 422)
    assert [n["code"] for n in ok(client.get("/trace/B1/backward"))["nodes"]] == ["C"]
    assert [n["code"] for n in ok(client.get("/trace/C/forward"))["nodes"]] == ["B1"]
    assert [n["code"] for n in ok(client.get("/trace/C/where-used",
                                             params={"item": "BOTTLE"}))["nodes"]] == ["B1"]
    ok(client.get("/trace/NOPE/backward"), 404)
    hold = ok(client.post("/holds", json={"lot": "C", "who": "qa", "why": "recall"}), 201)
    assert hold["released_at"] is None
    assert ok(client.get("/lots/B1"))["consumable"] is False
    assert ok(client.get("/lots/C"))["disposition"] == "Restricted"
    refused = ok(client.post("/consumptions", json={"parent": "B1", "child": "CASE",
                                                    "quantity": 1, "event_id": "pack"}), 409)
    assert refused["detail"]["hold_ids"] == [hold["id"]]
    ok(client.post("/holds", json={"lot": "C", "who": "qa", "why": "again"}), 409)
    ok(client.post("/holds", json={"lot": "C", "who": "", "why": "x"}), 422)
    assert [x["lot"] for x in ok(client.get("/holds"))] == ["C"]
    ok(client.delete("/holds/C", params={"who": "qa-lead"}), 422)
    released = ok(client.delete("/holds/C", params={"who": "qa-lead", "why": "cleared"}))
    assert (released["released_by"], released["release_reason"]) == ("qa-lead", "cleared")
    assert "not on hold" in ok(client.delete("/holds/C", params={"who": "a", "why": "b"}),
                               409)["detail"]
    ok(client.post("/consumptions", json={"parent": "B1", "child": "CASE", "quantity": 1,
                                          "event_id": "pack"}), 201)
    with store_factory() as db:
        trail = db.scalars(select(AuditRecord).where(AuditRecord.field == "hold")
                           .order_by(AuditRecord.id)).all()
        assert [(r.new_value, r.who, r.why) for r in trail] == [
            ("held", "qa", "recall"), ("released", "qa-lead", "cleared")]


def test_inspection_failure_stops_the_operation_and_opens_an_ncr(
    client: TestClient, stops: list[StopRequest], store_factory: Any
) -> None:
    """A spec and a gate on fill; a good result passes; a bad one answers the stop command,
    calls the hook, holds the order and opens an NCR that can be dispositioned and closed."""
    with store_factory() as db:
        fill = db.scalars(select(RoutingOperation).where(RoutingOperation.sequence == 10)).one()
        fill_id = fill.id
    spec = ok(client.post("/specs", json={"routing_operation_id": fill_id,
                                          "characteristic": "fill_ml", "lsl": 495,
                                          "usl": 505}), 201)
    ok(client.post("/specs", json={"routing_operation_id": fill_id, "characteristic": "x"}),
       422)
    from mestwin.mes_core.quality import add_gate

    with store_factory() as db:
        add_gate(db, routing_operation_id=fill_id)
        db.commit()
    order = ok(client.post("/orders", json={"code": "PO-Q", "item": "BOTTLE", "quantity": 5,
                                            "routing": "R-BOTTLE"}), 201)
    op_id = order["operations"][0]["id"]
    good = ok(client.post("/inspections", json={"spec_id": spec["id"], "value": 500,
                                                "inspector": "op", "order_operation_id": op_id}),
              201)
    assert (good["passed"], good["stop"], good["ncr"]) == (True, None, None)
    bad = ok(client.post("/inspections", json={"spec_id": spec["id"], "value": 520,
                                               "inspector": "op", "order_operation_id": op_id}),
             201)
    assert bad["passed"] is False
    assert bad["stop"]["command"] == "Hold"
    assert bad["stop"]["work_centre"] == "WC1"
    assert [s.order_code for s in stops] == ["PO-Q"]
    assert ok(client.get("/orders/PO-Q"))["state"] == "held"
    ok(client.post("/inspections", json={"spec_id": 999, "value": 1, "inspector": "op"}), 404)
    ncrs = ok(client.get("/ncrs", params={"status": "open"}))
    assert [n["code"] for n in ncrs] == [bad["ncr"]]
    ok(client.post(f"/ncrs/{bad['ncr']}/close", json={"who": "qa", "why": "x"}), 409)
    ok(client.post(f"/ncrs/{bad['ncr']}/disposition",
                   json={"disposition": "melt", "who": "qa", "why": "x"}), 422)
    decided = ok(client.post(f"/ncrs/{bad['ncr']}/disposition",
                             json={"disposition": "rework", "who": "qa", "why": "refill"}))
    assert (decided["status"], decided["disposition"]) == ("dispositioned", "rework")
    ok(client.post(f"/ncrs/{bad['ncr']}/close", json={"who": "qa", "why": "reworked"}))
    assert ok(client.get(f"/ncrs/{bad['ncr']}"))["status"] == "closed"
    ok(client.get("/ncrs/NCR-999999"), 404)
    cap = ok(client.get(f"/specs/{spec['id']}/capability"))
    assert (cap["n"], cap["mean"]) == (2, 510)


def test_values_that_do_not_fit_the_store_are_422_on_every_back_end(
    client: TestClient, store_factory: Any
) -> None:
    """A name longer than its column, a NUL character in a code, a priority or an id beyond
    32 bits get a 422 naming the field or the problem, never a server error, on SQLite as on
    PostgreSQL;
    a failed inspection of a spec whose characteristic has the full 64 characters still
    opens its NCR (the defect code is longer than the characteristic)."""
    ok(client.post("/lots", json={"code": "C", "item": "CAP", "quantity": 100}), 201)
    refused(client.post("/holds", json={"lot": "C", "who": "q" * 65, "why": "x"}), "body", "who")
    ok(client.post("/holds", json={"lot": "C", "who": "q" * 64, "why": "w" * 1001}), 422)
    assert ok(client.get("/holds")) == []
    assert "NUL" in ok(client.post("/lots", json={"code": "N\x00", "item": "CAP"}), 422)["detail"]
    refused(client.post("/orders", json={"code": "PO-1", "item": "BOTTLE", "quantity": 1,
                                         "priority": 2**31}), "body", "priority")
    assert ok(client.get(f"/specs/{2**31}/capability"), 422)["detail"][0]["loc"] == [
        "path", "spec_id"]
    ok(client.get(f"/specs/{2**31 - 1}/capability"), 404)
    with store_factory() as db:
        fill = db.scalars(select(RoutingOperation).where(RoutingOperation.sequence == 10)).one()
        fill_id = fill.id
    ok(client.post("/inspections", json={"spec_id": 2**40, "value": 1, "inspector": "x"}), 422)
    spec = ok(client.post("/specs", json={"routing_operation_id": fill_id,
                                          "characteristic": "c" * 64, "usl": 1}), 201)
    order = ok(client.post("/orders", json={"code": "PO-2", "item": "BOTTLE", "quantity": 5,
                                            "routing": "R-BOTTLE"}), 201)
    bad = ok(client.post("/inspections", json={
        "spec_id": spec["id"], "value": 2, "inspector": "op",
        "order_operation_id": order["operations"][0]["id"]}), 201)
    assert ok(client.get(f"/ncrs/{bad['ncr']}"))["defect_code"] == "c" * 64 + ":out_of_spec"
    refused(client.post("/inspections", json={"spec_id": spec["id"], "value": 0,
                                               "inspector": "i" * 65}), "body", "inspector")


def post_raw(client: TestClient, path: str, body: str) -> Any:
    """POST *body* as it is: JSON has no infinity, but ``1e309`` overflows to it when read
    and Python's reader also takes ``NaN``."""
    return client.post(path, content=body, headers={"content-type": "application/json"})


def fill_step(store_factory: Any) -> int:
    with store_factory() as db:
        step: int = db.scalars(select(RoutingOperation.id)
                               .where(RoutingOperation.sequence == 10)).one()
        return step


def count(store_factory: Any, model: Any) -> int:
    with store_factory() as db:
        found: int = db.scalar(select(func.count()).select_from(model))
        return found


def test_numbers_that_are_not_finite_are_422_naming_the_field(
    client: TestClient, store_factory: Any
) -> None:
    """Infinity (1e309, -1e309) or NaN as an inspection value, a lot, order or consumed
    quantity, or a spec limit or target is a 422 whose error names the field and echoes the
    input as text; nothing is stored and capability still answers."""
    fill = fill_step(store_factory)
    spec = ok(client.post("/specs", json={"routing_operation_id": fill,
                                          "characteristic": "fill_ml", "lsl": 495,
                                          "usl": 505}), 201)
    ok(client.post("/lots", json={"code": "C", "item": "CAP", "quantity": 10}), 201)
    ok(client.post("/lots", json={"code": "B", "item": "BOTTLE", "quantity": 10}), 201)
    cases = [
        ("/inspections", f'{{"spec_id": {spec["id"]}, "value": 1e309, "inspector": "op"}}',
         "value", "inf"),
        ("/inspections", f'{{"spec_id": {spec["id"]}, "value": -1e309, "inspector": "op"}}',
         "value", "-inf"),
        ("/inspections", f'{{"spec_id": {spec["id"]}, "value": NaN, "inspector": "op"}}',
         "value", "nan"),
        ("/lots", '{"code": "L", "item": "CAP", "quantity": 1e309}', "quantity", "inf"),
        ("/orders", '{"code": "PO-1", "item": "BOTTLE", "quantity": 1e309}', "quantity", "inf"),
        ("/consumptions", '{"parent": "C", "child": "B", "quantity": NaN, "event_id": "e"}',
         "quantity", "nan"),
        ("/specs", f'{{"routing_operation_id": {fill}, "characteristic": "a", "lsl": 1, '
         '"usl": 1e309}', "usl", "inf"),
        ("/specs", f'{{"routing_operation_id": {fill}, "characteristic": "a", '
         '"lsl": -1e309}', "lsl", "-inf"),
        ("/specs", f'{{"routing_operation_id": {fill}, "characteristic": "a", "usl": 1, '
         '"target": NaN}', "target", "nan"),
    ]
    for path, body, field, echoed in cases:
        errors = refused(post_raw(client, path, body), "body", field)
        assert [(e["type"], e["input"]) for e in errors] == [("finite_number", echoed)], path
    assert count(store_factory, Inspection) == 0
    assert count(store_factory, QualitySpec) == 1
    assert [lot["code"] for lot in (ok(client.get(f"/lots/{c}")) for c in "CB")] == ["C", "B"]
    ok(client.get("/lots/L"), 404)
    ok(client.get("/orders/PO-1"), 404)
    assert ok(client.get(f"/specs/{spec['id']}/capability"))["n"] == 0


def test_integers_beyond_the_store_are_422_naming_the_parameter(
    client: TestClient, store_factory: Any
) -> None:
    """?last=2**63 (one past BIGINT, what LIMIT takes) is a 422 naming last; 2**63 - 1 is
    answered; an id beyond INTEGER in a body is a 422 naming it."""
    spec = ok(client.post("/specs", json={"routing_operation_id": fill_step(store_factory),
                                          "characteristic": "c", "usl": 1}), 201)
    refused(client.get(f"/specs/{spec['id']}/capability", params={"last": 2**63}),
            "query", "last")
    assert ok(client.get(f"/specs/{spec['id']}/capability",
                         params={"last": 2**63 - 1}))["n"] == 0
    refused(client.post("/inspections", json={"spec_id": spec["id"], "value": 1,
                                              "inspector": "op",
                                              "order_operation_id": 2**31}),
            "body", "order_operation_id")


def test_quantities_beyond_the_limit_are_422_so_sums_stay_finite(client: TestClient) -> None:
    """An order, lot or consumed quantity above 1e15 is a 422 naming it: two consumptions of
    1.7e308 would sum beyond a float (infinity on SQLite, an overflow error on every later
    read on PostgreSQL); at the limit the lot reads back with what remains of it."""
    refused(client.post("/orders", json={"code": "PO-1", "item": "BOTTLE",
                                         "quantity": 1.7e308}), "body", "quantity")
    refused(client.post("/lots", json={"code": "L", "item": "CAP", "quantity": 1e16}),
            "body", "quantity")
    ok(client.post("/lots", json={"code": "P", "item": "CAP", "quantity": 1e15}), 201)
    for child in ("K1", "K2"):
        ok(client.post("/lots", json={"code": child, "item": "BOTTLE"}), 201)
        refused(client.post("/consumptions", json={"parent": "P", "child": child,
                                                   "quantity": 1.7e308, "event_id": child}),
                "body", "quantity")
        ok(client.post("/consumptions", json={"parent": "P", "child": child,
                                              "quantity": 1e15, "event_id": child}), 201)
    assert ok(client.get("/lots/P"))["remaining"] == -1e15


def test_capability_answers_for_odd_but_valid_data(client: TestClient,
                                                   store_factory: Any) -> None:
    """Inspections at the float limits are stored and capability answers 200 (mean 0; the
    spread of 2.4e308 is beyond a float, so null); rows holding +-infinity written past the
    ORM (as a store filled before the checks may hold; SQLite cannot even hold NaN) make the
    statistics null, still 200; the last two inspections leave them out."""
    spec = ok(client.post("/specs", json={"routing_operation_id": fill_step(store_factory),
                                          "characteristic": "c", "lsl": -1, "usl": 1}), 201)
    with store_factory() as db:
        db.execute(insert(Inspection), [
            {"spec_id": spec["id"], "value": v, "passed": False, "inspector": "old",
             "at": DAY0} for v in (math.inf, -math.inf)])
        db.commit()
    for value, at in ((1.7976931348623157e308, h(1)), (-1.7976931348623157e308, h(2))):
        ok(client.post("/inspections", json={"spec_id": spec["id"], "value": value,
                                             "inspector": "op", "at": at}), 201)
    last2 = ok(client.get(f"/specs/{spec['id']}/capability", params={"last": 2}))
    assert (last2["n"], last2["mean"], last2["stdev"]) == (2, 0.0, None)
    assert last2["cp"] == pytest.approx(2 / (6 * 1.7976931348623157e308 * math.sqrt(2)))
    every = ok(client.get(f"/specs/{spec['id']}/capability"))
    assert every == {"spec_id": spec["id"], "n": 4, "mean": None, "stdev": None, "cp": None,
                     "cpk": None}


def test_date_times_without_utc_and_overlong_shift_windows_are_422(client: TestClient) -> None:
    """A date-time UTC cannot hold (year 9999 west of Greenwich, year 1 east of it) is a 422
    naming the field; a per-shift report is refused beyond 366 days (it works per shift
    instance), answered at 366."""
    refused(client.post("/inspections", json={"spec_id": 1, "value": 1, "inspector": "op",
                                              "at": "9999-12-31T23:00:00-05:00"}),
            "body", "at")
    refused(client.get("/oee/WU1", params={"start": "0001-01-01T00:00:00+05:00",
                                           "end": h(1)}), "query", "start")
    assert "366 days" in ok(client.get("/oee/WU1/shifts", params={
        "start": h(0), "end": h(366 * 24 + 1)}), 422)["detail"]
    assert len(ok(client.get("/oee/WU1/shifts", params={"start": h(0),
                                                         "end": h(366 * 24)}))) == 2 * 366


def test_domain_errors_get_their_status_and_a_stray_value_error_is_500(
    client: TestClient, store_factory: Any
) -> None:
    """The core's own errors answer 404, 409 or 422 with their reason (a serial of two, a lot
    consumed into itself, a blank signature from the audit trail); only those types are
    mapped, so a builtin ValueError, as a bug would raise, is a 500."""
    ok(client.post("/lots", json={"code": "C", "item": "CAP"}), 201)
    assert "a serial has quantity 1" in ok(client.post("/lots", json={
        "code": "S", "item": "CAP", "kind": "serial", "quantity": 2, "lot": "C"}), 422)["detail"]
    assert "itself" in ok(client.post("/consumptions", json={
        "parent": "C", "child": "C", "quantity": 1, "event_id": "e"}), 422)["detail"]
    assert "who made it" in ok(client.post("/holds", json={"lot": "C", "who": " ",
                                                           "why": "x"}), 422)["detail"]
    ok(client.post("/holds", json={"lot": "C", "who": "qa", "why": "x"}), 201)
    ok(client.post("/holds", json={"lot": "C", "who": "qa", "why": "x"}), 409)
    ok(client.get("/specs/77/capability"), 404)
    app = create_app(store_factory)
    mapped = {c for c in app.exception_handlers if isinstance(c, type)}
    assert {NotFoundError, StateConflictError, InvalidValueError} <= mapped
    assert {c for c in mapped if issubclass(InvalidValueError, c)} == {InvalidValueError}

    def buggy() -> None:
        raise ValueError("a bug")

    app.add_api_route("/buggy", buggy)
    with TestClient(app, raise_server_exceptions=False) as bare:
        assert bare.get("/buggy").status_code == 500
        assert bare.get("/lots/C").status_code == 200


def test_a_refusal_echoes_what_was_sent_in_valid_json(client: TestClient) -> None:
    """A lone surrogate (the JSON escape \\ud800, which UTF-8 cannot encode) in a code is a
    422 naming the field that echoes it escaped, not a 500 while writing the answer; so is
    a code of unknown characters in a path, a 404 that quotes it."""
    response = post_raw(client, "/orders",
                        '{"code": "PO-\\ud800", "item": "BOTTLE", "quantity": 1}')
    errors = refused(response, "body", "code")
    assert errors[0]["input"] == "PO-\\ud800"
    response.content.decode("utf-8")
    assert "does not exist" in ok(client.get("/lots/%ED%A0%80"), 404)["detail"]
