"""Reporting services of the MES core over the store (ISO 22400-2 KPIs, downtime analysis).

Every service takes the store session, an equipment code (a work unit, or a line or any node
whose work units are rolled up) and a window ``[start, end)``, and computes from the
:class:`~mestwin.mes_core.store.EquipmentStateEvent` and
:class:`~mestwin.mes_core.store.ProductionCount` rows the data collector writes, reusing
:mod:`mestwin.mes_core.kpi` and :mod:`mestwin.mes_core.losses` for every formula.
"""

from __future__ import annotations

from mestwin.mes_core.reporting.calendar import DAY, ShiftCalendar, ShiftInstance, ShiftPattern
from mestwin.mes_core.reporting.downtime import (
    LossReport,
    Reliability,
    downtime_events,
    downtime_pareto,
    reliability,
    six_big_losses,
)
from mestwin.mes_core.reporting.intervals import (
    STATE_ELEMENTS,
    CountRow,
    Interval,
    counts,
    intervals,
    work_units,
)
from mestwin.mes_core.reporting.oee import OeeReport, ShiftOee, UnitOee, measure, oee, oee_by_shift

__all__ = [
    "DAY",
    "STATE_ELEMENTS",
    "CountRow",
    "Interval",
    "LossReport",
    "OeeReport",
    "Reliability",
    "ShiftCalendar",
    "ShiftInstance",
    "ShiftOee",
    "ShiftPattern",
    "UnitOee",
    "counts",
    "downtime_events",
    "downtime_pareto",
    "intervals",
    "measure",
    "oee",
    "oee_by_shift",
    "reliability",
    "six_big_losses",
    "work_units",
]
