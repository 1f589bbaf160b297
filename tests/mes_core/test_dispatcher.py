"""The MES dispatcher, driven by tags alone: job downloads out, counted completions in.

A scripted tag source stands in for the machines' PLCs (it is a transport, as OPC UA and
Modbus are): it takes ``WorkOrder`` writes, publishes ``CurrentWorkOrder`` when a job starts
and the ``ProdProcessedCount`` AccCount when it ends, one batch per instant, exactly as the
in-process transport does. The hand schedules are those of ``test_jobshop.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mestwin.mes_core.collection.collector import COUNTERS, ORDER, Collector
from mestwin.mes_core.collection.machine_state import ReasonCodes
from mestwin.mes_core.collection.source import TagChange, TagSource, TagValue, TagWriteError
from mestwin.mes_core.dispatching import (
    WORK_ORDER,
    Dispatcher,
    Instance,
    Job,
    Operation,
    jobs_from_routings,
    non_delay_schedule,
    parse_instance,
)

ACC = next(path for path, name in COUNTERS.items() if name == "produced")

# J0: M0 3, M1 2 | J1: M0 2, M1 3 | J2: M1 6, M0 1
TINY = parse_instance("3 2\n0 3 1 2\n0 2 1 3\n1 6 0 1\n", name="tiny")
# J0: M0 2, M1 1 | J1: M1 2, M0 1 | J2: M1 5: at t=2, J1 leaves M1 as J0 arrives there.
SAME_INSTANT = parse_instance("3 2\n0 2 1 1\n1 2 0 1\n1 5\n")


def _orders(instance: Instance) -> list[Job]:
    return jobs_from_routings((f"J{j}", [(f"M{m}", float(d)) for m, d in job])
                              for j, job in enumerate(instance.jobs))


class ScriptedShop(TagSource):
    """Machines that run what they are told for the instance's durations.

    With *split*, completions of one instant come in one batch per machine, highest machine
    first (a transport that does not batch per instant)."""

    def __init__(self, instance: Instance, split: bool = False) -> None:
        super().__init__()
        self.instance = instance
        self.split = split
        self.now = 0.0
        self.writes: list[tuple[float, str, str, TagValue]] = []
        self._pending: list[tuple[str, str]] = []
        self._running: dict[str, tuple[str, float]] = {}
        self._counts = dict.fromkeys(self.machines, 0)

    @property
    def machines(self) -> Sequence[str]:
        return [f"M{m}" for m in range(self.instance.num_machines)]

    def write(self, machine: str, path: str, value: TagValue) -> None:
        self.writes.append((self.now, machine, path, value))
        if machine not in self._counts:
            self.fail(TagWriteError(machine, path, "unknown machine"))
        elif path == WORK_ORDER:
            self._pending.append((machine, str(value)))

    def _duration(self, machine: str, order: str) -> float:
        job = self.instance.jobs[int(order[1:])]
        return float(next(d for m, d in job if f"M{m}" == machine))

    def run(self, dispatcher: Dispatcher) -> None:
        self.deliver([TagChange(m, ACC, 0, 0.0) for m in self.machines])
        dispatcher.dispatch(0.0)
        while self._pending or self._running:
            if self._pending:
                started, self._pending = self._pending, []
                for machine, order in started:
                    self._running[machine] = (order, self.now + self._duration(machine, order))
                self.deliver([TagChange(m, ORDER, o, self.now) for m, o in started])
                continue
            self.now = min(end for _, end in self._running.values())
            done = sorted((m for m, (_, end) in self._running.items() if end == self.now),
                          reverse=self.split)
            batches: list[list[TagChange]] = [[]]
            for machine in done:
                del self._running[machine]
                self._counts[machine] += 1
                batches[-1].append(TagChange(machine, ACC, self._counts[machine], self.now))
                if self.split:
                    batches.append([])
            for batch in batches:
                self.deliver(batch)


def _run(instance: Instance, rule: str, split: bool = False,
         jobs: Sequence[Job] | None = None) -> tuple[Dispatcher, ScriptedShop]:
    shop = ScriptedShop(instance, split)
    collector = Collector(ReasonCodes())
    shop.subscribe(collector.on_batch)
    dispatcher = Dispatcher(shop, list(jobs or _orders(instance)), rule,
                            [f"M{m}" for m in range(instance.num_machines)])
    dispatcher.attach(collector)
    shop.run(dispatcher)
    return dispatcher, shop


def _starts(dispatcher: Dispatcher) -> dict[tuple[int, int], float]:
    return {(r.job, r.op): r.start for r in dispatcher.records}


@pytest.mark.parametrize(("rule", "expected"), [
    ("FIFO", {(0, 0): 0, (0, 1): 6, (1, 0): 3, (1, 1): 8, (2, 0): 0, (2, 1): 6}),
    ("SPT", {(0, 0): 2, (0, 1): 6, (1, 0): 0, (1, 1): 8, (2, 0): 0, (2, 1): 6}),
    ("MWKR", {(0, 0): 0, (0, 1): 9, (1, 0): 3, (1, 1): 6, (2, 0): 0, (2, 1): 6}),
])
def test_hand_schedules_from_tags_alone(rule: str, expected: dict[tuple[int, int], float]
                                        ) -> None:
    """FIFO, SPT and MWKR on the tiny instance give the schedules worked out by hand, each
    operation ending when its count arrives, and equal the reference non-delay schedule."""
    dispatcher, _ = _run(TINY, rule)
    assert _starts(dispatcher) == expected
    assert dispatcher.finished
    assert dispatcher.errors == []
    reference = non_delay_schedule(TINY, rule)
    assert {(r.job, r.op, r.start, r.end) for r in dispatcher.records} == {
        (o.job, o.op, o.start, o.end) for o in reference.operations}


def test_commands_are_job_downloads_in_machine_sequence() -> None:
    """The dispatcher writes nothing but WorkOrder, one download per operation, and each
    machine receives its orders in the order it processes them."""
    _dispatcher, shop = _run(TINY, "SPT")
    assert {path for _, _, path, _ in shop.writes} == {WORK_ORDER}
    assert len(shop.writes) == sum(len(job) for job in TINY.jobs)
    reference = non_delay_schedule(TINY, "SPT")
    for m in range(TINY.num_machines):
        sent = [value for _, machine, _, value in shop.writes if machine == f"M{m}"]
        assert sent == [f"J{j}" for j in reference.machine_sequence(m)]


def test_each_decision_keeps_its_ordered_dispatch_list() -> None:
    """At t=0 SPT ranks J1 (2) before J0 (3) on M0; MWKR ranks J0 and J1 equal (5 each,
    counting the operation being dispatched) and the tie goes to J0."""
    spt, _ = _run(TINY, "SPT")
    first = spt.lists[0]
    assert (first.work_centre, first.now) == ("M0", 0.0)
    assert [row.order_id for row in first.rows] == ["J1", "J0"]
    mwkr, _ = _run(TINY, "MWKR")
    assert [(row.order_id, row.remaining_work) for row in mwkr.lists[0].rows] == [
        ("J0", 5.0), ("J1", 5.0)]


def test_all_completions_of_an_instant_come_before_any_choice() -> None:
    """At t=2 J1 leaves M1 and J0 arrives there: SPT picks J0 (1) over J2 (5) because both
    completions are in one batch. Fed one completion per batch, M1 first, the same
    dispatcher chooses J2 before it knows J0 is there: the batch is what makes the schedule
    non-delay by the reference's definition."""
    together, _ = _run(SAME_INSTANT, "SPT")
    assert _starts(together) == {(0, 0): 0, (0, 1): 2, (1, 0): 0, (1, 1): 2, (2, 0): 3}
    split, _ = _run(SAME_INSTANT, "SPT", split=True)
    assert _starts(split)[(2, 0)] == 2
    assert _starts(split) != _starts(together)


def test_zero_duration_operations_complete_and_the_machines_choose_again() -> None:
    """Operations of zero duration end in the instant they start; the dispatcher chooses
    again in that instant, as the reference does."""
    inst = parse_instance("3 2\n0 0 1 2\n1 0 0 4\n0 1 1 0\n")
    for rule in ("FIFO", "SPT", "LPT", "MWKR"):
        dispatcher, _ = _run(inst, rule)
        reference = non_delay_schedule(inst, rule)
        assert _starts(dispatcher) == reference.start_times(), rule


def test_finished_is_announced_once_at_the_last_completion() -> None:
    """on_finished listeners hear once, with the makespan."""
    shop = ScriptedShop(TINY)
    collector = Collector(ReasonCodes())
    shop.subscribe(collector.on_batch)
    dispatcher = Dispatcher(shop, _orders(TINY), "FIFO")
    heard: list[float] = []
    dispatcher.on_finished.append(heard.append)
    dispatcher.attach(collector)
    shop.run(dispatcher)
    assert heard == [11.0]


def test_completions_it_did_not_dispatch_and_refused_downloads_are_reported() -> None:
    """A count for an order that is not running on that machine changes nothing and is
    reported; a download the transport refuses is reported too."""
    shop = ScriptedShop(TINY)
    collector = Collector(ReasonCodes())
    shop.subscribe(collector.on_batch)
    dispatcher = Dispatcher(shop, _orders(TINY), "SPT", ["M0", "M1", "M9"])
    dispatcher.attach(collector)
    shop.deliver([TagChange("M0", ACC, 0, 0.0)])  # t=0: J1 goes to M0, J2 to M1
    assert [(r.order_id, r.work_centre) for r in dispatcher.records] == [("J1", "M0"),
                                                                         ("J2", "M1")]
    shop.deliver([TagChange("M0", ORDER, "J2", 1.0), TagChange("M0", ACC, 1, 1.0)])
    assert len(dispatcher.errors) == 1
    assert "J2" in dispatcher.errors[0]
    assert [r.end for r in dispatcher.records] == [None, None]
    assert len(dispatcher.records) == 2
    orphan = Job("J9", 9, (Operation("M9", 1.0),))
    refused = Dispatcher(shop, [orphan], "SPT", ["M9"])
    shop.on_error.append(refused.on_write_error)
    refused.dispatch(0.0)
    assert refused.errors
    assert "unknown machine" in refused.errors[0]


def test_orders_are_checked_when_configured() -> None:
    """Duplicate order ids and routings through unlisted work centres are refused."""
    shop = ScriptedShop(TINY)
    job = Job("J0", 0, (Operation("M0", 1.0),))
    with pytest.raises(ValueError, match="unique"):
        Dispatcher(shop, [job, Job("J0", 1, ())], "SPT")
    with pytest.raises(ValueError, match="M0"):
        Dispatcher(shop, [job], "SPT", ["M1"])
    with pytest.raises(KeyError, match="unknown dispatching rule"):
        Dispatcher(shop, [job], "NOPE")


def test_nothing_starts_before_the_release() -> None:
    """Orders released at t=5 wait: a dispatch at t=0 starts nothing; at t=5 both machines
    start, and FIFO sees every job arrived at the release."""
    shop = ScriptedShop(TINY)
    dispatcher = Dispatcher(shop, _orders(TINY), "FIFO", ["M0", "M1"], release=5.0)
    assert dispatcher.dispatch(0.0) == []
    assert shop.writes == []
    started = dispatcher.dispatch(5.0)
    assert [(r.order_id, r.work_centre, r.start) for r in started] == [("J0", "M0", 5.0),
                                                                       ("J2", "M1", 5.0)]
    assert [row.arrival for row in dispatcher.lists[0].rows] == [5.0, 5.0]
