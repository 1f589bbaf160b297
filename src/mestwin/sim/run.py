"""Running a scenario once, as fast as possible: what ``mestwin run`` does."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from mestwin.plantmodels.eventlog import Retention
from mestwin.plantmodels.results import PlantResult
from mestwin.sim.scenario import Scenario, build_plant
from mestwin.sim.scenario.run_warnings import run_warnings
from mestwin.sim.truth import TruthRecorder


def run_scenario(
    scenario: Scenario, progress: Callable[[float], None] | None = None,
    events: TextIO | None = None, truth: TextIO | None = None,
) -> PlantResult:
    """Build the plant of *scenario*, run it to its horizon and return the results.

    The event log keeps no rows (its count and SHA-256 are exact all the same), so memory
    does not grow with the horizon; with *events* every row is written there as it goes
    (:func:`~mestwin.plantmodels.eventlog.format_row`, one line each); with *truth* the
    ground truth (:mod:`mestwin.sim.truth`) is written there as it goes."""
    plant = build_plant(scenario)
    plant.log.retain(Retention.STREAM if events is not None else Retention.NONE, events)
    recorder = None
    if truth is not None:
        recorder = TruthRecorder(plant, truth, scenario.name, scenario.seed,
                                 scenario.warmup, scenario.horizon)
        recorder.attach(plant)
    plant.run(scenario.horizon, progress)
    if recorder is not None:
        plant.log.flush()
        recorder.finish(float(plant.env.now))
    result = plant.results()
    result.warnings = run_warnings(scenario, plant)
    return result


def terminal_progress(label: str) -> Callable[[float], None]:
    """A progress bar on stderr: ``label [#####.....]  45%``."""

    def show(fraction: float) -> None:
        filled = int(fraction * 30)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
