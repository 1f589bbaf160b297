"""Reporting over the store: ISO 22400-2 elements and KPIs per work unit, line and shift,
downtime Pareto, six big losses, MTBF and MTTR, on a hand-computed day of two work units.

Window 05:00-15:00 (36,000 s). WU1's history (hours of 2024-05-06, UTC)::

    04:00-06:30 Execute APT (crosses the window start and the 06:00 shift change)
    06:30-07:00 Held "jam" ADET, stored loss minor_stop
    07:00-09:00 Execute APT
    09:00-09:30 Stopped "break" PDOT
    09:30-10:00 Execute "changeover" ASUT, stored loss setup_adjustment
    10:00-11:00 Aborted "motor" ADET  } one breakdown of 5,400 s (taxonomy: motor=breakdown)
    11:00-11:30 Clearing "motor" ADET }
    11:30-13:30 Execute APT
    13:30-14:30 Idle, no element stored -> ADOT by the PackML default (crosses 14:00)
    14:30-open  Execute APT (clipped at 15:00)

so APT 21,600, ADET 7,200, ASUT 1,800, ADOT 3,600, PDOT 1,800 (POT 36,000, PBT 34,200).
Counts (PRU 2 s stored): 05:30 PQ 1000/GQ 990, 09:00 PQ 6000/GQ 5900, 14:00 PQ 3000/GQ 3000;
rows at 04:30 and 15:00 fall outside. WU2: Execute 00:00-12:00, Suspended "starved"
12:00-20:00 (ADET), PQ = GQ = 20,000 at 10:00 without a stored PRU.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mestwin.mes_core.errors import NotFoundError
from mestwin.mes_core.kpi import check_time_elements
from mestwin.mes_core.losses import LossTaxonomy, SixBigLoss
from mestwin.mes_core.reporting import (
    ShiftCalendar,
    ShiftPattern,
    downtime_pareto,
    oee,
    oee_by_shift,
    reliability,
    six_big_losses,
)
from mestwin.mes_core.store import Equipment, EquipmentStateEvent, ProductionCount, TimeElement
from tests.mes_core.conftest import build_plant

DAY0 = datetime(2024, 5, 6, tzinfo=UTC)
START, END = DAY0 + timedelta(hours=5), DAY0 + timedelta(hours=15)
CALENDAR = ShiftCalendar(DAY0, (ShiftPattern("early", 6 * 3600, 14 * 3600),
                                ShiftPattern("late", 14 * 3600, 22 * 3600),
                                ShiftPattern("night", 22 * 3600, 6 * 3600)))
TAXONOMY = LossTaxonomy({"motor": "breakdown", "starved": "minor_stop", "jam": "minor_stop"})


def h(hours: float) -> datetime:
    return DAY0 + timedelta(hours=hours)


def day(session: Session) -> None:
    eq = build_plant(session)
    wu1, wu2 = eq["WU1"].id, eq["WU2"].id
    E = TimeElement  # noqa: N806
    history = [
        (wu1, 4, 6.5, "Execute", "", E.APT, None),
        (wu1, 6.5, 7, "Held", "jam", E.ADET, SixBigLoss.MINOR_STOP),
        (wu1, 7, 9, "Execute", "", E.APT, None),
        (wu1, 9, 9.5, "Stopped", "break", E.PDOT, None),
        (wu1, 9.5, 10, "Execute", "changeover", E.ASUT, SixBigLoss.SETUP_ADJUSTMENT),
        (wu1, 10, 11, "Aborted", "motor", E.ADET, None),
        (wu1, 11, 11.5, "Clearing", "motor", E.ADET, None),
        (wu1, 11.5, 13.5, "Execute", "", E.APT, None),
        (wu1, 13.5, 14.5, "Idle", "", None, None),
        (wu1, 14.5, None, "Execute", "", E.APT, None),
        (wu2, 0, 12, "Execute", "", E.APT, None),
        (wu2, 12, 20, "Suspended", "starved", E.ADET, None),
    ]
    session.add_all(
        EquipmentStateEvent(work_unit_id=u, start=h(a), end=None if b is None else h(b),
                            state=s, reason=r, element=el, loss=loss)
        for u, a, b, s, r, el, loss in history
    )
    session.add_all(
        ProductionCount(work_unit_id=u, at=h(t), produced=p, good=g, scrap=p - g,
                        ideal_cycle_time=ict)
        for u, t, p, g, ict in [
            (wu1, 4.5, 100, 100, 2.0), (wu1, 5.5, 1000, 990, 2.0), (wu1, 9, 6000, 5900, 2.0),
            (wu1, 14, 3000, 3000, 2.0), (wu1, 15, 500, 500, 2.0), (wu2, 10, 20000, 20000, None),
        ]
    )
    session.commit()


def test_work_unit_elements_and_kpis_are_summed_from_clipped_intervals(db: Session) -> None:
    """WU1's elements are exactly the clipped interval sums and satisfy the ISO identities;
    KPIs follow from them (OEE = PRU x GQ / PBT for one product)."""
    day(db)
    report = oee(db, "WU1", START, END)
    te, q = report.measurements.time, report.measurements.quantities
    assert (te.apt, te.adet, te.asut, te.adot, te.pdot) == (21600, 7200, 1800, 3600, 1800)
    assert (te.pot, te.pbt, te.aubt, te.aupt) == (36000, 34200, 30600, 23400)
    assert check_time_elements(te) == []
    assert (q.pq, q.gq, q.sq, q.ideal_time) == (10000, 9890, 110, 20000)
    k = report.kpis
    assert k.availability == pytest.approx(21600 / 34200)
    assert k.effectiveness == pytest.approx(20000 / 21600)
    assert k.quality_ratio == pytest.approx(0.989)
    assert k.oee == pytest.approx(2 * 9890 / 34200)
    assert k.teep == pytest.approx(2 * 9890 / 36000)
    assert [u.work_unit for u in report.units] == ["WU1"]


def test_line_rolls_up_by_summing_elements_not_averaging(db: Session) -> None:
    """L1 = WU1 + WU2 element by element; its OEE is not the mean of the units' OEEs. A
    unit without a PRU has no effectiveness unless one is given for it."""
    day(db)
    bare = oee(db, "L1", START, END)
    assert {u.work_unit: u.kpis.effectiveness for u in bare.units}["WU2"] is None
    assert bare.kpis.oee is None
    report = oee(db, "L1", START, END, pru={"WU2": 1.0})
    te, q = report.measurements.time, report.measurements.quantities
    assert (te.apt, te.pbt, te.adet) == (46800, 70200, 18000)
    assert (q.pq, q.gq, q.ideal_time) == (30000, 29890, 40000)
    assert report.kpis.oee == pytest.approx(40000 / 70200 * 29890 / 30000)
    unit_oees = [u.kpis.oee for u in report.units]
    assert all(x is not None for x in unit_oees)
    mean = sum(x for x in unit_oees if x is not None) / 2
    assert report.kpis.oee != pytest.approx(mean)


def test_per_shift_elements_cut_intervals_at_shift_changes(db: Session) -> None:
    """Night (clipped to 05:00-06:00), early and late (clipped to 14:00-15:00) add up to the
    window; intervals and counts land in the shift they happened in."""
    day(db)
    rows = oee_by_shift(db, CALENDAR, "WU1", START, END)
    assert [(r.shift, r.day, r.start.hour, r.end.hour) for r in rows] == [
        ("night", -1, 5, 6), ("early", 0, 6, 14), ("late", 0, 14, 15)]
    night, early, late = (r.measurements for r in rows)
    assert (night.time.apt, night.time.pot, night.quantities.pq) == (3600, 3600, 1000)
    assert (early.time.apt, early.time.adet, early.time.adot, early.time.pdot,
            early.time.asut) == (16200, 7200, 1800, 1800, 1800)
    assert early.time.pot == 8 * 3600
    assert (early.quantities.pq, early.quantities.gq) == (6000, 5900)
    assert (late.time.apt, late.time.adot, late.quantities.pq) == (1800, 1800, 3000)
    assert rows[1].kpis.oee == pytest.approx(2 * 5900 / (8 * 3600 - 1800))
    whole = oee(db, "WU1", START, END).measurements
    assert sum(r.measurements.time.apt for r in rows) == whole.time.apt
    named = oee_by_shift(db, CALENDAR, "WU1", START, END, by_name=True)
    assert [r.shift for r in named] == ["early", "late", "night"]
    assert named[2].measurements == night


def test_downtime_pareto_by_reason(db: Session) -> None:
    """Unplanned stops of WU1 by duration: motor (two pieces), Idle (no reason code: the
    state), then the 1,800 s tie broken by reason code; the planned break is left out."""
    day(db)
    rows = downtime_pareto(db, "WU1", START, END)
    assert [(r.reason, r.duration, r.count) for r in rows] == [
        ("motor", 5400, 2), ("Idle", 3600, 1), ("changeover", 1800, 1), ("jam", 1800, 1)]
    assert rows[0].share == pytest.approx(5400 / 12600)
    assert rows[-1].cumulative_share == 1.0
    with_planned = downtime_pareto(db, "WU1", START, END, planned=True, by="count")
    assert "break" in [r.reason for r in with_planned]
    with pytest.raises(ValueError, match="pareto by"):
        downtime_pareto(db, "WU1", START, END, by="cost")


def test_six_big_losses_from_stored_classes_taxonomy_and_counts(db: Session) -> None:
    """Stored loss classes win, the taxonomy classifies the rest, an unmapped stop is
    reported as unclassified; speed and quality losses come from the counts."""
    day(db)
    report = six_big_losses(db, "L1", START, END, taxonomy=TAXONOMY, pru={"WU2": 1.0})
    assert dict(report.durations) == {
        SixBigLoss.BREAKDOWN: 5400, SixBigLoss.SETUP_ADJUSTMENT: 1800,
        SixBigLoss.MINOR_STOP: 1800 + 10800, SixBigLoss.REDUCED_SPEED: 1600 + 5200,
        SixBigLoss.DEFECT_REWORK: pytest.approx(220), SixBigLoss.STARTUP_REJECT: 0,
    }
    assert report.unclassified == 3600
    assert report.by_factor()["availability"] == 7200
    untaxed = six_big_losses(db, "WU1", START, END)
    assert untaxed.durations[SixBigLoss.BREAKDOWN] == 0
    assert untaxed.unclassified == 5400 + 3600


def test_mtbf_and_mttr_merge_touching_breakdown_pieces(db: Session) -> None:
    """Aborted + Clearing for "motor" is one failure of 5,400 s; MTBF is APT per failure;
    a unit without failures has neither figure."""
    day(db)
    units, total = reliability(db, "L1", START, END, taxonomy=TAXONOMY)
    wu1, wu2 = units
    assert (wu1.failures, wu1.repair_time, wu1.mtbf, wu1.mttr) == (1, 5400, 21600, 5400)
    assert (wu2.failures, wu2.mtbf, wu2.mttr) == (0, None, None)
    assert (total.equipment, total.failures, total.mtbf) == ("L1", 1, 46800)


def test_bad_windows_states_and_equipment_are_errors(db: Session) -> None:
    """An empty window, an unknown equipment code and a state with no time element raise."""
    day(db)
    with pytest.raises(ValueError, match="not after"):
        oee(db, "WU1", END, START)
    with pytest.raises(NotFoundError, match="NOPE"):
        oee(db, "NOPE", START, END)
    wu1 = db.scalars(select(Equipment).where(Equipment.code == "WU1")).one()
    db.add(EquipmentStateEvent(work_unit_id=wu1.id, start=h(5), end=h(5.1), state="Dancing"))
    db.commit()
    with pytest.raises(ValueError, match="Dancing"):
        oee(db, "WU1", START, END)


def test_shift_calendar_generates_night_shifts_and_rejects_overlaps() -> None:
    """A night shift runs past midnight; overlapping or empty shifts are refused."""
    shifts = CALENDAR.shifts(DAY0, DAY0 + timedelta(days=1))
    assert [(s.name, s.day) for s in shifts] == [
        ("night", -1), ("early", 0), ("late", 0), ("night", 0)]
    assert shifts[-1].end == DAY0 + timedelta(hours=30)
    assert shifts[0].as_shift(DAY0).start == -2 * 3600
    with pytest.raises(ValueError, match="overlap"):
        ShiftCalendar(DAY0, (ShiftPattern("a", 0, 40000), ShiftPattern("b", 30000, 50000)))
    with pytest.raises(ValueError, match="overlap"):
        ShiftCalendar(DAY0, (ShiftPattern("n", 80000, 7200), ShiftPattern("m", 3600, 9000)))
    with pytest.raises(ValueError, match="zero length"):
        ShiftCalendar(DAY0, (ShiftPattern("z", 10, 10),))
