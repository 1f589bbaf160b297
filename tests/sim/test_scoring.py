"""Scoring without keeping the log: the genealogy truth resolved as the log goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mestwin.mes_core.ledger import ancestors
from mestwin.plantmodels import EventKind, Retention
from mestwin.plantmodels.eventlog import Consume, Drop, Exit, Release
from mestwin.sim.loop import ClosedLoop
from mestwin.sim.scenario import load_scenario
from mestwin.sim.scoring import GenealogyTruth, score_genealogy, score_oee

HORIZON = 86400.0


def _loop(scenarios_dir: Path, retention: Retention) -> ClosedLoop:
    scenario = load_scenario(scenarios_dir / "assembly_line.yaml")
    scenario = scenario.model_copy(update={"horizon": HORIZON, "warmup": 3600.0})
    loop = ClosedLoop.build(scenario, retention=retention)
    loop.run()
    return loop


@pytest.fixture(scope="module")
def kept(request: pytest.FixtureRequest) -> ClosedLoop:
    return _loop(Path(request.config.rootpath) / "scenarios", Retention.ALL)


@pytest.fixture(scope="module")
def unkept(request: pytest.FixtureRequest) -> ClosedLoop:
    return _loop(Path(request.config.rootpath) / "scenarios", Retention.NONE)


def test_scores_without_the_log_equal_scores_from_the_whole_log(kept: ClosedLoop,
                                                                unkept: ClosedLoop) -> None:
    """A loop that keeps no row scores the MES exactly as one that kept them all (the
    latter's genealogy computed from its full log after the run)."""
    assert len(unkept.plant.log.rows) == 0
    assert len(unkept.plant.log) == len(kept.plant.log.rows) > 0
    from_log = score_genealogy(kept.plant, kept.ledger)
    as_it_went = score_genealogy(unkept.genealogy, unkept.ledger)
    assert as_it_went == from_log
    assert from_log.serials > 0
    assert score_oee(unkept.plant, unkept.ledger) == score_oee(kept.plant, kept.ledger)


def test_true_ancestors_match_a_trace_over_the_whole_log(kept: ClosedLoop) -> None:
    """Each finished serial's truth equals a backward trace over every link of the log."""
    parents: dict[str, set[str]] = {}
    finished: list[str] = []
    for record in kept.plant.log.records():
        if isinstance(record, Release) and record.lot:
            parents.setdefault(record.serial, set()).add(record.lot)
        elif isinstance(record, Consume):
            parents.setdefault(record.serial, set()).add(record.consumed)
        elif isinstance(record, Exit) and record.sink != "scrap":
            finished.append(record.serial)
    truth = GenealogyTruth.of_rows(kept.plant.log.rows)
    assert [s for _, s, _ in truth.finished] == finished
    assert all(set(t) == ancestors(parents, s) for _, s, t in truth.finished)
    assert any(t for _, _, t in truth.finished)  # the assembly line has components


def test_links_are_held_only_for_units_still_in_the_plant(kept: ClosedLoop,
                                                          unkept: ClosedLoop) -> None:
    """No serial that left (or went into one that left) keeps its links."""
    gone: set[str] = set()
    for _, serial, true_set in GenealogyTruth.of_rows(kept.plant.log.rows).finished:
        gone |= {serial, *true_set}
    gone |= {r.serial for r in kept.plant.log.records()
             if isinstance(r, Exit | Drop)}
    held = set(unkept.genealogy.parents)
    assert not held & gone
    released = sum(1 for _ in kept.plant.log.records(EventKind.RELEASE))
    assert len(held) < released / 10


def test_the_in_process_loop_scores_finished_serials_as_it_goes(scenarios_dir: Path) -> None:
    """During an in-process run the serials that left are scored and forgotten once the MES
    has seen past their exit: at no flush do more than a few minutes' exits wait."""
    scenario = load_scenario(scenarios_dir / "assembly_line.yaml")
    loop = ClosedLoop.build(scenario.model_copy(update={"horizon": HORIZON, "warmup": 0.0}),
                            retention=Retention.NONE)
    waiting: list[int] = []
    loop.plant.log.listeners.append(lambda _rows: waiting.append(len(loop.genealogy.finished)))
    loop.run()
    score = score_genealogy(loop.genealogy, loop.ledger)
    assert not loop.genealogy.finished
    assert len(waiting) > 100  # flushes with new rows, one per minute at most
    assert score.serials > 100 * max(waiting)
    assert (score.min_precision, score.min_recall) == (1.0, 1.0)


def test_a_plant_without_rows_cannot_be_scored_from_its_log(unkept: ClosedLoop) -> None:
    """Scoring a log that keeps nothing is an error that names the way out."""
    with pytest.raises(ValueError, match="GenealogyTruth"):
        score_genealogy(unkept.plant, unkept.ledger)
