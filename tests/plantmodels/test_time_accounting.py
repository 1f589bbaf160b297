"""Every second of each station's planned time belongs to exactly one ISO 22400 element.

The simulator accounts time as it goes; these tests recompute the same figures
independently from the ground-truth event log and require them to agree, on every shipped
scenario (which between them use every loss mechanism).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from mestwin.plantmodels import EventKind, MachineState, TimeElement
from mestwin.plantmodels.states import TIME_ELEMENT
from mestwin.sim.scenario import build_plant, load_scenario
from tests.conftest import SCENARIOS


def _elements_from_log(plant, start: float, end: float) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Per station, seconds in each element between *start* and *end*, from STATE rows."""
    current: dict[tuple[str, int], tuple[float, int]] = {}
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for station in plant.stations.values():
        for server in range(station.servers):
            current[(station.id, server)] = (0.0, int(MachineState.IDLE))

    def account(key: tuple[str, int], until: float) -> None:
        t0, state = current[key]
        overlap = min(until, end) - max(t0, start)
        if overlap > 0:
            totals[key[0]][TIME_ELEMENT[state].name] += overlap

    for rec in plant.log.records(EventKind.STATE):
        key = (rec.station, rec.server)
        account(key, rec.t)
        current[key] = (rec.t, rec.state)
    for key in current:
        account(key, end)
    return totals


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_elements_partition_planned_time_and_match_the_log(path: Path) -> None:
    """POT = servers x window; PBT = APT + ASUT + ADET + ADOT; the log agrees to 1e-6 s."""
    scenario = load_scenario(path)
    horizon = min(scenario.horizon, 3 * 86400)
    warmup = min(scenario.warmup, horizon / 4)
    plant = build_plant(scenario.model_copy(update={"horizon": horizon, "warmup": warmup}))
    plant.warmup = warmup
    plant.run(horizon)
    result = plant.results()
    from_log = _elements_from_log(plant, warmup, horizon)
    window = horizon - warmup
    for sid, station in result.stations.items():
        e = station.time_elements_s
        assert e["POT"] == pytest.approx(station.servers * window, rel=1e-9)
        assert e["PBT"] == pytest.approx(e["APT"] + e["ASUT"] + e["ADET"] + e["ADOT"], rel=1e-12)
        assert e["POT"] == pytest.approx(e["PBT"] + e["PDOT"], rel=1e-12)
        for name in ("APT", "ASUT", "ADET", "ADOT", "PDOT"):
            assert e[name] == pytest.approx(from_log[sid][name], abs=1e-6), (sid, name)


def test_every_state_maps_to_exactly_one_element() -> None:
    """The state -> element table covers all states and uses only ISO elements."""
    assert len(TIME_ELEMENT) == len(MachineState)
    assert set(TIME_ELEMENT) <= set(TimeElement)
    assert TIME_ELEMENT[MachineState.PROCESSING] is TimeElement.APT
    assert TIME_ELEMENT[MachineState.SETUP] is TimeElement.ASUT
    assert TIME_ELEMENT[MachineState.DOWN] is TimeElement.ADET
    assert TIME_ELEMENT[MachineState.PLANNED_DOWN] is TimeElement.PDOT
