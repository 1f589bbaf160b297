"""PackML acting states that take simulated time: they appear with their exact durations,
the plant waits for them in the state of the stop it leaves, and time in Execute stays the
plant's producing time exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mestwin.plantmodels import Constant, Exponential, FailureMode, MachineState, Plant
from mestwin.plantmodels.losses import PlannedDowntime
from mestwin.plantmodels.states import TimeElement
from mestwin.virtual_plc.packml import ACTING_STATES, State
from mestwin.virtual_plc.plc import VirtualPLC
from tests.virtual_plc.test_plc_follow import SCAN, Recorder, station

ACTING = {State.ABORTING: 1.0, State.CLEARING: 2.0, State.RESETTING: 1.5,
          State.STARTING: 3.0, State.HOLDING: 0.5, State.UNHOLDING: 0.25,
          State.SUSPENDING: 0.75, State.UNSUSPENDING: 1.25, State.STOPPING: 2.5}


def test_a_breakdown_recovery_takes_its_acting_times_and_the_plant_waits_down() -> None:
    """Breakdown at 100.5 s, repaired at 150.5 s: Aborting 1 s, then Clearing 2 s,
    Resetting 1.5 s, Starting 3 s; the station stays DOWN (breakdown, ADET) until Execute
    at 157 s and produces only from then on."""
    rng = np.random.default_rng(0)
    plant = Plant(warmup=0)
    st = station(plant, calendar=[FailureMode(Constant(100.5).sampler(rng),
                                              Constant(50).sampler(rng))])
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN, acting_time_s=ACTING)
    rec = Recorder(plc)
    plant.run(until=156.9)
    assert st.state == MachineState.DOWN
    assert st.reason == "breakdown"
    plant.run(until=160.0)
    assert rec.between(100.0, 160.0) == [
        (100.5, State.ABORTING), (101.5, State.ABORTED),
        (150.5, State.CLEARING), (152.5, State.STOPPED), (152.5, State.RESETTING),
        (154.0, State.IDLE), (154.0, State.STARTING), (157.0, State.EXECUTE)]
    assert MachineState(st.state) == MachineState.PROCESSING
    _apt, _asut, adet, _adot, _pdot = st.pool[0].close_elements()
    assert adet == pytest.approx(157.0 - 100.5)


def test_power_up_waits_for_resetting_and_starting() -> None:
    """From Stopped at power-up: Resetting 1.5 s and Starting 3 s before the first part;
    the plant is starved (ADOT) until 4.5 s."""
    plant = Plant(warmup=0)
    st = station(plant)
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN, acting_time_s=ACTING)
    rec = Recorder(plc)
    plant.run(until=20.0)
    assert rec.changes == [(0.0, State.STOPPED), (0.0, State.RESETTING), (1.5, State.IDLE),
                           (1.5, State.STARTING), (4.5, State.EXECUTE)]
    apt, _asut, _adet, adot, _ = st.pool[0].close_elements()
    assert adot == pytest.approx(4.5)
    assert apt == pytest.approx(20.0 - 4.5)
    assert st.produced == 1  # 10 s parts from 4.5 s on


def test_a_stop_shorter_than_its_entering_state_still_waits_for_it() -> None:
    """A 0.2 s minor stop with Holding 0.5 s: Held only at 33.5 s, then Unholding 0.25 s;
    the plant stays down until 33.75 s, so PackML and the plant agree."""
    rng = np.random.default_rng(0)
    plant = Plant(warmup=0)
    st = station(plant, failures=[FailureMode(Constant(28.5).sampler(rng),
                                              Constant(0.2).sampler(rng), reason="minor_stop")])
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN, acting_time_s=ACTING)
    rec = Recorder(plc)
    plant.run(until=34.0)
    assert rec.between(5.0, 34.0) == [
        (33.0, State.HOLDING), (33.5, State.HELD), (33.5, State.UNHOLDING),
        (33.75, State.EXECUTE)]
    _apt, _asut, adet, _adot, _ = st.pool[0].close_elements()
    assert adet == pytest.approx(0.75)


def _line(rng: np.random.Generator) -> tuple[Plant, list[VirtualPLC], list[Recorder]]:
    """Random arrivals into a fast station with breakdowns and minor stops, then a slow one
    behind a 2-place buffer (the first is starved and blocked, the second starved too)."""
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", interarrival=Exponential(11).sampler(rng))
    a = plant.add_station(
        "a", servers=1, buffer=4, process_time={"*": Exponential(6).sampler(rng)},
        ideal_cycle_time={"*": 6},
        failures=[(FailureMode(Exponential(500).sampler(rng), Exponential(50).sampler(rng)),
                   FailureMode(Exponential(60).sampler(rng), Exponential(0.4).sampler(rng),
                               reason="minor_stop"))])
    b = plant.add_station(
        "b", servers=1, buffer=2, process_time={"*": Exponential(10).sampler(rng)},
        ideal_cycle_time={"*": 10},
        failures=[(FailureMode(Exponential(700).sampler(rng), Exponential(30).sampler(rng)),)])
    plant.connect("src", "a")
    plant.connect("a", "b")
    plcs = [VirtualPLC(s, "L1", s.id, plant.env, SCAN, acting_time_s=ACTING) for s in (a, b)]
    return plant, plcs, [Recorder(p) for p in plcs]


def test_time_in_execute_equals_the_truths_producing_time_with_acting_times() -> None:
    """Breakdowns, minor stops (some shorter than Holding), starvation and blocking, every
    acting state taking time: per machine, Execute summed from the dated StateCurrent
    changes (and Admin.StateCumulativeTime's accounting) equals APT + ASUT to 1e-6 s, and
    every acting state lasts exactly its acting time."""
    plant, plcs, recs = _line(np.random.default_rng(21))
    end = 30_000.0
    plant.run(until=end)
    for plc, rec in zip(plcs, recs, strict=True):
        server = plc.station.pool[0]  # type: ignore[attr-defined]
        elements = server.close_elements()
        producing = elements[TimeElement.APT] + elements[TimeElement.ASUT]
        assert elements[TimeElement.ADET] > 500, plc.machine
        assert elements[TimeElement.ADOT] > 500, plc.machine
        assert rec.time_in(State.EXECUTE, end) == pytest.approx(producing, abs=1e-6)
        assert plc.packml.state_cumulative_time(end, State.EXECUTE) == pytest.approx(
            producing, abs=1e-6)
        seen = set()
        for (t0, state), (t1, _) in zip(rec.changes, rec.changes[1:], strict=False):
            if state in ACTING_STATES:
                seen.add(state)
                assert t1 - t0 == pytest.approx(ACTING[state], abs=1e-9), (plc.machine, t0)
        expected = {State.ABORTING, State.CLEARING, State.SUSPENDING, State.UNSUSPENDING}
        if plc.machine == "a":  # minor stops (b has none)
            expected |= {State.HOLDING, State.UNHOLDING}
        assert expected <= seen, plc.machine


def test_each_server_of_a_station_waits_for_its_own_plc() -> None:
    """Two servers, one PLC each, a planned stop of the whole station every 2000 s and
    breakdowns per server: per server, Execute time equals its APT + ASUT, and Stopping,
    Resetting and Starting after each planned stop take their times (the station's PDOT
    grows by them)."""
    rng = np.random.default_rng(31)
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", interarrival=Exponential(6).sampler(rng))
    st = plant.add_station(
        "pair", servers=2, buffer=4, process_time={"*": Exponential(10).sampler(rng)},
        ideal_cycle_time={"*": 10},
        failures=[(FailureMode(Exponential(800).sampler(rng), Exponential(40).sampler(rng)),),
                  (FailureMode(Exponential(800).sampler(rng), Exponential(40).sampler(rng)),)],
        planned=[PlannedDowntime(500.0, 120.0, 2000.0)])
    plant.connect("src", "pair")
    plcs = [VirtualPLC(m, "L1", m.id, plant.env, SCAN, acting_time_s=ACTING)
            for m in st.machines()]
    recs = [Recorder(p) for p in plcs]
    end = 20_000.0
    plant.run(until=end)
    for machine, rec in zip(st.machines(), recs, strict=True):
        elements = machine.close_elements()
        assert elements[TimeElement.PDOT] > 10 * 120.0
        producing = elements[TimeElement.APT] + elements[TimeElement.ASUT]
        assert rec.time_in(State.EXECUTE, end) == pytest.approx(producing, abs=1e-6)
        lengths = {(s, round(t1 - t0, 9)) for (t0, s), (t1, _) in itertools.pairwise(rec.changes)
                   if s in ACTING_STATES}
        assert lengths == {(s, ACTING[s]) for s, _ in lengths}
        assert {State.STOPPING, State.RESETTING, State.STARTING} <= {s for s, _ in lengths}
