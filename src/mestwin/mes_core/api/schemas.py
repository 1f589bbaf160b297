"""Pydantic models at the API boundary (request bodies and responses, in the OpenAPI schema).

KPI and element records reuse the service dataclasses (:class:`~mestwin.mes_core.kpi.KpiReport`,
:class:`~mestwin.mes_core.kpi.TimeElements`, :class:`~mestwin.mes_core.kpi.Quantities`), so the
API cannot drift from the services. Times are ISO 8601 datetimes; durations are seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from mestwin.mes_core.kpi import KpiReport, Quantities, TimeElements
from mestwin.mes_core.store import Disposition, NcrStatus, OperationState, OrderState
from mestwin.mes_core.store.checks import INTEGER_RANGE

__all__ = [
    "CapabilityOut",
    "ConsumptionIn",
    "DispatchListOut",
    "DispatchRowOut",
    "HoldIn",
    "HoldOut",
    "InspectionIn",
    "InspectionOut",
    "LinkOut",
    "LossesOut",
    "LotIn",
    "LotOut",
    "NcrDispositionIn",
    "NcrOut",
    "OeeOut",
    "OperationOut",
    "OrderIn",
    "OrderOut",
    "ParetoRowOut",
    "ReleaseIn",
    "ReliabilityOut",
    "ShiftOeeOut",
    "SignedIn",
    "SpecIn",
    "SpecOut",
    "StopOut",
    "StoreId",
    "TraceNodeOut",
    "TraceOut",
    "UnitOeeOut",
]

StoreId = Annotated[int, Field(ge=INTEGER_RANGE[0], le=INTEGER_RANGE[1],
                               description="id of a stored record (an SQL INTEGER)")]
"""An id given by a client: outside the INTEGER range it cannot exist on any back end."""


class OrderIn(BaseModel):
    """A production order from ERP (B2MML OperationsRequest)."""

    code: str = Field(min_length=1, max_length=64)
    item: str = Field(min_length=1, description="item code")
    quantity: float = Field(gt=0)
    due_date: datetime | None = None
    priority: int = 0
    routing: str | None = Field(None, description="routing code; its steps become operations")


class ReleaseIn(BaseModel):
    """Release an order to a work centre (required when the order has no routing)."""

    work_centre: str | None = None
    who: str = Field("api", min_length=1)
    why: str = Field("released to the shop floor", min_length=1)


class OperationOut(BaseModel):
    id: int
    sequence: int
    work_centre: str
    work_unit: str | None
    state: OperationState
    good_qty: float
    scrap_qty: float


class OrderOut(BaseModel):
    code: str
    item: str
    quantity: float
    due_date: datetime | None
    priority: int
    state: OrderState
    released_at: datetime | None
    operations: list[OperationOut]


class DispatchRowOut(BaseModel):
    """One dispatch-list row, in the rule's order (*position* 1 goes first)."""

    position: int
    order: str
    sequence: int
    processing_time: float
    due_date: datetime | None
    remaining_work: float
    remaining_ops: int
    family: str | None


class DispatchListOut(BaseModel):
    work_centre: str
    rule: str
    now: datetime
    rows: list[DispatchRowOut]


class UnitOeeOut(BaseModel):
    work_unit: str
    time: TimeElements
    quantities: Quantities
    kpis: KpiReport


class OeeOut(BaseModel):
    """ISO 22400-2 elements and KPIs of a work unit or a roll-up over the window."""

    equipment: str
    start: datetime
    end: datetime
    time: TimeElements
    quantities: Quantities
    kpis: KpiReport
    units: list[UnitOeeOut]


class ShiftOeeOut(BaseModel):
    shift: str
    day: int | None
    start: datetime
    end: datetime
    time: TimeElements
    quantities: Quantities
    kpis: KpiReport


class ParetoRowOut(BaseModel):
    reason: str
    duration: float
    count: int
    share: float
    cumulative_share: float


class LossesOut(BaseModel):
    """Seconds lost per six-big-loss class and per OEE factor."""

    durations: dict[str, float]
    by_factor: dict[str, float]
    unclassified: float


class ReliabilityOut(BaseModel):
    equipment: str
    failures: int
    operating_time: float
    repair_time: float
    mtbf: float | None
    mttr: float | None


class LotIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    item: str
    quantity: float = Field(1.0, ge=0)
    kind: Literal["lot", "sublot", "serial"] = "lot"
    lot: str | None = Field(None, description="containing lot of a sublot or serial")


class LotOut(BaseModel):
    code: str
    kind: str
    item: str
    quantity: float
    remaining: float
    disposition: str
    consumable: bool


class TraceNodeOut(BaseModel):
    code: str
    kind: str
    item: str
    quantity: float
    disposition: str


class TraceOut(BaseModel):
    lot: str
    direction: Literal["backward", "forward", "where-used"]
    nodes: list[TraceNodeOut]


class ConsumptionIn(BaseModel):
    """*quantity* of lot *parent* went into lot *child* (refused if *parent* is held)."""

    parent: str
    child: str
    quantity: float = Field(ge=0)
    event_id: str = Field(min_length=1, max_length=64)


class LinkOut(BaseModel):
    id: int
    parent: str
    child: str
    quantity: float
    event_id: str


class SignedIn(BaseModel):
    """Who does something and why (both go to the audit trail)."""

    who: str = Field(min_length=1)
    why: str = Field(min_length=1)


class HoldIn(SignedIn):
    lot: str


class HoldOut(BaseModel):
    id: int
    lot: str
    placed_by: str
    placed_at: datetime
    reason: str
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None


class SpecIn(BaseModel):
    routing_operation_id: StoreId
    characteristic: str = Field(min_length=1, max_length=64)
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    unit: str = ""


class SpecOut(SpecIn):
    id: int


class CapabilityOut(BaseModel):
    spec_id: int
    n: int
    mean: float | None
    stdev: float | None
    cp: float | None
    cpk: float | None


class InspectionIn(BaseModel):
    spec_id: StoreId
    value: float
    inspector: str = Field(min_length=1)
    order_operation_id: StoreId | None = None
    lot: str | None = None
    at: datetime | None = None


class StopOut(BaseModel):
    """The command the MES must send because a quality gate stopped an operation."""

    gate_id: int
    order: str
    order_operation_id: int
    work_centre: str
    work_unit: str | None
    command: str
    reason: str


class InspectionOut(BaseModel):
    id: int
    passed: bool
    ncr: str | None
    stop: StopOut | None


class NcrOut(BaseModel):
    code: str
    lot: str | None
    order_operation_id: int | None
    defect_code: str
    description: str
    quantity: float
    disposition: Disposition | None
    status: NcrStatus
    opened_by: str
    opened_at: datetime


class NcrDispositionIn(SignedIn):
    disposition: Disposition
