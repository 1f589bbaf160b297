"""The unit in work and the genealogy FIFO over Modbus TCP, as a barcode-reading line shows
them: read with pyModbusTCP (neither our client nor pymodbus) and decoded by hand from the
documented layout (``mestwin plc map``: ASCII, two characters per register, first character
in the high byte, NUL padded; UINT32 high word first), against the plant's ground truth (the
machine's own attributes and the event log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import simpy
from pyModbusTCP.client import ModbusClient

from mestwin.plantmodels import EventKind, Plant
from mestwin.sim.loop import make_plcs
from mestwin.sim.scenario import build_plant, load_scenario
from mestwin.virtual_plc.modbus_server import ModbusServer, ModbusSettings
from mestwin.virtual_plc.plc import VirtualPLC

CURRENT_LOT, CURRENT_SERIAL, TEXT_REGISTERS = 31, 47, 16
"""Input registers 300032 and 300048: 32 characters each."""
SEQ = 500
"""Input register 300501: Genealogy.Seq (UINT32)."""
RECORD_0, RECORD_STRIDE, RECORD_REGISTERS, SLOTS = 600, 200, 200, 16
"""Genealogy.Record[k] at 600 + 200 k, 400 characters."""
MAX_READ = 125
"""Most registers one read may return (Modbus Application Protocol v1.1b3, 6.4)."""
PROCESSING = 1


def text(words: list[int]) -> str:
    """Registers as the ASCII string they hold (NUL padding dropped)."""
    return b"".join(w.to_bytes(2, "big") for w in words).rstrip(b"\0").decode("ascii")


async def read(client: ModbusClient, address: int, count: int) -> list[int]:
    """FC04 through pyModbusTCP (blocking, so in a thread), at most 125 registers a request."""
    words: list[int] = []
    for offset in range(0, count, MAX_READ):
        got = await asyncio.wait_for(asyncio.to_thread(
            client.read_input_registers, address + offset, min(MAX_READ, count - offset)), 10)
        assert got is not None, client.last_error_as_txt
        words += got
    return words


def machines(plant: Plant) -> dict[str, Any]:
    """Machine id -> the plant's server object (its truth: serial, lot, station, index)."""
    return {m.id: m for station in plant.stations.values() for m in station.machines()}


def starts(plant: Plant, machine: Any) -> list[tuple[float, str]]:
    """(time, serial) of every unit start on *machine* from the event log: a state row whose
    serial is set and differs from the machine's previous row's."""
    out, last = [], None
    for row in plant.log.rows:
        if row[1] == EventKind.STATE and (row[2], row[3]) == (machine.station.id, machine.index):
            if row[6] and row[6] != last:
                out.append((row[0], row[6]))
            last = row[6]
    return out


Session = Callable[[Plant, dict[str, VirtualPLC], Callable[[str], ModbusClient]],
                   Awaitable[None]]


def serve(scenarios_dir: Path, stem: str, session: Session) -> None:
    """Build scenario *stem* with one PLC per machine, serve them over Modbus on 127.0.0.1
    and run *session* with a pyModbusTCP client factory (machine id -> client)."""
    scenario = load_scenario(scenarios_dir / f"{stem}.yaml").model_copy(update={"warmup": 0.0})
    env = simpy.Environment()
    plant = build_plant(scenario, env)
    plant.start()
    plcs = make_plcs(plant, "L1", 0.1)
    clients: list[ModbusClient] = []

    async def main() -> None:
        async with ModbusServer(plcs, ModbusSettings(port=0)) as server:
            def connect(machine: str) -> ModbusClient:
                endpoint = server.endpoint(machine)
                client = ModbusClient(endpoint.host, endpoint.port, endpoint.unit_id,
                                      timeout=5.0, auto_open=True)
                clients.append(client)
                return client
            try:
                await session(plant, plcs, connect)
            finally:
                for client in clients:
                    client.close()

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
def test_the_serial_and_lot_registers_show_the_unit_in_work(scenarios_dir: Path) -> None:
    """Sampled while the bottling line runs, every machine's CurrentSerial registers equal
    the serial it is processing (the machine's own, and its newest start in the event log),
    and CurrentLot equals the lot that serial was released with."""

    async def session(plant: Plant, plcs: dict[str, VirtualPLC],
                      connect: Callable[[str], ModbusClient]) -> None:
        clients = {name: connect(name) for name in plcs}
        truth = machines(plant)
        compared = 0
        for until in range(40, 400, 23):
            plant.env.run(until=float(until))
            for name, client in clients.items():
                serial = text(await read(client, CURRENT_SERIAL, TEXT_REGISTERS))
                lot = text(await read(client, CURRENT_LOT, TEXT_REGISTERS))
                machine = truth[name]
                assert serial == (machine.current_serial or ""), name
                if not serial:
                    continue
                assert starts(plant, machine)[-1][1] == serial
                released = [row[4] for row in plant.log.rows
                            if row[1] == EventKind.RELEASE and row[2] == serial]
                assert len(released) == 1
                assert lot == (released[0] or "")
                compared += bool(lot)
        assert compared > 10

    serve(scenarios_dir, "bottling_line", session)


@pytest.mark.timeout(60)
def test_the_genealogy_fifo_holds_every_recent_start_with_its_kit(scenarios_dir: Path) -> None:
    """After 3000 s of the assembly line, each machine's Genealogy.Seq counts its unit starts
    in the event log, and the records of the last 16 (read as two requests each, at the
    documented slot n % 16) carry each start's number, time, serial, product, lot and what
    the unit consumed there (the log's CONSUME rows, component serials with their lot)."""

    async def session(plant: Plant, plcs: dict[str, VirtualPLC],
                      connect: Callable[[str], ModbusClient]) -> None:
        plant.env.run(until=3000.0)
        rows = plant.log.rows
        released = {r[2]: r for r in rows if r[1] == EventKind.RELEASE}
        kits = 0
        for name, machine in machines(plant).items():
            client = connect(name)
            high, low = await read(client, SEQ, 2)
            seq = high << 16 | low
            truth = starts(plant, machine)
            assert seq == len(truth) > 0, name
            for number in range(max(1, seq - SLOTS + 1), seq + 1):
                words = await read(client, RECORD_0 + RECORD_STRIDE * (number % SLOTS),
                                   RECORD_REGISTERS)
                fields = text(words).split("|")
                time, serial = truth[number - 1]
                assert fields[:3] == [str(number), repr(time), serial]
                release = released.get(serial)
                product = release[3] if release else serial.rsplit("-", 1)[0]
                lot = (release[4] or "") if release else ""
                assert fields[3:5] == [product, lot]
                consumed = sorted((r[4], r[5]) for r in rows if r[1] == EventKind.CONSUME
                                  and (r[2], r[3]) == (machine.station.id, serial))
                items = [part.rsplit("=", 1) for part in fields[6].split(",") if part]
                assert sorted((item.partition("@")[0], float(q)) for item, q in items) \
                    == consumed
                kits += bool(consumed)
        assert kits > 0

    serve(scenarios_dir, "assembly_line", session)


@pytest.mark.timeout(60)
def test_a_record_is_read_in_two_requests_not_one(scenarios_dir: Path) -> None:
    """Raw FC04 frames: the 200 registers of a record in one request answer exception 03
    (quantity past 125, Modbus Application Protocol v1.1b3 6.4); its two halves (125 + 75)
    answer 250 and 150 data bytes that together spell the record slot 1 holds (a record
    whose number is 1 modulo 16)."""

    async def session(plant: Plant, plcs: dict[str, VirtualPLC],
                      connect: Callable[[str], ModbusClient]) -> None:
        plant.env.run(until=600.0)
        name = next(n for n, p in plcs.items() if p.tags["Genealogy.Seq"])
        endpoint = connect(name)  # only its host, port and unit id: the frames are ours
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(endpoint.host, endpoint.port), 10)

        async def fc04(tid: int, address: int, count: int) -> bytes:
            writer.write(tid.to_bytes(2, "big") + b"\0\0\0\x06"
                         + bytes([endpoint.unit_id, 4]) + address.to_bytes(2, "big")
                         + count.to_bytes(2, "big"))
            header = await asyncio.wait_for(reader.readexactly(6), 10)
            assert header[:4] == tid.to_bytes(2, "big") + b"\0\0"
            return await asyncio.wait_for(
                reader.readexactly(int.from_bytes(header[4:6], "big")), 10)

        try:
            assert await fc04(1, RECORD_0 + RECORD_STRIDE, 200) == bytes(
                [endpoint.unit_id, 0x84, 0x03])
            first = await fc04(2, RECORD_0 + RECORD_STRIDE, 125)
            second = await fc04(3, RECORD_0 + RECORD_STRIDE + 125, 75)
        finally:
            writer.close()
        assert first[1:3] == bytes([4, 250])
        assert second[1:3] == bytes([4, 150])
        record = (first[3:] + second[3:]).rstrip(b"\0").decode("ascii")
        assert record == plcs[name].tags["Genealogy.Record[1]"]
        assert int(record.split("|")[0]) % SLOTS == 1

    serve(scenarios_dir, "bottling_line", session)
