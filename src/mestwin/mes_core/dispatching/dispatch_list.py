"""The MES dispatch list of a work centre (ISA-95 Part 3, dispatching activity).

A dispatch list has one row (:class:`Candidate`) per operation that may start at the work
centre now: the operation's job is at that work centre (its predecessor operation is done and
the operation itself has not started). A priority rule from :mod:`.rules` orders the rows;
ties always go to the lowest job index, then the lowest operation index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from mestwin.mes_core.dispatching.rules import Rule, get_rule

__all__ = [
    "Candidate",
    "DispatchContext",
    "DispatchList",
    "Job",
    "JobProgress",
    "Operation",
    "candidates_at",
    "dispatch_list",
    "order",
]

SetupTime = Callable[[str | None, str | None], float]
"""Sequence-dependent setup time from the current family (first) to a candidate's family."""


@dataclass(frozen=True)
class Operation:
    """One routing step: where it runs, how long it takes and its setup family."""

    work_centre: str
    processing_time: float
    family: str | None = None


@dataclass(frozen=True)
class Job:
    """A production order as the dispatcher sees it: its index, operations and due date."""

    order_id: str
    index: int
    operations: tuple[Operation, ...]
    due_date: float | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class JobProgress:
    """Where a job stands: its next operation, when it got there and whether it is running.

    *next_op* is the index of the first operation not yet started; *arrival* is the time the
    job arrived at that operation's work centre (its predecessor's completion, or its
    release for the first operation); *running* is true while an operation is in progress.
    """

    job: Job
    next_op: int
    arrival: float
    running: bool = False


@dataclass(frozen=True)
class Candidate:
    """A dispatch-list row: an operation that may start at the work centre now.

    *remaining_work* and *remaining_ops* count this operation and all later ones of the job.
    """

    order_id: str
    job: int
    op: int
    processing_time: float
    due_date: float | None
    arrival: float
    remaining_work: float
    remaining_ops: int
    family: str | None = None
    weight: float = 1.0


def _no_setup(_current: str | None, _next: str | None) -> float:
    return 0.0


@dataclass(frozen=True)
class DispatchContext:
    """What a rule may know besides the candidate: the clock and the work centre's state.

    *mean_processing_time* (pbar) and *mean_setup_time* (sbar) scale the ATC/ATCS look-ahead;
    :func:`order` fills them from the candidate set when left as ``None``.
    """

    now: float
    current_family: str | None = None
    setup_time: SetupTime = field(default=_no_setup)
    mean_processing_time: float | None = None
    mean_setup_time: float | None = None


def candidates_at(work_centre: str, jobs: Iterable[JobProgress]) -> list[Candidate]:
    """The rows of *work_centre*'s dispatch list: waiting jobs whose next step runs there."""
    rows: list[Candidate] = []
    for progress in jobs:
        job = progress.job
        if progress.running or progress.next_op >= len(job.operations):
            continue
        operation = job.operations[progress.next_op]
        if operation.work_centre != work_centre:
            continue
        rest = job.operations[progress.next_op:]
        rows.append(
            Candidate(
                order_id=job.order_id, job=job.index, op=progress.next_op,
                processing_time=operation.processing_time, due_date=job.due_date,
                arrival=progress.arrival,
                remaining_work=sum(o.processing_time for o in rest),
                remaining_ops=len(rest), family=operation.family, weight=job.weight,
            )
        )
    return rows


def _complete(context: DispatchContext, rows: Sequence[Candidate]) -> DispatchContext:
    pbar = context.mean_processing_time
    sbar = context.mean_setup_time
    if pbar is None:
        pbar = sum(c.processing_time for c in rows) / len(rows) if rows else 0.0
    if sbar is None:
        setups = [context.setup_time(context.current_family, c.family) for c in rows]
        sbar = sum(setups) / len(setups) if setups else 0.0
    return DispatchContext(
        now=context.now, current_family=context.current_family,
        setup_time=context.setup_time, mean_processing_time=pbar, mean_setup_time=sbar,
    )


def order(
    rows: Iterable[Candidate], rule: Rule | str, context: DispatchContext
) -> list[Candidate]:
    """Sort *rows* by *rule* (a rule or its registry name); ties to lowest job, then op."""
    chosen = get_rule(rule) if isinstance(rule, str) else rule
    items = list(rows)
    full = _complete(context, items)
    return sorted(items, key=lambda c: (*chosen(c, full), c.job, c.op))


@dataclass(frozen=True)
class DispatchList:
    """The ordered dispatch list of one work centre at one instant."""

    work_centre: str
    now: float
    rule: str
    rows: tuple[Candidate, ...]

    def first(self) -> Candidate | None:
        """The operation to start next, or ``None`` when nothing waits."""
        return self.rows[0] if self.rows else None

    def __len__(self) -> int:
        return len(self.rows)


def dispatch_list(
    work_centre: str,
    jobs: Iterable[JobProgress],
    rule: Rule | str,
    context: DispatchContext,
) -> DispatchList:
    """Build and order the dispatch list of *work_centre* at ``context.now``."""
    name = rule if isinstance(rule, str) else getattr(rule, "name", repr(rule))
    rows = order(candidates_at(work_centre, jobs), rule, context)
    return DispatchList(work_centre=work_centre, now=context.now, rule=name, rows=tuple(rows))
