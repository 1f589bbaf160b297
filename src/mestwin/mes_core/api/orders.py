"""Production orders (B2MML OperationsRequest) and dispatch lists of work centres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from mestwin.mes_core.api.deps import Db
from mestwin.mes_core.api.schemas import (
    DispatchListOut,
    DispatchRowOut,
    OperationOut,
    OrderIn,
    OrderOut,
    ReleaseIn,
    UtcDatetime,
)
from mestwin.mes_core.audit import record_change, utc
from mestwin.mes_core.dispatching import (
    RULES,
    DispatchContext,
    Job,
    JobProgress,
    Operation,
    dispatch_list,
    get_rule,
)
from mestwin.mes_core.errors import InvalidValueError, StateConflictError
from mestwin.mes_core.store import (
    Equipment,
    EquipmentLevel,
    Item,
    OperationState,
    OrderOperation,
    OrderState,
    ProductionOrder,
    Routing,
    RoutingOperation,
)
from mestwin.mes_core.store.lookup import by_code

router = APIRouter(tags=["orders"])

DISPATCHABLE = (OrderState.RELEASED, OrderState.IN_PROCESS)


def _out(db: Session, order: ProductionOrder) -> OrderOut:
    codes: dict[int, str] = dict(db.execute(select(Equipment.id, Equipment.code)).all())
    item = db.get(Item, order.item_id)
    return OrderOut(
        code=order.code, item="" if item is None else item.code, quantity=order.quantity,
        due_date=None if order.due_date is None else utc(order.due_date),
        priority=order.priority, state=order.state,
        released_at=None if order.released_at is None else utc(order.released_at),
        operations=[
            OperationOut(id=op.id, sequence=op.sequence, work_centre=codes[op.work_centre_id],
                         work_unit=None if op.work_unit_id is None else codes[op.work_unit_id],
                         state=op.state, good_qty=op.good_qty, scrap_qty=op.scrap_qty)
            for op in order.operations
        ],
    )


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
def create_order(body: OrderIn, db: Db) -> OrderOut:
    """Create a planned order; a routing's steps become its operations."""
    if db.scalars(select(ProductionOrder).where(ProductionOrder.code == body.code)).first():
        raise StateConflictError(f"order {body.code!r} already exists")
    item = by_code(db, Item, body.item, "item")
    order = ProductionOrder(code=body.code, item_id=item.id, quantity=body.quantity,
                            due_date=None if body.due_date is None else utc(body.due_date),
                            priority=body.priority, state=OrderState.PLANNED)
    if body.routing is not None:
        routing = by_code(db, Routing, body.routing, "routing")
        if routing.item_id != item.id:
            raise InvalidValueError(
                f"routing {routing.code!r} does not make item {item.code!r}")
        order.routing_id = routing.id
        order.operations = [OrderOperation(sequence=s.sequence, work_centre_id=s.work_centre_id)
                            for s in routing.operations]
    db.add(order)
    db.commit()
    return _out(db, order)


@router.get("/orders", response_model=list[OrderOut])
def list_orders(db: Db, state: OrderState | None = None) -> list[OrderOut]:
    """Every order (optionally in one *state*), by code."""
    query = select(ProductionOrder).order_by(ProductionOrder.code)
    if state is not None:
        query = query.where(ProductionOrder.state == state)
    return [_out(db, o) for o in db.scalars(query)]


@router.get("/orders/{code}", response_model=OrderOut)
def get_order(code: str, db: Db) -> OrderOut:
    """One order with its operations."""
    return _out(db, by_code(db, ProductionOrder, code, "order"))


@router.post("/orders/{code}/release", response_model=OrderOut)
def release_order(code: str, body: ReleaseIn, db: Db) -> OrderOut:
    """Release a planned order; its first operation becomes ready at the given work centre."""
    order = by_code(db, ProductionOrder, code, "order")
    if order.state is not OrderState.PLANNED:
        raise StateConflictError(f"order {code!r} is {order.state.value}, not planned")
    centre = None
    if body.work_centre is not None:
        centre = by_code(db, Equipment, body.work_centre, "work centre")
        if centre.level is not EquipmentLevel.WORK_CENTRE:
            raise InvalidValueError(
                f"{centre.code!r} is a {centre.level.value}, not a work centre")
    if not order.operations:
        if centre is None:
            raise InvalidValueError(f"order {code!r} has no routing: name the work centre")
        order.operations.append(OrderOperation(sequence=10, work_centre_id=centre.id))
    first = order.operations[0]
    if centre is not None:
        first.work_centre_id = centre.id
    first.state = OperationState.READY
    record_change(db, entity="production_order", entity_id=code, field="state",
                  old=order.state.value, new=OrderState.RELEASED.value, who=body.who,
                  why=body.why)
    order.state = OrderState.RELEASED
    order.released_at = datetime.now(UTC)
    db.commit()
    return _out(db, order)


def _processing_time(order: ProductionOrder, op: OrderOperation,
                     steps: dict[tuple[int, int], RoutingOperation]) -> tuple[float, str | None]:
    step = None if order.routing_id is None else steps.get((order.routing_id, op.sequence))
    if step is not None:
        return step.setup_time + step.cycle_time * order.quantity, step.family
    if op.planned_start is not None and op.planned_end is not None:
        return (utc(op.planned_end) - utc(op.planned_start)).total_seconds(), None
    return 0.0, None


@router.get("/work-centres/{code}/dispatch-list", response_model=DispatchListOut)
def get_dispatch_list(
    code: str, db: Db,
    rule: Annotated[str, Query(description=f"one of {', '.join(sorted(RULES))}")] = "FIFO",
    now: UtcDatetime | None = None,
) -> DispatchListOut:
    """Dispatchable operations of released orders waiting at work centre *code*, in rule order.

    Held orders and operations are left out (they cannot be dispatched).
    """
    try:
        chosen = get_rule(rule)
    except KeyError:
        raise HTTPException(
            422,
            detail=f"unknown rule {rule!r}; valid rules: {', '.join(sorted(RULES))}",
        ) from None
    centre = by_code(db, Equipment, code, "work centre")
    moment = utc(now)
    codes: dict[int, str] = dict(db.execute(select(Equipment.id, Equipment.code)).all())
    steps = {(s.routing_id, s.sequence): s for s in db.scalars(select(RoutingOperation))}
    jobs: list[JobProgress] = []
    sequences: dict[str, list[int]] = {}
    for order in db.scalars(select(ProductionOrder).where(ProductionOrder.state.in_(DISPATCHABLE))):
        ops = list(order.operations)
        pending = [i for i, op in enumerate(ops) if op.state is not OperationState.DONE]
        if not pending or ops[pending[0]].state is OperationState.HELD:
            continue
        nxt = pending[0]
        sequences[order.code] = [op.sequence for op in ops]
        timed = [_processing_time(order, op, steps) for op in ops]
        job = Job(order_id=order.code, index=order.id,
                  operations=tuple(Operation(codes[op.work_centre_id], p, fam)
                                   for op, (p, fam) in zip(ops, timed, strict=True)),
                  due_date=None if order.due_date is None else utc(order.due_date).timestamp())
        before = ops[nxt - 1].actual_end if nxt > 0 else order.released_at
        arrival = 0.0 if before is None else utc(before).timestamp()
        jobs.append(JobProgress(job, nxt, arrival,
                                running=ops[nxt].state is OperationState.RUNNING))
    listed = dispatch_list(centre.code, jobs, chosen, DispatchContext(now=moment.timestamp()))
    rows = [
        DispatchRowOut(
            position=i + 1, order=c.order_id,
            sequence=sequences[c.order_id][c.op], processing_time=c.processing_time,
            due_date=None if c.due_date is None else datetime.fromtimestamp(c.due_date, UTC),
            remaining_work=c.remaining_work, remaining_ops=c.remaining_ops, family=c.family,
        )
        for i, c in enumerate(listed.rows)
    ]
    return DispatchListOut(work_centre=centre.code, rule=listed.rule, now=moment, rows=rows)
