"""Dispatching rules and the dispatch list of a work centre."""

from __future__ import annotations

import math

import pytest

from mestwin.mes_core.dispatching import (
    ATC,
    ATCS,
    Candidate,
    DispatchContext,
    Job,
    JobProgress,
    Operation,
    SetupFamily,
    candidates_at,
    dispatch_list,
    get_rule,
    order,
)


def cand(
    job: int, p: float = 1.0, *, due: float | None = None, arrival: float = 0.0,
    work: float | None = None, ops: int = 1, family: str | None = None, weight: float = 1.0,
) -> Candidate:
    return Candidate(
        order_id=f"PO{job}", job=job, op=0, processing_time=p, due_date=due, arrival=arrival,
        remaining_work=p if work is None else work, remaining_ops=ops, family=family,
        weight=weight,
    )


def jobs_of(rows: list[Candidate]) -> list[int]:
    return [c.job for c in rows]


NOW = DispatchContext(now=10.0)
# A: long wait, much work left; B: urgent; C: late, short; D: no due date.
ROWS = [
    cand(0, 3, due=20, arrival=1, work=5, ops=1),
    cand(1, 2, due=12, arrival=4, work=4, ops=2),
    cand(2, 1, due=8, arrival=7, work=2, ops=4),
    cand(3, 5, due=None, arrival=0, work=9, ops=3),
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("FIFO", [3, 0, 1, 2]),
        ("SPT", [2, 1, 0, 3]),
        ("LPT", [3, 0, 1, 2]),
        ("EDD", [2, 1, 0, 3]),
        ("CR", [2, 1, 0, 3]),  # -1.0, 0.5, 2.0, no due date last
        ("S/OPN", [1, 2, 0, 3]),  # -1.0 (job 1) ties -1.0 (job 2): lower index first
        ("MWKR", [3, 0, 1, 2]),
        ("LWKR", [2, 1, 0, 3]),
        ("MOPNR", [2, 3, 1, 0]),
    ],
)
def test_simple_rules_rank_a_hand_computed_list(name: str, expected: list[int]) -> None:
    """Each rule orders the same four rows as its textbook definition says."""
    assert jobs_of(order(ROWS, name, NOW)) == expected


def test_ties_go_to_the_lowest_job_index_whatever_the_input_order() -> None:
    """Equal keys never depend on list order: lowest job index, then lowest op index."""
    rows = [cand(5, 2), cand(1, 2), cand(3, 2)]
    for name in ("FIFO", "SPT", "LPT", "MWKR", "EDD"):
        assert jobs_of(order(rows, name, NOW)) == [1, 3, 5]
        assert jobs_of(order(list(reversed(rows)), name, NOW)) == [1, 3, 5]


def test_fifo_prefers_the_longest_waiting_job_over_a_lower_index() -> None:
    """FIFO is arrival at this machine, not job index."""
    assert jobs_of(order([cand(0, arrival=5), cand(1, arrival=2)], "FIFO", NOW)) == [1, 0]


def test_atc_look_ahead_parameter_changes_the_choice() -> None:
    """ATC index (w/p) exp(-max(0, d-p-t)/(k1 pbar)): small k1 favours the urgent job."""
    a = cand(0, 2, due=20)  # slack 8
    b = cand(1, 4, due=14)  # slack 0 -> index 1/4
    c = cand(2, 1, due=None)  # no due date -> index 0
    rows = [a, b, c]
    pbar = 7 / 3
    atc = ATC(k1=2)
    full = DispatchContext(now=10, mean_processing_time=pbar)
    assert atc(a, full) == pytest.approx((-0.5 * math.exp(-8 / (2 * pbar)),))
    assert atc(b, full) == (-0.25,)
    assert jobs_of(order(rows, atc, NOW)) == [1, 0, 2]
    assert jobs_of(order(rows, get_rule("atc", k1=20), NOW)) == [0, 1, 2]


def test_atcs_penalises_a_family_change() -> None:
    """With equal urgency, ATCS picks the job needing no setup although its index is higher."""
    setup = DispatchContext(
        now=0, current_family="X", setup_time=lambda f, g: 0.0 if f == g else 10.0
    )
    d = cand(0, 2, due=2, family="Y")
    e = cand(1, 2, due=2, family="X")
    assert jobs_of(order([d, e], ATC(), setup)) == [0, 1]
    assert jobs_of(order([d, e], ATCS(k1=2, k2=1), setup)) == [1, 0]
    # sbar = (10 + 0) / 2 = 5, so the setup factor of d is exp(-10 / 5).
    filled = DispatchContext(
        now=0, current_family="X", setup_time=setup.setup_time,
        mean_processing_time=2, mean_setup_time=5,
    )
    assert ATCS()(d, filled) == pytest.approx((-0.5 * math.exp(-2),))


def test_setup_family_rule_keeps_the_family_then_uses_the_secondary_rule() -> None:
    """Same-family candidates first (by SPT), then the others (by SPT)."""
    rows = [cand(0, 1, family="B"), cand(1, 5, family="A"), cand(2, 3, family="A")]
    ctx = DispatchContext(now=0, current_family="A")
    assert jobs_of(order(rows, "SETUP", ctx)) == [2, 1, 0]
    assert jobs_of(order(rows, SetupFamily(get_rule("LPT")), ctx)) == [1, 2, 0]
    assert jobs_of(order(rows, "setup", DispatchContext(now=0))) == [0, 2, 1]


def test_registry_is_case_insensitive_and_rejects_unknown_names() -> None:
    """Rules are looked up by name; a typo fails loudly."""
    assert get_rule("spt").name == "SPT"
    assert get_rule("SOPN") is get_rule("s/opn")
    assert get_rule("SETUP", secondary="EDD").name == "SETUP+EDD"
    with pytest.raises(KeyError, match="unknown dispatching rule"):
        get_rule("SPTT")


SHOP = [
    Job("PO-1", 0, (Operation("mill", 4), Operation("lathe", 2), Operation("mill", 1))),
    Job("PO-2", 1, (Operation("lathe", 3), Operation("mill", 6, family="steel")), due_date=50),
    Job("PO-3", 2, (Operation("mill", 2),)),
    Job("PO-4", 3, (Operation("mill", 9),)),
]


def test_dispatch_list_holds_only_waiting_operations_of_this_work_centre() -> None:
    """Rows: next op at this centre, predecessor done, not running, job not finished."""
    progress = [
        JobProgress(SHOP[0], next_op=0, arrival=0.0),
        JobProgress(SHOP[1], next_op=1, arrival=7.0),
        JobProgress(SHOP[2], next_op=0, arrival=3.0, running=True),
        JobProgress(SHOP[3], next_op=1, arrival=9.0),  # finished
    ]
    rows = candidates_at("mill", progress)
    assert [(c.order_id, c.op) for c in rows] == [("PO-1", 0), ("PO-2", 1)]
    first = rows[0]
    assert (first.remaining_work, first.remaining_ops) == (7, 3)
    assert (rows[1].remaining_work, rows[1].remaining_ops, rows[1].family) == (6, 1, "steel")
    assert candidates_at("lathe", progress) == []


def test_dispatch_list_is_ordered_by_the_rule() -> None:
    """MWKR puts PO-1 (7 left, counting this op) before PO-2 (6 left); LWKR the reverse."""
    progress = [JobProgress(SHOP[0], 0, 0.0), JobProgress(SHOP[1], 1, 7.0)]
    mwkr = dispatch_list("mill", progress, "MWKR", DispatchContext(now=7))
    assert [c.order_id for c in mwkr.rows] == ["PO-1", "PO-2"]
    assert mwkr.first() is mwkr.rows[0]
    assert (mwkr.rule, len(mwkr)) == ("MWKR", 2)
    lwkr = dispatch_list("mill", progress, get_rule("LWKR"), DispatchContext(now=7))
    assert [c.order_id for c in lwkr.rows] == ["PO-2", "PO-1"]
    assert dispatch_list("saw", progress, "SPT", DispatchContext(now=7)).first() is None
