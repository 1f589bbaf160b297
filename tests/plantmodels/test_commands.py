"""What a PLC writes acts on the station: stop, start, hold, unhold, speed."""

from __future__ import annotations

import pytest

from mestwin.plantmodels import EventKind, MachineState
from tests.plantmodels.helpers import plant_from


def _line():  # type: ignore[no-untyped-def]
    return plant_from({"sources": [{"id": "f", "saturated": True, "to": "s"}],
                       "stations": [{"id": "s", "to": "sink", "process_time": {"dist": "constant",
                                                                 "value": 10},
                                     "buffer": 2}]})


def test_stop_pauses_work_in_progress_and_start_resumes_it() -> None:
    """Stopped at t=5 for 20 s, the first unit finishes at 30 with its remaining 5 s."""
    plant = _line()
    station = plant.stations["s"]
    plant.run(5)
    station.stop()
    assert station.state is MachineState.STOPPED
    assert station.reason == "operator_stop"
    plant.run(25)
    assert station.produced == 0
    station.start()
    assert station.state is MachineState.PROCESSING
    plant.run(31)
    completions = [r.t for r in plant.log.records(EventKind.COMPLETE)]
    assert completions == [30.0]
    elements = plant.results().stations["s"].time_elements_s
    assert elements["ADOT"] == pytest.approx(20.0)  # stopped with no planned reason
    assert elements["APT"] == pytest.approx(11.0)


def test_hold_is_an_unplanned_delay() -> None:
    """A hold pauses work like a stop but is accounted to ADET."""
    plant = _line()
    station = plant.stations["s"]
    plant.run(2)
    station.hold()
    plant.run(6)
    assert station.state is MachineState.HELD
    station.unhold()
    plant.run(20)
    assert plant.results().stations["s"].time_elements_s["ADET"] == pytest.approx(4.0)
    assert [r.t for r in plant.log.records(EventKind.COMPLETE)] == [14.0]


def test_stop_while_idle_keeps_units_in_the_buffer() -> None:
    """A stopped station hands out no units; they wait until it starts."""
    plant = plant_from({"sources": [{"id": "a", "interarrival": {"dist": "constant",
                                                                 "value": 1},
                                     "to": "s", "limit": 3}],
                        "stations": [{"id": "s", "to": "sink", "process_time": {"dist": "constant",
                                                                  "value": 0.5}}]})
    station = plant.stations["s"]
    station.stop()
    plant.run(10)
    assert station.produced == 0
    assert len(station.buffer) == 3
    station.start()
    plant.run(20)
    assert station.produced == 3


def test_speed_change_applies_from_the_next_cycle() -> None:
    """MachSpeed 2.0 halves the following cycle times."""
    plant = _line()
    station = plant.stations["s"]
    plant.run(5)
    station.set_speed(2.0)
    plant.run(21)
    assert [r.t for r in plant.log.records(EventKind.COMPLETE)] == [10.0, 15.0, 20.0]
    with pytest.raises(ValueError, match="positive"):
        station.set_speed(0)


def test_each_server_of_a_station_is_a_machine_with_its_own_commands_and_counts() -> None:
    """A two-server station is two machines: stopping one leaves the other producing, and
    the machines' counters add up to the station's."""
    plant = plant_from({"sources": [{"id": "f", "saturated": True, "to": "s"}],
                        "stations": [{"id": "s", "to": "sink", "servers": 2, "buffer": 2,
                                      "process_time": {"dist": "constant", "value": 10}}]})
    station = plant.stations["s"]
    first, second = station.machines()
    assert (first.id, second.id) == ("s-1", "s-2")
    plant.run(5)
    first.stop()
    assert first.state == MachineState.STOPPED
    plant.run(101)
    assert first.produced == 0
    assert second.produced == 10
    first.start()
    plant.run(106.5)
    assert first.produced == 1  # its paused unit needed 5 more seconds: done at 106
    assert first.produced + second.produced == station.produced


def test_observers_see_every_state_and_count_change_at_its_time() -> None:
    """An observer is called at each change, so a PLC can publish exact times."""
    plant = _line()
    machine = plant.stations["s"].machines()[0]
    seen: list[tuple[float, int, int]] = []
    machine.observers.append(lambda m: seen.append((plant.env.now, m.state, m.produced)))
    plant.run(25)
    assert (10.0, MachineState.PROCESSING, 1) in seen
    assert (20.0, MachineState.PROCESSING, 2) in seen
    assert [t for t, _, _ in seen] == sorted(t for t, _, _ in seen)
