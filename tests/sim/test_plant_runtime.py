"""Specification of a live run (mestwin.sim.plant_runtime): plant, PLCs, servers, clock.

Real servers on free ports of 127.0.0.1 and real clients (asyncua; pyModbusTCP in a worker
thread). Simulated time is moved with ``advance`` and frozen with ``pause`` so every
assertion is deterministic.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.object_ids import ObjectIds
from pyModbusTCP.client import ModbusClient

from mestwin.sim.plant_runtime import PlantRuntime, RuntimeSettings, line_name
from mestwin.sim.scenario import Scenario, parse_scenario
from mestwin.virtual_plc.modbus_server import Endpoint
from mestwin.virtual_plc.opcua_server import NAMESPACE_URI

ACC = "PackTags.Admin.ProdProcessedCount[0].AccCount"
ACC_REGISTER = 104  # input register of ACC in the standard map (`mestwin plc map`)

SCENARIO: dict[str, Any] = {
    "name": "Runtime line 1",
    "seed": 3,
    "horizon": "1d",
    "warmup": 0,
    "sources": [{"id": "feed", "interarrival": {"dist": "exponential", "mean": "40s"},
                 "to": "cut"}],
    "stations": [
        {"id": "cut", "process_time": {"dist": "exponential", "mean": "30s"}, "buffer": 4,
         "to": "pack"},
        {"id": "pack", "servers": 2, "process_time": {"dist": "constant", "value": "50s"},
         "buffer": 2, "to": "sink"},
    ],
}


def scenario() -> Scenario:
    return parse_scenario(SCENARIO)


async def read_acc(endpoint: str, runtime: PlantRuntime) -> dict[str, int]:
    """Every machine's AccCount, read by a client that connects for this read only."""
    async with Client(endpoint, timeout=10) as client:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        return {m: await client.get_node(
                    f"ns={ns};s={runtime.endpoints.node_id(m, ACC)}").read_value()
                for m in runtime.machines}


async def node_ids(endpoint: str, runtime: PlantRuntime) -> set[str]:
    """The NodeIds of everything under the line, found by browsing (not by naming them)."""
    async with Client(endpoint, timeout=10) as client:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        found: set[str] = set()

        async def walk(node: Node) -> None:
            for child in await node.get_children(refs=ObjectIds.HierarchicalReferences):
                if child.nodeid.NamespaceIndex == ns and child.nodeid.to_string() not in found:
                    found.add(child.nodeid.to_string())
                    await walk(child)

        await walk(client.get_node(f"ns={ns};s={runtime.line}"))
        return found


def modbus_acc(endpoint: Endpoint) -> int:
    client = ModbusClient(host=endpoint.host, port=endpoint.port, unit_id=endpoint.unit_id,
                          timeout=5)
    try:
        registers = client.read_input_registers(ACC_REGISTER, 2)
        assert registers is not None, client.last_error_as_txt
        return int(registers[0] << 16 | registers[1])
    finally:
        client.close()


def test_line_name_is_a_dotless_slug_of_the_scenario_name() -> None:
    """NodeIds are ``<line>.<machine>.<path>``, so the line name has no dots or spaces."""
    assert line_name("Runtime line 1") == "runtime-line-1"
    assert line_name("two-step line") == "two-step-line"
    assert line_name("v1.2 / cell") == "v1-2-cell"
    assert line_name("...") == "line"


def test_one_plc_per_machine_and_endpoints_for_each() -> None:
    """A station with two servers is two machines; each has a Modbus unit id in scenario
    order and NodeIds under the line; both servers listen on 127.0.0.1 ports."""

    async def main() -> None:
        async with PlantRuntime(scenario()) as runtime:
            ep = runtime.endpoints
            assert ep.machines == ("cut", "pack-1", "pack-2")
            assert [(e.machine, e.unit_id) for e in ep.modbus] == [
                ("cut", 1), ("pack-1", 2), ("pack-2", 3)]
            assert {e.host for e in ep.modbus} == {"127.0.0.1"}
            assert ep.opcua is not None
            assert ep.opcua.startswith("opc.tcp://127.0.0.1:")
            assert ep.node_id("pack-2", ACC) == f"runtime-line-1.pack-2.{ACC}"
            with pytest.raises(KeyError):
                ep.node_id("nope")
            assert [p.machine for p in runtime.plcs.values()] == list(ep.machines)

    asyncio.run(main())


def test_time_stands_still_until_advanced_and_advance_is_exact() -> None:
    """After start simulated time is 0 and stays there; advance(t) moves it by exactly t,
    and the PLC tags (over OPC UA) then equal the plant's own counters."""

    async def main() -> None:
        async with PlantRuntime(scenario()) as runtime:
            await asyncio.sleep(0.2)
            assert runtime.now == 0.0
            await runtime.advance(1800)
            assert runtime.now == 1800.0
            await runtime.advance(0)
            assert runtime.now == 1800.0
            truth = {m: c.produced for m, c in runtime.all_counters().items()}
            assert truth["cut"] > 0
            assert runtime.opcua is not None
            assert await read_acc(runtime.opcua.endpoint, runtime) == truth
            with pytest.raises(ValueError, match="negative"):
                await runtime.advance(-1)

    asyncio.run(main())


def test_pace_runs_time_forward_and_pause_freezes_it_with_tags_current() -> None:
    """pace(speed) moves simulated time on its own; pause() freezes it and leaves every tag
    equal to the ground truth at that instant."""

    async def main() -> None:
        async with PlantRuntime(scenario()) as runtime:
            await runtime.pace(3000)
            await asyncio.sleep(0.5)
            await runtime.pause()
            frozen = runtime.now
            assert frozen > 0
            assert runtime.speed is None
            await asyncio.sleep(0.2)
            assert runtime.now == frozen
            assert runtime.opcua is not None
            acc = await read_acc(runtime.opcua.endpoint, runtime)
            assert acc == {m: c.produced for m, c in runtime.all_counters().items()}

    asyncio.run(main())


def test_until_ends_the_run_at_exactly_that_time() -> None:
    """With ``until`` the run ends at that simulated time and wait() returns."""

    async def main() -> None:
        async with PlantRuntime(scenario(), until=600.0) as runtime:
            await runtime.pace(None)
            await asyncio.wait_for(runtime.wait(), timeout=60)
            assert runtime.now == 600.0

    asyncio.run(main())


def test_restarted_servers_keep_node_ids_and_no_count_is_lost() -> None:
    """Servers restarted mid-run, while time runs, come back on the same ports with the
    same NodeIds; AccCounts never went back, and a client that reconnects reads counts
    equal to the ground truth over both OPC UA and Modbus: no count is lost."""

    async def main() -> None:
        settings = RuntimeSettings()
        async with PlantRuntime(scenario(), settings) as runtime:
            await runtime.advance(3600)
            before = runtime.endpoints
            assert before.opcua is not None
            ids_before = await node_ids(before.opcua, runtime)
            acc_before = await read_acc(before.opcua, runtime)
            assert len(ids_before) > 3 * 80
            await runtime.pace(2000)
            after = await runtime.restart_servers()
            await asyncio.sleep(0.3)  # production continues meanwhile
            await runtime.pause()
            assert after == before  # same OPC UA URL, same Modbus host/port/unit ids
            assert await node_ids(before.opcua, runtime) == ids_before
            acc_after = await read_acc(before.opcua, runtime)
            truth = {m: c.produced for m, c in runtime.all_counters().items()}
            assert acc_after == truth
            assert all(acc_after[m] >= acc_before[m] for m in truth)
            assert sum(acc_after.values()) > sum(acc_before.values())
            for endpoint in after.modbus:
                assert await asyncio.to_thread(modbus_acc, endpoint) == truth[endpoint.machine]

    asyncio.run(main())


def test_without_servers_the_plant_still_runs() -> None:
    """opcua=False and modbus=False give a clock-driven plant with no endpoints."""

    async def main() -> None:
        settings = RuntimeSettings(opcua=False, modbus=False)
        async with PlantRuntime(scenario(), settings) as runtime:
            await runtime.advance(600)
            assert runtime.endpoints.opcua is None
            assert runtime.endpoints.modbus == ()
            assert runtime.results().horizon_s == 600.0
            assert len(runtime.log) > 0

    asyncio.run(main())


def test_a_station_counts_the_sum_of_its_machines_and_results_carry_warnings() -> None:
    """counters('pack') is pack-1 + pack-2 field by field (each server its own PLC and
    counters); an unknown name is a KeyError naming what exists; results() carries the
    run's warnings as ``mestwin run`` does (an order list that ran out)."""
    orders = {**SCENARIO, "sources": [{"id": "po", "to": "cut", "orders": [
        {"id": "PO-1", "product": "part", "quantity": 30, "release": 0}]}]}

    async def main() -> None:
        settings = RuntimeSettings(opcua=False, modbus=False)
        async with PlantRuntime(parse_scenario(orders), settings) as runtime:
            await runtime.advance(3600)
            one, two, pack = (runtime.counters(m) for m in ("pack-1", "pack-2", "pack"))
            assert one.produced > 0
            assert two.produced > 0
            assert pack.produced == one.produced + two.produced == 30
            assert pack.good == one.good + two.good
            assert runtime.counters("cut").produced == 30
            with pytest.raises(KeyError, match=r"'press'.*machines: cut, pack-1, pack-2"):
                runtime.counters("press")
            warnings = runtime.results().warnings
            assert len(warnings) == 1
            assert warnings[0].startswith("sources[0].orders: ")

    asyncio.run(main())
