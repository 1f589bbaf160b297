"""Quality records of the MES store: specs, inspections, gates, holds and nonconformances.

ISA-95 Part 3 quality operations management: a :class:`QualitySpec` sets the limits of one
characteristic at one routing operation; an :class:`Inspection` is a measured value against a
spec; a :class:`QualityGate` stops an operation when an inspection fails or too few samples
were taken; a :class:`Hold` restricts a lot (and, through genealogy, its descendants); a
:class:`Nonconformance` (NCR) records a defect and its disposition. Changes of hold, order and
NCR states go to the append-only :class:`~.models.AuditRecord` trail.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mestwin.mes_core.store.models import Base, _enum, utcnow

__all__ = [
    "Disposition",
    "Hold",
    "Inspection",
    "NcrStatus",
    "Nonconformance",
    "QualityGate",
    "QualitySpec",
]


class QualitySpec(Base):
    """Limits of one *characteristic* at one routing operation (LSL, USL and a target).

    Either limit may be missing (a one-sided spec); an inspection passes when its value lies
    inside the closed interval ``[lsl, usl]``.
    """

    __tablename__ = "quality_spec"
    __table_args__ = (
        UniqueConstraint("routing_operation_id", "characteristic"),
        CheckConstraint("lsl IS NULL OR usl IS NULL OR lsl <= usl", name="spec_limits_ordered"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    routing_operation_id: Mapped[int] = mapped_column(ForeignKey("routing_operation.id"))
    characteristic: Mapped[str] = mapped_column(String(64))
    lsl: Mapped[float | None] = mapped_column(Float)
    usl: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16), default="")


class Inspection(Base):
    """One measured *value* of a spec's characteristic, on an order operation and/or a lot."""

    __tablename__ = "inspection"
    __table_args__ = (
        Index("ix_inspection_spec_at", "spec_id", "at"),
        Index("ix_inspection_op", "order_operation_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("quality_spec.id"))
    order_operation_id: Mapped[int | None] = mapped_column(ForeignKey("order_operation.id"))
    material_lot_id: Mapped[int | None] = mapped_column(ForeignKey("material_lot.id"))
    value: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool]
    inspector: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityGate(Base):
    """A gate on a routing operation that stops its order operations.

    The gate trips when an inspection of *spec_id* (any spec of the operation when ``None``)
    fails, or, when *sample_every* is set, when more than *sample_every* units were produced
    per inspection taken. *command* is the PackML command the MES must send to the work unit
    (``Hold`` by default); sending it is the dispatcher's job.
    """

    __tablename__ = "quality_gate"
    __table_args__ = (CheckConstraint("sample_every IS NULL OR sample_every > 0",
                                      name="gate_sample_every_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    routing_operation_id: Mapped[int] = mapped_column(
        ForeignKey("routing_operation.id"), index=True
    )
    spec_id: Mapped[int | None] = mapped_column(ForeignKey("quality_spec.id"))
    sample_every: Mapped[int | None] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(String(32), default="Hold")


class Hold(Base):
    """A quality hold on a lot, sublot or serial; active while *released_at* is ``None``.

    Placing and releasing are also written to the audit trail (who, when, why).
    """

    __tablename__ = "quality_hold"
    __table_args__ = (Index("ix_hold_lot_released", "material_lot_id", "released_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    material_lot_id: Mapped[int] = mapped_column(ForeignKey("material_lot.id"))
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(1000))
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(1000))


class Disposition(enum.StrEnum):
    """What is done with nonconforming material."""

    USE_AS_IS = "use_as_is"
    REWORK = "rework"
    SCRAP = "scrap"
    RETURN = "return"


class NcrStatus(enum.StrEnum):
    """Life cycle of a nonconformance record: open -> dispositioned -> closed."""

    OPEN = "open"
    DISPOSITIONED = "dispositioned"
    CLOSED = "closed"


class Nonconformance(Base):
    """A nonconformance record (NCR): a defect found on a lot or serial at an operation."""

    __tablename__ = "nonconformance"
    __table_args__ = (CheckConstraint("quantity >= 0", name="ncr_quantity_nonnegative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    material_lot_id: Mapped[int | None] = mapped_column(ForeignKey("material_lot.id"), index=True)
    order_operation_id: Mapped[int | None] = mapped_column(ForeignKey("order_operation.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))
    defect_code: Mapped[str] = mapped_column(String(128))
    """E.g. ``<characteristic>:out_of_spec``: room for a 64-character characteristic."""
    description: Mapped[str] = mapped_column(String(1000), default="")
    quantity: Mapped[float] = mapped_column(Float, default=0.0)
    disposition: Mapped[Disposition | None] = mapped_column(_enum(Disposition), nullable=True)
    status: Mapped[NcrStatus] = mapped_column(_enum(NcrStatus), default=NcrStatus.OPEN,
                                              index=True)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
