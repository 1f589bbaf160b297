"""Downtime analysis: the six big losses, Pareto of stop reasons, MTBF and MTTR.

The six big losses are Nakajima's: breakdowns and setup/adjustment (availability), minor
stops and reduced speed (performance), defects/rework and start-up rejects (quality). Every
reason code maps to one of them through a :class:`LossTaxonomy`; the mapping itself comes
from the PLC tag table, so this module only accepts it. Planned stops (ISO 22400-2 PDOT)
are not losses and map to ``None``.

MTBF and MTTR follow ISO 22400-2: MTBF = sum of operating times between failures / number of
failures; MTTR = sum of restoration times / number of failures. Like :mod:`.kpi`, every
undefined ratio (no failure) is ``None``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "DowntimeEvent",
    "LossTaxonomy",
    "ParetoRow",
    "Shift",
    "SixBigLoss",
    "StopCategory",
    "failures",
    "loss_durations",
    "mtbf",
    "mttr",
    "operating_time",
    "pareto",
    "split_at",
    "split_by_shifts",
]


class SixBigLoss(StrEnum):
    """Nakajima's six big losses, grouped by the OEE factor they reduce."""

    BREAKDOWN = "breakdown"
    SETUP_ADJUSTMENT = "setup_adjustment"
    MINOR_STOP = "minor_stop"
    REDUCED_SPEED = "reduced_speed"
    DEFECT_REWORK = "defect_rework"
    STARTUP_REJECT = "startup_reject"

    @property
    def factor(self) -> str:
        """The OEE factor this loss reduces: availability, performance or quality."""
        if self in (SixBigLoss.BREAKDOWN, SixBigLoss.SETUP_ADJUSTMENT):
            return "availability"
        if self in (SixBigLoss.MINOR_STOP, SixBigLoss.REDUCED_SPEED):
            return "performance"
        return "quality"


class StopCategory(StrEnum):
    """The ISO 22400-2 time element a stoppage's duration is booked to."""

    PDOT = "PDOT"
    """Planned down time (planned maintenance, breaks)."""
    ADOT = "ADOT"
    """Actual unit down time: available but running no order."""
    ADET = "ADET"
    """Actual unit delay time: breakdowns and minor stops during an order."""
    ASUT = "ASUT"
    """Actual setup time."""


class LossTaxonomy:
    """Maps reason codes to a :class:`SixBigLoss`, or to ``None`` for planned (non-loss) stops.

    *mapping* values may be :class:`SixBigLoss` members or their string values (as read from
    the tag table). Unknown reason codes raise :class:`KeyError` unless *default* is given:
    an unmapped reason is a configuration error, not a loss to drop silently.
    """

    def __init__(
        self,
        mapping: Mapping[str, SixBigLoss | str | None],
        default: SixBigLoss | None = None,
    ) -> None:
        self._map: Mapping[str, SixBigLoss | None] = MappingProxyType(
            {reason: None if loss is None else SixBigLoss(loss) for reason, loss in mapping.items()}
        )
        self._default = default

    def classify(self, reason: str) -> SixBigLoss | None:
        """Return the loss of *reason* (``None`` for a planned stop)."""
        if reason in self._map:
            return self._map[reason]
        if self._default is not None:
            return self._default
        raise KeyError(f"reason code {reason!r} is not mapped to a loss")

    def __contains__(self, reason: object) -> bool:
        return reason in self._map

    def reasons(self) -> tuple[str, ...]:
        """The mapped reason codes, in mapping order."""
        return tuple(self._map)


@dataclass(frozen=True)
class DowntimeEvent:
    """One stoppage of a work unit from *start* to *end* (seconds on any common clock)."""

    start: float
    end: float
    reason: str
    category: StopCategory
    work_unit: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"downtime ends ({self.end}) before it starts ({self.start})")
        object.__setattr__(self, "category", StopCategory(self.category))

    @property
    def duration(self) -> float:
        """Length of the stoppage in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class Shift:
    """A named shift from *start* (inclusive) to *end* (exclusive)."""

    name: str
    start: float
    end: float


def split_at(event: DowntimeEvent, boundaries: Iterable[float]) -> list[DowntimeEvent]:
    """Cut *event* at every boundary instant strictly inside it; the pieces keep its reason."""
    cuts = sorted(b for b in set(boundaries) if event.start < b < event.end)
    edges = [event.start, *cuts, event.end]
    return [replace(event, start=a, end=b) for a, b in itertools.pairwise(edges)]


def split_by_shifts(
    events: Iterable[DowntimeEvent], shifts: Sequence[Shift]
) -> list[tuple[str | None, DowntimeEvent]]:
    """Attribute each stoppage to shifts, cutting it where it crosses a shift boundary.

    Returns ``(shift name, piece)`` pairs in event order; a piece outside every shift gets
    ``None`` so that no downtime is lost. Durations of the pieces add up to the original.
    """
    boundaries = [t for shift in shifts for t in (shift.start, shift.end)]
    result: list[tuple[str | None, DowntimeEvent]] = []
    for event in events:
        for piece in split_at(event, boundaries):
            owner = next(
                (s.name for s in shifts if s.start <= piece.start < s.end), None
            )
            if piece.duration == 0 and owner is None:
                owner = next((s.name for s in shifts if s.start <= piece.start <= s.end), None)
            result.append((owner, piece))
    return result


@dataclass(frozen=True)
class ParetoRow:
    """One reason of a downtime Pareto chart."""

    reason: str
    duration: float
    count: int
    share: float
    """This reason's fraction of the total of the sort measure (0..1)."""
    cumulative_share: float
    """Running total of *share* down the sorted list (0..1)."""


def pareto(events: Iterable[DowntimeEvent], by: str = "duration") -> list[ParetoRow]:
    """Pareto of stop reasons sorted by total ``"duration"`` or by ``"count"``, descending.

    Ties are broken by the other measure (descending), then by reason code ascending, so the
    order is deterministic. Shares are fractions of the total of the chosen measure; an
    empty or all-zero total yields shares of 0.
    """
    if by not in ("duration", "count"):
        raise ValueError(f"pareto by {by!r}: expected 'duration' or 'count'")
    durations: dict[str, float] = {}
    counts: dict[str, int] = {}
    for event in events:
        durations[event.reason] = durations.get(event.reason, 0.0) + event.duration
        counts[event.reason] = counts.get(event.reason, 0) + 1

    def measure(reason: str) -> float:
        return durations[reason] if by == "duration" else counts[reason]

    def other(reason: str) -> float:
        return counts[reason] if by == "duration" else durations[reason]

    reasons = sorted(durations, key=lambda r: (-measure(r), -other(r), r))
    total = sum(measure(r) for r in reasons)
    rows: list[ParetoRow] = []
    running = 0.0
    for reason in reasons:
        share = measure(reason) / total if total else 0.0
        running += share
        rows.append(ParetoRow(reason, durations[reason], counts[reason], share, running))
    if rows and total:
        last = rows[-1]
        rows[-1] = replace(last, cumulative_share=1.0)
    return rows


def loss_durations(
    events: Iterable[DowntimeEvent], taxonomy: LossTaxonomy
) -> dict[SixBigLoss, float]:
    """Total stop duration per six-big-loss class (planned stops are left out)."""
    totals = dict.fromkeys(SixBigLoss, 0.0)
    for event in events:
        loss = taxonomy.classify(event.reason)
        if loss is not None:
            totals[loss] += event.duration
    return totals


def failures(events: Iterable[DowntimeEvent], taxonomy: LossTaxonomy) -> list[DowntimeEvent]:
    """The stoppages whose reason maps to :attr:`SixBigLoss.BREAKDOWN`, sorted by start."""
    found = [e for e in events if taxonomy.classify(e.reason) is SixBigLoss.BREAKDOWN]
    return sorted(found, key=lambda e: (e.start, e.end))


def operating_time(start: float, end: float, stops: Iterable[DowntimeEvent]) -> float:
    """Time in the window [*start*, *end*) not covered by any stoppage (overlaps merged)."""
    clipped = sorted(
        (max(s.start, start), min(s.end, end)) for s in stops if s.end > start and s.start < end
    )
    down = 0.0
    cur_a: float | None = None
    cur_b = 0.0
    for a, b in clipped:
        if cur_a is None or a > cur_b:
            if cur_a is not None:
                down += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None:
        down += cur_b - cur_a
    return (end - start) - down


def mtbf(operating: float, failure_count: int) -> float | None:
    """Mean operating time between failures = operating time / failures (ISO 22400-2).

    *operating* is the sum of the operating times between failures over the observation
    period (for instance :func:`operating_time` of the period, or AUPT); ``None`` when
    there was no failure.
    """
    if failure_count == 0:
        return None
    return operating / failure_count


def mttr(failure_events: Sequence[DowntimeEvent]) -> float | None:
    """Mean time to restoration = sum of restoration times / failures (ISO 22400-2)."""
    if not failure_events:
        return None
    return sum(e.duration for e in failure_events) / len(failure_events)
