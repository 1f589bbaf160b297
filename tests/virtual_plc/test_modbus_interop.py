"""Interoperability: independent Modbus clients in their own processes against our server.

Two clients nobody on the project wrote: ``pyModbusTCP`` (PyPI, run in a separate Python
process) and ``mbpoll`` (the Debian command-line master; it exits non-zero on an exception
response). The simulation only advances between client runs, so what a client reads must
equal the station's ground truth at that instant.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from mestwin.plantmodels import Constant, MachineState, Plant, Station
from mestwin.virtual_plc.modbus_server import Endpoint, ModbusServer, ModbusSettings
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.regmap import Profile
from tests.interop import clients

pytestmark = pytest.mark.interop



class Cell:
    """A saturated 10 s station and its PLC."""

    def __init__(self) -> None:
        self.plant = Plant(warmup=0)
        self.plant.add_source("src", product="part", saturated=True)
        self.station: Station = self.plant.add_station(
            "cut", servers=1, buffer=2,
            process_time={"*": Constant(10).sampler(np.random.default_rng(0))},
            ideal_cycle_time={"*": 10})
        self.plant.connect("src", "cut")
        self.plc = VirtualPLC(self.station, "L1", "cut", self.plant.env)

    def run(self, until: float) -> None:
        self.plant.run(until=until)
        self.plc.scan()


async def run_process(*argv: str) -> tuple[int, str]:
    """Run *argv* to completion while the server keeps serving; return (code, output)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def serve(cell: Cell, settings: ModbusSettings,
          session: Callable[[Endpoint], Awaitable[None]]) -> None:
    async def main() -> None:
        async with ModbusServer({"cut": cell.plc}, settings) as server:
            await session(server.endpoint("cut"))

    asyncio.run(main())


PYMODBUSTCP = """
import json, sys
from pyModbusTCP.client import ModbusClient
c = ModbusClient(host="127.0.0.1", port=int(sys.argv[1]), unit_id=1, auto_open=True, timeout=5)
out = {}
out["acc"] = c.read_input_registers(104, 2)
out["state"] = c.read_input_registers(2, 2)
out["signals"] = c.read_discrete_inputs(0, 5)
out["unmapped"] = c.read_input_registers(90, 2)
out["unmapped_exc"] = c.last_except
out["stop"] = c.write_multiple_registers(5, [0, 3, 1])
out["bad_value"] = c.write_single_register(7, 5)
out["bad_value_exc"] = c.last_except
print(json.dumps(out))
"""


@pytest.mark.timeout(120)
def test_pymodbustcp_in_another_process() -> None:
    """pyModbusTCP reads the station's count and Execute, gets exception 02 for an unmapped
    address and 03 for a bad value, and its Stop (FC16) stops the station."""
    cell = Cell()

    async def session(endpoint: Endpoint) -> None:
        cell.run(300.0)
        code, out = await run_process(sys.executable, "-c", PYMODBUSTCP, str(endpoint.port))
        assert code == 0, out
        got: dict[str, Any] = json.loads(out)
        assert got["acc"] == [cell.station.produced >> 16, cell.station.produced & 0xFFFF]
        assert cell.station.produced > 20
        assert got["state"] == [0, int(State.EXECUTE)]
        assert got["signals"] == [True, False, False, False, False]
        assert got["unmapped"] is None
        assert got["unmapped_exc"] == 2
        assert got["stop"] is True
        assert got["bad_value"] is False
        assert got["bad_value_exc"] == 3
        cell.run(301.0)
        assert cell.station.state == MachineState.STOPPED
        assert cell.plc.packml.state is State.STOPPED

    serve(cell, ModbusSettings(port=0), session)


@pytest.fixture
def mbpoll_exe() -> str:
    """mbpoll's path, or a failure at once saying how to install it (before any server)."""
    return clients.mbpoll()


def mbpoll(exe: str, endpoint: Endpoint, *args: str) -> list[str]:
    """The mbpoll command line for one request to *endpoint* (0-based addresses)."""
    return [exe, "-m", "tcp", "-p", str(endpoint.port), "-a", "1", "-0", "-o", "5",
            *args]


def values(output: str) -> dict[int, str]:
    """mbpoll's ``[ref]: value`` lines."""
    return {int(ref): val.strip() for ref, val in re.findall(r"^\[(\d+)\]:\s+(\S+)", output,
                                                            re.MULTILINE)}


@pytest.mark.timeout(120)
def test_mbpoll_reads_writes_and_gets_exceptions(mbpoll_exe: str) -> None:
    """mbpoll reads AccCount as a high-word-first 32-bit integer (-B) equal to the station's
    count, its coil write issues Stop, and it exits non-zero on an unmapped address."""
    cell = Cell()

    async def session(endpoint: Endpoint) -> None:
        cell.run(200.0)
        code, out = await run_process(*mbpoll(
            mbpoll_exe, endpoint, "-t", "3:int", "-B", "-r", "104", "-c", "1", "-1", "127.0.0.1"))
        assert code == 0, out
        assert values(out) == {104: str(cell.station.produced)}
        code, out = await run_process(*mbpoll(
            mbpoll_exe, endpoint, "-t", "3", "-r", "90", "-1", "127.0.0.1"))
        assert code != 0
        assert "llegal data address" in out
        code, out = await run_process(*mbpoll(
            mbpoll_exe, endpoint, "-t", "0", "-r", "2", "127.0.0.1", "1"))
        assert code == 0, out
        cell.run(201.0)
        assert cell.station.state == MachineState.STOPPED
        frozen = cell.station.produced
        cell.run(400.0)
        assert cell.station.produced == frozen

    serve(cell, ModbusSettings(port=0), session)


@pytest.mark.timeout(120)
def test_mbpoll_write_to_a_read_only_register_fails(mbpoll_exe: str) -> None:
    """In the holding-registers-only profile mbpoll can read StateCurrent but writing it
    answers an exception (mbpoll exits non-zero) and the state does not change."""
    cell = Cell()

    async def session(endpoint: Endpoint) -> None:
        cell.run(50.0)
        code, out = await run_process(*mbpoll(
            mbpoll_exe, endpoint, "-t", "4:int", "-B", "-r", "102", "-1", "127.0.0.1"))
        assert code == 0, out
        assert values(out) == {102: str(int(State.EXECUTE))}
        code, out = await run_process(*mbpoll(
            mbpoll_exe, endpoint, "-t", "4:int", "-B", "-r", "102", "127.0.0.1", "2"))
        assert code != 0, out
        cell.run(60.0)
        assert cell.plc.packml.state is State.EXECUTE

    serve(cell, ModbusSettings(port=0, profile=Profile.HOLDING_ONLY), session)
