"""Each loss mechanism shows up in its own ISO 22400 time element or quantity."""

from __future__ import annotations

import math

import pytest

from mestwin.plantmodels import EventKind, MachineState
from tests.plantmodels.helpers import run

CONST1 = {"dist": "constant", "value": 1.0}


def _saturated(station: dict, until: float) -> dict:  # type: ignore[type-arg]
    plant = run({"sources": [{"id": "f", "saturated": True, "to": "s"}],
                 "stations": [{"id": "s", "buffer": 1, "to": "sink", **station}]}, until)
    return plant.results().stations["s"].__dict__ | {"plant": plant}


def test_operating_failures_cut_work_and_work_resumes_after_repair() -> None:
    """A failure every 2.5 s of processing (repair 10 s) on 1 s cycles: the unit that
    straddles a failure finishes after the repair with its remaining work only."""
    r = _saturated({"process_time": CONST1,
                    "failures": {"ttf": {"dist": "constant", "value": 2.5},
                                 "ttr": {"dist": "constant", "value": 10}}}, 100)
    # pattern per 2.5 s of work: 12.5 s wall; 100 s -> 8 failures, 20 s of work
    assert r["failures"] == 8
    assert r["time_elements_s"]["ADET"] == pytest.approx(80.0)
    assert r["time_elements_s"]["APT"] == pytest.approx(20.0)
    assert r["produced"] == 20


def test_microstops_are_minor_stops_in_adet() -> None:
    """Micro-stops log reason minor_stop and are accounted to ADET."""
    r = _saturated({"process_time": CONST1,
                    "microstops": {"every": {"dist": "constant", "value": 10},
                                   "duration": {"dist": "constant", "value": 2}}}, 120)
    reasons = {rec.reason for rec in r["plant"].log.records(EventKind.STATE)
               if rec.state == MachineState.DOWN}
    assert reasons == {"minor_stop"}
    assert r["time_elements_s"]["ADET"] == pytest.approx(20.0)  # 10 stops of 2 s in 120 s


def test_calendar_failures_happen_while_idle_too() -> None:
    """A calendar-time failure stops an idle station; it is DOWN for the repair time."""
    plant = run({"sources": [{"id": "a", "interarrival": {"dist": "constant", "value": 1000},
                              "to": "s"}],
                 "stations": [{"id": "s", "to": "sink", "process_time": CONST1,
                               "failures": {"ttf": {"dist": "constant", "value": 50},
                                            "ttr": {"dist": "constant", "value": 5},
                                            "basis": "calendar"}}]}, 110)
    downs = [r.t for r in plant.log.records(EventKind.STATE) if r.state == MachineState.DOWN]
    assert downs == [50.0, 105.0]
    assert plant.results().stations["s"].time_elements_s["ADET"] == pytest.approx(10.0)


def test_sequence_dependent_setups_by_family() -> None:
    """Alternating families on a station with a setup matrix costs a setup per change."""
    plant = run({
        "products": [{"id": "a", "family": "f1", "routing": ["s"]},
                     {"id": "b", "family": "f2", "routing": ["s"]}],
        "sources": [{"id": "o", "orders": [
            {"id": "o1", "product": "a", "quantity": 2},
            {"id": "o2", "product": "b", "quantity": 2, "release": 0.5},
            {"id": "o3", "product": "a", "quantity": 1, "release": 0.7}]}],
        "stations": [{"id": "s", "to": "sink", "process_time": {"a": CONST1, "b": CONST1},
                      "setups": {"matrix": {"f1": {"f2": {"dist": "constant", "value": 3}},
                                            "f2": {"f1": {"dist": "constant", "value": 7}}}}}],
    }, 1000)
    result = plant.results().stations["s"]
    assert result.time_elements_s["ASUT"] == pytest.approx(10.0)  # f1->f2 then f2->f1
    assert result.kpi["setup_rate"] == pytest.approx(10 / 15)


def test_scrap_and_rework_probabilities() -> None:
    """Scrap and rework frequencies match their probabilities (99.9 % binomial bounds)."""
    r = _saturated({"process_time": CONST1, "scrap": 0.1, "rework": 0.2}, 20001)
    produced, scrap, rework, good = r["produced"], r["scrap"], r["rework"], r["good"]
    assert produced == scrap + rework + good == 20000
    for count, p in ((scrap, 0.1), (rework, 0.9 * 0.2)):
        sd = math.sqrt(produced * p * (1 - p))
        assert abs(count - produced * p) < 3.3 * sd
    plant = r["plant"]
    assert plant.results().scrapped == scrap


def test_speed_loss_lowers_effectiveness_not_availability() -> None:
    """At speed 0.8 the cycle takes 1.25 s: availability stays 1, effectiveness is 0.8."""
    r = _saturated({"process_time": CONST1, "speed": 0.8}, 1000.1)
    assert r["kpi"]["availability"] == pytest.approx(1.0)
    assert r["produced"] == 800
    assert r["kpi"]["effectiveness"] == pytest.approx(800 / 1000.1 * 1.0, rel=1e-9)


def test_planned_downtime_is_pdot_and_stops_work() -> None:
    """A break from 10 s to 15 s pauses the unit in work and counts as PDOT, not PBT."""
    plant = run({"sources": [{"id": "f", "saturated": True, "to": "s"}],
                 "stations": [{"id": "s", "process_time": {"dist": "constant", "value": 4},
                               "buffer": 1, "to": "sink",
                               "planned_downtime": [{"start": 10, "duration": 5,
                                                     "reason": "break"}]}]}, 30)
    result = plant.results().stations["s"]
    assert result.time_elements_s["PDOT"] == pytest.approx(5.0)
    assert result.time_elements_s["PBT"] == pytest.approx(25.0)
    # cycles end at 4, 8, then 12 of work -> 17 of clock, 21, 25, 29
    completions = [r.t for r in plant.log.records(EventKind.COMPLETE)]
    assert completions == [4.0, 8.0, 17.0, 21.0, 25.0, 29.0]


def test_material_lots_are_drawn_per_unit() -> None:
    """Each unit draws per_unit from the current lot; lots roll over at their size."""
    plant = run({"sources": [{"id": "f", "saturated": True, "to": "s", "limit": 5}],
                 "stations": [{"id": "s", "to": "sink", "process_time": CONST1,
                               "materials": [{"material": "caps", "per_unit": 2,
                                              "lot_size": 5}]}]}, 100)
    draws = [(r.serial, r.consumed, r.quantity) for r in plant.log.records(EventKind.CONSUME)]
    assert draws[:3] == [("part-000001", "caps-L00001", 2.0), ("part-000002", "caps-L00001", 2.0),
                         ("part-000003", "caps-L00001", 1.0)]
    assert draws[3] == ("part-000003", "caps-L00002", 1.0)
    assert sum(q for _, _, q in draws) == 10.0
