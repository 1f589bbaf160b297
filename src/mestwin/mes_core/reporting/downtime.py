"""Downtime analysis from the store: Pareto by reason, six big losses, MTBF and MTTR.

Stops are the intervals not booked to APT (ISO 22400-2 ASUT, ADET, ADOT; PDOT only when
asked, since planned stops are not losses). A stop's six-big-loss class is the one the
collector stored with it, else its reason classified by a
:class:`~mestwin.mes_core.losses.LossTaxonomy`; a stop with neither is reported as
*unclassified*, never dropped. The Pareto, MTBF and MTTR come from
:mod:`mestwin.mes_core.losses`; a stop's reason is its reason code, or its state when the
collector gave none.

The two losses that are not stops are derived from the counts (Nakajima): reduced speed is
``APT - sum(PRU x PQ)`` (when positive) and defects/rework the ideal time of the units that
were not good, ``sum(PRU x PQ) x (PQ - GQ) / PQ``. Stops plus these plus the fully productive
time ``PRU x GQ`` make up PBT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from mestwin.mes_core.losses import (
    DowntimeEvent,
    LossTaxonomy,
    ParetoRow,
    SixBigLoss,
    StopCategory,
    mtbf,
    mttr,
    pareto,
)
from mestwin.mes_core.reporting.intervals import STATE_ELEMENTS, Interval, intervals, work_units
from mestwin.mes_core.reporting.oee import oee
from mestwin.mes_core.store.models import TimeElement

__all__ = [
    "LossReport",
    "Reliability",
    "downtime_events",
    "downtime_pareto",
    "reliability",
    "six_big_losses",
]


def _event(piece: Interval) -> DowntimeEvent:
    return DowntimeEvent(piece.start, piece.end, piece.reason or piece.state,
                         StopCategory(piece.element.value), piece.work_unit)


def downtime_events(
    session: Session, equipment: str, start: datetime, end: datetime, *,
    planned: bool = False, state_elements: Mapping[str, TimeElement] = STATE_ELEMENTS,
) -> list[DowntimeEvent]:
    """Stops of the work units at or below *equipment* in the window (POSIX-second times)."""
    units = work_units(session, equipment)
    skip = {TimeElement.APT} if planned else {TimeElement.APT, TimeElement.PDOT}
    return [_event(p) for p in intervals(session, units, start, end, state_elements)
            if p.element not in skip]


def downtime_pareto(
    session: Session, equipment: str, start: datetime, end: datetime, *,
    by: str = "duration", planned: bool = False,
    state_elements: Mapping[str, TimeElement] = STATE_ELEMENTS,
) -> list[ParetoRow]:
    """Pareto of stop reasons by total ``"duration"`` or ``"count"`` (see losses.pareto)."""
    if by not in ("duration", "count"):
        raise ValueError(f"pareto by {by!r}: expected 'duration' or 'count'")
    return pareto(downtime_events(session, equipment, start, end, planned=planned,
                                  state_elements=state_elements), by=by)


def _classify(piece: Interval, taxonomy: LossTaxonomy | None) -> tuple[bool, SixBigLoss | None]:
    """(classified, loss) of a stop; planned stops classify to ``None``."""
    if piece.loss is not None:
        return True, piece.loss
    if taxonomy is None:
        return False, None
    try:
        return True, taxonomy.classify(piece.reason or piece.state)
    except KeyError:
        return False, None


@dataclass(frozen=True)
class LossReport:
    """Seconds lost per six-big-loss class, plus stop seconds nobody classified."""

    durations: Mapping[SixBigLoss, float]
    unclassified: float

    def by_factor(self) -> dict[str, float]:
        """Lost seconds per OEE factor (availability, performance, quality)."""
        totals = {"availability": 0.0, "performance": 0.0, "quality": 0.0}
        for loss, seconds in self.durations.items():
            totals[loss.factor] += seconds
        return totals


def six_big_losses(
    session: Session, equipment: str, start: datetime, end: datetime, *,
    taxonomy: LossTaxonomy | None = None, pru: Mapping[str, float] | None = None,
    state_elements: Mapping[str, TimeElement] = STATE_ELEMENTS,
) -> LossReport:
    """Seconds lost to each of the six big losses in the window (stops and counts)."""
    totals = dict.fromkeys(SixBigLoss, 0.0)
    unclassified = 0.0
    units = work_units(session, equipment)
    for piece in intervals(session, units, start, end, state_elements):
        if piece.element in (TimeElement.APT, TimeElement.PDOT):
            continue
        known, loss = _classify(piece, taxonomy)
        if not known:
            unclassified += piece.duration
        elif loss is not None:
            totals[loss] += piece.duration
    for unit in oee(session, equipment, start, end, pru=pru,
                    state_elements=state_elements).units:
        q, apt = unit.measurements.quantities, unit.measurements.time.apt
        if q.ideal_time is None or q.pq == 0:
            continue
        totals[SixBigLoss.REDUCED_SPEED] += max(0.0, apt - q.ideal_time)
        totals[SixBigLoss.DEFECT_REWORK] += q.ideal_time * (q.pq - q.gq) / q.pq
    return LossReport(totals, unclassified)


@dataclass(frozen=True)
class Reliability:
    """Failures, operating time (APT), MTBF and MTTR of a work unit or a roll-up."""

    equipment: str
    failures: int
    operating_time: float
    repair_time: float
    mtbf: float | None
    mttr: float | None


def _failures(pieces: list[Interval], taxonomy: LossTaxonomy | None) -> list[DowntimeEvent]:
    """Breakdown stops, with touching pieces of one reason merged into one failure."""
    merged: list[DowntimeEvent] = []
    for piece in pieces:
        if piece.element in (TimeElement.APT, TimeElement.PDOT):
            continue
        if _classify(piece, taxonomy)[1] is not SixBigLoss.BREAKDOWN:
            continue
        event = _event(piece)
        last = merged[-1] if merged else None
        if (last is not None and last.work_unit == event.work_unit
                and last.reason == event.reason and last.end == event.start):
            merged[-1] = DowntimeEvent(last.start, event.end, last.reason, last.category,
                                       last.work_unit)
        else:
            merged.append(event)
    return merged


def reliability(
    session: Session, equipment: str, start: datetime, end: datetime, *,
    taxonomy: LossTaxonomy | None = None,
    state_elements: Mapping[str, TimeElement] = STATE_ELEMENTS,
) -> tuple[list[Reliability], Reliability]:
    """MTBF and MTTR per work unit and for *equipment* as a whole (ISO 22400-2).

    A failure is a stop classified :attr:`~SixBigLoss.BREAKDOWN`; operating time is APT.
    """
    units = work_units(session, equipment)
    pieces = intervals(session, units, start, end, state_elements)
    rows: list[Reliability] = []
    every: list[DowntimeEvent] = []
    operating_total = 0.0
    for code in units.values():
        mine = [p for p in pieces if p.work_unit == code]
        fails = _failures(mine, taxonomy)
        operating = sum(p.duration for p in mine if p.element is TimeElement.APT)
        rows.append(Reliability(code, len(fails), operating, sum(f.duration for f in fails),
                                mtbf(operating, len(fails)), mttr(fails)))
        every += fails
        operating_total += operating
    total = Reliability(equipment, len(every), operating_total,
                        sum(f.duration for f in every), mtbf(operating_total, len(every)),
                        mttr(every))
    return rows, total
