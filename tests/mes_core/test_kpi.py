"""ISO 22400-2 KPIs: definitions, roll-ups and undefined ratios."""

from __future__ import annotations

import pytest

from mestwin.mes_core.kpi import (
    Measurements,
    Quantities,
    TimeElements,
    allocation_efficiency,
    availability,
    check_time_elements,
    effectiveness,
    first_pass_yield,
    kpis,
    nee,
    oee,
    quality_ratio,
    rework_ratio,
    roll_up,
    scrap_ratio,
    setup_rate,
    technical_efficiency,
    teep,
    throughput_rate,
    utilization_efficiency,
)

# One 8-hour shift: POT 28800 s, PDOT 1800 -> PBT 27000; ADOT 1800 -> AUBT 25200;
# ADET 2400 -> AUPT 22800; ASUT 1200 -> APT 21600. PRU 60 s, PQ 300, GQ 285, SQ 10, RQ 5.
SHIFT = TimeElements.from_states(apt=21600, asut=1200, adet=2400, adot=1800, pdot=1800)
OUTPUT = Quantities(pq=300, gq=285, sq=10, rq=5, pru=60)


def test_from_states_builds_the_composite_elements() -> None:
    """The composite elements follow from the leaf states by the ISO time model."""
    expected = TimeElements(
        pot=28800, pdot=1800, pbt=27000, aubt=25200, adot=1800, adet=2400,
        aupt=22800, asut=1200, apt=21600,
    )
    assert expected == SHIFT
    assert check_time_elements(SHIFT) == []


def test_every_kpi_on_a_worked_shift() -> None:
    """Each KPI equals its ISO 22400-2 formula on a hand-computed shift."""
    assert availability(SHIFT) == pytest.approx(0.8)
    assert effectiveness(SHIFT, OUTPUT) == pytest.approx(18000 / 21600)
    assert quality_ratio(OUTPUT) == pytest.approx(0.95)
    assert oee(SHIFT, OUTPUT) == pytest.approx(60 * 285 / 27000)
    assert nee(SHIFT, OUTPUT) == pytest.approx(22800 / 27000 * 18000 / 21600 * 0.95)
    assert technical_efficiency(SHIFT) == pytest.approx(0.9)
    assert setup_rate(SHIFT) == pytest.approx(1200 / 22800)
    assert allocation_efficiency(SHIFT) == pytest.approx(25200 / 27000)
    assert utilization_efficiency(SHIFT) == pytest.approx(21600 / 25200)
    assert scrap_ratio(OUTPUT) == pytest.approx(10 / 300)
    assert rework_ratio(OUTPUT) == pytest.approx(5 / 300)
    assert throughput_rate(OUTPUT, aoet=30000) == pytest.approx(0.01)
    assert teep(SHIFT, OUTPUT, calendar_time=28800) == pytest.approx(17100 / 28800)
    assert first_pass_yield(270, 300) == pytest.approx(0.9)


def test_nee_does_not_count_setup_as_a_loss() -> None:
    """NEE exceeds OEE by exactly the setup share: NEE / OEE = AUPT / APT."""
    ratio = nee(SHIFT, OUTPUT) / oee(SHIFT, OUTPUT)  # type: ignore[operator]
    assert ratio == pytest.approx(22800 / 21600)


def test_report_collects_all_kpis() -> None:
    """kpis() gives the same numbers as the single functions, None where an input is absent."""
    report = kpis(Measurements(SHIFT, OUTPUT), calendar_time=28800)
    assert report.oee == pytest.approx(oee(SHIFT, OUTPUT))
    assert report.teep == pytest.approx(17100 / 28800)
    assert report.throughput_rate is None


def test_division_by_zero_gives_none() -> None:
    """An idle period has no defined ratios: every KPI is None, nothing raises."""
    report = kpis(Measurements(), calendar_time=0, aoet=0)
    assert all(value is None for value in vars(report).values())


def test_roll_up_sums_elements_instead_of_averaging_percentages() -> None:
    """Line availability is sum APT / sum PBT, which differs from the mean of the units'."""
    a = Measurements(TimeElements.from_states(apt=900, asut=0, adet=100, adot=0, pdot=0))
    b = Measurements(TimeElements.from_states(apt=100, asut=0, adet=900, adot=9000, pdot=0))
    line = roll_up([a, b])
    assert line.time.pbt == 11000
    assert availability(line.time) == pytest.approx(1000 / 11000)
    mean = (availability(a.time) + availability(b.time)) / 2  # type: ignore[operator]
    assert mean == pytest.approx(0.455)
    assert check_time_elements(line.time) == []


def test_mixed_products_use_the_sum_of_ideal_times() -> None:
    """Effectiveness of a product mix is sum(PRU_i x PQ_i) / APT; the sum's PRU is undefined."""
    te = TimeElements.from_states(apt=1000, asut=0, adet=0, adot=0, pdot=0)
    mix = Quantities(pq=10, gq=10, pru=20) + Quantities(pq=20, gq=18, pru=30)
    assert mix.pru is None
    assert mix.ideal_time == 10 * 20 + 20 * 30
    assert effectiveness(te, mix) == pytest.approx(0.8)
    assert quality_ratio(mix) == pytest.approx(28 / 30)


def test_same_product_keeps_its_pru_in_a_roll_up() -> None:
    """Adding counts of one product keeps PRU; adding an empty Quantities changes nothing."""
    total = Quantities() + Quantities(pq=5, gq=5, pru=2) + Quantities(pq=3, gq=2, pru=2)
    assert (total.pq, total.gq, total.pru, total.ideal_time) == (8, 7, 2, 16)


def test_effectiveness_is_undefined_without_an_ideal_cycle_time() -> None:
    """Counts without PRU cannot give effectiveness or OEE."""
    te = TimeElements.from_states(apt=100, asut=0, adet=0, adot=0, pdot=0)
    assert effectiveness(te, Quantities(pq=5, gq=5)) is None
    assert oee(te, Quantities(pq=5, gq=5)) is None


def test_invariant_check_names_each_broken_identity() -> None:
    """A booking error (APT + ASUT != AUPT, PBT != POT - PDOT) is reported, not hidden."""
    broken = TimeElements(
        pot=100, pdot=10, pbt=95, aubt=90, adot=5, adet=10, aupt=80, asut=5, apt=70
    )
    problems = check_time_elements(broken)
    assert any("PBT = POT - PDOT" in p for p in problems)
    assert any("AUPT = APT + ASUT" in p for p in problems)
    assert not any("AUBT = AUPT + ADET" in p for p in problems)
    negative = TimeElements(apt=-1, aupt=-1, aubt=-1, pbt=-1, pot=-1)
    assert any("negative" in p for p in check_time_elements(negative))


def test_mes_core_sees_the_plant_only_through_tags() -> None:
    """Importing every mes_core module loads neither plantmodels nor virtual_plc."""
    import subprocess
    import sys

    code = (
        "import sys, mestwin.mes_core, mestwin.mes_core.dispatching, mestwin.mes_core.store\n"
        "bad = [m for m in sys.modules if m.startswith(('mestwin.plantmodels',"
        " 'mestwin.virtual_plc'))]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
