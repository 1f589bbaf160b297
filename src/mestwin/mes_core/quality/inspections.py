"""Specs, inspection results and quality gates at routing operations (ISA-95 Part 3 QA).

An inspection passes when its value lies inside the spec's closed limits. A failed inspection
opens a nonconformance record and trips the quality gates of its operation; a gate also
trips when its sampling rule is not met (:func:`check_sampling`). A tripped gate puts the
order operation and its order in the ``held`` state (audited) and produces a
:class:`StopRequest` naming the PackML command the MES must send to the work unit. Sending it
is the dispatcher's job: pass an *on_stop* callback and it is called once per stop, after
the store changes are flushed and before the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mestwin.mes_core.audit import record_change, utc
from mestwin.mes_core.errors import InvalidValueError
from mestwin.mes_core.quality.capability import Capability, capability
from mestwin.mes_core.quality.ncr import open_ncr
from mestwin.mes_core.store.checks import BIGINT_RANGE, finite
from mestwin.mes_core.store.lookup import by_id
from mestwin.mes_core.store.models import (
    Equipment,
    OperationState,
    OrderOperation,
    OrderState,
    ProductionCount,
    ProductionOrder,
    RoutingOperation,
)
from mestwin.mes_core.store.quality import (
    Inspection,
    Nonconformance,
    QualityGate,
    QualitySpec,
)

__all__ = [
    "GATE_ACTOR",
    "InspectionOutcome",
    "StopHook",
    "StopRequest",
    "add_gate",
    "add_spec",
    "check_sampling",
    "record_inspection",
    "routing_operation_of",
    "spec_capability",
]

GATE_ACTOR = "quality-gate"
"""The *who* of audit records written when a gate stops an operation."""


@dataclass(frozen=True)
class StopRequest:
    """A gate stopped an order operation: send *command* to *work_unit* (or its work centre)."""

    gate_id: int
    order_code: str
    order_operation_id: int
    work_centre: str
    work_unit: str | None
    command: str
    reason: str


StopHook = Callable[[StopRequest], None]
"""Called with each :class:`StopRequest` a gate raises (the MES sends the PLC command)."""


@dataclass(frozen=True)
class InspectionOutcome:
    """What recording an inspection did: the row, the NCR it opened, the stop it caused."""

    inspection: Inspection
    passed: bool
    ncr: Nonconformance | None
    stop: StopRequest | None


def add_spec(
    session: Session, *, routing_operation_id: int, characteristic: str,
    lsl: float | None = None, usl: float | None = None, target: float | None = None,
    unit: str = "",
) -> QualitySpec:
    """Define the limits of *characteristic* at a routing operation (at least one limit).

    Limits and target are finite numbers: a missing limit is ``None``, never infinity.
    """
    lsl, usl, target = (None if v is None else finite(v, name)
                        for v, name in ((lsl, "lsl"), (usl, "usl"), (target, "target")))
    by_id(session, RoutingOperation, routing_operation_id, "routing operation")
    if lsl is None and usl is None:
        raise InvalidValueError("a spec needs a lower or an upper limit")
    if lsl is not None and usl is not None and lsl > usl:
        raise InvalidValueError(f"LSL {lsl} is above USL {usl}")
    spec = QualitySpec(routing_operation_id=routing_operation_id, characteristic=characteristic,
                       lsl=lsl, usl=usl, target=target, unit=unit)
    session.add(spec)
    session.flush()
    return spec


def add_gate(
    session: Session, *, routing_operation_id: int, spec_id: int | None = None,
    sample_every: int | None = None, command: str = "Hold",
) -> QualityGate:
    """Put a gate on a routing operation (see :class:`~.store.QualityGate`)."""
    by_id(session, RoutingOperation, routing_operation_id, "routing operation")
    if spec_id is not None:
        spec = session.get(QualitySpec, spec_id)
        if spec is None or spec.routing_operation_id != routing_operation_id:
            raise InvalidValueError(
                f"spec {spec_id} is not a spec of operation {routing_operation_id}")
    if sample_every is not None and sample_every < 1:
        raise InvalidValueError("sample_every must be at least 1")
    gate = QualityGate(routing_operation_id=routing_operation_id, spec_id=spec_id,
                       sample_every=sample_every, command=command)
    session.add(gate)
    session.flush()
    return gate


def routing_operation_of(session: Session, op: OrderOperation) -> RoutingOperation | None:
    """The routing step an order operation executes (same routing, same sequence)."""
    order = session.get(ProductionOrder, op.order_id)
    if order is None or order.routing_id is None:
        return None
    return session.scalars(select(RoutingOperation).where(
        RoutingOperation.routing_id == order.routing_id,
        RoutingOperation.sequence == op.sequence,
    )).first()


def _stop(
    session: Session, op: OrderOperation, gate: QualityGate, reason: str,
    at: datetime | None, on_stop: StopHook | None,
) -> StopRequest | None:
    """Hold *op* and its order (audited); ``None`` if already held or done."""
    if op.state in (OperationState.HELD, OperationState.DONE):
        return None
    order = session.get(ProductionOrder, op.order_id)
    assert order is not None  # a foreign key guarantees it
    why = f"quality gate {gate.id}: {reason}"
    record_change(session, entity="order_operation", entity_id=op.id, field="state",
                  old=op.state.value, new=OperationState.HELD.value, who=GATE_ACTOR, why=why,
                  at=at)
    op.state = OperationState.HELD
    if order.state is not OrderState.HELD:
        record_change(session, entity="production_order", entity_id=order.code, field="state",
                      old=order.state.value, new=OrderState.HELD.value, who=GATE_ACTOR, why=why,
                      at=at)
        order.state = OrderState.HELD
    session.flush()
    centre = session.get(Equipment, op.work_centre_id)
    unit = None if op.work_unit_id is None else session.get(Equipment, op.work_unit_id)
    request = StopRequest(
        gate_id=gate.id, order_code=order.code, order_operation_id=op.id,
        work_centre="" if centre is None else centre.code,
        work_unit=None if unit is None else unit.code, command=gate.command, reason=why,
    )
    if on_stop is not None:
        on_stop(request)
    return request


def record_inspection(
    session: Session, *, spec_id: int, value: float, inspector: str,
    order_operation_id: int | None = None, lot_id: int | None = None,
    at: datetime | None = None, on_stop: StopHook | None = None,
) -> InspectionOutcome:
    """Record *value* against a spec; a failure opens an NCR (when it names a lot or an
    order operation) and trips the gates of the operation.

    The order operation, when given, must execute the spec's routing operation; *value* must
    be a finite number (a failed measurement is no inspection).
    """
    value = finite(value, "inspection value")
    spec = by_id(session, QualitySpec, spec_id, "spec")
    op = None
    if order_operation_id is not None:
        op = by_id(session, OrderOperation, order_operation_id, "order operation")
        step = routing_operation_of(session, op)
        if step is None or step.id != spec.routing_operation_id:
            raise InvalidValueError(f"spec {spec_id} does not apply to order operation {op.id}")
    when = utc(at)
    passed = (spec.lsl is None or value >= spec.lsl) and (spec.usl is None or value <= spec.usl)
    inspection = Inspection(spec_id=spec_id, order_operation_id=order_operation_id,
                            material_lot_id=lot_id, value=value, passed=passed,
                            inspector=inspector, at=when)
    session.add(inspection)
    session.flush()
    if passed:
        return InspectionOutcome(inspection, True, None, None)
    reason = (f"{spec.characteristic} = {value:g} outside "
              f"[{'-inf' if spec.lsl is None else f'{spec.lsl:g}'}, "
              f"{'inf' if spec.usl is None else f'{spec.usl:g}'}]")
    ncr = None
    if lot_id is not None or order_operation_id is not None:
        ncr = open_ncr(session, defect_code=f"{spec.characteristic}:out_of_spec",
                       who=inspector, lot_id=lot_id, order_operation_id=order_operation_id,
                       inspection_id=inspection.id, description=reason, at=when)
    stop = None
    if op is not None:
        gates = session.scalars(select(QualityGate).where(
            QualityGate.routing_operation_id == spec.routing_operation_id,
            (QualityGate.spec_id.is_(None)) | (QualityGate.spec_id == spec.id),
        ).order_by(QualityGate.id))
        for gate in gates:
            stop = _stop(session, op, gate, reason, when, on_stop) or stop
    return InspectionOutcome(inspection, False, ncr, stop)


def check_sampling(
    session: Session, order_operation_id: int, produced: float | None = None, *,
    at: datetime | None = None, on_stop: StopHook | None = None,
) -> StopRequest | None:
    """Trip a sampling gate if fewer than ``produced // sample_every`` inspections exist.

    *produced* defaults to the sum of the operation's :class:`~.store.ProductionCount` rows.
    """
    op = by_id(session, OrderOperation, order_operation_id, "order operation")
    step = routing_operation_of(session, op)
    if step is None:
        return None
    if produced is None:
        produced = session.scalar(select(func.coalesce(func.sum(ProductionCount.produced), 0.0))
                                  .where(ProductionCount.order_operation_id == op.id)) or 0.0
    gates = session.scalars(select(QualityGate).where(
        QualityGate.routing_operation_id == step.id, QualityGate.sample_every.is_not(None),
    ).order_by(QualityGate.id))
    stop = None
    for gate in gates:
        assert gate.sample_every is not None
        taken_q = select(func.count()).select_from(Inspection).join(
            QualitySpec, Inspection.spec_id == QualitySpec.id
        ).where(Inspection.order_operation_id == op.id,
                QualitySpec.routing_operation_id == step.id)
        if gate.spec_id is not None:
            taken_q = taken_q.where(Inspection.spec_id == gate.spec_id)
        taken = session.scalar(taken_q) or 0
        required = int(produced // gate.sample_every)
        if taken < required:
            reason = (f"{taken} inspections for {produced:g} units; one per "
                      f"{gate.sample_every} required ({required})")
            stop = _stop(session, op, gate, reason, utc(at), on_stop) or stop
    return stop


def spec_capability(
    session: Session, spec_id: int, *, start: datetime | None = None,
    end: datetime | None = None, last: int | None = None,
) -> Capability:
    """Cp/Cpk of a spec over inspections in ``[start, end)`` (or the *last* n of them)."""
    if last is not None and not 1 <= last <= BIGINT_RANGE[1]:
        raise InvalidValueError(f"last is {last}; expected 1 to {BIGINT_RANGE[1]}")
    spec = by_id(session, QualitySpec, spec_id, "spec")
    query = select(Inspection.value).where(Inspection.spec_id == spec_id)
    if start is not None:
        query = query.where(Inspection.at >= utc(start))
    if end is not None:
        query = query.where(Inspection.at < utc(end))
    query = query.order_by(Inspection.at.desc(), Inspection.id.desc())
    if last is not None:
        query = query.limit(last)
    return capability(list(session.scalars(query)), spec.lsl, spec.usl)
