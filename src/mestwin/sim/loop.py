"""The closed loop, in process: plant -> virtual PLCs -> MES data collection, one clock.

:class:`ClosedLoop` builds a scenario's plant, one :class:`VirtualPLC` per machine, the
in-process tag source, the MES collector and its production ledger, and runs them on one
SimPy environment as fast as possible. The MES is configured the way an integrator would
configure it: the PLC vendor's stop-reason table and the ideal cycle times of the routings;
it learns everything else from tags. Ground truth stays on the plant side for scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

import simpy

from mestwin.mes_core.collection.collector import Collector, EventSink, tag_paths
from mestwin.mes_core.collection.machine_state import ReasonCode, ReasonCodes
from mestwin.mes_core.collection.state_models import PackMLMapping, StateModel, state_model
from mestwin.mes_core.ledger import ProductionLedger
from mestwin.mes_core.losses import SixBigLoss
from mestwin.plantmodels import Plant, Retention
from mestwin.sim.inprocess import InProcessSource
from mestwin.sim.naming import line_name
from mestwin.sim.scenario import Scenario, build_plant
from mestwin.sim.scenario.build import plc_options
from mestwin.sim.scoring import GenealogyTruth
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.stop_elements import PLANNED_DOWNTIME, STOP_ELEMENTS
from mestwin.virtual_plc.tags import STOP_REASONS, LossCategory, stop_reason

_LOSS = {
    LossCategory.BREAKDOWN: SixBigLoss.BREAKDOWN,
    LossCategory.SETUP_ADJUSTMENT: SixBigLoss.SETUP_ADJUSTMENT,
    LossCategory.MINOR_STOP: SixBigLoss.MINOR_STOP,
    LossCategory.REDUCED_SPEED: SixBigLoss.REDUCED_SPEED,
    LossCategory.DEFECTS_REWORK: SixBigLoss.DEFECT_REWORK,
    LossCategory.STARTUP_REJECTS: SixBigLoss.STARTUP_REJECT,
}


def reason_codes() -> ReasonCodes:
    """The MES's stop-reason table, configured from the virtual PLC vendor's table."""
    return ReasonCodes({c.id: ReasonCode(c.id, c.reason or "none", _LOSS.get(c.category))
                        for c in STOP_REASONS})


def packml_mapping() -> PackMLMapping:
    """The MES's PackML -> ISO 22400 element mapping, configured from the virtual PLC
    vendor's documentation: the stop-reason -> element table (docs/integrators.md, column
    "ISO 22400 element"), by which every stop is booked; for a stop without a known reason
    the PackML-state rule with the planned-downtime and fault (category Breakdown) reasons;
    and the setup reason shown while Execute runs a changeover."""
    return PackMLMapping(
        planned=frozenset(stop_reason(r).id for r in PLANNED_DOWNTIME),
        faults=frozenset(c.id for c in STOP_REASONS if c.category is LossCategory.BREAKDOWN),
        setup_reason=stop_reason("setup").id,
        reasons=dict(STOP_ELEMENTS))


def mes_states(source: str) -> StateModel:
    """The MES's state model for state source *source* (``machine_state`` or ``packml``)."""
    return state_model(source, packml_mapping())


def make_plcs(plant: Plant, line: str, scan_time_s: float,
              immediate_commands: bool = False) -> dict[str, VirtualPLC]:
    """One virtual PLC per machine of *plant* (each server of each station), by machine id,
    with its station's PackML options (:func:`~mestwin.sim.scenario.build.plc_options`)."""
    return {m.id: VirtualPLC(m, line, m.id, plant.env, scan_time_s,  # type: ignore[arg-type]
                             immediate_commands=immediate_commands, **plc_options(m))
            for station in plant.stations.values() for m in station.machines()}


def ideal_cycle_times(plant: Plant) -> dict[tuple[str, str], float]:
    """Master data for the MES: PRU per (machine, product) from the routings' stations."""
    out: dict[tuple[str, str], float] = {}
    for station in plant.stations.values():
        for machine in station.machines():
            for product, seconds in station.ideal_cycle_time.items():
                out[(machine.id, product)] = seconds
    return out


@dataclass
class ClosedLoop:
    """A plant, its PLCs and the MES's data collection on one simulation clock."""

    scenario: Scenario
    env: simpy.Environment
    plant: Plant
    plcs: dict[str, VirtualPLC]
    source: InProcessSource
    collector: Collector
    ledger: ProductionLedger
    sinks: list[EventSink] = field(default_factory=list)
    genealogy: GenealogyTruth = field(default_factory=GenealogyTruth)
    """The true genealogy, fed by the event log as it goes (what scoring needs of it)."""

    @classmethod
    def build(cls, scenario: Scenario, scan_time_s: float = 10.0,
              sinks: Iterable[EventSink] = (), immediate_commands: bool = True,
              end_of_instant: bool = False, retention: Retention = Retention.ALL,
              events: TextIO | None = None, state_source: str = "machine_state") -> ClosedLoop:
        """Wire *scenario*; PLCs scan every *scan_time_s* (state and counts are published
        at the instant they change whatever the scan time) and, with
        *immediate_commands*, take the MES's commands in the instant they are written;
        *end_of_instant* delivers each instant's tag changes after all its events (what a
        dispatching MES needs, see :class:`InProcessSource`). The event log keeps what
        *retention* says (*events*: the file for ``Retention.STREAM``); scoring needs
        none of it (:attr:`genealogy`). *state_source* is the MES's state source
        (:func:`mes_states`)."""
        env = simpy.Environment()
        plant = build_plant(scenario, env)
        plant.log.retain(retention, events)
        genealogy = GenealogyTruth()
        plant.log.listeners.append(genealogy.feed)
        line = line_name(scenario.name)
        plcs = make_plcs(plant, line, scan_time_s, immediate_commands)
        states = mes_states(state_source)
        source = InProcessSource(env, plcs, tag_paths(states, lossless=True),
                                 end_of_instant=end_of_instant)
        ledger = ProductionLedger(scenario.warmup, scenario.horizon, ideal_cycle_times(plant))
        extra = list(sinks)
        collector = Collector(reason_codes(), [ledger, *extra],
                              heartbeat_timeout=5 * scan_time_s, states=states)
        # in process the MES has seen every instant up to the source's last batch: score
        # the serials that left by then and forget them (flat memory on long runs)
        plant.log.listeners.append(
            lambda _rows: genealogy.settle(ledger.trace, source.delivered_until))
        source.subscribe(collector.on_batch)
        source.connect()
        return cls(scenario, env, plant, plcs, source, collector, ledger, extra, genealogy)

    def run(self, until: float | None = None,
            progress: Callable[[float], None] | None = None) -> None:
        """Run to *until* (default: the horizon) and close the MES's open intervals."""
        end = self.scenario.horizon if until is None else until
        self.plant.run(end, progress)
        self.plant.log.flush()
        self.source.flush()
        self.collector.close(end)
