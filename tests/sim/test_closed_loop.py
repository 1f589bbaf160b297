"""The MES, fed only by PLC tags, reproduces what really happened on every machine.

In process (one clock, every tag change delivered), the MES's ISO 22400 counts per machine
equal the ground truth exactly, its time elements equal it to floating-point rounding, and
its backward trace of every finished serial equals the true genealogy set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mestwin.sim.loop import ClosedLoop
from mestwin.sim.scenario import load_scenario
from mestwin.sim.scoring import score_genealogy, score_oee
from tests.conftest import SCENARIOS

HORIZON = {"bottling_line": 6 * 3600.0}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_mes_figures_equal_ground_truth_in_process(path: Path) -> None:
    """Counts exact, elements within 1e-6 s, KPIs within 1e-9, trace sets exact."""
    scenario = load_scenario(path)
    horizon = HORIZON.get(path.stem, min(scenario.horizon, 3 * 86400))
    scenario = scenario.model_copy(update={"horizon": horizon,
                                           "warmup": min(scenario.warmup, horizon / 4)})
    loop = ClosedLoop.build(scenario)
    loop.run()
    scores = score_oee(loop.plant, loop.ledger)
    assert len(scores) == sum(s.servers for s in loop.plant.stations.values())
    for score in scores:
        assert score.counts_equal, (score.machine, score.truth, score.mes)
        assert score.truth["PQ"], score.machine  # every machine produced something
        assert score.max_element_error_s() < 1e-6, score.machine
        assert score.max_kpi_error_pp() < 1e-7, score.machine
    genealogy = score_genealogy(loop.plant, loop.ledger)
    assert genealogy.serials > 0
    assert genealogy.min_precision == 1.0, genealogy.mismatches
    assert genealogy.min_recall == 1.0, genealogy.mismatches


def test_a_mes_that_misses_changes_is_caught() -> None:
    """Negative control: drop every 50th tag change on the way to the MES and the score
    shows it (the comparison has power). The window starts after a warm-up, so time comes
    from the MES's state intervals (cumulative PLC state times only cover a window that
    starts when the MES connected, and would repair the loss)."""
    scenario = load_scenario(Path(__file__).parents[2] / "scenarios" / "two_step_line.yaml")
    scenario = scenario.model_copy(update={"horizon": 86400.0, "warmup": 3600.0})
    loop = ClosedLoop.build(scenario)
    deliver = loop.source.deliver
    seen = [0]

    def lossy(batch):  # type: ignore[no-untyped-def]
        kept = []
        for change in batch:
            seen[0] += 1
            if seen[0] % 50:
                kept.append(change)
        deliver(kept)

    loop.source.deliver = lossy  # type: ignore[method-assign]
    loop.run()
    scores = score_oee(loop.plant, loop.ledger)
    assert any(s.max_element_error_s() > 1.0 for s in scores)


def test_a_frozen_plc_is_detected_from_its_heartbeat_and_so_is_its_recovery() -> None:
    """One PLC of the line freezes for ten minutes (fault injection) while the plant runs on:
    the MES flags it within the heartbeat timeout, and clears it when the PLC scans again."""
    from mestwin.mes_core.collection.events import Frozen

    scenario = load_scenario(Path(__file__).parents[2] / "scenarios" / "two_step_line.yaml")
    scenario = scenario.model_copy(update={"horizon": 7200.0, "warmup": 0.0})
    flags: list[Frozen] = []
    loop = ClosedLoop.build(scenario, scan_time_s=1.0,
                            sinks=[lambda events: flags.extend(
                                e for e in events if isinstance(e, Frozen))])
    loop.plant.run(1000.0)
    assert flags == []
    loop.plcs["cut"].freeze()
    loop.plant.run(1600.0)
    loop.plcs["cut"].unfreeze()
    loop.run()
    assert [(f.machine, f.frozen) for f in flags] == [("cut", True), ("cut", False)]
    timeout = loop.collector.heartbeat_timeout
    assert 1000.0 + timeout <= flags[0].time <= 1000.0 + 1.5 * timeout + 1.0
    assert 1600.0 <= flags[1].time <= 1601.0
