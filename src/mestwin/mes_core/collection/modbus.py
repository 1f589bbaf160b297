"""The Modbus TCP transport: the MES polls the machines' registers.

Modbus has no subscriptions, so the MES polls: every *interval* it reads each device's
mapped tags in as few requests as the map allows (contiguous runs of at most 125
registers), decodes them with the shared codec (:mod:`mestwin.protocols.modbus_codec`) and
delivers what changed since the last poll as one batch. Modbus carries no time stamps, so
a change's time is read from the PLC in the same poll: for a tag configured in *stamps*,
the tag that dates it (``Status.MachineState`` and ``StateReason`` by
``Status.StateChangeTime``, the PLC's instant of the change, so a state that is seen
is timed exactly however slowly the MES polls); for any other tag, the PLC's simulation clock
(``Diagnostics.SimTime``, the time of the scan that published the value: late by up to a
poll interval). A state that begins and ends between two polls is not seen at all, unless
the PLC keeps a :class:`StateLog` (below); the collector's reconciliation with the
cumulative state times reports what is lost as a gap.

Polling samples, so what happens between two polls is lost unless the PLC keeps it: a
:class:`RecordFifo` (the genealogy FIFO, ``Genealogy.Seq`` and ``Genealogy.Record[k]``) is
read as a FIFO, not as tags: each poll reads the sequence number with the other tags and
then only the records written since the last poll (a record longer than one read takes
several), delivered in the same batch as the sequence number. Every unit start reaches the
MES however slowly it polls, as long as no more than one FIFO's worth happens between polls.
A :class:`StateLog` (``StateLog.Seq`` and ``StateLog.Record[k]``: sequence number, time,
MachineState and StateReason of each change) is read the same way and replaces the polled
state tags: its records are delivered, in order, as changes of ``Status.StateReason`` and
``Status.MachineState`` at each record's own time, so every state is timed exactly however
short it was. The first poll takes the polled state (dated by ``StateChangeTime``) as the
baseline and the records written after it; a sequence number that went back is a restarted
PLC (its records from 1 on); records overwritten before they were read are counted in
:attr:`ModbusPollingSource.lost_state_records` (their span is a gap the reconciliation flags).

The MES is configured with the register map, as an integrator configures any MES from the
machine vendor's manual (``mestwin plc map`` prints ours). This is the one module of the MES
that imports pymodbus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from mestwin.mes_core.collection.source import TagChange, TagSource, TagValue, TagWriteError
from mestwin.protocols.modbus_codec import DecodeError, Encoding, Table, WordOrder, decode, encode

_log = logging.getLogger(__name__)

MAX_READ = 125
TIME_PATH = "Diagnostics.SimTime"


@dataclass(frozen=True)
class RegisterTag:
    """Where tag *path* lives: *table*, 0-based *address*, *size* registers, *encoding*."""

    path: str
    table: Table
    address: int
    size: int
    encoding: Encoding


@dataclass(frozen=True)
class RecordFifo:
    """A PLC's FIFO of event records: tag *seq* numbers the newest record written (the PLC
    writes the record first), and record n is in ``records[n % len(records)]``."""

    seq: str
    records: tuple[RegisterTag, ...]


STATE_LOG_SEQ = "StateLog.Seq"
"""The state log's sequence number: the number of its newest record (0: none yet)."""


def state_log_slot(k: int) -> tuple[str, str, str, str]:
    """The paths of slot *k* of the state log: its Seq, Time, State and Reason."""
    return tuple(f"StateLog.Record[{k}].{field}"  # type: ignore[return-value]
                 for field in ("Seq", "Time", "State", "Reason"))


@dataclass(frozen=True)
class StateSlot:
    """One slot of a :class:`StateLog`: the registers of a record's fields."""

    seq: RegisterTag
    time: RegisterTag
    state: RegisterTag
    reason: RegisterTag


@dataclass(frozen=True)
class StateLog:
    """A PLC's log of state changes: tag *seq* numbers the newest record (written after the
    record), record n is in ``slots[n % len(slots)]``; its state and reason are delivered as
    changes of tags *state* and *reason*, which are polled with *change_time* (the time of
    the current state) for the baseline."""

    seq: str
    slots: tuple[StateSlot, ...]
    state: str
    reason: str
    change_time: str

    @property
    def tags(self) -> tuple[RegisterTag, ...]:
        """Every register tag of the slots."""
        return tuple(t for s in self.slots for t in (s.seq, s.time, s.state, s.reason))


@dataclass(frozen=True)
class ModbusDevice:
    """A machine reached at *host*:*port* as unit *unit_id*."""

    machine: str
    host: str
    port: int
    unit_id: int


def read_blocks(tags: Sequence[RegisterTag]) -> list[tuple[Table, int, int, list[RegisterTag]]]:
    """Group *tags* into reads: (table, first address, count, tags), contiguous runs of at
    most :data:`MAX_READ` registers (gaps up to 8 registers are read through)."""
    blocks: list[tuple[Table, int, int, list[RegisterTag]]] = []
    for table in Table:
        members = sorted((t for t in tags if t.table is table), key=lambda t: t.address)
        start, end = -1, -1
        group: list[RegisterTag] = []
        for tag in members:
            if group and tag.address - end <= 8 and tag.address + tag.size - start <= MAX_READ:
                end = max(end, tag.address + tag.size)
                group.append(tag)
                continue
            if group:
                blocks.append((table, start, end - start, group))
            start, end, group = tag.address, tag.address + tag.size, [tag]
        if group:
            blocks.append((table, start, end - start, group))
    return blocks


class ModbusPollingSource(TagSource):
    """Polls *tags* of every device in *devices* every *interval* seconds, and the records
    of *fifo* (whose *seq* tag must be among *tags*) as a FIFO; *stamps* maps a tag to the
    tag that holds its change time (both among *tags*); *state_log*, if given, times the
    state (its *seq*, *state*, *reason* and *change_time* tags among *tags*)."""

    def __init__(self, devices: Sequence[ModbusDevice], tags: Sequence[RegisterTag], *,
                 word_order: WordOrder = WordOrder.HIGH_FIRST, interval: float = 0.2,
                 fifo: RecordFifo | None = None,
                 stamps: Mapping[str, str] | None = None,
                 state_log: StateLog | None = None) -> None:
        super().__init__()
        self.stamps = dict(stamps or {})
        self.devices = list(devices)
        self.tags = {t.path: t for t in tags}
        self._rank = {t.path: i for i, t in enumerate(tags)}
        """Delivery order within a poll: the order of *tags* (give the PLC's write order)."""
        self.word_order = word_order
        self.interval = interval
        self.fifo = fifo
        records = {t.path for t in fifo.records} if fifo is not None else set()
        self.state_log = state_log
        if state_log is not None:
            records |= {t.path for t in state_log.tags}
        self.blocks = read_blocks([t for t in tags if t.path not in records])
        self.polls = 0
        self.record_reads = 0
        """Records read from FIFOs (each one or more requests)."""
        self._seq: dict[str, int] = {}
        """Per machine, the FIFO sequence number whose records have been read."""
        self._log_seq: dict[str, int] = {}
        """Per machine, the state log's sequence number whose records have been delivered."""
        self.lost_state_records = 0
        """State-log records overwritten in a PLC before this source read them."""
        self._clients: dict[str, AsyncModbusTcpClient] = {}
        """Per machine, its connection (one each, so devices are read in parallel)."""
        self._last: dict[tuple[str, str], TagValue] = {}
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def machines(self) -> Sequence[str]:
        return [d.machine for d in self.devices]

    async def start(self) -> None:
        for device in self.devices:
            if device.machine not in self._clients:
                client = AsyncModbusTcpClient(device.host, port=device.port, timeout=2,
                                              retries=1)
                await client.connect()
                self._clients[device.machine] = client
        await self.poll()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._writes):
            await task
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
            except (ModbusException, OSError, ConnectionError) as error:
                _log.warning("Modbus poll failed (%s); retrying", error)

    async def poll(self) -> None:
        """Read every device once (each over its own connection, all at once) and deliver
        what changed, as one batch in device order."""
        changes = await asyncio.gather(*(self._poll(device) for device in self.devices))
        batch = [change for device_changes in changes for change in device_changes]
        self.polls += 1
        self.deliver(batch)

    async def _poll(self, device: ModbusDevice) -> list[TagChange]:
        """Read *device* once: what changed since its last poll, in the PLC's write order."""
        batch: list[TagChange] = []
        client = self._clients[device.machine]
        values: dict[str, TagValue] = {}
        for table, address, count, members in self.blocks:
            words = await self._read(client, device.unit_id, table, address, count)
            for tag in members:
                chunk = words[tag.address - address: tag.address - address + tag.size]
                try:
                    values[tag.path] = decode(tag.encoding, chunk, self.word_order)
                except DecodeError:
                    continue
        logged: list[TagChange] = []
        if self.state_log is not None:
            logged = await self._logged_states(client, device, values)
        if self.fifo is not None:
            values.update(await self._new_records(client, device, values))
        clock = values.get(TIME_PATH)
        time = float(clock) if isinstance(clock, int | float) else 0.0
        stamps, rank, end = self.stamps, self._rank, len(self._rank)
        after = rank.get(self.state_log.state, end) if self.state_log is not None else end
        for path in sorted(values, key=lambda p: rank.get(p, end)):
            if logged and rank.get(path, end) > after:
                batch += logged  # the logged states where the state tag would be
                logged = []
            value = values[path]
            key = (device.machine, path)
            if self._last.get(key) != value or key not in self._last:
                self._last[key] = value
                stamp = values.get(stamps[path]) if path in stamps else None
                at = float(stamp) if isinstance(stamp, int | float) else time
                batch.append(TagChange(device.machine, path, value, at))
        return [*batch, *logged]

    async def _new_records(self, client: AsyncModbusTcpClient, device: ModbusDevice,
                           values: dict[str, TagValue]) -> dict[str, TagValue]:
        """The FIFO records *device* wrote since the last poll (all it holds, the first
        time: a collector resuming from a checkpoint may need older ones)."""
        assert self.fifo is not None
        seq, last = values.get(self.fifo.seq), self._seq.get(device.machine)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq == last:
            return {}
        slots = self.fifo.records
        first = 1 if last is None or seq < last else last + 1  # seq < last: PLC restarted
        records: dict[str, TagValue] = {}
        for number in range(max(first, seq - len(slots) + 1), seq + 1):
            tag = slots[number % len(slots)]
            words: list[int] = []
            for offset in range(0, tag.size, MAX_READ):
                words += await self._read(client, device.unit_id, tag.table,
                                          tag.address + offset, min(MAX_READ, tag.size - offset))
            self.record_reads += 1
            try:
                records[tag.path] = decode(tag.encoding, words, self.word_order)
            except DecodeError:
                continue  # the collector counts it lost (its number will not match)
        self._seq[device.machine] = seq
        return records

    async def _logged_states(self, client: AsyncModbusTcpClient, device: ModbusDevice,
                             values: dict[str, TagValue]) -> list[TagChange]:
        """The state changes *device* logged since the last poll, as changes of the state
        and reason tags at their own times. After the first poll the polled state tags are
        taken out of *values* (the log supersedes them); in the first, the polled state is
        the baseline, and the records after the one that shows it follow it."""
        log = self.state_log
        assert log is not None
        seq, last = values.get(log.seq), self._log_seq.get(device.machine)
        if not isinstance(seq, int) or isinstance(seq, bool):
            return []  # no log to read: the polled state it is
        if last is not None:
            values.pop(log.state, None)
            values.pop(log.reason, None)
        if seq == last:
            return []
        size = len(log.slots)
        first = 1 if last is None or seq < last else last + 1  # seq < last: PLC restarted
        lost = max(0, seq - first + 1 - size) if last is not None else 0
        numbers = range(max(first, seq - size + 1), seq + 1)
        records = await self._read_slots(client, device, numbers)
        if last is None:  # the baseline: the polled state, then the records after it
            polled = (values.get(log.change_time), values.get(log.state),
                      values.get(log.reason))
            shown = [n for n, record in records.items() if record[:3] == polled]
            start = max(shown) + 1 if shown else seq + 1
        else:
            start = numbers.start
            lost += sum(1 for n in numbers if n not in records)
        self._log_seq[device.machine] = seq
        if lost:
            self.lost_state_records += lost
            _log.warning("%s: %d state change(s) overwritten in the PLC's state log before "
                         "they were read (poll more often); the reconciliation flags the span",
                         device.machine, lost)
        changes: list[TagChange] = []
        for n in range(start, seq + 1):
            if n in records:
                at, state, reason = records[n]
                changes += [TagChange(device.machine, log.reason, reason, at),
                            TagChange(device.machine, log.state, state, at)]
        return changes

    async def _read_slots(self, client: AsyncModbusTcpClient, device: ModbusDevice,
                          numbers: range) -> dict[int, tuple[float, int, int]]:
        """Records *numbers* of the state log as (time, state, reason), in as few reads as
        the slots' layout allows; a slot that holds another number (overwritten since the
        sequence number was read) or does not decode is left out."""
        assert self.state_log is not None
        slots = self.state_log.slots
        wanted = {n % len(slots): n for n in numbers}
        tags = [t for k in wanted for t in (slots[k].seq, slots[k].time, slots[k].state,
                                            slots[k].reason)]
        words: dict[str, list[int]] = {}
        for table, address, count, members in read_blocks(tags):
            got = await self._read(client, device.unit_id, table, address, count)
            for tag in members:
                words[tag.path] = got[tag.address - address: tag.address - address + tag.size]
        records: dict[int, tuple[float, int, int]] = {}
        for k, n in wanted.items():
            slot = slots[k]
            try:
                fields = [decode(t.encoding, words[t.path], self.word_order)
                          for t in (slot.seq, slot.time, slot.state, slot.reason)]
            except DecodeError:
                continue
            number, at, state, reason = fields
            if number == n and isinstance(at, float) and isinstance(state, int) \
                    and isinstance(reason, int):
                records[n] = (at, state, reason)
        self.record_reads += len(wanted)
        return dict(sorted(records.items()))

    async def _read(self, client: AsyncModbusTcpClient, unit: int, table: Table, address: int,
                    count: int) -> list[int]:
        if table is Table.INPUT_REGISTER:
            reply = await client.read_input_registers(address, count=count, device_id=unit)
        elif table is Table.HOLDING_REGISTER:
            reply = await client.read_holding_registers(address, count=count, device_id=unit)
        elif table is Table.COIL:
            reply = await client.read_coils(address, count=count, device_id=unit)
        else:
            reply = await client.read_discrete_inputs(address, count=count, device_id=unit)
        if reply.isError():
            raise ModbusException(f"unit {unit} {table} {address}+{count}: {reply}")
        if table.is_bit:
            return [int(b) for b in reply.bits[:count]]
        return list(reply.registers)

    def write(self, machine: str, path: str, value: TagValue) -> None:
        task = asyncio.get_running_loop().create_task(self._write(machine, path, value))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, machine: str, path: str, value: TagValue) -> None:
        device = next((d for d in self.devices if d.machine == machine), None)
        tag = self.tags.get(path)
        if device is None or tag is None or tag.table not in (Table.HOLDING_REGISTER, Table.COIL):
            self.fail(TagWriteError(machine, path, "not a writable mapped tag"))
            return
        client = self._clients[device.machine]
        if tag.table is Table.COIL:
            reply = await client.write_coil(tag.address, bool(value), device_id=device.unit_id)
        else:
            words = encode(tag.encoding, value, tag.size, self.word_order)
            reply = await client.write_registers(tag.address, words, device_id=device.unit_id)
        if reply.isError():
            self.fail(TagWriteError(machine, path, f"Modbus exception {reply}"))
