"""What the MES collects is stored durably, and the store answers as the live ledger does:
OEE per work unit from stored intervals and counts, and trace sets from stored genealogy, on
a SQLite file and, when MESTWIN_PG_URL is set, on PostgreSQL through the same code."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from mestwin.mes_core.collection.writer import StoreWriter
from mestwin.mes_core.genealogy import lot_by_code, trace_backward
from mestwin.mes_core.reporting import oee
from mestwin.mes_core.store import session_factory
from mestwin.sim.loop import ClosedLoop, ideal_cycle_times
from mestwin.sim.naming import line_name
from mestwin.sim.scenario import build_plant, load_scenario
from mestwin.virtual_plc.plc import START_DATETIME
from tests.store_backends import BACKENDS, store_engine_on


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_reports_equal_the_ledger_and_the_truth(backend: str, tmp_path: Path,
                                                      scenarios_dir: Path) -> None:
    """Assembly line, one day: stored OEE per machine equals the ledger's; stored backward
    traces of finished controllers equal the ledger's; a SQLite store is in WAL mode."""
    with store_engine_on(backend, tmp_path) as engine:
        check_store_loop(engine, scenarios_dir)


def check_store_loop(engine: Engine, scenarios_dir: Path) -> None:
    scenario = load_scenario(scenarios_dir / "assembly_line.yaml")
    scenario = scenario.model_copy(update={"horizon": 86400.0, "warmup": 0.0})
    sessions = session_factory(engine)
    machines = [m.id for s in build_plant(scenario).stations.values() for m in s.machines()]
    plant_for_master_data = build_plant(scenario)
    writer = StoreWriter(sessions, START_DATETIME, line_name(scenario.name), machines,
                         batch_size=2000, ideal_cycle_time=ideal_cycle_times(plant_for_master_data))
    loop = ClosedLoop.build(scenario, sinks=[writer])
    loop.run()
    writer.flush()
    assert writer.written > 0
    end = writer.at(scenario.horizon)
    with sessions() as session:
        if engine.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        for machine in machines:
            stored = oee(session, machine, START_DATETIME, end)
            live = loop.ledger.kpis(machine)
            assert stored.kpis.availability == pytest.approx(live.availability, abs=1e-9)
            assert stored.kpis.oee == pytest.approx(live.oee, abs=1e-9)
            assert stored.measurements.quantities.pq == loop.ledger.units[machine].produced
        finished = [r[2] for r in loop.plant.log.rows if r[1] == 5 and r[3] == "sink"][:50]
        assert finished
        for serial in finished:
            lot = lot_by_code(session, serial)
            stored_trace = {node.code for node in trace_backward(session, lot.id)}
            assert stored_trace == loop.ledger.trace(serial)

