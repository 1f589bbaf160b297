"""The one module that imports pymodbus (pinned 3.16.1): a Modbus TCP listener.

pymodbus changed its server datastore in nearly every minor release; here it is 3.16's
``SimDevice`` / ``SimData``: a device is four blocks (coils, discrete inputs, holding and
input registers) plus one async *action* hook that pymodbus calls for every request after it
has checked the addresses, with the block's live register list. This module turns that into
the small protocol-neutral :class:`DeviceHandler` interface that
:mod:`mestwin.virtual_plc.modbus_server` implements, so nothing else depends on pymodbus.

pymodbus keeps the listener, the connections and the register blocks (a register address
outside the map, in a gap of it, or read-only for a write, gives exception 02). Everything
between the bytes and the blocks is ours (:class:`_Connection`), because pymodbus 3.16.1's
own request path answers wrongly: it takes any FC05 value other than 0 as ON, answers a bad
quantity or an unknown function code with ``80 01`` (function code 0), answers a unit id
that no device has with 04 and a ~35-line traceback in the log, and drops pipelined
requests. Here each frame is cut and checked by :mod:`.modbus_pdu` (01, 02, 03 per the
Modbus Application Protocol v1.1b3), routed by unit id (0B for a unit no device has), run
on the blocks under one lock per server (so a write is checked and stored whole, never
interleaved with another client's), and answered in order. Every refused request logs one
INFO line and nothing else; a fault of ours answers 04 and logs one ERROR line.

A malformed MBAP header (protocol id other than 0, length field outside 2..254) closes the
connection with one WARNING line: the implementation guide lets a server drop such a frame
or the connection, and after a length that cannot be trusted no later frame boundary can
be found. A truncated frame waits for its remaining bytes; a client that closes first
loses only that frame.

Connections are bounded, as a real PLC's are (the implementation guide §4.2.1 lets a server
keep a fixed number of them and close idle ones): beyond *max_connections* a new connection is
closed at once with one WARNING line, the open ones keep working; a connection that sends
nothing for *idle_timeout_s* is closed (one INFO line), so clients that vanish without a FIN
do not hold a slot forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from mestwin.virtual_plc.modbus_pdu import (
    ExceptionCode,
    Frame,
    MalformedFrame,
    Refusal,
    Request,
    next_frame,
    parse_request,
    response,
)
from mestwin.virtual_plc.regmap import RegisterMap, Table

_log = logging.getLogger(__name__)

_TABLE_OF_FC = {1: Table.COIL, 5: Table.COIL, 15: Table.COIL, 2: Table.DISCRETE_INPUT,
                3: Table.HOLDING_REGISTER, 6: Table.HOLDING_REGISTER,
                16: Table.HOLDING_REGISTER, 4: Table.INPUT_REGISTER}
_BLOCK_ORDER = (Table.COIL, Table.DISCRETE_INPUT, Table.HOLDING_REGISTER, Table.INPUT_REGISTER)
_STORE_REFUSAL = {ExcCodes.ILLEGAL_ADDRESS: "address not mapped, or read-only for a write"}


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

    def read(self, image: Image, address: int) -> None:
        """Bring *image* up to date before a read at *address*; raise :class:`Refusal` to
        refuse it."""

    def write(self, image: Image, address: int, values: list[int]) -> None:
        """Take a client write of *values* at *address* (bits as 0/1), or raise
        :class:`Refusal`: then nothing is stored and nothing changes."""


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
    """pymodbus's hook: a :class:`Refusal` raised here propagates to :class:`_Connection`
    before pymodbus stores anything."""
    image = Image(_TABLE_OF_FC[function_code], start_address, registers)
    if set_values is None:
        handler.read(image, address)
    else:
        handler.write(image, address, [int(v) for v in set_values])
    return None


class _Connection(ServerRequestHandler):
    """One client's TCP connection: frames, checks, runs and answers its requests.

    Replaces pymodbus's framer and PDU classes for this connection (see the module
    docstring); its register blocks and listener stay pymodbus's.
    """

    def __init__(self, server: _Server) -> None:
        super().__init__(server, server.trace_packet,  # type: ignore[no-untyped-call]
                         server.trace_pdu, server.trace_connect)
        self._server = server
        self._stream = b""
        self._answering: set[asyncio.Task[None]] = set()
        self._heard = 0.0
        self._idle: asyncio.TimerHandle | None = None

    def callback_connected(self) -> None:
        """Refuse a connection beyond the limit; otherwise start the idle watch."""
        super().callback_connected()
        limit = self._server.max_connections
        if len(self._server.active_connections) > limit:
            _log.warning("Modbus TCP %s: %d connections open (at most %d); connection closed",
                         self._peer(), len(self._server.active_connections) - 1, limit)
            self.close()
            return
        self._heard = self.loop.time()
        if self._server.idle_timeout_s is not None:
            self._idle = self.loop.call_later(self._server.idle_timeout_s, self._check_idle)

    def callback_disconnected(self, exc: Exception | None) -> None:
        """Stop the idle watch with the connection."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        super().callback_disconnected(exc)

    def _check_idle(self) -> None:
        timeout = self._server.idle_timeout_s
        assert timeout is not None
        quiet = self.loop.time() - self._heard
        if quiet < timeout:
            self._idle = self.loop.call_later(timeout - quiet, self._check_idle)
            return
        self._idle = None
        _log.info("Modbus TCP %s: nothing received for %.0f s; connection closed",
                  self._peer(), quiet)
        self.close()

    def data_received(self, data: bytes) -> None:
        """Cut every complete frame off the stream and answer each, in order."""
        self._heard = self.loop.time()
        self._stream += data
        while True:
            try:
                found = next_frame(self._stream)
            except MalformedFrame as error:
                _log.warning("Modbus TCP %s: %s; connection closed", self._peer(), error)
                self._stream = b""
                self.close()
                return
            if found is None:
                return
            frame, used = found
            self._stream = self._stream[used:]
            task = self.loop.create_task(self._answer(frame))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "client"

    async def _answer(self, frame: Frame) -> None:
        async with self._server.turn:
            reply = await self._reply(frame)
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(reply)

    async def _reply(self, frame: Frame) -> bytes:
        try:
            if not self._server.serves(frame.unit):
                raise Refusal(ExceptionCode.GATEWAY_TARGET_NO_RESPONSE,
                              f"no device has unit id {frame.unit}")
            request = parse_request(frame.pdu)
            return frame.answer(response(request, await self._run(frame.unit, request)))
        except Refusal as refusal:
            _log.info("Modbus TCP %s unit %d function %#04x: %s", self._peer(), frame.unit,
                      frame.pdu[0], refusal)
            return frame.refuse(refusal.code)
        except Exception as error:  # a fault of ours: exception 04, and one line, no flood
            _log.error("Modbus TCP %s unit %d function %#04x: server device failure: %r",
                       self._peer(), frame.unit, frame.pdu[0], error)
            return frame.refuse(ExceptionCode.SERVER_DEVICE_FAILURE)

    async def _run(self, unit: int, request: Request) -> Sequence[int]:
        """Run *request* on pymodbus's blocks of *unit* (and through them, the handler)."""
        store = self._server.context
        function = int(request.function)
        if request.function.is_write:
            values: list[int] | list[bool] = (
                [bool(v) for v in request.values] if request.function.is_bit
                else list(request.values))
            code = await store.async_setValues(unit, function, request.address, values)
            if code:
                raise Refusal(ExceptionCode(code), _STORE_REFUSAL.get(code, "refused"))
            return request.values
        found = await store.async_getValues(unit, function, request.address, request.count)
        if isinstance(found, ExcCodes):
            raise Refusal(ExceptionCode(found), _STORE_REFUSAL.get(found, "refused"))
        return [int(v) for v in found]


class _Server(ModbusTcpServer):
    """pymodbus's TCP listener, with our :class:`_Connection` for every client."""

    def __init__(self, devices: list[SimDevice], address: tuple[str, int],
                 max_connections: int, idle_timeout_s: float | None) -> None:
        super().__init__(devices, address=address)
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.units = frozenset(device.id for device in devices)
        self.turn = asyncio.Lock()
        """Held while one request runs: requests never interleave, whatever the client."""

    def serves(self, unit: int) -> bool:
        """Whether a device answers *unit* (a device with unit id 0 answers any)."""
        return unit in self.units or 0 in self.units

    def callback_new_connection(self) -> _Connection:
        """Called by pymodbus for each accepted connection."""
        return _Connection(self)


class Listener:
    """A Modbus TCP server on *host*:*port* (0: any free port) serving *devices*, to at most
    *max_connections* clients at once, closing a connection idle for *idle_timeout_s*
    (None: never)."""

    def __init__(self, devices: Sequence[DeviceSpec], host: str = "127.0.0.1",
                 port: int = 502, *, max_connections: int = 16,
                 idle_timeout_s: float | None = 300.0) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if idle_timeout_s is not None and not idle_timeout_s > 0:
            raise ValueError("idle_timeout_s must be positive (or None)")
        self.host = host
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self._requested_port = port
        self._devices = [
            SimDevice(d.unit_id, simdata=_blocks(d), use_bit_addressing=True,
                      action=functools.partial(_action, d.handler))
            for d in devices]
        self._server: _Server | None = None

    @property
    def port(self) -> int:
        """The port actually bound (after :meth:`start`)."""
        if self._server is None or self._server.transport is None:
            return self._requested_port
        sockets = getattr(self._server.transport, "sockets", None)
        return int(sockets[0].getsockname()[1]) if sockets else self._requested_port

    async def start(self) -> None:
        """Bind and serve in the background of the running event loop."""
        self._server = _Server(self._devices, (self.host, self._requested_port),
                               self.max_connections, self.idle_timeout_s)
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
