"""OPC UA values are stamped and queued like a real PLC's.

Every value's SourceTimestamp is the simulated instant it changed on the PLC clock (the
clock of ``PACDateTime``: ``VirtualPLC.start_datetime`` + ``env.now``), and a monitored item
with a queue (QueueSize > 1, OPC 10000-4 5.12.1.5) receives every change in order, however
many fall in one publishing interval; a QueueSize 1 (or 0, which the server revises to 1)
item gets the latest value only. Over a real socket, with asyncua's client, while the
real-time driver paces the plant at 60x and 600x.

The reference each test compares against is the PLC's own record (a ``TagValues.watch``
recorder dating each change with ``env.now``) and the plant's ground-truth event log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds

from mestwin.plantmodels import EventKind, MachineState
from mestwin.plantmodels.distributions import Constant, Exponential, Uniform
from mestwin.plantmodels.eventlog import StateChange
from mestwin.plantmodels.losses import FailureMode
from mestwin.plantmodels.plant import Plant
from mestwin.sim.realtime import RealtimeDriver
from mestwin.virtual_plc.opcua_server import NAMESPACE_URI, PlcOpcUaServer
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC

STATE = "PackTags.Status.StateCurrent"
SIM_TIME = "Diagnostics.SimTime"
HORIZON = 7200.0
"""Two simulated hours."""
EPOCH = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
"""A PLC clock at simulated time 0 other than the default, so the epoch is really used."""


def machine(seed: int = 7) -> tuple[Plant, VirtualPLC]:
    """A saturated machine (20 s cycles) with breakdowns (~every 25 min, ~3 min to repair)
    and micro-stops of 2-8 s (~every 2.5 min of work): PLC ``L.M`` on the *EPOCH* clock."""
    plant = Plant(warmup=0, seed=seed)
    rng = np.random.default_rng(seed)
    plant.add_source("src", product="part", saturated=True)
    breakdown = FailureMode(Exponential(1500.0).sampler(rng), Exponential(180.0).sampler(rng))
    micro = FailureMode(Exponential(150.0).sampler(rng), Uniform(2.0, 8.0).sampler(rng),
                        reason="minor_stop")
    plant.add_station("st0", servers=1, buffer=2,
                      process_time={"*": Constant(20.0).sampler(rng)},
                      ideal_cycle_time={"*": 20.0}, failures=[(breakdown, micro)])
    plant.connect("src", "st0")
    plant.connect("st0", "sink")
    return plant, VirtualPLC(plant.stations["st0"], "L", "M", plant.env, start_datetime=EPOCH)


@dataclass
class PlcRecord:
    """What the PLC wrote to one tag, each change dated on its own clock."""

    plc: VirtualPLC
    path: str
    changes: list[tuple[Any, datetime]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.plc.tags.watch(self._record, [self.path])

    def _record(self, _path: str, value: object) -> None:
        self.changes.append((value, EPOCH + timedelta(seconds=self.plc.env.now)))


class Received:
    """What an asyncua subscription delivered: (value, SourceTimestamp) in arrival order."""

    def __init__(self) -> None:
        self.values: list[tuple[Any, datetime]] = []

    def datachange_notification(self, _node: object, value: object, data: Any) -> None:
        stamp = data.monitored_item.Value.SourceTimestamp
        self.values.append((value, stamp.replace(tzinfo=UTC)))


async def paced(plant: Plant, plc: VirtualPLC, speed: float, until: float,
                subscribe: dict[str, int], interval_ms: int = 50
                ) -> dict[str, list[tuple[Any, datetime]]]:
    """Serve *plc* with the driver at *speed* until *until*, one subscription
    (*interval_ms*) per path of *subscribe* (path -> queueSize; ``path#n`` for another
    item on the same path); returns what each item received, once the last batch is
    delivered."""
    driver = RealtimeDriver(plant.env, speed=speed)
    server = PlcOpcUaServer([plc], driver=driver, publish_interval=0.05)
    await server.start()
    try:
        async with Client(server.endpoint, timeout=10) as client:
            ns = await client.get_namespace_index(NAMESPACE_URI)
            handlers = {path: Received() for path in subscribe}
            for path, queue in subscribe.items():
                sub = await client.create_subscription(interval_ms, handlers[path])
                node = client.get_node(f"ns={ns};s=L.M.{path.partition('#')[0]}")
                await sub.subscribe_data_change(node, queuesize=queue)
            await asyncio.sleep(0.3)  # the initial values
            await asyncio.wait_for(driver.run_until(until), timeout=until / speed * 3 + 30)
            await asyncio.sleep(0.5)  # the last batch: publisher and publishing interval
            return {path: handler.values for path, handler in handlers.items()}
    finally:
        await server.stop()


def running_fraction(timeline: list[tuple[float, bool]], horizon: float) -> float:
    """Share of [0, horizon] spent running, from (time, running) changes in order."""
    run, since, running = 0.0, 0.0, False
    for t, now_running in timeline:
        if running:
            run += t - since
        since, running = t, now_running
    if running:
        run += horizon - since
    return run / horizon


def seconds(stamp: datetime) -> float:
    return (stamp - EPOCH).total_seconds()


@pytest.mark.timeout(500)
@pytest.mark.parametrize(("speed", "horizon"), [(60.0, HORIZON / 2), (600.0, HORIZON)])
def test_a_queued_subscription_receives_every_state_change_stamped_at_its_instant(
    speed: float, horizon: float,
) -> None:
    """QueueSize 1000 on StateCurrent: every change the PLC made, in order, each stamped
    (to the millisecond) with its instant on the PACDateTime clock; availability timed from
    those stamps alone matches the ground truth within 0.2 pp, and every micro-stop shows.
    One simulated hour at 60x (a minute of wall time), two at 600x."""
    plant, plc = machine()
    first = plc.tags[STATE]  # after the constructor's scan at time 0
    record = PlcRecord(plc, STATE)

    async def main() -> list[tuple[Any, datetime]]:
        return (await paced(plant, plc, speed, horizon, {STATE: 1000}))[STATE]

    received = asyncio.run(main())
    initial, changes = received[0], received[1:]
    assert initial == (first, EPOCH)  # written at time 0
    assert len(record.changes) > 50  # breakdowns and micro-stops: a busy timeline
    assert [v for v, _ in changes] == [v for v, _ in record.changes]
    lags = [abs((got - want).total_seconds())
            for (_, got), (_, want) in zip(changes, record.changes, strict=True)]
    assert max(lags) < 0.001

    truth_rows = [r for r in plant.log.records(EventKind.STATE)
                  if isinstance(r, StateChange) and r.station == "st0"]
    truth = running_fraction(
        [(r.t, r.state in (MachineState.PROCESSING, MachineState.SETUP)) for r in truth_rows],
        horizon)
    stamped = running_fraction(
        [(seconds(t), v == int(State.EXECUTE)) for v, t in received], horizon)
    assert truth < 0.95  # losses worth timing
    assert abs(stamped - truth) < 0.002, (stamped, truth)

    micro_stops = sum(1 for r in truth_rows
                      if r.state == MachineState.DOWN and r.reason == "minor_stop")
    helds = sum(1 for v, _ in changes if v == int(State.HELD))
    print(f"\n[timestamps] {speed:g}x: {len(changes)} changes received of "
          f"{len(record.changes)} made, max stamp error {max(lags) * 1000:.3f} ms, running "
          f"{stamped:.4%} from stamps vs {truth:.4%} truth, {helds} Held of {micro_stops} "
          "micro-stops")
    assert micro_stops > 10
    assert helds == micro_stops


@pytest.mark.timeout(120)
def test_a_default_subscription_gets_the_latest_value_stamped_at_its_scan() -> None:
    """QueueSize 1 and 0 (asyncua's default, revised to 1) on Diagnostics.SimTime (the
    simulated time of the scan that wrote it, changed every scan), published every 500 ms
    at 600x: a few values, the newest of each interval, not every scan; each stamped with
    the instant it names on the PACDateTime clock."""
    plant, plc = machine()
    record = PlcRecord(plc, SIM_TIME)

    async def main() -> dict[str, list[tuple[Any, datetime]]]:
        return await paced(plant, plc, 600.0, 1800.0, {SIM_TIME: 1}, interval_ms=500)

    async def default_queue() -> dict[str, list[tuple[Any, datetime]]]:
        return await paced(plant, plc, 600.0, 3600.0, {SIM_TIME: 0}, interval_ms=500)

    for run in (main, default_queue):
        received = asyncio.run(run())[SIM_TIME]
        values = [v for v, _ in received]
        assert values == sorted(set(values))  # in order, none twice
        assert 2 <= len(values) < len(record.changes) / 100  # latest only, not every scan
        for value, stamp in received:
            assert abs(seconds(stamp) - value) < 0.001, (value, stamp)
        record.changes.clear()


@pytest.mark.timeout(60)
def test_queued_values_of_one_instant_share_its_stamp() -> None:
    """The PLC writes StateCurrent and PACDateTime in the same scan: a queued item on
    each sees, for every state change, the PACDateTime value equal to the state's stamp."""
    plant, plc = machine()
    pac = "PackTags.Admin.PACDateTime"

    async def main() -> dict[str, list[tuple[Any, datetime]]]:
        return await paced(plant, plc, 600.0, 1200.0, {STATE: 1000, pac: 10_000})

    received = asyncio.run(main())
    pac_stamps = {stamp: value.replace(tzinfo=UTC) for value, stamp in received[pac]}
    states = received[STATE][1:]
    assert len(states) > 10
    for _, stamp in states:
        assert pac_stamps[stamp] == stamp  # same instant, same stamp, and it is PACDateTime


@pytest.mark.timeout(60)
def test_the_server_revises_queue_size_0_to_1_and_keeps_larger_queues() -> None:
    """OPC 10000-4 MonitoringParameters: queueSize 0 or 1 is revised to 1; a larger one is
    granted (up to the server's maximum)."""
    _plant, plc = machine()

    async def main() -> list[int]:
        async with PlcOpcUaServer([plc]) as server, Client(server.endpoint, timeout=10) as c:
            ns = await c.get_namespace_index(NAMESPACE_URI)
            sub = await c.create_subscription(100, Received())
            node = c.get_node(f"ns={ns};s=L.M.{STATE}")
            revised = []
            for queue in (0, 1, 1000):
                request = ua.MonitoredItemCreateRequest()
                request.ItemToMonitor = ua.ReadValueId(NodeId=node.nodeid,
                                                       AttributeId=AttributeIds.Value)
                request.MonitoringMode = ua.MonitoringMode.Reporting
                request.RequestedParameters = ua.MonitoringParameters(
                    ClientHandle=queue + 1, QueueSize=queue, SamplingInterval=0.0)
                params = ua.CreateMonitoredItemsParameters(
                    SubscriptionId=sub.subscription_id, ItemsToCreate=[request],
                    TimestampsToReturn=ua.TimestampsToReturn.Both)
                (result,) = await c.uaclient.create_monitored_items(params)
                assert result.StatusCode.is_good()
                revised.append(result.RevisedQueueSize)
            return revised

    assert asyncio.run(asyncio.wait_for(main(), timeout=30)) == [1, 1, 1000]


@pytest.mark.timeout(120)
def test_a_queued_and_a_default_item_on_one_tag_each_get_their_own() -> None:
    """StateCurrent monitored twice at 600x, published every 2 s: the QueueSize 1000 item
    gets every change; the QueueSize 1 item beside it only the latest of each interval,
    so fewer, in the same order, ending on the same final state."""
    plant, plc = machine()
    record = PlcRecord(plc, STATE)

    async def main() -> dict[str, list[tuple[Any, datetime]]]:
        return await paced(plant, plc, 600.0, 3600.0, {STATE: 1000, f"{STATE}#1": 1},
                           interval_ms=2000)

    received = asyncio.run(main())
    queued, latest = received[STATE], received[f"{STATE}#1"]
    assert queued[1:] == [(v, t) for v, t in record.changes]
    assert len(latest) < len(queued) / 2
    assert latest[-1] == queued[-1]
    positions = [queued.index(item) for item in latest]  # a subsequence, in order
    assert positions == sorted(positions)
