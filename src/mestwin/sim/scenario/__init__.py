"""Scenario files: schema, loading with precise errors, and building a plant from one."""

from mestwin.sim.scenario.build import build_plant
from mestwin.sim.scenario.loader import ScenarioError, load_scenario, parse_scenario
from mestwin.sim.scenario.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "build_plant", "load_scenario", "parse_scenario"]
