"""The one module that imports pymodbus (pinned 3.16.1): a Modbus TCP listener.

pymodbus changed its server datastore in nearly every minor release; here it is 3.16's
``SimDevice`` / ``SimData``: a device is four blocks (coils, discrete inputs, holding and
input registers) plus one async *action* hook that pymodbus calls for every request after it
has checked the addresses, with the block's live register list. This module turns that into
the small protocol-neutral :class:`DeviceHandler` interface that
:mod:`mestwin.virtual_plc.modbus_server` implements, so nothing else depends on pymodbus.

What pymodbus itself answers: a register address outside the map, or in a gap of it, gives
exception 02 (illegal data address); so does a write to a register marked read-only.
Everything else (bits, values) is the handler's decision.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from mestwin.virtual_plc.regmap import RegisterMap, Table

ILLEGAL_ADDRESS = 2
"""Modbus exception 02."""
ILLEGAL_VALUE = 3
"""Modbus exception 03."""

_TABLE_OF_FC = {1: Table.COIL, 5: Table.COIL, 15: Table.COIL, 2: Table.DISCRETE_INPUT,
                3: Table.HOLDING_REGISTER, 6: Table.HOLDING_REGISTER,
                16: Table.HOLDING_REGISTER, 22: Table.HOLDING_REGISTER,
                23: Table.HOLDING_REGISTER, 4: Table.INPUT_REGISTER}
_BLOCK_ORDER = (Table.COIL, Table.DISCRETE_INPUT, Table.HOLDING_REGISTER, Table.INPUT_REGISTER)


class Image:
    """The live contents of one table of one device, addressed by wire address.

    For registers a value is a 16-bit int; for coils and discrete inputs it is 0 or 1
    (pymodbus packs 16 bits per stored word, bit 0 first).
    """

    def __init__(self, table: Table, start: int, words: list[int]) -> None:
        self.table = table
        self._start = start
        self._words = words

    def get(self, address: int, count: int) -> list[int]:
        """*count* values from *address* on."""
        if not self.table.is_bit:
            offset = address - self._start
            return self._words[offset:offset + count]
        return [(self._words[a // 16 - self._start] >> (a % 16)) & 1
                for a in range(address, address + count)]

    def put(self, address: int, values: Sequence[int]) -> None:
        """Store *values* from *address* on."""
        if not self.table.is_bit:
            offset = address - self._start
            self._words[offset:offset + len(values)] = values
            return
        for a, value in enumerate(values, start=address):
            index, mask = a // 16 - self._start, 1 << (a % 16)
            word = self._words[index]
            self._words[index] = word | mask if value else word & ~mask


class DeviceHandler(Protocol):
    """What a device does with requests (implemented by the Modbus server)."""

    def read(self, image: Image, address: int) -> int | None:
        """Bring *image* up to date before a read at *address*; an exception code refuses."""

    def write(self, image: Image, address: int, values: list[int]) -> int | None:
        """Take a client write of *values* at *address* (bits as 0/1); an exception code
        refuses it and nothing is stored."""


@dataclass(frozen=True)
class DeviceSpec:
    """One device of a listener: its unit id (0: any), map, initial image and handler."""

    unit_id: int
    rmap: RegisterMap
    initial: dict[Table, dict[int, list[int]]]
    """Table -> entry address -> initial registers/bits of every entry of the map."""
    handler: DeviceHandler


def _blocks(spec: DeviceSpec) -> tuple[list[SimData], list[SimData], list[SimData],
                                       list[SimData]]:
    blocks: list[list[SimData]] = []
    for table in _BLOCK_ORDER:
        entries = spec.rmap.table(table)
        values = spec.initial.get(table, {})
        if table.is_bit:
            if not entries:
                blocks.append([SimData(0, values=[False], datatype=DataType.BITS)])
                continue
            bits = [False] * (entries[-1].end - entries[0].address)
            for e in entries:
                bits[e.address - entries[0].address] = bool(values[e.address][0])
            blocks.append([SimData(entries[0].address, values=bits, datatype=DataType.BITS)])
        elif not entries:
            blocks.append([SimData(0, datatype=DataType.INVALID)])
        else:
            blocks.append([SimData(e.address, values=list(values[e.address]),
                                   datatype=DataType.REGISTERS, readonly=not e.writable)
                           for e in entries])
    return blocks[0], blocks[1], blocks[2], blocks[3]


async def _action(handler: DeviceHandler, function_code: int, start_address: int,
                  address: int, _count: int, registers: list[int],
                  set_values: list[int] | list[bool] | None) -> ExcCodes | None:
    table = _TABLE_OF_FC.get(function_code)
    if table is None:
        return ExcCodes.ILLEGAL_FUNCTION
    image = Image(table, start_address, registers)
    if set_values is None:
        code = handler.read(image, address)
    else:
        code = handler.write(image, address, [int(v) for v in set_values])
    return ExcCodes(code) if code else None


class Listener:
    """A Modbus TCP server on *host*:*port* (0: any free port) serving *devices*."""

    def __init__(self, devices: Sequence[DeviceSpec], host: str = "127.0.0.1",
                 port: int = 502) -> None:
        self.host = host
        self._requested_port = port
        self._devices = [
            SimDevice(d.unit_id, simdata=_blocks(d), use_bit_addressing=True,
                      action=functools.partial(_action, d.handler))
            for d in devices]
        self._server: ModbusTcpServer | None = None

    @property
    def port(self) -> int:
        """The port actually bound (after :meth:`start`)."""
        if self._server is None or self._server.transport is None:
            return self._requested_port
        sockets = getattr(self._server.transport, "sockets", None)
        return int(sockets[0].getsockname()[1]) if sockets else self._requested_port

    async def start(self) -> None:
        """Bind and serve in the background of the running event loop."""
        self._server = ModbusTcpServer(self._devices, address=(self.host, self._requested_port))
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
