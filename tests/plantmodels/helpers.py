"""Small builders for plants used across the plant-model tests."""

from __future__ import annotations

from typing import Any

from mestwin.plantmodels import Plant
from mestwin.sim.scenario import build_plant, parse_scenario


def plant_from(spec: dict[str, Any]) -> Plant:
    """Validate *spec* as a scenario and build (not run) its plant."""
    return build_plant(parse_scenario({"name": "test", "horizon": 1e9, **spec}))


def run(spec: dict[str, Any], until: float) -> Plant:
    """Build the plant of *spec* and run it to *until*."""
    plant = plant_from(spec)
    plant.run(until)
    return plant
