"""The PLC's state log: every change of (MachineState, StateReason) with its time, kept in
a FIFO so a Modbus MES that polls loses no state shorter than its poll.

The records are checked against the plant's ground truth (the event log's state rows, with
the stop-reason codes of the taxonomy), read over Modbus TCP with pyModbusTCP (neither our
client nor pymodbus) and decoded by hand from the documented layout (``mestwin plc map``:
``StateLog.Seq`` UINT32 at 300801 (3800), record k at 3900 + 8 k: Seq UINT32, Time FLOAT64,
State INT16, Reason INT16, in the device's word order; holding-only: 4000 and 4100 + 8 k).
Then the MES's own polling client reads it: exact intervals at a poll far slower than the
states, and an overrun reported as lost records and a collection gap.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import pytest
import simpy
from pyModbusTCP.client import ModbusClient

from mestwin.mes_core.collection.collector import Collector
from mestwin.mes_core.collection.events import Event, StateInterval
from mestwin.mes_core.collection.modbus import ModbusDevice, ModbusPollingSource
from mestwin.plantmodels import EventKind, Plant
from mestwin.sim.loop import make_plcs, reason_codes
from mestwin.sim.scenario import build_plant, load_scenario
from mestwin.sim.wire import MODBUS_STAMPS, modbus_fifo, modbus_state_log, modbus_tags
from mestwin.virtual_plc.modbus_server import ModbusServer, ModbusSettings
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.regmap import Profile, WordOrder
from mestwin.virtual_plc.tags import stop_reason

SLOTS, RECORD_REGISTERS = 64, 8
BASES = {Profile.STANDARD: (3800, 3900), Profile.HOLDING_ONLY: (4000, 4100)}
"""Per profile: the address of StateLog.Seq and of record slot 0."""
MAX_READ = 125
PROCESSING = 1

Change = tuple[float, int, int]
"""(time, MachineState, StateReason code)."""


def plant_of(scenarios_dir: Path, stem: str
             ) -> tuple[Plant, dict[str, VirtualPLC], dict[str, tuple[float, int, str]]]:
    """Scenario *stem* with a PLC per machine, and what each PLC found when it started."""
    scenario = load_scenario(scenarios_dir / f"{stem}.yaml").model_copy(update={"warmup": 0.0})
    plant = build_plant(scenario, simpy.Environment())
    plant.start()
    return plant, make_plcs(plant, "L1", 0.1), found(plant)


def code(state: int, reason: str) -> tuple[int, int]:
    """(state, reason code) as the PLC shows them: code 0 while processing, else the
    taxonomy's code of the stop's reason."""
    return state, 0 if state == PROCESSING else stop_reason(reason).id


def truth_changes(plant: Plant, machine: Any, found: tuple[float, int, str]) -> list[Change]:
    """The changes of (state, reason code) of *machine* that a PLC started at time
    found[0] logs: the state it finds there (the machine's own attributes then, *found*),
    unless it is the tags' initial (0, 0), then every change in the event log after."""
    start, shown = found[0], code(found[1], found[2])
    out = [] if shown == (0, 0) else [(start, *shown)]
    key = (machine.station.id, machine.index)
    for row in plant.log.rows:
        if row[1] == EventKind.STATE and (row[2], row[3]) == key and row[0] >= start:
            state = code(row[4], row[5])
            if state != shown:
                out.append((row[0], *state))
                shown = state
    return out


def found(plant: Plant) -> dict[str, tuple[float, int, str]]:
    """Per machine, its state and reason now (what a PLC started now finds)."""
    return {name: (float(plant.env.now), int(m.state), m.reason)
            for name, m in machines(plant).items()}


def machines(plant: Plant) -> dict[str, Any]:
    return {m.id: m for station in plant.stations.values() for m in station.machines()}


def records(plc: VirtualPLC) -> dict[int, Change]:
    """The log's records by number, from the PLC's tags."""
    out = {}
    for k in range(SLOTS):
        base = f"StateLog.Record[{k}]"
        number = plc.tags.integer(f"{base}.Seq")
        if number:
            out[number] = (plc.tags.real(f"{base}.Time"), plc.tags.integer(f"{base}.State"),
                           plc.tags.integer(f"{base}.Reason"))
    return out


def test_the_log_holds_the_plants_last_64_state_changes(scenarios_dir: Path) -> None:
    """After 600 s of the bottling line (hundreds of changes per machine, so the slots
    wrapped many times), each PLC's StateLog.Seq counts its machine's state changes in the
    event log, and slot n % 64 holds change n (its number, time, state and reason code) for
    the last 64."""
    plant, plcs, start = plant_of(scenarios_dir, "bottling_line")
    plant.env.run(until=600.0)
    wrapped = 0
    for name, machine in machines(plant).items():
        truth = truth_changes(plant, machine, start[name])
        seq = plcs[name].tags.integer("StateLog.Seq")
        assert seq == len(truth) > 0, name
        held = records(plcs[name])
        assert sorted(held) == list(range(max(1, seq - SLOTS + 1), seq + 1))
        assert all(held[n] == truth[n - 1] for n in held), name
        wrapped += seq > 3 * SLOTS
    assert wrapped >= 2


def test_a_restarted_plc_logs_from_1_with_the_state_it_finds(scenarios_dir: Path) -> None:
    """The log is not retained (like the genealogy FIFO): a PLC restarted at 300 s from the
    old one's retained data starts at Seq 1 with the machine's state at the restart, then
    logs every change after it."""
    plant, plcs, _ = plant_of(scenarios_dir, "bottling_line")
    plant.env.run(until=300.0)
    name, machine = next((n, m) for n, m in machines(plant).items()
                         if m.state != 0 or m.reason)
    restart = found(plant)[name]
    again = VirtualPLC(machine, "L1", name, plant.env)
    again.restore(plcs[name].snapshot())
    assert "StateLog" not in repr(plcs[name].snapshot().to_dict())
    plant.env.run(until=330.0)
    truth = truth_changes(plant, machine, restart)
    assert truth[0][0] == 300.0
    assert again.tags.integer("StateLog.Seq") == len(truth) > 1
    assert [records(again)[n] for n in range(1, len(truth) + 1)] == truth
    assert plcs[name].tags.integer("StateLog.Seq") > SLOTS  # the old PLC's count went on


def words_to_record(words: list[int], order: WordOrder) -> tuple[int, Change]:
    """Record registers decoded by hand: UINT32 and FLOAT64 in *order*, big-endian bytes."""
    def raw(chunk: list[int]) -> bytes:
        chunk = chunk if order is WordOrder.HIGH_FIRST else chunk[::-1]
        return b"".join(w.to_bytes(2, "big") for w in chunk)
    number = int.from_bytes(raw(words[0:2]), "big")
    (time,) = struct.unpack(">d", raw(words[2:6]))
    state, reason = struct.unpack(">hh", raw(words[6:7]) + raw(words[7:8]))
    return number, (time, state, reason)


async def fetch(client: ModbusClient, fc: int, address: int, count: int) -> list[int]:
    """*count* registers from *address* by FC04 (or FC03), at most 125 a request."""
    read = client.read_input_registers if fc == 4 else client.read_holding_registers
    out: list[int] = []
    for offset in range(0, count, MAX_READ):
        got = await asyncio.wait_for(asyncio.to_thread(
            read, address + offset, min(MAX_READ, count - offset)), 10)
        assert got is not None, client.last_error_as_txt
        out += got
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("profile", "order"), [
    (Profile.STANDARD, WordOrder.HIGH_FIRST), (Profile.STANDARD, WordOrder.LOW_FIRST),
    (Profile.HOLDING_ONLY, WordOrder.LOW_FIRST)])
def test_the_log_over_modbus_decodes_by_hand_to_the_plants_changes(
        scenarios_dir: Path, profile: Profile, order: WordOrder) -> None:
    """Read with pyModbusTCP (FC04, FC03 in holding-only) at the documented addresses, the
    Seq and all 64 records (512 registers in 5 requests of at most 125) decode by hand to
    the event log's last 64 changes of each machine, in either word order."""
    plant, plcs, start = plant_of(scenarios_dir, "bottling_line")
    plant.env.run(until=400.0)
    seq_address, first = BASES[profile]
    wrapped: list[bool] = []

    async def main() -> None:
        settings = ModbusSettings(port=0, profile=profile, word_order=order)
        async with ModbusServer(plcs, settings) as server:
            for name, machine in machines(plant).items():
                where = server.endpoint(name)
                client = ModbusClient(where.host, where.port, where.unit_id, timeout=5.0)
                fc = 4 if profile is Profile.STANDARD else 3
                try:
                    words = await fetch(client, fc, seq_address, 2)
                    seq = words_to_record([*words, 0, 0, 0, 0, 0, 0], order)[0]
                    log = await fetch(client, fc, first, SLOTS * RECORD_REGISTERS)
                finally:
                    client.close()
                truth = truth_changes(plant, machine, start[name])
                assert seq == len(truth) > 0
                numbers = set()
                for k in range(SLOTS):
                    number, change = words_to_record(
                        log[k * RECORD_REGISTERS:(k + 1) * RECORD_REGISTERS], order)
                    if number == 0:  # never written
                        assert change == (0.0, 0, 0)
                        continue
                    assert number % SLOTS == k
                    assert change == truth[number - 1], (name, number)
                    numbers.add(number)
                assert numbers == set(range(max(1, seq - SLOTS + 1), seq + 1))
                wrapped.append(seq > SLOTS)
        assert any(wrapped)

    asyncio.run(asyncio.wait_for(main(), 50))


def _poll_bottling(scenarios_dir: Path, every: float, until: float,
                   profile: Profile = Profile.STANDARD,
                   order: WordOrder = WordOrder.HIGH_FIRST,
                   log: bool = True) -> tuple[Plant, Collector, ModbusPollingSource,
                                              list[Event], dict[str, Any]]:
    """The bottling line polled by the MES's Modbus client every *every* simulated s up to
    *until* (with the state log, or sampling the state tags if not *log*), then closed."""
    plant, plcs, start = plant_of(scenarios_dir, "bottling_line")
    events: list[Event] = []
    collector = Collector(reason_codes(), [events.extend])
    holder: list[ModbusPollingSource] = []

    async def main() -> None:
        settings = ModbusSettings(port=0, profile=profile, word_order=order)
        async with ModbusServer(plcs, settings) as server:
            devices = [ModbusDevice(e.machine, e.host, e.port, e.unit_id)
                       for e in server.endpoints]
            tags = modbus_tags(server)
            state_log, log_tags = modbus_state_log(server) if log else (None, [])
            source = ModbusPollingSource(devices, [*tags, *log_tags], word_order=order,
                                         interval=3600.0, fifo=modbus_fifo(tags),
                                         stamps=MODBUS_STAMPS, state_log=state_log)
            holder.append(source)
            source.subscribe(collector.on_batch)
            await source.start()
            try:
                step = 1
                while every * step <= until:
                    plant.env.run(until=every * step)
                    await source.poll()
                    step += 1
            finally:
                await source.stop()

    asyncio.run(asyncio.wait_for(main(), 50))
    collector.close(until)
    return plant, collector, holder[0], events, start


def _state_seconds(changes: list[Change], until: float) -> dict[int, float]:
    out: dict[int, float] = {}
    for (t, state, _), (end, _, _) in zip(changes, [*changes[1:], (until, 0, 0)],
                                          strict=True):
        out[state] = out.get(state, 0.0) + end - t
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("profile", "order"), [
    (Profile.STANDARD, WordOrder.HIGH_FIRST), (Profile.HOLDING_ONLY, WordOrder.LOW_FIRST)])
def test_the_mes_times_every_state_from_the_log_at_a_slow_poll(
        scenarios_dir: Path, profile: Profile, order: WordOrder) -> None:
    """Polled every 15 simulated s (about 30 state changes per machine between polls,
    most shorter than a second), the MES's intervals give each machine's seconds per state
    as the event log does (to a microsecond), with no record lost and no collection gap;
    sampling the state tags at the same pace misses most states and reports gaps."""
    plant, collector, source, events, start = _poll_bottling(scenarios_dir, 15.0, 450.0,
                                                             profile, order)
    assert source.lost_state_records == 0
    assert collector.gaps == []
    for name, machine in machines(plant).items():
        truth = _state_seconds(truth_changes(plant, machine, start[name]), 450.0)
        mes: dict[int, float] = {}
        for e in events:
            if isinstance(e, StateInterval) and e.machine == name:
                mes[e.state] = mes.get(e.state, 0.0) + e.end - e.start
        assert mes.keys() == {s for s, seconds in truth.items() if seconds > 0}, name
        for state, seconds in mes.items():
            assert seconds == pytest.approx(truth[state], abs=1e-6), (name, state)
    sampled = _poll_bottling(scenarios_dir, 15.0, 450.0, log=False)[1]
    assert len(sampled.gaps) > 0


@pytest.mark.timeout(60)
def test_an_overrun_log_is_counted_lost_and_flagged_as_a_gap(scenarios_dir: Path) -> None:
    """Polled every 200 simulated s, more than 64 changes happen between polls on the busy
    machines: the MES counts the overwritten records (at least the truth's excess over 64)
    and the reconciliation reports the span as a gap; nothing is invented."""
    plant, collector, source, _, start = _poll_bottling(scenarios_dir, 200.0, 600.0)
    excess = 0
    for name, machine in machines(plant).items():
        times = [t for t, _, _ in truth_changes(plant, machine, start[name])]
        for end in (400.0, 600.0):
            excess += max(0, sum(1 for t in times if end - 200.0 <= t < end) - SLOTS)
    assert excess > 0
    assert source.lost_state_records >= excess
    assert collector.gaps
