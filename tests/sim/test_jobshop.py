"""Job shop: benchmark instances through the simulated shop, its PLCs and the MES.

Acceptance (issue 4): ft06 and ft10 run with MES dispatching; every schedule is feasible,
never below the optimum (55, 930) and equal, operation by operation, to the reference
non-delay schedule of the same rule and tie-break; the MES's own schedule equals what the
plant really did. The makespans pinned here are recorded in docs/jobshop.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mestwin.cli import main
from mestwin.mes_core.collection.events import Counted, Event
from mestwin.mes_core.dispatching import (
    Dispatcher,
    KeyRule,
    Rule,
    check_schedule,
    load_benchmark,
    parse_instance,
)
from mestwin.sim.jobshop import compare_schedules, jobshop_scenario, order_id, run_jobshop

MAKESPANS = {
    "ft06": {"SPT": 88, "MWKR": 61, "FIFO": 65, "LPT": 77, "LWKR": 83, "MOPNR": 59},
    "ft10": {"SPT": 1074, "MWKR": 1108, "FIFO": 1184, "LPT": 1295, "LWKR": 1334,
             "MOPNR": 1163},
}
OPTIMUM = {"ft06": 55, "ft10": 930}
CASES = [(name, rule) for name, rules in MAKESPANS.items() for rule in rules]


@pytest.mark.parametrize(("name", "rule"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_benchmark_through_the_shop_equals_the_reference(name: str, rule: str) -> None:
    """Feasible, at or above the optimum, equal to the reference non-delay schedule and to
    the plant's ground truth, with every operation started by a PLC job download."""
    instance = load_benchmark(name)
    run = run_jobshop(instance, rule)
    assert check_schedule(run.mes) == []
    assert check_schedule(run.truth) == []
    assert run.errors == ()
    assert instance.optimum == OPTIMUM[name]
    assert run.makespan >= OPTIMUM[name]
    assert run.makespan == MAKESPANS[name][rule]
    assert compare_schedules(run.mes, run.reference) == []
    assert compare_schedules(run.mes, run.truth) == []
    assert len(run.mes.operations) == sum(len(job) for job in instance.jobs)
    for m in range(instance.num_machines):
        assert run.downloads[f"M{m}"] == tuple(
            order_id(instance, j) for j in run.reference.machine_sequence(m))


def test_the_scan_cycle_does_not_change_the_schedule() -> None:
    """Commands are taken when written and the process image follows the plant, so a 1 s
    or a 60 s scan gives the same ft06 schedule."""
    instance = load_benchmark("ft06")
    fast = run_jobshop(instance, "MWKR", scan_time_s=1.0)
    slow = run_jobshop(instance, "MWKR", scan_time_s=60.0)
    assert fast.equals_reference
    assert slow.equals_reference
    assert compare_schedules(fast.mes, slow.mes) == []


def test_zero_duration_operations_and_other_rules_agree_too() -> None:
    """A hand instance with zero-duration operations, under rules with and without due-date
    information, equals the reference and the ground truth."""
    instance = parse_instance("4 3\n0 0 1 2 2 0\n1 0 0 0 2 3\n2 0 0 2\n0 1 1 0 2 0\n", "zeros")
    for rule in ("FIFO", "SPT", "LPT", "MWKR", "LWKR", "MOPNR", "EDD", "ATC", "SETUP"):
        run = run_jobshop(instance, rule)
        assert run.feasible, rule
        assert run.equals_reference, rule
        assert run.mes_equals_truth, rule


def test_the_mes_sees_every_start_when_it_orders_it() -> None:
    """The unit start the PLC publishes (CurrentSerial) carries the download's instant."""
    instance = load_benchmark("ft06")
    scenario = jobshop_scenario(instance)
    assert [s.dispatch for s in scenario.stations] == ["external"] * instance.num_machines
    started: list[float] = []

    class Watching(Dispatcher):
        def on_events(self, events: list[Event]) -> None:
            super().on_events(events)
            started.extend(r.started for r in self.records
                           if r.started is not None and r.started != r.start)

    run = run_jobshop(instance, "SPT", dispatcher_type=Watching)
    assert run.equals_reference
    assert started == []


def test_a_job_that_revisits_a_machine_is_refused() -> None:
    """Process times are per station and product: a job visiting a machine twice cannot
    be modelled, and the error says which."""
    instance = parse_instance("1 2\n0 1 1 2 0 3\n", "revisit")
    with pytest.raises(ValueError, match=r"job 0 visits machine\(s\) \[0\]"):
        run_jobshop(instance, "SPT")


# -- the comparison has power ---------------------------------------------------------------

class EagerDispatcher(Dispatcher):
    """Wrong on purpose: chooses after each completion instead of after the whole instant."""

    def on_events(self, events: list[Event]) -> None:
        for event in events:
            super().on_events([event])
            if isinstance(event, Counted) and event.produced:
                self.dispatch(event.time)


FIFO_HIGH = KeyRule("FIFO", lambda c, ctx: (c.arrival, -c.job))
"""FIFO with ties to the highest job index (wrong tie-break)."""
MWKR_EXCL = KeyRule("MWKR", lambda c, ctx: (-(c.remaining_work - c.processing_time),))
"""MWKR not counting the operation being dispatched."""


@pytest.mark.parametrize(("name", "rule", "reference"), [
    ("ft06", FIFO_HIGH, "FIFO"), ("ft10", FIFO_HIGH, "FIFO"),
    ("ft06", MWKR_EXCL, "MWKR"), ("ft10", MWKR_EXCL, "MWKR"),
], ids=["ft06-tiebreak", "ft10-tiebreak", "ft06-mwkr-excl", "ft10-mwkr-excl"])
def test_a_wrong_rule_variant_is_caught(name: str, rule: Rule, reference: str) -> None:
    """A wrong tie-break or remaining work without the current operation gives a feasible
    schedule that differs from the reference."""
    run = run_jobshop(load_benchmark(name), rule, reference_rule=reference)
    assert run.feasible
    assert run.mes_equals_truth
    assert not run.equals_reference
    assert compare_schedules(run.mes, run.reference)


def test_choosing_before_the_instant_is_complete_is_caught() -> None:
    """A dispatcher that chooses after each completion instead of after the whole instant
    builds a different ft10 MWKR schedule (12 operations move)."""
    run = run_jobshop(load_benchmark("ft10"), "MWKR", dispatcher_type=EagerDispatcher)
    assert run.feasible
    assert run.mes_equals_truth
    assert len(compare_schedules(run.mes, run.reference)) == 12


# -- the command line ---------------------------------------------------------------------

def _mestwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mestwin.cli", *args], capture_output=True,
                          text=True, check=False)


def test_cli_json_reports_the_schedule_against_the_optimum() -> None:
    """`mestwin jobshop ft06 --rule FIFO --json` prints one object with the contract keys,
    the FIFO makespan 65 against the optimum 55 and all 36 operations."""
    done = _mestwin("jobshop", "ft06", "--rule", "FIFO", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"instance", "rule", "makespan", "optimum", "lower_bound", "gap_pct", "feasible",
            "equals_reference", "schedule"} <= set(result)
    assert (result["instance"], result["rule"], result["makespan"]) == ("ft06", "FIFO", 65)
    assert result["optimum"] == 55
    assert result["gap_pct"] == pytest.approx(100 * 10 / 55)
    assert result["feasible"]
    assert result["equals_reference"]
    assert result["mes_equals_plant"]
    assert len(result["schedule"]) == 36
    assert set(result["schedule"][0]) == {"job", "operation", "machine", "start", "end"}
    assert max(op["end"] for op in result["schedule"]) == 65


def test_cli_reads_instance_files_and_rejects_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file in the "n m / machine duration pairs" format runs (text output); an unknown
    rule, an unknown instance and a job revisiting a machine exit 2 with the reason."""
    path = tmp_path / "tiny.txt"
    path.write_text("3 2\n0 3 1 2\n0 2 1 3\n1 6 0 1\n", encoding="utf-8")
    assert main(["jobshop", str(path), "--rule", "SPT"]) == 0
    out = capsys.readouterr().out
    assert "makespan: 11" in out
    assert "lower bound: unknown" in out
    assert main(["jobshop", str(path), "--rule", "BEST"]) == 2
    assert "unknown dispatching rule 'BEST'" in capsys.readouterr().err
    assert main(["jobshop", "no-such-instance", "--rule", "SPT"]) == 2
    assert "no-such-instance" in capsys.readouterr().err
    revisit = tmp_path / "revisit.txt"
    revisit.write_text("1 2\n0 1 1 2 0 3\n", encoding="utf-8")
    assert main(["jobshop", str(revisit)]) == 2
    assert "more than once" in capsys.readouterr().err
