"""OPC UA server start-up with the companion-specification model, for a 20-machine line.

:meth:`PlcOpcUaServer.start` imports the DI, Machinery and PackML nodesets and builds every
machine's tags plus its OPC 40001-1 MachineryItem and OPC 30050 PackML object before it
listens. Reported: the slowest of :data:`ROUNDS` starts (wall seconds until clients can
connect), and of it the address-space build (nodesets included). Target: under 5 s.

The line: a saturated source and 20 single-server stations in series, one PLC each.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mestwin.plantmodels.plant import Plant
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.plc import VirtualPLC

MACHINES = 20
ROUNDS = 3
TARGET_S = 5.0


def _line() -> list[VirtualPLC]:
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", saturated=True)
    previous = "src"
    for i in range(MACHINES):
        plant.add_station(f"st{i}", servers=1, buffer=5, process_time={"*": lambda: 20.0},
                          ideal_cycle_time={"*": 20.0})
        plant.connect(previous, f"st{i}")
        previous = f"st{i}"
    return [VirtualPLC(plant.stations[f"st{i}"], "Line1", f"M{i}", plant.env)
            for i in range(MACHINES)]


def test_a_20_machine_server_starts_in_under_5_s(benchmark: Any, record_ratio: Any) -> None:
    plcs = _line()
    starts: list[tuple[float, float]] = []

    async def start_and_stop() -> None:
        server = PlcOpcUaServer(plcs)
        began = time.perf_counter()
        await server.start()
        starts.append((time.perf_counter() - began, server.build_seconds))
        await server.stop()

    benchmark.pedantic(lambda: asyncio.run(start_and_stop()), rounds=ROUNDS, iterations=1)
    slowest, build = max(starts)
    record_ratio("opcua_start_20_machines", start_s=slowest, build_s=build, target_s=TARGET_S,
                 ratio=slowest / TARGET_S)
    assert slowest < TARGET_S
