"""Running a scenario once, as fast as possible: what ``mestwin run`` does.

The plant runs alone, without PLCs, unless its ``packml`` options make the PLC part of the
plant's behaviour: with an acting time above 0 s or ``reset: operator`` a machine waits for
its PLC's PackML to reach Execute before it works again (``Server.interlock``), so the run
builds the in-process virtual PLCs (:func:`~mestwin.sim.loop.make_plcs`; no servers, no
MES) and its truth is the truth of ``mestwin serve`` and the closed loop for the same
scenario and seed. Every other scenario keeps the plain (faster) path: with acting times of
0 s the PLCs change nothing in the plant.

``reset: operator`` in a run has no operator: a machine Aborted by a breakdown stays down
(its downtime is the breakdown's) until the horizon, and the run says so in its warnings.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from mestwin.plantmodels import Plant
from mestwin.plantmodels.eventlog import Retention
from mestwin.plantmodels.results import PlantResult
from mestwin.sim.loop import make_plcs
from mestwin.sim.naming import line_name, machine_ports
from mestwin.sim.scenario import Scenario, build_plant
from mestwin.sim.scenario.build import plc_options
from mestwin.sim.scenario.durations import format_duration
from mestwin.sim.scenario.run_warnings import run_warnings
from mestwin.sim.truth import TruthRecorder
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC

SCAN_TIME_S = 3600.0
"""The PLCs' scan period in a run: no client writes to take, and PackML follows the plant at
its instants whatever the scan, so a slow scan only saves time."""


def needs_plcs(plant: Plant) -> bool:
    """Whether any machine of *plant* waits for its PLC: an acting time above 0 s or
    ``reset: operator`` in its station's ``packml`` options."""
    for machine in machine_ports(plant).values():
        options = plc_options(machine)
        acting = options.get("acting_time_s", {})
        if options.get("reset", "auto") == "operator" or any(t > 0 for t in acting.values()):
            return True
    return False


def run_scenario(
    scenario: Scenario, progress: Callable[[float], None] | None = None,
    events: TextIO | None = None, truth: TextIO | None = None,
) -> PlantResult:
    """Build the plant of *scenario*, run it to its horizon and return the results.

    The event log keeps no rows (its count and SHA-256 are exact all the same), so memory
    does not grow with the horizon; with *events* every row is written there as it goes
    (:func:`~mestwin.plantmodels.eventlog.format_row`, one line each); with *truth* the
    ground truth (:mod:`mestwin.sim.truth`) is written there as it goes. The virtual PLCs
    run too if the plant waits for them (:func:`needs_plcs`)."""
    plant = build_plant(scenario)
    plant.log.retain(Retention.STREAM if events is not None else Retention.NONE, events)
    recorder = None
    if truth is not None:
        recorder = TruthRecorder(plant, truth, scenario.name, scenario.seed,
                                 scenario.warmup, scenario.horizon)
        recorder.attach(plant)
    plcs = (make_plcs(plant, line_name(scenario.name), SCAN_TIME_S) if needs_plcs(plant)
            else {})
    plant.run(scenario.horizon, progress)
    if recorder is not None:
        plant.log.flush()
        recorder.finish(float(plant.env.now))
    result = plant.results()
    result.warnings = run_warnings(scenario, plant) + left_aborted(plcs)
    return result


def left_aborted(plcs: dict[str, VirtualPLC]) -> list[str]:
    """One sentence per machine under ``reset: operator`` still Aborted at the end: a run
    has no operator to send Clear, Reset and Start."""
    return [
        f"{mid}: packml reset is 'operator' and the machine was Aborted from "
        f"{format_duration(plc.packml.since)} to the horizon: `mestwin run` has no operator "
        "to send Clear, Reset and Start, so it stayed down (breakdown time); serve the "
        "scenario (`mestwin serve`) to act as the operator, or use reset: auto"
        for mid, plc in plcs.items()
        if plc.reset == "operator" and plc.packml.state is State.ABORTED]


def terminal_progress(label: str) -> Callable[[float], None]:
    """A progress bar on stderr: ``label [#####.....]  45%``."""

    def show(fraction: float) -> None:
        filled = int(fraction * 30)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
