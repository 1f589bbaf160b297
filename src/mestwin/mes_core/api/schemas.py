"""Pydantic models at the API boundary (request bodies and responses, in the OpenAPI schema).

KPI and element records reuse the service dataclasses (:class:`~mestwin.mes_core.kpi.KpiReport`,
:class:`~mestwin.mes_core.kpi.TimeElements`, :class:`~mestwin.mes_core.kpi.Quantities`), so the
API cannot drift from the services. Times are ISO 8601 datetimes; durations are seconds.

Request models refuse what the store could not keep or the services could not use, with a 422
naming the field: numbers that are not finite (JSON has no infinity or NaN, but Python's
parser reads ``1e309`` as infinity and accepts ``NaN``), integers outside the SQL ``INTEGER``
range, strings longer than their column, date-times that have no UTC equivalent, and
quantities above :data:`QUANTITY_LIMIT`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mestwin.mes_core.kpi import KpiReport, Quantities, TimeElements
from mestwin.mes_core.store import Disposition, NcrStatus, OperationState, OrderState
from mestwin.mes_core.store.checks import INTEGER_RANGE

__all__ = [
    "CODE_LENGTH",
    "QUANTITY_LIMIT",
    "REASON_LENGTH",
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
    "StoreInt",
    "TraceNodeOut",
    "TraceOut",
    "UnitOeeOut",
    "UtcDatetime",
]

CODE_LENGTH = 64
"""Length of the code, name and actor columns (``String(64)`` in the store)."""
REASON_LENGTH = 1000
"""Length of the reason columns of the audit trail and of holds (``String(1000)``)."""
QUANTITY_LIMIT = 1e15
"""The largest order, lot or consumed quantity a client may give. Finite is not enough: two
consumptions of 1.7e308 sum to more than a float holds, which SQLite reports as infinity
and PostgreSQL refuses (every later read of the lot fails); 2**31 rows of 1e15 sum safely."""

StoreId = Annotated[int, Field(ge=INTEGER_RANGE[0], le=INTEGER_RANGE[1],
                               description="id of a stored record (an SQL INTEGER)")]
"""An id given by a client: outside the INTEGER range it cannot exist on any back end."""

StoreInt = Annotated[int, Field(ge=INTEGER_RANGE[0], le=INTEGER_RANGE[1],
                                description="an SQL INTEGER (32 bits)")]
"""An integer stored in an ``INTEGER`` column."""

Code = Annotated[str, Field(min_length=1, max_length=CODE_LENGTH)]
Who = Annotated[str, Field(min_length=1, max_length=CODE_LENGTH)]
Why = Annotated[str, Field(min_length=1, max_length=REASON_LENGTH)]


def _as_utc(moment: datetime) -> datetime:
    """*moment* in UTC (a naive value is taken as UTC); refused when UTC cannot hold it."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is outside the years 1 to 9999 "
                         "in UTC") from None


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A date-time given by a client, converted to aware UTC as the store keeps it."""


class _Request(BaseModel):
    """A request body: numbers must be finite."""

    model_config = ConfigDict(allow_inf_nan=False)


class OrderIn(_Request):
    """A production order from ERP (B2MML OperationsRequest)."""

    code: Code
    item: Code = Field(description="item code")
    quantity: float = Field(gt=0, le=QUANTITY_LIMIT)
    due_date: UtcDatetime | None = None
    priority: StoreInt = 0
    routing: Code | None = Field(None, description="routing code; its steps become operations")


class ReleaseIn(_Request):
    """Release an order to a work centre (required when the order has no routing)."""

    work_centre: Code | None = None
    who: Who = "api"
    why: Why = "released to the shop floor"


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


class LotIn(_Request):
    code: Code
    item: Code
    quantity: float = Field(1.0, ge=0, le=QUANTITY_LIMIT)
    kind: Literal["lot", "sublot", "serial"] = "lot"
    lot: Code | None = Field(None, description="containing lot of a sublot or serial")


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


class ConsumptionIn(_Request):
    """*quantity* of lot *parent* went into lot *child* (refused if *parent* is held)."""

    parent: Code
    child: Code
    quantity: float = Field(ge=0, le=QUANTITY_LIMIT)
    event_id: Code


class LinkOut(BaseModel):
    id: int
    parent: str
    child: str
    quantity: float
    event_id: str


class SignedIn(_Request):
    """Who does something and why (both go to the audit trail)."""

    who: Who
    why: Why


class HoldIn(SignedIn):
    lot: Code


class HoldOut(BaseModel):
    id: int
    lot: str
    placed_by: str
    placed_at: datetime
    reason: str
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None


class SpecIn(_Request):
    """Limits of a characteristic; a missing limit is ``null`` (never infinity)."""

    routing_operation_id: StoreId
    characteristic: Code
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    unit: str = Field("", max_length=16)


class SpecOut(BaseModel):
    id: int
    routing_operation_id: int
    characteristic: str
    lsl: float | None
    usl: float | None
    target: float | None
    unit: str


class CapabilityOut(BaseModel):
    spec_id: int
    n: int
    mean: float | None
    stdev: float | None
    cp: float | None
    cpk: float | None


class InspectionIn(_Request):
    """A measured value (a finite number) of a spec's characteristic."""

    spec_id: StoreId
    value: float
    inspector: Who
    order_operation_id: StoreId | None = None
    lot: Code | None = None
    at: UtcDatetime | None = None


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
