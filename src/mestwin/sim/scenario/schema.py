"""The scenario file format: a YAML plant, validated by these pydantic models.

``mestwin schema`` prints the JSON Schema generated from :class:`Scenario`, so editors can
complete and check scenario files. Cross-references (``to``, routings, BOM products) are
checked after the fields, with the path of the offending field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    model_validator,
)

from mestwin.sim.scenario.distributions import DistributionSpec
from mestwin.sim.scenario.durations import Duration
from mestwin.virtual_plc.stop_elements import PLANNED_DOWNTIME, RESERVED

Id = str
_TO = ("Next node, or `sink` to leave the plant; required unless only routings lead here "
       "(never implied)")
ONE, PER_PRODUCT, LIST = "(one)", "(per product)", "(list)"
"""Branch names of the either-or fields below (a loader strips them from error paths)."""


def _one_or_per_product(value: Any) -> str:
    per_product = isinstance(value, dict) and "dist" not in value
    return PER_PRODUCT if per_product else ONE


def _one_or_list(value: Any) -> str:
    return LIST if isinstance(value, list) else ONE


def _loss_reason(reason: str) -> str:
    """A breakdown's or minor stop's reason: anything but a reason of another state (the
    PLC vendor's reason -> element table, virtual_plc.stop_elements, books it as ADET)."""
    if reason in RESERVED:
        raise ValueError(f"expected a breakdown reason, not {reason!r}: that reason means "
                         "planned downtime, starved/blocked, setup or a client command")
    return reason


def _planned_reason(reason: str) -> str:
    """A planned downtime's reason: one of :data:`PLANNED_DOWNTIME` (PDOT)."""
    if reason not in PLANNED_DOWNTIME:
        raise ValueError(f"expected one of {', '.join(PLANNED_DOWNTIME)} (the planned-"
                         f"downtime reasons); got {reason!r}")
    return reason


LossReason = Annotated[str, AfterValidator(_loss_reason), Field(
    description="Stop reason (Admin.StopReason); any but a planned-downtime, starved, "
    f"blocked, setup or command reason ({', '.join(sorted(RESERVED))})")]
PlannedReason = Annotated[str, AfterValidator(_planned_reason),
                          Field(json_schema_extra={"enum": list(PLANNED_DOWNTIME)})]


# Either-or fields pick their branch from the shape of the value, so a mistake is reported
# once, in the branch the author meant, instead of once per branch.
TimePerProduct = Annotated[
    Annotated[DistributionSpec, Tag(ONE)] | Annotated[dict[Id, DistributionSpec], Tag(PER_PRODUCT)],
    Discriminator(_one_or_per_product)]
DurationPerProduct = Annotated[
    Annotated[Duration, Tag(ONE)] | Annotated[dict[Id, Duration], Tag(PER_PRODUCT)],
    Discriminator(_one_or_per_product)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductSpec(_Model):
    """A product (item): its setup family and, optionally, its routing."""

    id: Id
    family: str | None = None
    routing: list[Id] | None = Field(
        default=None, description="Nodes visited in order after the source; then the sink.")


class OrderSpec(_Model):
    """A production order released by a source."""

    id: Id
    product: Id
    quantity: StrictInt = Field(ge=1)
    release: Duration = 0.0
    due: Duration | None = None


class SourceSpec(_Model):
    """Where units enter: random arrivals, released orders, or saturated (always ready)."""

    id: Id
    to: Id | None = Field(default=None, description=_TO)
    interarrival: DistributionSpec | None = None
    saturated: StrictBool = False
    orders: list[OrderSpec] | None = None
    product: Id | None = None
    product_mix: dict[Id, float] | None = Field(
        default=None, description="Product -> relative weight, drawn per arrival.")
    lot_size: StrictInt | None = Field(default=None, ge=1,
                                 description="Units per raw-material lot (lot ids on units).")
    when_full: Literal["block", "drop"] = "block"
    limit: StrictInt | None = Field(default=None, ge=1,
                                description="Stop after this many units.")

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        kinds = [self.interarrival is not None, self.saturated, self.orders is not None]
        if sum(kinds) != 1:
            raise ValueError("expected exactly one of interarrival, saturated: true, or orders")
        if self.product is not None and self.product_mix is not None:
            raise ValueError("expected product or product_mix, not both")
        return self


class FailureSpec(_Model):
    """Breakdowns: time to failure and time to repair, on operating or calendar time."""

    ttf: DistributionSpec
    ttr: DistributionSpec
    basis: Literal["operating", "calendar"] = "operating"
    reason: LossReason = "breakdown"


class MicrostopSpec(_Model):
    """Minor stops: short, frequent, counted on operating time."""

    every: DistributionSpec
    duration: DistributionSpec
    reason: LossReason = "minor_stop"


class SetupSpec(_Model):
    """Sequence-dependent setup times by product family."""

    default: DistributionSpec | None = None
    matrix: dict[str, dict[str, DistributionSpec]] = Field(
        default_factory=dict, description="from family -> to family -> setup time")
    initial: StrictBool = False


class PlannedDowntimeSpec(_Model):
    """A planned stop (break, maintenance), once or repeating every *every*."""

    start: Duration
    duration: Duration = Field(gt=0)
    every: Duration | None = None
    reason: PlannedReason = "planned"

    @model_validator(mode="after")
    def _fits(self) -> PlannedDowntimeSpec:
        if self.every is not None and self.every <= self.duration:
            raise ValueError("expected every > duration")
        return self


class MaterialSpec(_Model):
    """Bulk material drawn from lots per unit processed."""

    material: Id
    per_unit: float = Field(default=1.0, gt=0)
    lot_size: float = Field(gt=0)


class ActingTimeSpec(_Model):
    """How long each PackML acting state lasts (ISA-TR88.00.02); one left out takes 0 s
    (it still appears, and completes in the same instant)."""

    aborting: Duration | None = None
    clearing: Duration | None = None
    completing: Duration | None = None
    holding: Duration | None = None
    resetting: Duration | None = None
    starting: Duration | None = None
    stopping: Duration | None = None
    suspending: Duration | None = None
    unholding: Duration | None = None
    unsuspending: Duration | None = None


class PackMLSpec(_Model):
    """How a machine's PLC runs its PackML state machine (per station, or plant-wide)."""

    acting_time: ActingTimeSpec | None = Field(
        default=None, description="Acting state -> duration; the plant waits, in the state "
        "of the stop it leaves, until PackML is back in Execute")
    reset: Literal["auto", "operator"] | None = Field(
        default=None, description="After a breakdown's repair: auto (default), the PLC "
        "clears, resets and starts by itself; operator, the machine stays Aborted (and "
        "down) until a client sends Clear, Reset and Start")


class StationSpec(_Model):
    """A station: parallel servers, an input buffer, process times and losses."""

    id: Id
    servers: StrictInt = Field(default=1, ge=1)
    process_time: TimePerProduct
    ideal_cycle_time: DurationPerProduct | None = Field(
        default=None, description="PRU; default: the mean process time per product")
    buffer: StrictInt | None = Field(default=None, ge=0,
                                     description="Input buffer places; absent: unlimited")
    to: Id | None = Field(default=None, description=_TO)
    failures: Annotated[
        Annotated[FailureSpec, Tag(ONE)] | Annotated[list[FailureSpec], Tag(LIST)],
        Discriminator(_one_or_list)] | None = None
    microstops: MicrostopSpec | None = None
    setups: SetupSpec | None = None
    scrap: float = Field(default=0.0, ge=0, le=1)
    rework: float = Field(default=0.0, ge=0, le=1)
    speed: float = Field(default=1.0, gt=0, description="Actual / design speed (speed loss)")
    planned_downtime: list[PlannedDowntimeSpec] = Field(default_factory=list)
    materials: list[MaterialSpec] = Field(default_factory=list)
    dispatch: Literal["fifo", "external"] = Field(
        default="fifo", description="external: work only on orders the MES dispatches")
    bom: dict[Id, StrictInt] | None = Field(default=None,
                                            description="Assembly: component -> quantity per unit")
    output: Id | None = Field(default=None, description="Assembly: the product made")
    packml: PackMLSpec | None = Field(
        default=None, description="This machine's PackML behaviour (over the plant-wide one)")

    @model_validator(mode="after")
    def _assembly(self) -> StationSpec:
        if (self.bom is None) != (self.output is None):
            raise ValueError("expected bom and output together (an assembly station)")
        if self.bom is not None and any(q < 1 for q in self.bom.values()):
            raise ValueError("expected BOM quantities >= 1")
        return self


class ConveyorSpec(_Model):
    """A conveyor: transport time and places."""

    id: Id
    transport_time: DistributionSpec
    capacity: StrictInt | None = Field(default=None, ge=1)
    to: Id | None = Field(default=None, description=_TO)


class SinkSpec(_Model):
    id: Id


class CalendarSpec(_Model):
    """Plant-wide planned downtime (breaks, shifts off) applied to every station."""

    planned_downtime: list[PlannedDowntimeSpec] = Field(default_factory=list)


class Scenario(_Model):
    """A plant and how long to run it."""

    name: str
    description: str | None = None
    seed: StrictInt = Field(default=0, ge=0)
    horizon: Duration = Field(gt=0)
    warmup: Duration = 0.0
    products: list[ProductSpec] = Field(default_factory=list)
    sources: list[SourceSpec] = Field(min_length=1)
    stations: list[StationSpec] = Field(min_length=1)
    conveyors: list[ConveyorSpec] = Field(default_factory=list)
    sinks: list[SinkSpec] = Field(default_factory=list)
    calendar: CalendarSpec | None = None
    packml: PackMLSpec | None = Field(
        default=None, description="PackML behaviour of every machine (stations may override)")

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        from mestwin.sim.scenario.destinations import check_destinations, check_setup_families
        from mestwin.sim.scenario.references import check_references

        check_references(self)
        check_setup_families(self)
        check_destinations(self)
        return self
