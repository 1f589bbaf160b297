"""MES-in-the-loop speed and ingestion into SQLite.

1. The closed loop (plant, one virtual PLC per machine, in-process tag source, MES data
   collection and ledger) against the bare plant model, same line, same run: parts/s ratio
   (target 0.5). The plant with its PLCs and no MES is timed too, so the report says which
   layer the time goes to (microseconds per machine cycle).
2. Events ingested per second into SQLite by the store writer (WAL, batched inserts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mestwin.mes_core.collection.writer import StoreWriter
from mestwin.mes_core.store import create_all, make_engine, session_factory
from mestwin.sim.loop import ClosedLoop, ideal_cycle_times, make_plcs
from mestwin.sim.naming import line_name
from mestwin.sim.scenario import build_plant, parse_scenario
from mestwin.virtual_plc.plc import START_DATETIME

HORIZON = 20_000.0


def _line() -> Any:
    stations = [{"id": f"s{i}", "process_time": {"dist": "exponential", "mean": 1.0},
                 "buffer": 5, "to": f"s{i + 1}" if i < 4 else "sink"} for i in range(5)]
    return parse_scenario({"name": "bench line", "seed": 1, "horizon": HORIZON,
                           "sources": [{"id": "feed", "saturated": True, "to": "s0"}],
                           "stations": stations})


def _bare(scenario: Any) -> int:
    plant = build_plant(scenario)
    plant.run(HORIZON)
    return plant.exited


def _with_plcs(scenario: Any) -> int:
    """The plant and its PLCs as the closed loop builds them, with no MES reading them."""
    plant = build_plant(scenario)
    make_plcs(plant, line_name(scenario.name), 10.0, immediate_commands=True)
    plant.run(HORIZON)
    return plant.exited


def _closed_loop(scenario: Any) -> int:
    closed = ClosedLoop.build(scenario)
    closed.run()
    return closed.plant.exited


def test_mes_in_the_loop_against_the_bare_plant(benchmark: Any, record_ratio: Any) -> None:
    """Best of 3 each, interleaved."""
    scenario = _line()
    runs: dict[str, Callable[[Any], int]] = {
        "bare_plant": _bare, "plant_plcs": _with_plcs, "mes_loop": _closed_loop}
    best = dict.fromkeys(runs, 0.0)
    cycles = 0
    for _ in range(3):
        for name, run in runs.items():
            start = time.perf_counter()
            parts = run(scenario)
            best[name] = max(best[name], parts / (time.perf_counter() - start))
            cycles = parts * len(scenario.stations)
    benchmark.pedantic(lambda: _closed_loop(scenario), rounds=1, iterations=1)
    per_cycle = {f"us_per_machine_cycle_{name}": 1e6 / (rate * len(scenario.stations))
                 for name, rate in best.items()}
    record_ratio("mes_in_the_loop_parts_per_s", mes_loop=best["mes_loop"],
                 bare_plant=best["bare_plant"], ratio=best["mes_loop"] / best["bare_plant"],
                 target=0.5, plant_plcs=best["plant_plcs"],
                 plant_plcs_ratio=best["plant_plcs"] / best["bare_plant"],
                 mes_loop_against_plant_plcs=best["mes_loop"] / best["plant_plcs"],
                 machine_cycles=cycles, **per_cycle)


def test_events_ingested_per_second_into_sqlite(tmp_path: Path, benchmark: Any,
                                                record_ratio: Any) -> None:
    """Collect a run's events in memory, then time the writer storing all of them."""
    scenario = _line()
    events: list[Any] = []
    closed = ClosedLoop.build(scenario, sinks=[events.extend])
    closed.run()
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    create_all(engine)
    machines = [m.id for s in closed.plant.stations.values() for m in s.machines()]
    writer = StoreWriter(session_factory(engine), START_DATETIME, line_name(scenario.name),
                         machines, ideal_cycle_time=ideal_cycle_times(closed.plant))
    start = time.perf_counter()
    writer(events)
    writer.flush()
    elapsed = time.perf_counter() - start
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    record_ratio("sqlite_ingest", events=len(events), events_per_s=len(events) / elapsed)
    assert writer.written == len(events)
