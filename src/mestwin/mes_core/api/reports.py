"""OEE per work unit, line and shift, downtime Pareto, six big losses, MTBF/MTTR (ISO 22400-2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from mestwin.mes_core.api.deps import Config, Db
from mestwin.mes_core.api.schemas import (
    LossesOut,
    OeeOut,
    ParetoRowOut,
    ReliabilityOut,
    ShiftOeeOut,
    UnitOeeOut,
    UtcDatetime,
)
from mestwin.mes_core.errors import InvalidValueError, NotFoundError
from mestwin.mes_core.reporting import (
    downtime_pareto,
    oee,
    oee_by_shift,
    reliability,
    six_big_losses,
)

router = APIRouter(tags=["reports"])

Start = Annotated[UtcDatetime, Query(description="window start (inclusive), ISO 8601")]
End = Annotated[UtcDatetime, Query(description="window end (exclusive), ISO 8601")]

MAX_SHIFT_WINDOW = timedelta(days=366)
"""The longest window of a per-shift report: it works per shift instance, so a window of
centuries would keep a server thread busy for minutes (refused with 422 instead)."""


@router.get("/oee/{equipment}", response_model=OeeOut)
def get_oee(equipment: str, start: Start, end: End, db: Db, cfg: Config) -> OeeOut:
    """Elements and KPIs of a work unit, or of a line (any node) rolled up by summing."""
    report = oee(db, equipment, start, end, pru=cfg.pru)
    return OeeOut(
        equipment=report.equipment, start=start, end=end, time=report.measurements.time,
        quantities=report.measurements.quantities, kpis=report.kpis,
        units=[UnitOeeOut(work_unit=u.work_unit, time=u.measurements.time,
                          quantities=u.measurements.quantities, kpis=u.kpis)
               for u in report.units],
    )


@router.get("/oee/{equipment}/shifts", response_model=list[ShiftOeeOut])
def get_oee_by_shift(
    equipment: str, start: Start, end: End, db: Db, cfg: Config, by_name: bool = False,
) -> list[ShiftOeeOut]:
    """OEE per shift instance in the window (or per shift name with *by_name*); the window
    spans at most 366 days."""
    if cfg.calendar is None:
        raise NotFoundError("no shift calendar is configured")
    if end - start > MAX_SHIFT_WINDOW:
        raise InvalidValueError(f"a per-shift report spans at most {MAX_SHIFT_WINDOW.days} "
                                f"days; {start.isoformat()} to {end.isoformat()} is longer")
    return [
        ShiftOeeOut(shift=r.shift, day=r.day, start=r.start, end=r.end,
                    time=r.measurements.time, quantities=r.measurements.quantities, kpis=r.kpis)
        for r in oee_by_shift(db, cfg.calendar, equipment, start, end, by_name=by_name,
                              pru=cfg.pru)
    ]


@router.get("/downtime/{equipment}/pareto", response_model=list[ParetoRowOut])
def get_pareto(
    equipment: str, start: Start, end: End, db: Db,
    by: Literal["duration", "count"] = "duration", planned: bool = False,
) -> list[ParetoRowOut]:
    """Stop reasons sorted by total duration or count, with shares (planned stops on request)."""
    return [ParetoRowOut(reason=r.reason, duration=r.duration, count=r.count, share=r.share,
                         cumulative_share=r.cumulative_share)
            for r in downtime_pareto(db, equipment, start, end, by=by, planned=planned)]


@router.get("/downtime/{equipment}/losses", response_model=LossesOut)
def get_losses(equipment: str, start: Start, end: End, db: Db, cfg: Config) -> LossesOut:
    """Seconds lost to each of the six big losses (stops, reduced speed, defects)."""
    report = six_big_losses(db, equipment, start, end, taxonomy=cfg.taxonomy, pru=cfg.pru)
    return LossesOut(durations={k.value: v for k, v in report.durations.items()},
                     by_factor=report.by_factor(), unclassified=report.unclassified)


@router.get("/downtime/{equipment}/reliability", response_model=list[ReliabilityOut])
def get_reliability(
    equipment: str, start: Start, end: End, db: Db, cfg: Config
) -> list[ReliabilityOut]:
    """MTBF and MTTR per work unit, then for the equipment as a whole (last row)."""
    units, total = reliability(db, equipment, start, end, taxonomy=cfg.taxonomy)
    return [ReliabilityOut(equipment=r.equipment, failures=r.failures,
                           operating_time=r.operating_time, repair_time=r.repair_time,
                           mtbf=r.mtbf, mttr=r.mttr) for r in [*units, total]]
