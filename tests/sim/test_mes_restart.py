"""A crash or restart of the MES loses no counts: data collection resumes from the
checkpoint stored with the events, on every store back end."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mestwin.mes_core.collection.collector import Collector
from mestwin.mes_core.collection.writer import StoreWriter
from mestwin.mes_core.store import session_factory
from mestwin.mes_core.store.checkpoint import load_checkpoint
from mestwin.mes_core.store.models import Equipment, ProductionCount
from mestwin.sim.loop import ClosedLoop, ideal_cycle_times, reason_codes
from mestwin.sim.naming import line_name
from mestwin.sim.scenario import Scenario, load_scenario
from mestwin.virtual_plc.plc import START_DATETIME
from tests.store_backends import BACKENDS, store_engine_on


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restarted_mes_loses_no_count_and_counts_nothing_twice(backend: str, tmp_path: Path,
                                                                 scenarios_dir: Path) -> None:
    """The MES crashes mid-run with events still buffered (never written); a new MES
    resumes from the checkpoint stored with the last flush. At the end, the stored counts per
    machine equal the plant's exactly: the unwritten events were produced again from the
    PLC's cumulative counters, nothing twice."""
    scenario = load_scenario(scenarios_dir / "two_step_line.yaml")
    scenario = scenario.model_copy(update={"horizon": 2 * 86400.0, "warmup": 0.0})
    with store_engine_on(backend, tmp_path) as engine:
        _restart(session_factory(engine), scenario)


def _restart(sessions: sessionmaker[Session], scenario: Scenario) -> None:
    loop = ClosedLoop.build(scenario)
    machines = list(loop.plcs)
    line = line_name(scenario.name)
    pru = ideal_cycle_times(loop.plant)

    def mes() -> tuple[Collector, StoreWriter]:
        collector = Collector(reason_codes())
        writer = StoreWriter(sessions, START_DATETIME, line, machines, batch_size=500,
                             ideal_cycle_time=pru, checkpoint=collector.checkpoint)
        collector.sinks.append(writer)
        with sessions() as session:
            saved = load_checkpoint(session, line)
        if saved is not None:
            collector.restore(saved)
        loop.source.listeners[:] = [collector.on_batch]
        loop.source.connect()  # a new subscription: current values first
        return collector, writer

    first, first_writer = mes()
    loop.plant.run(86400.0 + 1234.5)
    assert first_writer._buffer  # crash with unwritten events
    assert first_writer.written > 0
    del first, first_writer  # the MES process dies here; its buffer is lost

    loop.plant.run(86400.0 + 5000.0)  # the plant runs on while the MES is down
    _second, second_writer = mes()
    loop.run()
    second_writer.flush()
    truth = loop.plant.machine_truth()
    with sessions() as session:
        for machine in machines:
            unit = session.scalar(select(Equipment.id).where(Equipment.code == machine))
            stored = session.scalar(select(func.sum(ProductionCount.produced))
                                    .where(ProductionCount.work_unit_id == unit))
            assert stored == truth[machine].produced, machine
