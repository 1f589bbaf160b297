"""A job shop run through the simulated plant, its virtual PLCs and the MES's dispatching.

A job-shop :class:`~mestwin.mes_core.dispatching.jobshop.Instance` becomes a scenario: one
station per machine (``M0``, ``M1``, ...; one server, unlimited buffer, ``dispatch:
external`` so that it works only on orders the MES downloads), one product per job whose
routing is the job's machine sequence with constant process times, and one order per job
(quantity 1, released at 0). The MES's :class:`~mestwin.mes_core.dispatching.Dispatcher`
reads the PLCs' tags in process and downloads work orders through ``WorkOrder``.

The run yields three schedules, which the validation reference ("Job-shop benchmark
instances") says must agree: the MES's own (its dispatch decisions and the completions it
counted), the plant's ground truth (from the event log) and the reference non-delay
schedule of the same rule (:func:`~mestwin.mes_core.dispatching.non_delay_schedule`).

A job that visits a machine twice cannot be modelled: a product's process time is per
station, so such instances are refused with a :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from mestwin.mes_core.dispatching import (
    Dispatcher,
    Instance,
    Job,
    Rule,
    Schedule,
    ScheduledOperation,
    check_schedule,
    get_rule,
    jobs_from_routings,
    non_delay_schedule,
)
from mestwin.plantmodels import Plant
from mestwin.plantmodels.eventlog import Complete, Release, StateChange
from mestwin.sim.loop import ClosedLoop
from mestwin.sim.scenario import Scenario, parse_scenario

__all__ = [
    "JobShopRun",
    "compare_schedules",
    "jobshop_scenario",
    "machine_name",
    "mes_schedule",
    "order_id",
    "production_orders",
    "run_jobshop",
    "truth_schedule",
]

PROCESSING = 1
"""``MachineState.PROCESSING`` in the plant's STATE rows."""


def machine_name(machine: int) -> str:
    """The station (and PLC machine) id of machine index *machine*."""
    return f"M{machine}"


def order_id(instance: Instance, job: int) -> str:
    """The production order id of *job*: ``J`` and the zero-padded job index."""
    return f"J{job:0{len(str(max(instance.num_jobs - 1, 0)))}d}"


def _product(instance: Instance, job: int) -> str:
    return "job" + order_id(instance, job)[1:]


def check_routable(instance: Instance) -> None:
    """Refuse instances the plant cannot model: a job that visits a machine twice."""
    for j, job in enumerate(instance.jobs):
        machines = [m for m, _ in job]
        repeated = sorted({m for m in machines if machines.count(m) > 1})
        if repeated:
            raise ValueError(
                f"{instance.name}: job {j} visits machine(s) {repeated} more than once; a "
                "product's process time is per station, so the simulated shop cannot run it")


def jobshop_scenario(instance: Instance) -> Scenario:
    """The scenario of *instance* (see module docs); horizon = total work + 1."""
    check_routable(instance)
    total = sum(d for job in instance.jobs for _, d in job)
    stations: list[dict[str, Any]] = []
    for m in range(instance.num_machines):
        times = {_product(instance, j): float(d) for j, job in enumerate(instance.jobs)
                 for machine, d in job if machine == m}
        if times:
            stations.append({"id": machine_name(m), "process_time": times,
                             "dispatch": "external"})
    return parse_scenario({
        "name": instance.name, "horizon": float(total + 1),
        "products": [{"id": _product(instance, j),
                      "routing": [machine_name(m) for m, _ in job]}
                     for j, job in enumerate(instance.jobs) if job],
        "sources": [{"id": "orders", "orders": [
            {"id": order_id(instance, j), "product": _product(instance, j), "quantity": 1}
            for j, job in enumerate(instance.jobs) if job]}],
        "stations": stations,
    }, file=f"<job shop {instance.name}>")


def production_orders(instance: Instance,
                      due_dates: Sequence[float | None] | None = None) -> list[Job]:
    """The MES's production orders of *instance*: one per job, indexed as the jobs."""
    return jobs_from_routings(
        ((order_id(instance, j), [(machine_name(m), float(d)) for m, d in job])
         for j, job in enumerate(instance.jobs)), due_dates)


def mes_schedule(instance: Instance, dispatcher: Dispatcher, rule: str = "") -> Schedule:
    """The schedule as the MES knows it: download time to counted completion."""
    machines = {machine_name(m): m for m in range(instance.num_machines)}
    ops = tuple(ScheduledOperation(r.job, r.op, machines[r.work_centre], r.start, r.end)
                for r in dispatcher.records if r.end is not None)
    return Schedule(instance, ops, rule)


def truth_schedule(instance: Instance, plant: Plant, rule: str = "") -> Schedule:
    """The schedule the plant really ran, from its event log: a unit's first PROCESSING
    state row on a station is the start, its COMPLETE row the end."""
    machines = {machine_name(m): m for m in range(instance.num_machines)}
    jobs = {order_id(instance, j): j for j in range(instance.num_jobs)}
    job_of: dict[str, int] = {}
    starts: dict[tuple[str, str], float] = {}
    ops: list[ScheduledOperation] = []
    for record in plant.log.records():
        if isinstance(record, Release) and record.order in jobs:
            job_of[record.serial] = jobs[record.order]
        elif (isinstance(record, StateChange) and record.state == PROCESSING
              and record.serial is not None):
            starts.setdefault((record.station, record.serial), record.t)
        elif isinstance(record, Complete):
            j = job_of[record.serial]
            m = machines[record.station]
            k = [machine for machine, _ in instance.jobs[j]].index(m)
            ops.append(ScheduledOperation(j, k, m, starts[(record.station, record.serial)],
                                          record.t))
    ops.sort(key=lambda o: (o.start, o.machine))
    return Schedule(instance, tuple(ops), rule)


def compare_schedules(a: Schedule, b: Schedule) -> list[str]:
    """Every operation whose machine, start or end differs between *a* and *b*."""
    first = {(o.job, o.op): (o.machine, o.start, o.end) for o in a.operations}
    second = {(o.job, o.op): (o.machine, o.start, o.end) for o in b.operations}
    return [f"operation {key}: {first.get(key)} != {second.get(key)}"
            for key in sorted(first.keys() | second.keys()) if first.get(key) != second.get(key)]


@dataclass(frozen=True)
class JobShopRun:
    """What one run gives: the MES's, the plant's and the reference schedules."""

    instance: Instance
    rule: str
    mes: Schedule
    truth: Schedule
    reference: Schedule
    errors: tuple[str, ...] = field(default=())
    """The dispatcher's own complaints (refused downloads, unexpected completions)."""
    downloads: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Work orders each machine's PLC took by job download, in order."""

    @property
    def makespan(self) -> float:
        return self.mes.makespan

    @property
    def bound(self) -> int | None:
        """The optimum if known, else the lower bound."""
        known = self.instance.optimum
        return known if known is not None else self.instance.lower_bound

    @property
    def gap_pct(self) -> float | None:
        """Makespan above :attr:`bound`, in percent."""
        bound = self.bound
        return None if not bound else 100.0 * (self.makespan - bound) / bound

    @property
    def problems(self) -> list[str]:
        """Feasibility violations of the MES's and the plant's schedules."""
        return check_schedule(self.mes) + [f"plant: {p}" for p in check_schedule(self.truth)]

    @property
    def feasible(self) -> bool:
        """Both schedules complete and feasible (see :func:`check_schedule`)."""
        return not self.problems

    @property
    def mes_equals_truth(self) -> bool:
        return not compare_schedules(self.mes, self.truth)

    @property
    def equals_reference(self) -> bool:
        return not compare_schedules(self.mes, self.reference)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``mestwin jobshop --json``."""
        ops = sorted(self.mes.operations, key=lambda o: (o.start, o.machine, o.job))
        gap = self.gap_pct
        return {
            "instance": self.instance.name, "rule": self.rule,
            "makespan": _number(self.makespan), "optimum": self.instance.optimum,
            "lower_bound": self.instance.lower_bound,
            "gap_pct": gap,
            "feasible": self.feasible, "equals_reference": self.equals_reference,
            "mes_equals_plant": self.mes_equals_truth,
            "reference_makespan": _number(self.reference.makespan),
            "jobs": self.instance.num_jobs, "machines": self.instance.num_machines,
            "errors": list(self.errors),
            "schedule": [{"job": o.job, "operation": o.op, "machine": o.machine,
                          "start": _number(o.start), "end": _number(o.end)} for o in ops],
        }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def run_jobshop(instance: Instance, rule: Rule | str, *, scan_time_s: float = 10.0,
                dispatcher_type: type[Dispatcher] = Dispatcher,
                reference_rule: Rule | str | None = None) -> JobShopRun:
    """Run *instance* through the simulated shop with the MES dispatching by *rule*.

    The PLCs scan every *scan_time_s* (irrelevant to the result: commands are taken in the
    instant they are written and state and counts are published when they change); the
    MES gets each instant's tag changes after all of that instant's events.
    *dispatcher_type* and *reference_rule* (default: *rule*) exist to show that the
    comparison with the reference can fail.
    """
    chosen = get_rule(rule)
    scenario = jobshop_scenario(instance)
    loop = ClosedLoop.build(scenario, scan_time_s=scan_time_s, immediate_commands=True,
                            end_of_instant=True)
    env = loop.env
    dispatcher = dispatcher_type(loop.source, production_orders(instance), chosen,
                                 [machine_name(m) for m in range(instance.num_machines)])
    dispatcher.attach(loop.collector)
    done = env.event()

    def finished(_time: float) -> None:
        done.succeed()

    dispatcher.on_finished.append(finished)
    dispatcher.dispatch(env.now)  # release: every job waits at its first machine
    env.run(until=simpy.AnyOf(env, [done, env.timeout(scenario.horizon)]))
    loop.source.flush()
    loop.collector.close(env.now)
    reference = non_delay_schedule(instance, reference_rule if reference_rule is not None
                                   else chosen)
    return JobShopRun(instance, chosen.name, mes_schedule(instance, dispatcher, chosen.name),
                      truth_schedule(instance, loop.plant, chosen.name), reference,
                      tuple(dispatcher.errors),
                      {name: tuple(plc.downloaded) for name, plc in loop.plcs.items()})
