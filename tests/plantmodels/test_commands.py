"""What a PLC writes acts on the station: stop, start, hold, unhold, speed."""

from __future__ import annotations

import pytest

from mestwin.plantmodels import EventKind, MachineState
from tests.plantmodels.helpers import plant_from


def _line():  # type: ignore[no-untyped-def]
    return plant_from({"sources": [{"id": "f", "saturated": True, "to": "s"}],
                       "stations": [{"id": "s", "process_time": {"dist": "constant",
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
                        "stations": [{"id": "s", "process_time": {"dist": "constant",
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
