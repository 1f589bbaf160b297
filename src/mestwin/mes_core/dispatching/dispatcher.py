"""The MES dispatcher: releases production orders to work centres through their PLCs.

ISA-95 Part 3 (production dispatching): the MES holds the production orders (one per job,
each a routing of operations on work centres), keeps one dispatch list per work centre and,
whenever a work centre is free, downloads the order its priority rule ranks first to the
machine's PLC by writing ``PackTags.Command.WorkOrder`` (a job download; the PLC hands the
order to the machine and clears the request).

It sees the plant only through a :class:`~mestwin.mes_core.collection.source.TagSource`
and the :class:`~mestwin.mes_core.collection.collector.Collector`'s events:

- a :class:`~mestwin.mes_core.collection.events.Counted` event with a produced count on a
  machine says that the operation of its ``order`` finished at its ``time``; the job then
  waits at the work centre of its next operation from that time on;
- after every batch of tag changes (subscribe the dispatcher to the source *after* the
  collector, so the batch's events are already in), every idle work centre with waiting
  jobs, in work-centre order, starts the job first on its dispatch list.

So all events of an instant are known before any choice is made at that instant, ties go
to the lowest job index, and the dispatcher builds the non-delay schedule of
:func:`~mestwin.mes_core.dispatching.jobshop.non_delay_schedule` (validation reference:
"Job-shop benchmark instances"). Whether a work centre is idle is the dispatcher's own
bookkeeping (an operation runs from its download to its counted completion), not the PackML
state, which a PLC may publish later than the instant it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from mestwin.mes_core.collection.collector import Collector
from mestwin.mes_core.collection.events import Counted, Event, UnitStarted
from mestwin.mes_core.collection.source import Batch, TagSource, TagWriteError
from mestwin.mes_core.dispatching.dispatch_list import (
    DispatchContext,
    DispatchList,
    Job,
    JobProgress,
    Operation,
    SetupTime,
    dispatch_list,
)
from mestwin.mes_core.dispatching.rules import Rule, get_rule

__all__ = ["WORK_ORDER", "DispatchRecord", "Dispatcher", "jobs_from_routings"]

WORK_ORDER = "PackTags.Command.WorkOrder"
"""The PLC tag a job download writes the order id to."""



def _no_setup(_current: str | None, _next: str | None) -> float:
    return 0.0


@dataclass
class DispatchRecord:
    """One dispatched operation as the MES knows it: op *op* of *job* (order *order_id*)
    on *work_centre*, downloaded at *start*; *started* is when the PLC reported the unit
    in work and *end* when its completion was counted (``None`` until seen)."""

    order_id: str
    job: int
    op: int
    work_centre: str
    start: float
    queue: int
    """Rows on the dispatch list when this operation was chosen."""
    started: float | None = None
    end: float | None = None


@dataclass
class _Job:
    job: Job
    next_op: int = 0
    arrival: float = 0.0
    running: DispatchRecord | None = None

    def progress(self) -> JobProgress:
        return JobProgress(self.job, self.next_op, self.arrival, self.running is not None)


@dataclass
class Dispatcher:
    """Dispatches *jobs* (production orders) to the machines of *source* by *rule*.

    *work_centres* fixes the order in which idle work centres choose at one instant
    (default: as they first appear in the routings); *release* is when the orders are
    released (every job is at its first work centre from then on); *setup_time* feeds the
    setup-aware rules (ATCS, SETUP).
    """

    source: TagSource
    jobs: Sequence[Job]
    rule: Rule | str
    work_centres: Sequence[str] | None = None
    release: float = 0.0
    setup_time: SetupTime = _no_setup
    records: list[DispatchRecord] = field(default_factory=list, init=False)
    """Every dispatched operation, in dispatch order."""
    lists: list[DispatchList] = field(default_factory=list, init=False)
    """The dispatch list behind every decision, in dispatch order."""
    errors: list[str] = field(default_factory=list, init=False)
    """What did not add up: refused downloads, completions the MES did not expect."""
    on_finished: list[Callable[[float], None]] = field(default_factory=list, init=False)
    """Called once with the time the last operation of the last job completed."""

    def __post_init__(self) -> None:
        self._rule = get_rule(self.rule)
        indices = [job.index for job in self.jobs]
        orders = [job.order_id for job in self.jobs]
        if len(set(indices)) != len(indices) or len(set(orders)) != len(orders):
            raise ValueError("job indices and order ids must be unique")
        self._jobs = {job.order_id: _Job(job, arrival=self.release) for job in self.jobs}
        routed = list(dict.fromkeys(op.work_centre for job in self.jobs
                                    for op in job.operations))
        centres = list(self.work_centres) if self.work_centres is not None else routed
        missing = sorted(set(routed) - set(centres))
        if missing:
            raise ValueError(f"routings use work centres not in work_centres: {missing}")
        self._centres = centres
        self._busy: dict[str, DispatchRecord | None] = dict.fromkeys(centres)
        self._family: dict[str, str | None] = dict.fromkeys(centres)
        self._finished = False

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, collector: Collector) -> None:
        """Take *collector*'s events and, after it, the source's batches and write errors."""
        collector.sinks.append(self.on_events)
        self.source.subscribe(self.on_batch)
        self.source.on_error.append(self.on_write_error)

    def on_events(self, events: list[Event]) -> None:
        """Collector sink: note starts and completions of dispatched operations."""
        for event in events:
            if isinstance(event, Counted) and event.produced > 0:
                self._completed(event)
            elif isinstance(event, UnitStarted):
                record = self._busy.get(event.machine)
                if record is not None and record.order_id == event.order:
                    record.started = event.time

    def on_batch(self, batch: Batch) -> None:
        """Source listener: after the batch's events are in, dispatch at the batch's time."""
        if batch:
            self.dispatch(max(change.time for change in batch))

    def on_write_error(self, error: TagWriteError) -> None:
        """A download the PLC refused or the transport lost."""
        self.errors.append(str(error))

    # -- dispatching ----------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True when every operation of every job has completed."""
        return all(j.next_op == len(j.job.operations) and j.running is None
                   for j in self._jobs.values())

    def dispatch(self, now: float) -> list[DispatchRecord]:
        """Start the first job of every idle work centre's dispatch list, in work-centre
        order; return what was dispatched. Nothing starts before the release."""
        started: list[DispatchRecord] = []
        if now < self.release:
            return started
        for centre in self._centres:
            if self._busy[centre] is not None:
                continue
            context = DispatchContext(now=now, current_family=self._family[centre],
                                      setup_time=self.setup_time)
            waiting = [j.progress() for j in self._jobs.values()
                       if j.running is None and j.next_op < len(j.job.operations)]
            listed = dispatch_list(centre, waiting, self._rule, context)
            first = listed.first()
            if first is None:
                continue
            job = self._jobs[first.order_id]
            record = DispatchRecord(first.order_id, first.job, first.op, centre, now,
                                    len(listed))
            job.running = record
            job.next_op += 1
            self._busy[centre] = record
            self._family[centre] = first.family
            self.records.append(record)
            self.lists.append(listed)
            started.append(record)
            self.source.write(centre, WORK_ORDER, first.order_id)
        return started

    def _completed(self, event: Counted) -> None:
        job = self._jobs.get(event.order)
        record = self._busy.get(event.machine)
        if job is None or record is None or job.running is not record:
            self.errors.append(f"{event.machine}: completion of {event.order!r} at "
                               f"{event.time:g} that was not dispatched there")
            return
        record.end = event.time
        job.running = None
        job.arrival = event.time
        self._busy[event.machine] = None
        if not self._finished and self.finished:
            self._finished = True
            for listener in self.on_finished:
                listener(event.time)


def jobs_from_routings(routings: Iterable[tuple[str, Sequence[tuple[str, float]]]],
                       due_dates: Sequence[float | None] | None = None) -> list[Job]:
    """Production orders from ``(order id, [(work centre, processing time), ...])`` pairs;
    job indices follow the given order."""
    out: list[Job] = []
    for index, (order_id, steps) in enumerate(routings):
        due = None if due_dates is None else due_dates[index]
        out.append(Job(order_id, index, tuple(Operation(wc, float(p)) for wc, p in steps),
                       due))
    return out
