"""What the MES collects is stored durably, and the store answers as the live ledger does:
OEE per work unit from stored intervals and counts, and trace sets from stored genealogy."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from mestwin.mes_core.collection.writer import StoreWriter
from mestwin.mes_core.genealogy import lot_by_code, trace_backward
from mestwin.mes_core.reporting import oee
from mestwin.mes_core.store import create_all, make_engine, session_factory
from mestwin.sim.loop import ClosedLoop, ideal_cycle_times
from mestwin.sim.naming import line_name
from mestwin.sim.scenario import build_plant, load_scenario
from mestwin.virtual_plc.plc import START_DATETIME


def test_store_reports_equal_the_ledger_and_the_truth(tmp_path: Path,
                                                      scenarios_dir: Path) -> None:
    """Assembly line, one day: stored OEE per machine equals the ledger's; stored backward
    traces of finished controllers equal the ledger's; the database is in WAL mode."""
    scenario = load_scenario(scenarios_dir / "assembly_line.yaml")
    scenario = scenario.model_copy(update={"horizon": 86400.0, "warmup": 0.0})
    engine = make_engine(f"sqlite:///{tmp_path / 'mes.db'}")
    create_all(engine)
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
