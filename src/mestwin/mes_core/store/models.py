"""Relational model of the MES core (ISA-95 Parts 2 and 3 objects, SQLAlchemy 2.0 typed).

Equipment follows the ISA-95 role-based hierarchy (site > area > line > work centre > work
unit) in one self-referencing table, as B2MML's Equipment/EquipmentChild does. Master data:
items, BOM lines, routings with operations. Execution: production orders with operations
and states, equipment state events, production counts. Material: lots, sublots and serials
(a serial is a sublot of quantity 1, as in B2MML) share one table so that genealogy links
(parent -> child with a quantity and the event that made the link) form a single graph,
traced with a portable recursive CTE (:func:`trace`). The audit trail is append-only:
corrections are new records; updating or deleting an audit row raises
:class:`AuditTrailError` in the ORM and fails in the database (trigger), see :mod:`.db`.

Only portable SQL is used (no dialect-specific types); enums are stored as checked strings.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    DDL,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from mestwin.mes_core.errors import InvalidValueError
from mestwin.mes_core.losses import SixBigLoss

__all__ = [
    "AuditRecord",
    "AuditTrailError",
    "Base",
    "BomLine",
    "Equipment",
    "EquipmentLevel",
    "EquipmentStateEvent",
    "GenealogyLink",
    "Item",
    "LotDisposition",
    "MaterialLot",
    "MaterialSublot",
    "OperationState",
    "OrderOperation",
    "OrderState",
    "ProductionCount",
    "ProductionOrder",
    "Routing",
    "RoutingOperation",
    "SerialNumber",
    "TimeElement",
    "trace",
]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _enum(cls: type[enum.Enum]) -> SAEnum:
    return SAEnum(
        cls, native_enum=False, create_constraint=True, validate_strings=True, length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    """Declarative base of every MES table."""

    type_annotation_map = {datetime: DateTime(timezone=True)}  # noqa: RUF012


class EquipmentLevel(enum.StrEnum):
    """ISA-95 equipment hierarchy levels, outermost first."""

    SITE = "site"
    AREA = "area"
    LINE = "line"
    WORK_CENTRE = "work_centre"
    WORK_UNIT = "work_unit"


_LEVEL_RANK = {level: rank for rank, level in enumerate(EquipmentLevel)}


class Equipment(Base):
    """A node of the equipment hierarchy; a child sits at a deeper level than its parent."""

    __tablename__ = "equipment"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    level: Mapped[EquipmentLevel] = mapped_column(_enum(EquipmentLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"), index=True)
    parent: Mapped[Equipment | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Equipment]] = relationship(back_populates="parent")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        parent = self.parent
        if parent is not None and _LEVEL_RANK[parent.level] >= _LEVEL_RANK[self.level]:
            raise InvalidValueError(f"{self.level} cannot be a child of {parent.level}")


class Item(Base):
    """A material definition (ISA-95 MaterialDefinition): product, part or raw material."""

    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    uom: Mapped[str] = mapped_column(String(16), default="ea")


class BomLine(Base):
    """One line of a bill of materials: *quantity* of *component* per unit of *item*."""

    __tablename__ = "bom_line"
    __table_args__ = (
        UniqueConstraint("item_id", "component_id"),
        CheckConstraint("quantity > 0", name="bom_quantity_positive"),
        CheckConstraint("item_id <> component_id", name="bom_not_self"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    quantity: Mapped[float] = mapped_column(Float)


class Routing(Base):
    """How an item is made: an ordered list of :class:`RoutingOperation`."""

    __tablename__ = "routing"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    operations: Mapped[list[RoutingOperation]] = relationship(
        order_by="RoutingOperation.sequence", cascade="all, delete-orphan"
    )


class RoutingOperation(Base):
    """A routing step: work centre, setup time, ideal cycle time (PRU) and setup family."""

    __tablename__ = "routing_operation"
    __table_args__ = (UniqueConstraint("routing_id", "sequence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    routing_id: Mapped[int] = mapped_column(ForeignKey("routing.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), index=True)
    setup_time: Mapped[float] = mapped_column(Float, default=0.0)
    cycle_time: Mapped[float] = mapped_column(Float)
    family: Mapped[str | None] = mapped_column(String(64))


class OrderState(enum.StrEnum):
    """Production order states (B2MML RequestState plus execution states)."""

    PLANNED = "planned"
    RELEASED = "released"
    IN_PROCESS = "in_process"
    HELD = "held"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class OperationState(enum.StrEnum):
    """Order operation states as a dispatch list shows them."""

    WAITING = "waiting"
    READY = "ready"
    RUNNING = "running"
    HELD = "held"
    DONE = "done"


class ProductionOrder(Base):
    """An ERP production order as received by the MES (B2MML OperationsRequest)."""

    __tablename__ = "production_order"
    __table_args__ = (CheckConstraint("quantity > 0", name="order_quantity_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    routing_id: Mapped[int | None] = mapped_column(ForeignKey("routing.id"))
    quantity: Mapped[float] = mapped_column(Float)
    due_date: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[OrderState] = mapped_column(
        _enum(OrderState), default=OrderState.PLANNED, index=True
    )
    released_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    operations: Mapped[list[OrderOperation]] = relationship(
        order_by="OrderOperation.sequence", cascade="all, delete-orphan"
    )


class OrderOperation(Base):
    """One operation of a production order, with its state, actual times and quantities."""

    __tablename__ = "order_operation"
    __table_args__ = (
        UniqueConstraint("order_id", "sequence"),
        Index("ix_order_operation_wc_state", "work_centre_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("production_order.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"))
    work_unit_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    state: Mapped[OperationState] = mapped_column(
        _enum(OperationState), default=OperationState.WAITING
    )
    planned_start: Mapped[datetime | None]
    planned_end: Mapped[datetime | None]
    actual_start: Mapped[datetime | None]
    actual_end: Mapped[datetime | None]
    good_qty: Mapped[float] = mapped_column(Float, default=0.0)
    scrap_qty: Mapped[float] = mapped_column(Float, default=0.0)
    rework_qty: Mapped[float] = mapped_column(Float, default=0.0)


class LotDisposition(enum.StrEnum):
    """B2MML MaterialLot disposition."""

    PLANNED = "Planned"
    IN_PROCESS = "In-Process"
    RESTRICTED = "Restricted"
    UNRESTRICTED = "UnRestricted"
    CLOSED = "Closed"


class MaterialLot(Base):
    """A material lot; sublots and serials are rows of the same table (single-table kinds).

    One id space for all three kinds lets :class:`GenealogyLink` reference any of them with
    real foreign keys.
    """

    __tablename__ = "material_lot"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="lot_quantity_nonnegative"),
        CheckConstraint("kind <> 'serial' OR quantity = 1", name="serial_quantity_one"),
        CheckConstraint("kind = 'lot' OR lot_id IS NOT NULL", name="sublot_has_lot"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    quantity: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(64), default="")
    disposition: Mapped[LotDisposition] = mapped_column(
        _enum(LotDisposition), default=LotDisposition.IN_PROCESS
    )
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("material_lot.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "lot"}  # noqa: RUF012


class MaterialSublot(MaterialLot):
    """A sublot of a :class:`MaterialLot` (B2MML MaterialSubLot); *lot_id* names the lot."""

    __mapper_args__ = {"polymorphic_identity": "sublot"}  # noqa: RUF012


class SerialNumber(MaterialSublot):
    """A serialised unit: a sublot of quantity 1."""

    __mapper_args__ = {"polymorphic_identity": "serial"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("quantity", 1.0)
        super().__init__(**kwargs)


class GenealogyLink(Base):
    """*quantity* of *parent* (lot, sublot or serial) went into *child* at event *event_id*."""

    __tablename__ = "genealogy_link"
    __table_args__ = (
        Index("ix_genealogy_child_parent", "child_id", "parent_id"),
        Index("ix_genealogy_parent_child", "parent_id", "child_id"),
        CheckConstraint("parent_id <> child_id", name="genealogy_not_self"),
        CheckConstraint("quantity >= 0", name="genealogy_quantity_nonnegative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("material_lot.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("material_lot.id"))
    quantity: Mapped[float] = mapped_column(Float)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    order_operation_id: Mapped[int | None] = mapped_column(ForeignKey("order_operation.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


def trace(session: Session, lot_id: int, direction: Literal["backward", "forward"]) -> set[int]:
    """Ids of every lot, sublot or serial reachable from *lot_id* through genealogy links.

    ``"backward"`` follows child -> parent (what went into it), ``"forward"`` parent ->
    child (where it went). The start node is excluded. One recursive CTE with ``UNION``
    (duplicates, and hence diamonds, are collapsed), portable to SQLite and PostgreSQL.
    """
    link = GenealogyLink
    if direction == "backward":
        near, far = link.child_id, link.parent_id
    elif direction == "forward":
        near, far = link.parent_id, link.child_id
    else:
        raise ValueError(f"direction must be 'backward' or 'forward', not {direction!r}")
    seed = select(far.label("node")).where(near == lot_id).cte("trace", recursive=True)
    step = select(far).join(seed, near == seed.c.node)
    reach = seed.union(step)
    return {node for node in session.scalars(select(reach.c.node)) if node != lot_id}


class TimeElement(enum.StrEnum):
    """The ISO 22400-2 leaf time element an interval of a work unit is booked to.

    Every second of planned operation time belongs to exactly one of these; the composite
    elements follow (``AUPT = APT + ASUT``, ``AUBT = AUPT + ADET``, ``PBT = AUBT + ADOT``,
    ``POT = PBT + PDOT``).
    """

    APT = "APT"
    """Actual production time (PackML Execute, producing)."""
    ASUT = "ASUT"
    """Actual setup time."""
    ADET = "ADET"
    """Actual unit delay time: breakdowns, minor stops, Held/Suspended during an order."""
    ADOT = "ADOT"
    """Actual unit down time: available but running no order (Stopped, Idle, Aborted)."""
    PDOT = "PDOT"
    """Planned down time: breaks, planned maintenance."""


class EquipmentStateEvent(Base):
    """A work unit was in *state* (with *reason*) from *start* to *end* (open while None).

    *element* is the ISO 22400-2 time element the interval counts toward and *loss* its
    six-big-loss class; both are set by the data collector, which knows the order context
    (``None`` for *element*: derive it from *state*; ``None`` for *loss*: classify *reason*
    with a :class:`~mestwin.mes_core.losses.LossTaxonomy`, or no loss for running time).
    Intervals outside planned operation time are simply not written.
    """

    __tablename__ = "equipment_state_event"
    __table_args__ = (Index("ix_state_event_unit_start", "work_unit_id", "start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_unit_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"))
    start: Mapped[datetime]
    end: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64), default="")
    element: Mapped[TimeElement | None] = mapped_column(_enum(TimeElement), nullable=True)
    loss: Mapped[SixBigLoss | None] = mapped_column(_enum(SixBigLoss), nullable=True)


class ProductionCount(Base):
    """Quantities a work unit reported at *at* (PackML Admin counters, as deltas).

    Each row is a delta since the previous row of the work unit (the collector turns the
    non-resetting AccCount into deltas and handles Int32 wrap-around), attributed wholly to
    the instant *at*: write at least one row per shift boundary for exact per-shift counts.
    *good* is GQ as reported (``PQ - SQ`` from PackML). *ideal_cycle_time* is the planned
    run time per unit (ISO 22400-2 PRU) of the product counted, needed for effectiveness.
    """

    __tablename__ = "production_count"
    __table_args__ = (Index("ix_count_unit_at", "work_unit_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_unit_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"))
    order_operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_operation.id"), index=True
    )
    at: Mapped[datetime]
    produced: Mapped[float] = mapped_column(Float, default=0.0)
    good: Mapped[float] = mapped_column(Float, default=0.0)
    scrap: Mapped[float] = mapped_column(Float, default=0.0)
    rework: Mapped[float] = mapped_column(Float, default=0.0)
    ideal_cycle_time: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuditTrailError(RuntimeError):
    """Raised on an attempt to change or delete an audit record."""


class AuditRecord(Base):
    """An append-only audit entry: who changed which field of which entity, when and why."""

    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(String(1000))
    new_value: Mapped[str | None] = mapped_column(String(1000))
    who: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    why: Mapped[str] = mapped_column(String(1000))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("audit_record.id"))
    """The earlier record this one corrects, if any: corrections never edit in place."""


def _refuse(_mapper: object, _connection: object, target: AuditRecord) -> None:
    raise AuditTrailError(f"audit record {target.id} is append-only")


event.listen(AuditRecord, "before_update", _refuse)
event.listen(AuditRecord, "before_delete", _refuse)

# The same rule inside the database, so raw SQL cannot break it either. Each statement runs
# only on its own dialect; other dialects get the ORM guard alone.
_SQLITE_GUARDS = [
    f"CREATE TRIGGER audit_record_no_{verb.lower()} BEFORE {verb} ON audit_record "
    "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES_GUARDS = [
    "CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_record is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_record_no_change BEFORE UPDATE OR DELETE ON audit_record "
    "FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()",
    "CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()",
]
for _dialect, _statements in (("sqlite", _SQLITE_GUARDS), ("postgresql", _POSTGRES_GUARDS)):
    for _sql in _statements:
        _guard = DDL(_sql)  # type: ignore[no-untyped-call]
        event.listen(AuditRecord.__table__, "after_create", _guard.execute_if(dialect=_dialect))
