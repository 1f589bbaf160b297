"""On a real plant and its PLCs, a transport that loses one state change leaves a
collection gap on that machine and element, of that state's true duration; a lossless one
leaves none, and the intervals alone equal the truth."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest

from mestwin.mes_core.collection.source import Batch
from mestwin.plantmodels import EventKind
from mestwin.sim.loop import ClosedLoop
from mestwin.sim.scenario import Scenario, load_scenario
from mestwin.sim.truth import TruthRecorder

DOWN = 4  # MachineState / plant state code of a breakdown


def _scenario(scenarios_dir: Path) -> Scenario:
    scenario = load_scenario(scenarios_dir / "two_step_line.yaml")
    return scenario.model_copy(update={"horizon": 3 * 86400.0, "warmup": 0.0})


def _first_breakdown(loop: ClosedLoop, server: int) -> tuple[float, float]:
    """(start, end) of the first DOWN state of pack server *server*, from the event log."""
    rows = [r for r in loop.plant.log.rows
            if r[1] == EventKind.STATE and r[2] == "pack" and r[3] == server]
    for row, after in itertools.pairwise(rows):
        if row[4] == DOWN:
            return float(row[0]), float(after[0])
    raise AssertionError("no breakdown of pack-1 in the run")


def _drop_first_breakdown(loop: ClosedLoop) -> list[float]:
    """Put a lossy transport between the PLCs and the MES: it drops the first
    MachineState = DOWN change of pack-1 (the time of the dropped change is appended to the
    returned list)."""
    collector = loop.collector
    dropped: list[float] = []

    def lossy(batch: Batch) -> None:
        kept = []
        for change in batch:
            if (not dropped and change.machine == "pack-1" and change.value == DOWN
                    and change.path == "PackTags.Status.MachineState"):
                dropped.append(change.time)
                continue
            kept.append(change)
        collector.on_batch(kept)

    loop.source.listeners[:] = [lossy]
    return dropped


@pytest.mark.timeout(120)
def test_a_lossless_in_process_run_has_no_gap_and_its_intervals_are_the_truth(
        scenarios_dir: Path) -> None:
    """Every element of every machine from the intervals alone equals the truth file's."""
    scenario = _scenario(scenarios_dir)
    loop = ClosedLoop.build(scenario)
    stream = io.StringIO()
    recorder = TruthRecorder(loop.plant, stream, scenario.name, scenario.seed, 0.0,
                             scenario.horizon)
    recorder.attach(loop.plant)
    loop.run()
    recorder.finish(scenario.horizon)
    assert loop.collector.gaps == []
    assert loop.ledger.gaps == []
    rows = [json.loads(line) for line in stream.getvalue().splitlines()]
    truth = {r["machine"]: r["elements"] for r in rows if r["type"] == "machine"}
    assert sorted(truth) == sorted(loop.plcs)
    for machine, true in truth.items():
        t = loop.ledger.measurements(machine).time
        mine = {"APT": t.apt, "ASUT": t.asut, "ADET": t.adet, "ADOT": t.adot, "PDOT": t.pdot}
        assert mine == pytest.approx({k: true[k] for k in mine}, abs=1e-6), machine
    assert sum(true["ADET"] for true in truth.values()) > 0


@pytest.mark.timeout(120)
def test_a_dropped_breakdown_change_is_a_gap_of_its_duration_on_that_machine(
        scenarios_dir: Path) -> None:
    """The first MachineState = DOWN change of pack-1 is dropped on its way to the MES:
    pack-1, and only pack-1, has an ADET gap of exactly that breakdown's duration (from the
    event log), and the element that got its time instead has the opposite gap."""
    loop = ClosedLoop.build(_scenario(scenarios_dir))
    dropped = _drop_first_breakdown(loop)
    loop.run()
    start, end = _first_breakdown(loop, 0)
    assert dropped == [start]
    gaps = {g.element: g for g in loop.ledger.gaps}
    assert {g.machine for g in loop.ledger.gaps} == {"pack-1"}
    assert gaps["ADET"].plc_s - gaps["ADET"].intervals_s == pytest.approx(end - start)
    (other,) = set(gaps) - {"ADET"}
    assert gaps[other].intervals_s - gaps[other].plc_s == pytest.approx(end - start)


@pytest.mark.timeout(120)
def test_periodic_reconciliation_finds_the_gap_in_the_hour_it_happened(
        scenarios_dir: Path) -> None:
    """Reconciling every simulated hour, the dropped breakdown is a gap of the span(s) that
    hold it, of its whole duration in total; every other span of the three days is clean."""
    loop = ClosedLoop.build(_scenario(scenarios_dir))
    loop.collector.reconcile_every = 3600.0
    dropped = _drop_first_breakdown(loop)
    loop.run()
    start, end = _first_breakdown(loop, 0)
    assert dropped == [start]
    adet = [g for g in loop.ledger.gaps if g.element == "ADET"]
    assert {g.machine for g in loop.ledger.gaps} == {"pack-1"}
    assert sum(g.plc_s - g.intervals_s for g in adet) == pytest.approx(end - start)
    for gap in loop.ledger.gaps:
        assert gap.start < end
        assert gap.end > start
        assert gap.end - gap.start < 3600.0 + 60.0
