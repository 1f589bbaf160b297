"""The Modbus TCP server over a real socket on 127.0.0.1, read with pymodbus's own client.

Values are decoded with pymodbus's converters, not with our regmap, so a word-order or
encoding mistake on our side shows up as a wrong number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pymodbus.client import AsyncModbusTcpClient

from mestwin.plantmodels import Constant, MachineState, Plant, Station
from mestwin.virtual_plc.modbus_server import ModbusServer, ModbusSettings
from mestwin.virtual_plc.packml import Command, State
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.regmap import Addressing, Profile, Table, WordOrder

INT32 = AsyncModbusTcpClient.DATATYPE.INT32
UINT32 = AsyncModbusTcpClient.DATATYPE.UINT32
FLOAT32 = AsyncModbusTcpClient.DATATYPE.FLOAT32


@dataclass
class Line:
    """Stations with different cycle times on one environment, one PLC each."""

    plant: Plant
    stations: dict[str, Station]
    plcs: dict[str, VirtualPLC]

    def run(self, until: float) -> None:
        self.plant.run(until=until)
        for plc in self.plcs.values():
            plc.scan()


def line(cycle_times: dict[str, float]) -> Line:
    """Independent source -> station pairs, so each machine has its own counters."""
    plant = Plant(warmup=0)
    rng = np.random.default_rng(0)
    stations, plcs = {}, {}
    for name, cycle in cycle_times.items():
        plant.add_source(f"src-{name}", product="part", saturated=True)
        st = plant.add_station(name, servers=1, buffer=2,
                               process_time={"*": Constant(cycle).sampler(rng)},
                               ideal_cycle_time={"*": cycle})
        plant.connect(f"src-{name}", name)
        stations[name] = st
        plcs[name] = VirtualPLC(st, "L1", name, plant.env)
    return Line(plant, stations, plcs)


Session = Callable[[ModbusServer, AsyncModbusTcpClient], Awaitable[None]]


def serve(lin: Line, settings: ModbusSettings, session: Session, machine: str = "") -> None:
    """Start a server for *lin*, connect a client to *machine*'s port, run *session*."""

    async def main() -> None:
        server = ModbusServer(lin.plcs, settings)
        async with server:
            endpoint = server.endpoint(machine or next(iter(lin.plcs)))
            client = AsyncModbusTcpClient(endpoint.host, port=endpoint.port, timeout=5)
            assert await client.connect()
            try:
                await session(server, client)
            finally:
                client.close()

    asyncio.run(main())


def value(client: AsyncModbusTcpClient, registers: Sequence[int], kind: Any,
          order: Literal["big", "little"] = "big") -> Any:
    """Decode *registers* with pymodbus's converter."""
    return client.convert_from_registers(list(registers), data_type=kind, word_order=order)


def test_counters_read_over_modbus_equal_the_station() -> None:
    """ProdProcessedCount AccCount (UINT32 at input register 104) and StateCurrent read over
    TCP equal the station's produced count and Execute."""
    lin = line({"cut": 10.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        for until in (100.0, 250.0):
            lin.run(until)
            rr = await client.read_input_registers(100, count=72, device_id=1)
            assert not rr.isError()
            assert value(client, rr.registers[4:6], UINT32) == lin.stations["cut"].produced
            state = await client.read_input_registers(2, count=2, device_id=1)
            assert value(client, state.registers, INT32) == int(State.EXECUTE)
        speed = await client.read_input_registers(168, count=2, device_id=1)
        assert value(client, speed.registers, FLOAT32) == 6.0
        bits = await client.read_discrete_inputs(0, count=5, device_id=1)
        assert bits.bits[:5] == [True, False, False, False, False]

    serve(lin, ModbusSettings(port=0), session)


def test_a_stop_written_to_holding_registers_stops_the_station() -> None:
    """CntrlCmd = 3 and CmdChangeRequest = 1 written with FC16 stop the station; the PLC
    clears the request, which a read shows."""
    lin = line({"cut": 10.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        lin.run(50.0)
        words = client.convert_to_registers(int(Command.STOP), INT32)
        rr = await client.write_registers(5, [*words, 1], device_id=1)
        assert not rr.isError()
        lin.run(51.0)
        st = lin.stations["cut"]
        assert st.state == MachineState.STOPPED
        frozen = st.produced
        lin.run(200.0)
        assert st.produced == frozen
        held = await client.read_holding_registers(5, count=3, device_id=1)
        assert held.registers == [0, 3, 0]
        state = await client.read_input_registers(2, count=2, device_id=1)
        assert value(client, state.registers, INT32) == int(State.STOPPED)

    serve(lin, ModbusSettings(port=0), session)


def test_pulse_coils_issue_commands() -> None:
    """Writing 1 to coil 2 (Stop) stops; coil 0 (Reset) then coil 1 (Start) restart. A
    pulse coil reads 1 until the PLC takes the command, then 0."""
    lin = line({"cut": 10.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        st = lin.stations["cut"]
        lin.run(20.0)
        assert not (await client.write_coil(2, True, device_id=1)).isError()
        assert (await client.read_coils(0, count=3, device_id=1)).bits[:3] == [
            False, False, True]
        lin.run(21.0)
        assert (await client.read_coils(0, count=3, device_id=1)).bits[:3] == [
            False, False, False]
        assert st.state == MachineState.STOPPED
        frozen = st.produced
        for coil in (0, 1):
            await client.write_coil(coil, True, device_id=1)
            lin.run(lin.plant.env.now + 1.0)
        lin.run(100.0)
        assert st.produced > frozen
        assert lin.plcs["cut"].packml.state is State.EXECUTE

    serve(lin, ModbusSettings(port=0), session)


def test_bad_requests_answer_exceptions() -> None:
    """Unmapped addresses answer 02 for reads and writes; a value that does not decode or
    that the PLC refuses answers 03; nothing is stored either way."""
    lin = line({"cut": 10.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        lin.run(10.0)
        before = lin.plcs["cut"].tags.version
        cases = [
            client.read_input_registers(90, count=2, device_id=1),   # gap between groups
            client.read_input_registers(502, count=1, device_id=1),  # gap after Seq
            client.read_input_registers(3802, count=1, device_id=1),  # gap after StateLog.Seq
            client.read_input_registers(4412, count=1, device_id=1),  # past the end
            client.read_holding_registers(25, count=1, device_id=1),
            client.write_register(30, 1, device_id=1),
            client.read_coils(14, count=1, device_id=1),
            client.write_coil(13, True, device_id=1),
            client.read_discrete_inputs(7, count=1, device_id=1),
        ]
        for request in cases:
            rr = await request
            assert rr.isError()
            assert rr.exception_code == 2
        speed = client.convert_to_registers(-1.0, FLOAT32)
        for address, registers in [(7, [2]), (3, speed), (8, [0xC3A9]), (24, [9])]:
            rr = await client.write_registers(address, registers, device_id=1)
            assert rr.isError()
            assert rr.exception_code == 3
        assert lin.plcs["cut"].tags.version == before
        assert lin.plcs["cut"].tags["PackTags.Command.CmdChangeRequest"] is False

    serve(lin, ModbusSettings(port=0), session)


def test_holding_only_profile_refuses_writes_to_status() -> None:
    """With everything in holding registers, status registers read fine but writing one
    answers 02 (illegal data address) and changes nothing."""
    lin = line({"cut": 10.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        lin.run(30.0)
        status = server.map.by_path("PackTags.Status.StateCurrent")[0]
        assert status.table is Table.HOLDING_REGISTER
        rr = await client.read_holding_registers(status.address, count=2, device_id=1)
        assert value(client, rr.registers, INT32) == int(State.EXECUTE)
        wr = await client.write_registers(status.address, [0, 2], device_id=1)
        assert wr.isError()
        assert wr.exception_code == 2
        assert lin.plcs["cut"].packml.state is State.EXECUTE
        coils = await client.read_coils(0, count=1, device_id=1)
        assert coils.isError()

    serve(lin, ModbusSettings(port=0, profile=Profile.HOLDING_ONLY), session)


def test_word_order_low_first() -> None:
    """With low word first, 32-bit values decode with pymodbus's little word order, and a
    command written word-swapped is understood."""
    lin = line({"cut": 10.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        lin.run(300.0)
        rr = await client.read_input_registers(104, count=2, device_id=1)
        assert value(client, rr.registers, UINT32, "little") == lin.stations["cut"].produced
        assert rr.registers[0] == lin.stations["cut"].produced  # low word first
        words = client.convert_to_registers(int(Command.HOLD), INT32, word_order="little")
        await client.write_registers(5, [*words, 1], device_id=1)
        lin.run(301.0)
        assert lin.plcs["cut"].packml.state is State.HELD

    serve(lin, ModbusSettings(port=0, word_order=WordOrder.LOW_FIRST), session)


def test_one_unit_id_per_machine() -> None:
    """On one port, unit 1 is the first machine and unit 2 the second, each with its own
    counters; a unit id no machine has answers exception 0B."""
    lin = line({"fast": 5.0, "slow": 20.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        lin.run(400.0)
        assert [e.unit_id for e in server.endpoints] == [1, 2]
        for unit, name in ((1, "fast"), (2, "slow")):
            rr = await client.read_input_registers(104, count=2, device_id=unit)
            assert value(client, rr.registers, UINT32) == lin.stations[name].produced
        assert lin.stations["fast"].produced != lin.stations["slow"].produced
        stranger = await client.read_input_registers(104, count=2, device_id=9)
        assert stranger.isError()  # no machine 9: never someone's data
        assert stranger.exception_code == 0x0B  # gateway target device failed to respond

    serve(lin, ModbusSettings(port=0), session)


def test_one_port_per_machine() -> None:
    """With one port per machine each machine answers on its own port (any unit id)."""
    lin = line({"fast": 5.0, "slow": 20.0})

    async def session(server: ModbusServer, client: AsyncModbusTcpClient) -> None:
        lin.run(400.0)
        ports = {e.machine: e.port for e in server.endpoints}
        assert len(set(ports.values())) == 2
        slow = AsyncModbusTcpClient("127.0.0.1", port=ports["slow"], timeout=5)
        await slow.connect()
        try:
            rr = await slow.read_input_registers(104, count=2, device_id=9)
            assert value(slow, rr.registers, UINT32) == lin.stations["slow"].produced
        finally:
            slow.close()
        rr = await client.read_input_registers(104, count=2, device_id=1)
        assert value(client, rr.registers, UINT32) == lin.stations["fast"].produced

    serve(lin, ModbusSettings(port=0, addressing=Addressing.PORT), session, "fast")
