"""Six big losses, downtime Pareto, MTBF/MTTR and shift splitting."""

from __future__ import annotations

import pytest

from mestwin.mes_core.losses import (
    DowntimeEvent,
    LossTaxonomy,
    Shift,
    SixBigLoss,
    StopCategory,
    failures,
    loss_durations,
    mtbf,
    mttr,
    operating_time,
    pareto,
    split_at,
    split_by_shifts,
)

TAXONOMY = LossTaxonomy(
    {
        "jam": "minor_stop",
        "motor": SixBigLoss.BREAKDOWN,
        "changeover": "setup_adjustment",
        "break": None,
    }
)


def ev(start: float, end: float, reason: str, cat: str = "ADET") -> DowntimeEvent:
    return DowntimeEvent(start, end, reason, StopCategory(cat))


EVENTS = [
    ev(0, 10, "jam"),
    ev(20, 80, "motor"),
    ev(100, 105, "jam"),
    ev(200, 230, "changeover", "ASUT"),
    ev(300, 310, "jam"),
    ev(400, 460, "break", "PDOT"),
]


def test_taxonomy_accepts_tag_table_strings_and_rejects_unknown_reasons() -> None:
    """Values may be strings from the tag table; an unmapped reason is an error, not a loss."""
    assert TAXONOMY.classify("jam") is SixBigLoss.MINOR_STOP
    assert TAXONOMY.classify("break") is None
    with pytest.raises(KeyError, match="not mapped"):
        TAXONOMY.classify("cosmic ray")
    lenient = LossTaxonomy({}, default=SixBigLoss.MINOR_STOP)
    assert lenient.classify("anything") is SixBigLoss.MINOR_STOP
    with pytest.raises(ValueError, match="not_a_loss"):
        LossTaxonomy({"x": "not_a_loss"})


def test_six_big_losses_group_by_oee_factor() -> None:
    """Breakdowns and setups hit availability, stops and speed performance, rejects quality."""
    factors = {loss: loss.factor for loss in SixBigLoss}
    assert factors[SixBigLoss.BREAKDOWN] == factors[SixBigLoss.SETUP_ADJUSTMENT] == "availability"
    assert factors[SixBigLoss.MINOR_STOP] == factors[SixBigLoss.REDUCED_SPEED] == "performance"
    assert factors[SixBigLoss.DEFECT_REWORK] == factors[SixBigLoss.STARTUP_REJECT] == "quality"


def test_loss_durations_leave_planned_stops_out() -> None:
    """Durations add up per loss class; the planned break is not a loss."""
    totals = loss_durations(EVENTS, TAXONOMY)
    assert totals[SixBigLoss.MINOR_STOP] == 25
    assert totals[SixBigLoss.BREAKDOWN] == 60
    assert totals[SixBigLoss.SETUP_ADJUSTMENT] == 30
    assert sum(totals.values()) == 115


def test_pareto_by_duration_sorted_with_cumulative_share() -> None:
    """Reasons sorted by total duration, descending, with running cumulative share."""
    rows = pareto(EVENTS)
    assert [r.reason for r in rows] == ["break", "motor", "changeover", "jam"]
    assert [r.duration for r in rows] == [60, 60, 30, 25]
    assert [r.count for r in rows] == [1, 1, 1, 3]
    assert rows[0].share == pytest.approx(60 / 175)
    assert [r.cumulative_share for r in rows] == pytest.approx([60 / 175, 120 / 175, 150 / 175, 1])


def test_pareto_by_count_breaks_ties_by_duration_then_name() -> None:
    """By count, jam (3 stops) leads; equal counts fall back to duration, then reason code."""
    rows = pareto(EVENTS, by="count")
    assert [r.reason for r in rows] == ["jam", "break", "motor", "changeover"]
    assert rows[0].share == pytest.approx(0.5)
    assert pareto([]) == []
    with pytest.raises(ValueError, match="expected"):
        pareto(EVENTS, by="cost")


def test_mtbf_and_mttr_follow_the_reference_definitions() -> None:
    """MTBF = operating time / failures, MTTR = restoration time / failures."""
    stops = [
        ev(100, 150, "motor"), ev(400, 450, "motor"), ev(800, 900, "motor"), ev(600, 610, "jam")
    ]
    broken = failures(stops, TAXONOMY)
    assert [e.start for e in broken] == [100, 400, 800]
    up = operating_time(0, 1000, broken)
    assert up == 800
    assert mtbf(up, len(broken)) == pytest.approx(800 / 3)
    assert mttr(broken) == pytest.approx(200 / 3)
    assert mtbf(1000, 0) is None
    assert mttr([]) is None


def test_operating_time_merges_overlaps_and_clips_to_the_window() -> None:
    """Overlapping stops count once; parts outside the window do not count."""
    stops = [ev(-50, 10, "jam"), ev(5, 20, "jam"), ev(90, 200, "motor")]
    assert operating_time(0, 100, stops) == 100 - 20 - 10


def test_split_at_boundaries_keeps_the_reason_and_total_duration() -> None:
    """A stop is cut at each boundary strictly inside it."""
    pieces = split_at(ev(50, 250, "motor"), [0, 100, 200, 250, 300])
    assert [(p.start, p.end) for p in pieces] == [(50, 100), (100, 200), (200, 250)]
    assert {p.reason for p in pieces} == {"motor"}


def test_stop_across_shift_change_is_split_between_shifts() -> None:
    """A breakdown from 21:30 to 22:30 books 30 min to each shift; time outside goes to None."""
    shifts = [Shift("late", 14 * 3600, 22 * 3600), Shift("night", 22 * 3600, 30 * 3600)]
    stop = ev(21.5 * 3600, 22.5 * 3600, "motor")
    early = ev(13 * 3600, 14.25 * 3600, "jam")
    out = split_by_shifts([stop, early], shifts)
    assert [(name, piece.duration) for name, piece in out] == [
        ("late", 1800), ("night", 1800), (None, 3600), ("late", 900)
    ]


def test_downtime_event_rejects_negative_duration() -> None:
    """An event that ends before it starts is a data error."""
    with pytest.raises(ValueError, match="before it starts"):
        ev(10, 5, "jam")
