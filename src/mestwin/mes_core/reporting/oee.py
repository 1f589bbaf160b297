"""OEE per work unit, per line (any equipment node) and per shift, from the store (ISO 22400-2).

Time elements are the durations of the state intervals booked to APT, ASUT, ADET, ADOT and
PDOT, clipped to the window (and to each shift); quantities are the count deltas whose
instant lies in it. Roll-ups over work units and shifts add the elements
(:func:`~mestwin.mes_core.kpi.roll_up`) and compute the KPIs once with
:func:`~mestwin.mes_core.kpi.kpis`; no percentage is ever averaged. TEEP uses the window
(or shift) length as calendar time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from mestwin.mes_core.audit import utc
from mestwin.mes_core.kpi import KpiReport, Measurements, Quantities, TimeElements, kpis, roll_up
from mestwin.mes_core.reporting.calendar import ShiftCalendar
from mestwin.mes_core.reporting.intervals import (
    STATE_ELEMENTS,
    CountRow,
    Interval,
    counts,
    intervals,
    work_units,
)
from mestwin.mes_core.store.models import TimeElement

__all__ = ["OeeReport", "ShiftOee", "UnitOee", "measure", "oee", "oee_by_shift"]


@dataclass(frozen=True)
class UnitOee:
    """Elements and KPIs of one work unit over the report window."""

    work_unit: str
    measurements: Measurements
    kpis: KpiReport


@dataclass(frozen=True)
class OeeReport:
    """OEE of equipment *equipment* (a work unit, or the roll-up of the units below it)."""

    equipment: str
    start: datetime
    end: datetime
    units: tuple[UnitOee, ...]
    measurements: Measurements
    kpis: KpiReport


@dataclass(frozen=True)
class ShiftOee:
    """OEE of one shift instance (*day* set) or of all instances of a shift (*day* None)."""

    shift: str
    day: int | None
    start: datetime
    end: datetime
    measurements: Measurements
    kpis: KpiReport


def measure(
    pieces: Iterable[Interval], rows: Iterable[CountRow], pru: float | None = None
) -> Measurements:
    """Elements of *pieces* and quantities of *rows*; *pru* fills rows without a cycle time."""
    booked = dict.fromkeys(TimeElement, 0.0)
    for piece in pieces:
        booked[piece.element] += piece.duration
    time = TimeElements.from_states(
        apt=booked[TimeElement.APT], asut=booked[TimeElement.ASUT],
        adet=booked[TimeElement.ADET], adot=booked[TimeElement.ADOT],
        pdot=booked[TimeElement.PDOT],
    )
    quantities = Quantities()
    for row in rows:
        quantities = quantities + Quantities(
            pq=row.produced, gq=row.good, sq=row.scrap, rq=row.rework,
            pru=row.ideal_cycle_time if row.ideal_cycle_time is not None else pru,
        )
    return Measurements(time, quantities)


def _report(m: Measurements, start: float, end: float) -> KpiReport:
    return kpis(m, calendar_time=end - start)


def oee(
    session: Session, equipment: str, start: datetime, end: datetime, *,
    pru: Mapping[str, float] | None = None,
    state_elements: Mapping[str, TimeElement] = STATE_ELEMENTS,
) -> OeeReport:
    """OEE of *equipment* over ``[start, end)``: per work unit and rolled up by summing.

    *pru* maps work-unit codes to the ideal cycle time used for count rows stored without one.
    """
    units = work_units(session, equipment)
    pieces = intervals(session, units, start, end, state_elements)
    rows = counts(session, units, start, end)
    a, b = utc(start).timestamp(), utc(end).timestamp()
    per_unit = []
    for code in units.values():
        m = measure((p for p in pieces if p.work_unit == code),
                    (r for r in rows if r.work_unit == code), (pru or {}).get(code))
        per_unit.append(UnitOee(code, m, _report(m, a, b)))
    total = roll_up(u.measurements for u in per_unit)
    return OeeReport(equipment, start, end, tuple(per_unit), total, _report(total, a, b))


def _clip(piece: Interval, a: float, b: float) -> Interval | None:
    s, e = max(piece.start, a), min(piece.end, b)
    if e <= s:
        return None
    return Interval(piece.work_unit, s, e, piece.state, piece.reason, piece.element, piece.loss)


def oee_by_shift(
    session: Session, calendar: ShiftCalendar, equipment: str, start: datetime, end: datetime,
    *, by_name: bool = False, pru: Mapping[str, float] | None = None,
    state_elements: Mapping[str, TimeElement] = STATE_ELEMENTS,
) -> list[ShiftOee]:
    """OEE of *equipment* per shift instance inside ``[start, end)`` (shifts are clipped).

    With *by_name* the instances of each shift are rolled up into one row per shift name
    (from its first instance's start to its last one's end), in calendar pattern order.
    """
    units = work_units(session, equipment)
    pieces = intervals(session, units, start, end, state_elements)
    rows = counts(session, units, start, end, by_time=True)
    a, b = utc(start).timestamp(), utc(end).timestamp()
    shifts = [(i, max(i.start.timestamp(), a), min(i.end.timestamp(), b))
              for i in calendar.shifts(start, end)]
    starts = [s for _, s, _ in shifts]
    split: list[list[Interval]] = [[] for _ in shifts]
    for piece in pieces:
        k = max(bisect.bisect_right(starts, piece.start) - 1, 0)
        while k < len(shifts) and shifts[k][1] < piece.end:
            part = _clip(piece, shifts[k][1], shifts[k][2])
            if part is not None:
                split[k].append(part)
            k += 1
    counted: list[list[CountRow]] = [[] for _ in shifts]
    for row in rows:
        k = bisect.bisect_right(starts, row.at) - 1
        if k >= 0 and row.at < shifts[k][2]:
            counted[k].append(row)
    result: list[ShiftOee] = []
    for k, (inst, s, e) in enumerate(shifts):
        m = roll_up(
            measure((p for p in split[k] if p.work_unit == code),
                    (r for r in counted[k] if r.work_unit == code), (pru or {}).get(code))
            for code in units.values()
        )
        result.append(ShiftOee(inst.name, inst.day, _at(s), _at(e), m, _report(m, s, e)))
    if not by_name:
        return result
    named: list[ShiftOee] = []
    for pattern in calendar.patterns:
        mine = [r for r in result if r.shift == pattern.name]
        if not mine:
            continue
        m = roll_up(r.measurements for r in mine)
        span = sum((r.end - r.start).total_seconds() for r in mine)
        named.append(ShiftOee(pattern.name, None, mine[0].start, mine[-1].end, m,
                              kpis(m, calendar_time=span)))
    return named


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
