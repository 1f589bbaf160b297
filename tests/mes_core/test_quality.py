"""Quality: specs and inspection results, Cp/Cpk, quality gates that stop an operation and
report the command to send, and nonconformance records with an audited life cycle."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mestwin.mes_core.errors import InvalidValueError, NotFoundError, StateConflictError
from mestwin.mes_core.quality import (
    GATE_ACTOR,
    Capability,
    StopRequest,
    add_gate,
    add_spec,
    capability,
    check_sampling,
    close_ncr,
    cp,
    cpk,
    disposition_ncr,
    list_ncrs,
    open_ncr,
    record_inspection,
    spec_capability,
)
from mestwin.mes_core.store import (
    AuditRecord,
    Disposition,
    Inspection,
    Item,
    NcrStatus,
    OperationState,
    OrderOperation,
    OrderState,
    ProductionCount,
    ProductionOrder,
    Routing,
    RoutingOperation,
)
from tests.mes_core.conftest import build_plant

T0 = datetime(2024, 5, 6, 6, tzinfo=UTC)


def setup(db: Session) -> dict[str, int]:
    """Routing R with fill (10) and cap (20) at WC1; order PO-1 running fill on WU1."""
    eq = build_plant(db)
    item = Item(code="BOTTLE")
    db.add(item)
    db.flush()
    routing = Routing(code="R", item_id=item.id)
    routing.operations = [
        RoutingOperation(sequence=10, work_centre_id=eq["WC1"].id, cycle_time=1.2),
        RoutingOperation(sequence=20, work_centre_id=eq["WC1"].id, cycle_time=0.8),
    ]
    db.add(routing)
    db.flush()
    ids = {"fill": routing.operations[0].id, "cap": routing.operations[1].id,
           "item": item.id}
    for code in ("PO-1", "PO-2"):
        order = ProductionOrder(code=code, item_id=item.id, routing_id=routing.id,
                                quantity=1000, state=OrderState.IN_PROCESS)
        order.operations = [
            OrderOperation(sequence=10, work_centre_id=eq["WC1"].id, work_unit_id=eq["WU1"].id,
                           state=OperationState.RUNNING),
            OrderOperation(sequence=20, work_centre_id=eq["WC1"].id),
        ]
        db.add(order)
        db.flush()
        ids[code] = order.operations[0].id
        ids[code + "/20"] = order.operations[1].id
    db.commit()
    return ids


def test_capability_indices_follow_the_reference_formulas() -> None:
    """Cp = (USL - LSL) / 6s, Cpk = min(USL - mean, mean - LSL) / 3s with the sample s;
    one-sided specs have no Cp; fewer than two values or no spread give None."""
    c = capability([501.0, 502.0, 503.0], 495.0, 505.0)
    assert (c.n, c.mean, c.stdev) == (3, 502.0, 1.0)
    assert c.cp == pytest.approx(10 / 6)
    assert c.cpk == pytest.approx(1.0)
    assert cp(None, 505.0, 1.0) is None
    assert cpk(None, 505.0, 502.0, 1.0) == pytest.approx(1.0)
    assert capability([500.0], 495.0, 505.0).cp is None
    assert capability([500.0, 500.0], 495.0, 505.0).cpk is None
    assert math.isclose(capability([499, 500, 501, 500, 500], 495, 505).cp or 0,
                        10 / (6 * math.sqrt(0.5)))


def test_capability_holds_for_any_finite_values_and_is_undefined_for_others() -> None:
    """Values near the float limit neither overflow nor fail: the mean of +-1.7e308 is 0, the
    spread (2.4e308) is beyond a float, so None, yet Cp = 4 / 6s and Cpk = -1 / 3s still are
    (tiny) floats; limits +-1e308 whose difference overflows give Cp = 10 sqrt 2 / 3 for
    1e308 and 9e307. A window holding infinity or NaN (rows stored before the store refused
    them) has no statistics."""
    big = capability([1.7e308, -1.7e308], 1.0, 5.0)  # their sample s, 1.7e308 * sqrt 2, is inf
    assert (big.n, big.mean, big.stdev) == (2, 0.0, None)
    assert big.cp == pytest.approx(4 / (6 * 1.7) / math.sqrt(2) * 1e-308, rel=1e-9)
    assert big.cpk == pytest.approx(-1 / (3 * 1.7) / math.sqrt(2) * 1e-308, rel=1e-9)
    wide = capability([1e308, 9e307], -1e308, 1e308)
    assert wide.mean == pytest.approx(9.5e307)
    assert wide.stdev == pytest.approx(1e307 / math.sqrt(2))
    assert wide.cp == pytest.approx(10 * math.sqrt(2) / 3)
    assert wide.cpk == pytest.approx(math.sqrt(2) / 6)
    for odd in ([math.inf, 1.0], [math.nan, 1.0, 2.0], [math.inf, -math.inf]):
        assert capability(odd, 0.0, 5.0) == Capability(len(odd), None, None, None, None)
    assert cp(0.0, 1e308, 1e-308) is None


def test_numbers_that_are_not_finite_are_refused_and_change_nothing(db: Session) -> None:
    """An infinite or NaN inspection value, spec limit or target, or NCR quantity raises
    InvalidValueError naming it before anything is written; so does a window of fewer than
    one inspection or more than BIGINT holds, and a disposition that does not exist."""
    ids = setup(db)
    for limits, name in (({"lsl": math.inf}, "lsl is inf"), ({"usl": math.nan}, "usl is nan"),
                         ({"usl": 1.0, "target": -math.inf}, "target is -inf")):
        with pytest.raises(InvalidValueError, match=name):
            add_spec(db, routing_operation_id=ids["fill"], characteristic="c", **limits)
    spec = add_spec(db, routing_operation_id=ids["fill"], characteristic="c", usl=1.0)
    for value in (math.inf, -math.inf, math.nan):
        with pytest.raises(InvalidValueError, match=r"inspection value is .*; only finite"):
            record_inspection(db, spec_id=spec.id, value=value, inspector="lab",
                              order_operation_id=ids["PO-1"])
    with pytest.raises(InvalidValueError, match="NCR quantity"):
        open_ncr(db, defect_code="d", who="qa", order_operation_id=ids["PO-1"],
                 quantity=math.nan)
    db.commit()
    assert db.scalar(select(func.count()).select_from(Inspection)) == 0
    assert list_ncrs(db) == []
    assert db.scalars(select(OrderOperation.state).where(
        OrderOperation.id == ids["PO-1"])).one() is OperationState.RUNNING
    for last in (0, 2**63):
        with pytest.raises(InvalidValueError, match="last"):
            spec_capability(db, spec.id, last=last)
    ncr = open_ncr(db, defect_code="d", who="qa", order_operation_id=ids["PO-1"])
    with pytest.raises(InvalidValueError, match="melt"):
        disposition_ncr(db, ncr.code, "melt", who="qa", why="x")


def test_inspection_passes_inside_the_limits_and_failure_trips_the_gate(db: Session) -> None:
    """A value inside [LSL, USL] passes and changes nothing. A value outside opens an NCR,
    holds the operation and its order (audited as the quality gate) and reports the
    PackML command for the work unit through the callback, once."""
    ids = setup(db)
    spec = add_spec(db, routing_operation_id=ids["fill"], characteristic="fill_ml",
                    lsl=495, usl=505, target=500, unit="ml")
    add_gate(db, routing_operation_id=ids["fill"])
    sent: list[StopRequest] = []
    ok = record_inspection(db, spec_id=spec.id, value=505, inspector="op-1",
                           order_operation_id=ids["PO-1"], on_stop=sent.append)
    assert (ok.passed, ok.ncr, ok.stop, sent) == (True, None, None, [])
    bad = record_inspection(db, spec_id=spec.id, value=506.5, inspector="op-1",
                            order_operation_id=ids["PO-1"], at=T0, on_stop=sent.append)
    db.commit()
    assert not bad.passed
    assert bad.ncr is not None
    assert bad.ncr.defect_code == "fill_ml:out_of_spec"
    assert bad.ncr.code == "NCR-000001"
    assert sent == [bad.stop]
    assert bad.stop is not None
    assert (bad.stop.command, bad.stop.work_unit, bad.stop.work_centre,
            bad.stop.order_code) == ("Hold", "WU1", "WC1", "PO-1")
    op = db.get(OrderOperation, ids["PO-1"])
    assert op is not None
    assert op.state is OperationState.HELD
    order = db.scalars(select(ProductionOrder).where(ProductionOrder.code == "PO-1")).one()
    assert order.state is OrderState.HELD
    trail = db.scalars(select(AuditRecord).where(AuditRecord.who == GATE_ACTOR)).all()
    assert {(r.entity, r.old_value, r.new_value) for r in trail} == {
        ("order_operation", "running", "held"), ("production_order", "in_process", "held")}
    assert "506.5 outside [495, 505]" in trail[0].why
    again = record_inspection(db, spec_id=spec.id, value=490, inspector="op-1",
                              order_operation_id=ids["PO-1"], on_stop=sent.append)
    assert again.stop is None
    assert again.ncr is not None
    assert len(sent) == 1


def test_inspections_are_checked_against_their_operation(db: Session) -> None:
    """A spec of another operation, an unknown spec and a spec without limits are refused."""
    ids = setup(db)
    spec = add_spec(db, routing_operation_id=ids["cap"], characteristic="torque", lsl=1.0)
    with pytest.raises(ValueError, match="does not apply"):
        record_inspection(db, spec_id=spec.id, value=2.0, inspector="x",
                          order_operation_id=ids["PO-1"])
    with pytest.raises(NotFoundError):
        record_inspection(db, spec_id=999, value=2.0, inspector="x")
    with pytest.raises(ValueError, match="limit"):
        add_spec(db, routing_operation_id=ids["cap"], characteristic="colour")
    with pytest.raises(ValueError, match="above"):
        add_spec(db, routing_operation_id=ids["cap"], characteristic="h", lsl=2, usl=1)
    below = record_inspection(db, spec_id=spec.id, value=0.5, inspector="x",
                              order_operation_id=ids["PO-1/20"])
    assert not below.passed
    assert below.stop is None


def test_sampling_gate_stops_when_too_few_inspections(db: Session) -> None:
    """One inspection per 100 units: 250 units with two inspections is fine, 310 is not."""
    ids = setup(db)
    spec = add_spec(db, routing_operation_id=ids["fill"], characteristic="fill_ml",
                    lsl=495, usl=505)
    gate = add_gate(db, routing_operation_id=ids["fill"], spec_id=spec.id, sample_every=100,
                    command="Stop")
    wu = db.get(OrderOperation, ids["PO-2"])
    assert wu is not None
    assert wu.work_unit_id is not None
    for v in (500, 501):
        record_inspection(db, spec_id=spec.id, value=v, inspector="op",
                          order_operation_id=ids["PO-2"])
    db.add(ProductionCount(work_unit_id=wu.work_unit_id, order_operation_id=ids["PO-2"],
                           at=T0, produced=250, good=250))
    assert check_sampling(db, ids["PO-2"]) is None
    db.add(ProductionCount(work_unit_id=wu.work_unit_id, order_operation_id=ids["PO-2"],
                           at=T0 + timedelta(minutes=5), produced=60, good=60))
    stop = check_sampling(db, ids["PO-2"])
    assert stop is not None
    assert (stop.gate_id, stop.command) == (gate.id, "Stop")
    assert "2 inspections for 310 units" in stop.reason
    assert wu.state is OperationState.HELD
    with pytest.raises(ValueError, match="sample_every"):
        add_gate(db, routing_operation_id=ids["fill"], sample_every=0)


def test_spec_capability_over_the_last_inspections(db: Session) -> None:
    """Cp/Cpk of a spec use the newest n inspections (or a time window)."""
    ids = setup(db)
    spec = add_spec(db, routing_operation_id=ids["cap"], characteristic="torque",
                    lsl=495, usl=505)
    for i, v in enumerate((400.0, 501.0, 502.0, 503.0)):
        record_inspection(db, spec_id=spec.id, value=v, inspector="lab",
                          at=T0 + timedelta(minutes=i))
    assert list_ncrs(db) == []
    last3 = spec_capability(db, spec.id, last=3)
    assert (last3.n, last3.mean) == (3, 502.0)
    assert last3.cpk == pytest.approx(1.0)
    window = spec_capability(db, spec.id, start=T0, end=T0 + timedelta(minutes=1))
    assert (window.n, window.mean) == (1, 400.0)


def test_ncr_life_cycle_is_audited(db: Session) -> None:
    """open -> dispositioned (scrap) -> closed; closing an open NCR or re-deciding a closed
    one is a state conflict; every change leaves an audit record."""
    ids = setup(db)
    spec = add_spec(db, routing_operation_id=ids["fill"], characteristic="fill_ml", usl=505)
    ncr = record_inspection(db, spec_id=spec.id, value=510, inspector="op",
                            order_operation_id=ids["PO-1"]).ncr
    assert ncr is not None
    assert ncr.status is NcrStatus.OPEN
    with pytest.raises(StateConflictError, match="open"):
        close_ncr(db, ncr.code, who="qa", why="done")
    disposition_ncr(db, ncr.code, "scrap", who="qa", why="overfilled")
    assert (ncr.status, ncr.disposition) == (NcrStatus.DISPOSITIONED, Disposition.SCRAP)
    with pytest.raises(ValueError, match="who"):
        disposition_ncr(db, ncr.code, "scrap", who=" ", why="x")
    close_ncr(db, ncr.code, who="qa", why="scrapped")
    with pytest.raises(StateConflictError, match="closed"):
        disposition_ncr(db, ncr.code, Disposition.REWORK, who="qa", why="oops")
    assert [n.code for n in list_ncrs(db, status=NcrStatus.CLOSED)] == [ncr.code]
    assert list_ncrs(db, status=NcrStatus.OPEN) == []
    trail = db.scalars(select(AuditRecord).where(AuditRecord.entity == "nonconformance")
                       .order_by(AuditRecord.id)).all()
    assert [(r.field, r.new_value) for r in trail] == [
        ("disposition", "scrap"), ("status", "dispositioned"), ("status", "closed")]
