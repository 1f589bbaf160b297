"""The PLC follows the plant at the simulated instant it changes, whatever the scan time:
every state of a PackML route is one dated change, and time in Execute is the plant's
producing time exactly."""

from __future__ import annotations

import numpy as np

from mestwin.plantmodels import Constant, Exponential, FailureMode, MachineState, Plant, Station
from mestwin.plantmodels.losses import MaterialUse
from mestwin.plantmodels.units import LotCounter
from mestwin.virtual_plc.packml import Command, State
from mestwin.virtual_plc.plc import VirtualPLC

STATE = "PackTags.Status.StateCurrent"
SCAN = 10.0
"""A long scan: nothing below may depend on it."""


class Recorder:
    """Every ``StateCurrent`` change of a PLC with the simulated instant it was made."""

    def __init__(self, plc: VirtualPLC) -> None:
        self.env = plc.env
        self.changes: list[tuple[float, State]] = [(plc.env.now, State(plc.tags.integer(STATE)))]
        plc.tags.watch(self._on_change, [STATE])

    def _on_change(self, _path: str, value: object) -> None:
        assert isinstance(value, int)
        self.changes.append((float(self.env.now), State(value)))

    def between(self, start: float, end: float) -> list[tuple[float, State]]:
        return [(t, s) for t, s in self.changes if start <= t <= end]

    def time_in(self, state: State, end: float) -> float:
        """Seconds spent in *state* from the first change to *end*, summed from changes."""
        total = 0.0
        for (t0, s), (t1, _) in zip(self.changes, [*self.changes[1:], (end, State.UNDEFINED)],
                                    strict=True):
            if s is state:
                total += t1 - t0
        return total


def station(plant: Plant, *, interarrival: float | None = None,
            failures: list[FailureMode] | None = None,
            calendar: list[FailureMode] | None = None) -> Station:
    rng = np.random.default_rng(5)
    if interarrival is None:
        plant.add_source("src", product="part", saturated=True)
    else:
        plant.add_source("src", product="part", interarrival=Constant(interarrival).sampler(rng))
    st = plant.add_station(
        "cut", servers=1, buffer=5, process_time={"*": Constant(10).sampler(rng)},
        ideal_cycle_time={"*": 10}, failures=[tuple(failures)] if failures else None,
        calendar_failures=calendar,
        materials=[MaterialUse("steel", 1.0, LotCounter("steel", 7))])
    plant.connect("src", "cut")
    return st


def test_a_breakdown_and_its_recovery_show_every_state_at_their_instants() -> None:
    """A calendar breakdown at 100.5 s repaired at 150.5 s (between scans of a 10 s scan):
    Aborting and Aborted at 100.5 s, the whole recovery (Clearing, Stopped, Resetting,
    Idle, Starting, Execute) at 150.5 s."""
    rng = np.random.default_rng(0)
    plant = Plant(warmup=0)
    st = station(plant, calendar=[FailureMode(Constant(100.5).sampler(rng),
                                              Constant(50).sampler(rng))])
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN)
    rec = Recorder(plc)
    plant.run(until=160.0)
    assert rec.between(100.5, 150.5) == [
        (100.5, State.ABORTING), (100.5, State.ABORTED),
        (150.5, State.CLEARING), (150.5, State.STOPPED), (150.5, State.RESETTING),
        (150.5, State.IDLE), (150.5, State.STARTING), (150.5, State.EXECUTE)]
    assert plc.tags["PackTags.Admin.StateCurrentTime"] == 0.0  # as of the last change
    assert st.state == MachineState.PROCESSING


def test_a_minor_stop_shorter_than_a_scan_shows() -> None:
    """A 2 s minor stop inside a 10 s scan: Holding, Held, Unholding, Execute at its
    exact start and end."""
    rng = np.random.default_rng(0)
    plant = Plant(warmup=0)
    st = station(plant, failures=[FailureMode(Constant(33).sampler(rng),
                                              Constant(2).sampler(rng), reason="minor_stop")])
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN)
    rec = Recorder(plc)
    plant.run(until=40.0)
    assert rec.between(1.0, 40.0) == [
        (33.0, State.HOLDING), (33.0, State.HELD), (35.0, State.UNHOLDING),
        (35.0, State.EXECUTE)]


def test_a_part_finished_and_the_next_taken_in_one_instant_is_no_change() -> None:
    """A saturated station finishes a part and takes the next in the same instant: PackML
    stays in Execute from power-up on (no Suspending blip between parts)."""
    plant = Plant(warmup=0)
    st = station(plant)
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN)
    rec = Recorder(plc)
    plant.run(until=500.0)
    assert st.produced >= 49
    assert rec.changes[-1] == (0.0, State.EXECUTE)
    assert all(t == 0.0 for t, _ in rec.changes)


def test_starved_between_arrivals_suspends_at_the_instants() -> None:
    """One part every 25 s (the first at 25 s), 10 s each: Unsuspending/Execute at each
    arrival, Suspending/Suspended at the end of each part."""
    plant = Plant(warmup=0)
    st = station(plant, interarrival=25.0)
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN)
    rec = Recorder(plc)
    plant.run(until=60.0)
    assert rec.between(1.0, 60.0) == [
        (25.0, State.UNSUSPENDING), (25.0, State.EXECUTE),
        (35.0, State.SUSPENDING), (35.0, State.SUSPENDED),
        (50.0, State.UNSUSPENDING), (50.0, State.EXECUTE)]
    assert st.state == MachineState.PROCESSING


def test_a_client_command_completes_its_acting_state_in_its_instant() -> None:
    """Stop taken at a scan: Stopping and Stopped at that scan's instant; Reset: Resetting
    and Idle at once, not at the next scan."""
    plant = Plant(warmup=0)
    st = station(plant)
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN)
    rec = Recorder(plc)
    plant.run(until=25.0)
    plc.command(Command.STOP)
    plant.run(until=35.0)  # the scan at 30 s takes it
    plc.command(Command.RESET)
    plant.run(until=45.0)
    assert rec.between(1.0, 45.0) == [
        (30.0, State.STOPPING), (30.0, State.STOPPED),
        (40.0, State.RESETTING), (40.0, State.IDLE)]
    assert st.state == MachineState.STOPPED


def _execute_time(rec: Recorder, end: float) -> float:
    return rec.time_in(State.EXECUTE, end)


def test_time_in_execute_is_the_plants_producing_time_exactly() -> None:
    """Breakdowns, minor stops and starvation over 20 000 s with a 10 s scan: time in
    Execute, summed from the dated StateCurrent changes, equals the plant's APT + ASUT (its
    own accounting) to 1e-6 s; so does ``Admin.StateCumulativeTime`` style accounting."""
    rng = np.random.default_rng(11)
    plant = Plant(warmup=0)
    st = station(plant, interarrival=None, failures=[
        FailureMode(Exponential(400).sampler(rng), Exponential(60).sampler(rng)),
        FailureMode(Exponential(90).sampler(rng), Exponential(3).sampler(rng),
                    reason="minor_stop")])
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN)
    rec = Recorder(plc)
    end = 20_000.0
    plant.run(until=end)
    apt, asut, adet, _adot, _pdot = st.pool[0].close_elements()
    assert adet > 1000  # the losses happened
    assert abs(_execute_time(rec, end) - (apt + asut)) < 1e-6
    assert abs(plc.packml.state_cumulative_time(end, State.EXECUTE) - (apt + asut)) < 1e-6


def test_time_in_execute_with_starvation_and_random_arrivals() -> None:
    """Random arrivals (starved often) and breakdowns: the same exact agreement."""
    rng = np.random.default_rng(12)
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", interarrival=Exponential(12).sampler(rng))
    st = plant.add_station(
        "cut", servers=1, buffer=3, process_time={"*": Exponential(9).sampler(rng)},
        ideal_cycle_time={"*": 9},
        failures=[(FailureMode(Exponential(300).sampler(rng), Exponential(40).sampler(rng)),
                   FailureMode(Exponential(70).sampler(rng), Exponential(2).sampler(rng),
                               reason="minor_stop"))])
    plant.connect("src", "cut")
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN)
    rec = Recorder(plc)
    end = 20_000.0
    plant.run(until=end)
    apt, asut, adet, adot, _ = st.pool[0].close_elements()
    assert adet > 500
    assert adot > 1000
    assert abs(_execute_time(rec, end) - (apt + asut)) < 1e-6
