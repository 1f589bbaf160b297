"""Modbus TCP conformance: hand-built frames over a real socket, exact answers back.

Every request is built here with :mod:`struct` from the Modbus Application Protocol
Specification v1.1b3 and the Modbus Messaging on TCP/IP Implementation Guide v1.0b,
independently of pymodbus and of ``mestwin.virtual_plc.modbus_pdu``: MBAP header
(transaction id, protocol id 0, length = 1 + PDU length, unit id), then the PDU. Exception
responses are ``function | 0x80`` and one exception code (§7). A refused request must change
nothing in the PLC and leave at most one line, never a traceback, in the server's log.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import pytest

from mestwin.virtual_plc.modbus_adapter import DeviceSpec, Image, Listener
from mestwin.virtual_plc.modbus_server import ModbusServer, ModbusSettings
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.regmap import build_map
from mestwin.virtual_plc.tags import TagValue
from tests.virtual_plc.test_modbus import Line, line

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE, DEVICE_FAILURE = 0x01, 0x02, 0x03, 0x04
GATEWAY_NO_RESPONSE = 0x0B
COMMANDS = ("PackTags.Command.UnitMode", "PackTags.Command.UnitModeChangeRequest",
            "PackTags.Command.MachSpeed", "PackTags.Command.CntrlCmd",
            "PackTags.Command.CmdChangeRequest", "PackTags.Command.WorkOrder",
            "PackTags.Command.StopReasonAck")


def adu(transaction: int, unit: int, pdu: bytes) -> bytes:
    """An MBAP frame around *pdu* (guide §3.1.3)."""
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def exception(transaction: int, unit: int, function: int, code: int) -> bytes:
    """The exception response frame the specification prescribes (§7)."""
    return struct.pack(">HHHBBB", transaction, 0, 3, unit, function | 0x80, code)


def execute_reply(transaction: int) -> bytes:
    """The answer to FC04 of StateCurrent (input registers 2-3, INT32) in Execute (6)."""
    return adu(transaction, 1, struct.pack(">BBHH", 0x04, 4, 0, int(State.EXECUTE)))


class RawClient:
    """A Modbus TCP client that is nothing but a socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int) -> RawClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self) -> bytes:
        """One whole response frame (MBAP length says how long)."""
        header = await asyncio.wait_for(self.reader.readexactly(7), 5)
        (length,) = struct.unpack(">H", header[4:6])
        return header + await asyncio.wait_for(self.reader.readexactly(length - 1), 5)

    async def ask(self, data: bytes) -> bytes:
        await self.send(data)
        return await self.receive()

    async def closed_by_server(self) -> bool:
        """True once the server has closed the connection without sending anything."""
        return await asyncio.wait_for(self.reader.read(100), 5) == b""

    def close(self) -> None:
        self.writer.close()


@dataclass
class Plc:
    """What a refused request must not change: every command tag, the tag version, the
    PackML state."""

    version: int
    commands: dict[str, TagValue]
    state: State


def plc_now(lin: Line, machine: str = "cut") -> Plc:
    plc = lin.plcs[machine]
    return Plc(plc.tags.version, {p: plc.tags[p] for p in COMMANDS}, plc.packml.state)


def server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the server logged: records of the pymodbus and mestwin loggers."""
    return [r for r in caplog.records if r.name.split(".")[0] in ("pymodbus", "mestwin")]


def assert_at_most_one_line(caplog: pytest.LogCaptureFixture) -> None:
    records = server_records(caplog)
    assert len(records) <= 1, [r.getMessage() for r in records]
    for record in records:
        text = record.getMessage()
        assert record.exc_info is None, text
        assert record.exc_text is None, text
        assert "\n" not in text, text
        assert "Traceback" not in text, text


Session = Callable[[Line, RawClient], Awaitable[None]]


def serve(session: Session, settings: ModbusSettings | None = None,
          machines: Sequence[str] = ("cut",)) -> None:
    """Run *session* against a server of saturated 10 s machines, 20 s into the run (all in
    Execute), with a raw client connected to the first machine's port."""
    lin = line(dict.fromkeys(machines, 10.0))
    lin.run(20.0)

    async def main() -> None:
        async with ModbusServer(lin.plcs, settings or ModbusSettings(port=0)) as server:
            endpoint = server.endpoint(machines[0])
            client = await RawClient.connect(endpoint.host, endpoint.port)
            try:
                answer = await client.ask(adu(1, 1, struct.pack(">BHH", 4, 2, 2)))
                assert answer == execute_reply(1)  # the link works
                await asyncio.wait_for(session(lin, client), 60)
            finally:
                client.close()

    asyncio.run(main())


# (test id, PDU, function code of the answer, exception code)
BAD_PDUS = [
    ("fc05-value-1234", struct.pack(">BHH", 0x05, 2, 0x1234), 0x05, ILLEGAL_VALUE),
    ("fc05-value-00ff", struct.pack(">BHH", 0x05, 2, 0x00FF), 0x05, ILLEGAL_VALUE),
    ("fc05-value-ffff", struct.pack(">BHH", 0x05, 2, 0xFFFF), 0x05, ILLEGAL_VALUE),
    ("fc05-value-0001", struct.pack(">BHH", 0x05, 11, 0x0001), 0x05, ILLEGAL_VALUE),
    ("fc01-quantity-0", struct.pack(">BHH", 0x01, 0, 0), 0x01, ILLEGAL_VALUE),
    ("fc01-quantity-2001", struct.pack(">BHH", 0x01, 0, 2001), 0x01, ILLEGAL_VALUE),
    ("fc02-quantity-0", struct.pack(">BHH", 0x02, 0, 0), 0x02, ILLEGAL_VALUE),
    ("fc02-quantity-2001", struct.pack(">BHH", 0x02, 0, 2001), 0x02, ILLEGAL_VALUE),
    ("fc03-quantity-0", struct.pack(">BHH", 0x03, 0, 0), 0x03, ILLEGAL_VALUE),
    ("fc03-quantity-126", struct.pack(">BHH", 0x03, 0, 126), 0x03, ILLEGAL_VALUE),
    ("fc04-quantity-0", struct.pack(">BHH", 0x04, 100, 0), 0x04, ILLEGAL_VALUE),
    ("fc04-quantity-126", struct.pack(">BHH", 0x04, 100, 126), 0x04, ILLEGAL_VALUE),
    ("fc0f-quantity-0", struct.pack(">BHHB", 0x0F, 0, 0, 0), 0x0F, ILLEGAL_VALUE),
    ("fc0f-quantity-1969", struct.pack(">BHHB", 0x0F, 0, 0x7B1, 247) + bytes(247), 0x0F,
     ILLEGAL_VALUE),
    ("fc0f-byte-count-short", struct.pack(">BHHBB", 0x0F, 10, 10, 1, 0), 0x0F, ILLEGAL_VALUE),
    ("fc0f-data-missing", struct.pack(">BHHB", 0x0F, 10, 3, 1), 0x0F, ILLEGAL_VALUE),
    ("fc10-quantity-0", struct.pack(">BHHB", 0x10, 5, 0, 0), 0x10, ILLEGAL_VALUE),
    ("fc10-quantity-124", struct.pack(">BHHB", 0x10, 0, 124, 248), 0x10, ILLEGAL_VALUE),
    ("fc10-byte-count-odd", struct.pack(">BHHBHB", 0x10, 5, 2, 3, 0, 3), 0x10, ILLEGAL_VALUE),
    ("fc10-data-short", struct.pack(">BHHBH", 0x10, 5, 2, 4, 0), 0x10, ILLEGAL_VALUE),
    ("fc10-data-long", struct.pack(">BHHBHHH", 0x10, 5, 2, 4, 0, 3, 1), 0x10, ILLEGAL_VALUE),
    ("fc03-pdu-short", struct.pack(">BHB", 0x03, 0, 1), 0x03, ILLEGAL_VALUE),
    ("fc06-pdu-long", struct.pack(">BHHB", 0x06, 7, 1, 0), 0x06, ILLEGAL_VALUE),
    ("fc03-past-ffff", struct.pack(">BHH", 0x03, 0xFFFF, 2), 0x03, ILLEGAL_ADDRESS),
    ("fc03-unmapped", struct.pack(">BHH", 0x03, 25, 1), 0x03, ILLEGAL_ADDRESS),
    ("fc04-gap", struct.pack(">BHH", 0x04, 90, 2), 0x04, ILLEGAL_ADDRESS),
    ("fc04-125-runs-into-gap", struct.pack(">BHH", 0x04, 100, 125), 0x04, ILLEGAL_ADDRESS),
    ("fc01-2000-runs-past-map", struct.pack(">BHH", 0x01, 0, 2000), 0x01, ILLEGAL_ADDRESS),
    ("fc06-unmapped", struct.pack(">BHH", 0x06, 30, 1), 0x06, ILLEGAL_ADDRESS),
    ("fc05-unmapped-coil", struct.pack(">BHH", 0x05, 13, 0xFF00), 0x05, ILLEGAL_ADDRESS),
    ("fc10-cntrlcmd-99", struct.pack(">BHHBHH", 0x10, 5, 2, 4, 0, 99), 0x10, ILLEGAL_VALUE),
    ("fc10-cntrlcmd-negative", struct.pack(">BHHBhh", 0x10, 5, 2, 4, -1, -1), 0x10,
     ILLEGAL_VALUE),
    ("fc06-cntrlcmd-low-word-99", struct.pack(">BHH", 0x06, 6, 99), 0x06, ILLEGAL_VALUE),
    ("fc10-unitmode-7", struct.pack(">BHHBHH", 0x10, 0, 2, 4, 0, 7), 0x10, ILLEGAL_VALUE),
    ("fc10-unitmode-0-invalid", struct.pack(">BHHBHH", 0x10, 0, 2, 4, 0, 0), 0x10,
     ILLEGAL_VALUE),
    ("fc06-bool-register-2", struct.pack(">BHH", 0x06, 7, 2), 0x06, ILLEGAL_VALUE),
    ("fc10-machspeed-negative", struct.pack(">BHHBf", 0x10, 3, 2, 4, -1.0), 0x10,
     ILLEGAL_VALUE),
    ("fc0f-two-pulse-coils", struct.pack(">BHHBB", 0x0F, 0, 3, 1, 0b110), 0x0F,
     ILLEGAL_VALUE),
    ("fc07-not-served", bytes([0x07]), 0x07, ILLEGAL_FUNCTION),
    ("fc08-not-served", struct.pack(">BHH", 0x08, 0, 0x1234), 0x08, ILLEGAL_FUNCTION),
    ("fc16-not-served", struct.pack(">BHHH", 0x16, 5, 0xFFFF, 0), 0x16, ILLEGAL_FUNCTION),
    ("fc17-not-served", struct.pack(">BHHHHBH", 0x17, 5, 1, 7, 1, 2, 1), 0x17,
     ILLEGAL_FUNCTION),
    ("fc2b-not-served", bytes([0x2B, 0x0E, 0x01, 0x00]), 0x2B, ILLEGAL_FUNCTION),
    ("fc41-user-code", bytes([0x41]), 0x41, ILLEGAL_FUNCTION),
    ("fc00", struct.pack(">BHH", 0x00, 0, 1), 0x00, ILLEGAL_FUNCTION),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("pdu", "function", "code"), [c[1:] for c in BAD_PDUS],
                         ids=[c[0] for c in BAD_PDUS])
def test_a_bad_request_gets_its_exception_and_changes_nothing(
        caplog: pytest.LogCaptureFixture, pdu: bytes, function: int, code: int) -> None:
    """Each bad request is answered ``function | 0x80`` with its code, transaction and unit
    id echoed; the PLC's command tags, tag version and state stay as they were, the
    register image too (CntrlCmd and CmdChangeRequest still read 0), the machine keeps producing,
    and the server logs at most one line, no traceback."""
    caplog.set_level(logging.DEBUG)

    async def session(lin: Line, client: RawClient) -> None:
        before = plc_now(lin)
        caplog.clear()
        assert await client.ask(adu(0xBEEF, 1, pdu)) == exception(0xBEEF, 1, function, code)
        assert_at_most_one_line(caplog)
        assert plc_now(lin) == before
        commands = await client.ask(adu(2, 1, struct.pack(">BHH", 3, 5, 3)))
        assert commands == adu(2, 1, struct.pack(">BB3H", 3, 6, 0, 0, 0))  # CntrlCmd, request
        produced = lin.stations["cut"].produced
        lin.run(60.0)
        assert lin.plcs["cut"].packml.state is State.EXECUTE
        assert lin.stations["cut"].produced > produced

    serve(session)


@pytest.mark.timeout(60)
def test_fc05_takes_exactly_ff00_and_0000_and_echoes_the_request(
        caplog: pytest.LogCaptureFixture) -> None:
    """§6.5: 0xFF00 sets a coil and 0x0000 clears it, the answer being the request itself;
    0xFF00 on coil 2 issues Stop. Accepted requests log nothing."""
    caplog.set_level(logging.DEBUG)

    async def session(lin: Line, client: RawClient) -> None:
        caplog.clear()
        for transaction, value in ((7, 0xFF00), (8, 0x0000)):
            request = adu(transaction, 1, struct.pack(">BHH", 0x05, 12, value))
            assert await client.ask(request) == request
        assert lin.plcs["cut"].tags["PackTags.Command.StopReasonAck"] is False
        stop = adu(9, 1, struct.pack(">BHH", 0x05, 2, 0xFF00))
        assert await client.ask(stop) == stop
        assert server_records(caplog) == []
        lin.run(21.0)
        assert lin.plcs["cut"].packml.state is State.STOPPED

    serve(session)


@pytest.mark.timeout(60)
def test_quantities_at_the_limits_are_not_refused_as_values(
        caplog: pytest.LogCaptureFixture) -> None:
    """The largest legal quantities pass the value check: reads of 2000 bits and 125
    registers at mapped addresses, an FC0F of 1968 coils and an FC10 of 123 registers,
    answer 02 (they run past the map), not 03."""
    caplog.set_level(logging.DEBUG)
    cases = [
        (struct.pack(">BHH", 0x02, 0, 2000), 0x02),
        (struct.pack(">BHH", 0x03, 0, 125), 0x03),
        (struct.pack(">BHHB", 0x0F, 0, 0x7B0, 246) + bytes(246), 0x0F),
        (struct.pack(">BHHB", 0x10, 0, 0x7B, 246) + bytes(246), 0x10),
    ]

    async def session(lin: Line, client: RawClient) -> None:
        before = plc_now(lin)
        for transaction, (pdu, function) in enumerate(cases, start=10):
            caplog.clear()
            answer = await client.ask(adu(transaction, 1, pdu))
            assert answer == exception(transaction, 1, function, ILLEGAL_ADDRESS)
            assert_at_most_one_line(caplog)
        assert plc_now(lin) == before

    serve(session)


@pytest.mark.timeout(60)
def test_a_multi_register_write_with_one_bad_value_writes_none() -> None:
    """FC10 of MachSpeed = 30.0, CntrlCmd = 99, CmdChangeRequest = 1 is refused with 03:
    MachSpeed keeps its value and no command is requested; the same write with CntrlCmd =
    3 (Stop) is taken whole."""

    async def session(lin: Line, client: RawClient) -> None:
        plc = lin.plcs["cut"]
        speed = plc.tags["PackTags.Command.MachSpeed"]
        assert speed != 30.0
        bad = struct.pack(">BHHBfiH", 0x10, 3, 5, 10, 30.0, 99, 1)
        assert await client.ask(adu(3, 1, bad)) == exception(3, 1, 0x10, ILLEGAL_VALUE)
        assert plc.tags["PackTags.Command.MachSpeed"] == speed
        assert plc.tags["PackTags.Command.CmdChangeRequest"] is False
        good = struct.pack(">BHHBfiH", 0x10, 3, 5, 10, 30.0, 3, 1)
        assert await client.ask(adu(4, 1, good)) == adu(4, 1, struct.pack(">BHH", 0x10, 3, 5))
        assert plc.tags["PackTags.Command.MachSpeed"] == 30.0
        lin.run(21.0)
        assert plc.packml.state is State.STOPPED

    serve(session)


UNKNOWN_UNITS = [9, 0, 3, 255]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("unit", UNKNOWN_UNITS)
def test_a_unit_id_no_machine_has_answers_0b(caplog: pytest.LogCaptureFixture,
                                             unit: int) -> None:
    """On one port with units 1 and 2, any other unit id gets exception 0B (gateway target
    device failed to respond) with that unit id echoed, for a read and for a write (a
    Stop coil), logs one line at most, and changes no machine."""
    caplog.set_level(logging.DEBUG)

    async def session(lin: Line, client: RawClient) -> None:
        before = [plc_now(lin, m) for m in ("cut", "pack")]
        for transaction, pdu in ((21, struct.pack(">BHH", 0x04, 104, 2)),
                                 (22, struct.pack(">BHH", 0x05, 2, 0xFF00))):
            caplog.clear()
            answer = await client.ask(adu(transaction, unit, pdu))
            assert answer == exception(transaction, unit, pdu[0], GATEWAY_NO_RESPONSE)
            assert_at_most_one_line(caplog)
        assert [plc_now(lin, m) for m in ("cut", "pack")] == before
        lin.run(21.0)
        assert lin.plcs["pack"].packml.state is State.EXECUTE

    serve(session, machines=("cut", "pack"))


MALFORMED = [
    ("protocol-id-1", struct.pack(">HHHBBHH", 5, 1, 6, 1, 3, 0, 1)),
    ("protocol-id-ffff", struct.pack(">HHHBBHH", 5, 0xFFFF, 6, 1, 3, 0, 1)),
    ("length-0", struct.pack(">HHHB", 5, 0, 0, 1) + bytes(5)),
    ("length-1", struct.pack(">HHHB", 5, 0, 1, 1) + bytes(5)),
    ("length-255", struct.pack(">HHHB", 5, 0, 255, 1) + bytes(255)),
    ("length-ffff", struct.pack(">HHHB", 5, 0, 0xFFFF, 1) + bytes(20)),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("frame", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_mbap_header_closes_the_connection(caplog: pytest.LogCaptureFixture,
                                                       frame: bytes) -> None:
    """A protocol id other than 0 or a length field outside 2..254 closes the connection
    without an answer (no later frame boundary can be trusted), logs one line at most, no
    traceback; the server goes on serving new connections."""
    caplog.set_level(logging.DEBUG)

    async def session(lin: Line, client: RawClient) -> None:
        host, port = client.writer.get_extra_info("peername")[:2]
        caplog.clear()
        await client.send(frame)
        assert await client.closed_by_server()
        warnings = [r for r in server_records(caplog) if r.levelno >= logging.INFO]
        assert len(warnings) <= 1
        assert all(r.exc_info is None and "Traceback" not in r.getMessage()
                   for r in server_records(caplog))
        again = await RawClient.connect(host, port)
        try:
            request = adu(6, 1, struct.pack(">BHH", 0x04, 2, 2))
            assert await again.ask(request) == execute_reply(6)
        finally:
            again.close()

    serve(session)


@pytest.mark.timeout(60)
def test_a_truncated_frame_waits_for_the_rest_and_a_client_may_leave_mid_frame(
        caplog: pytest.LogCaptureFixture) -> None:
    """A frame sent in pieces is answered once whole; a client that closes in the middle
    of one leaves no trace in the log and the server serves the next client."""
    caplog.set_level(logging.DEBUG)

    async def session(lin: Line, client: RawClient) -> None:
        host, port = client.writer.get_extra_info("peername")[:2]
        request = adu(31, 1, struct.pack(">BHH", 0x04, 2, 2))
        for piece in (request[:3], request[3:8], request[8:]):
            await client.send(piece)
            await asyncio.sleep(0.05)
        assert await client.receive() == execute_reply(31)
        caplog.clear()
        leaver = await RawClient.connect(host, port)
        await leaver.send(request[:9])
        leaver.close()
        await asyncio.sleep(0.1)
        assert all(r.levelno < logging.INFO for r in server_records(caplog))
        assert await client.ask(request) == execute_reply(31)

    serve(session)


@pytest.mark.timeout(60)
def test_pipelined_requests_are_answered_in_order() -> None:
    """Several requests in one TCP segment, bad ones among them, get one answer each, in
    order, with their own transaction ids (guide §4.2: a server may have several
    transactions outstanding)."""

    async def session(lin: Line, client: RawClient) -> None:
        requests = [adu(41, 1, struct.pack(">BHH", 0x04, 2, 2)),
                    adu(42, 1, struct.pack(">BHH", 0x03, 0, 0)),
                    adu(43, 1, struct.pack(">BHH", 0x02, 0, 1))]
        await client.send(b"".join(requests))
        answers = [await client.receive() for _ in requests]
        assert answers == [execute_reply(41),
                           exception(42, 1, 0x03, ILLEGAL_VALUE),
                           adu(43, 1, bytes([2, 1, 1]))]  # Signals.Running

    serve(session)


class FailingDevice:
    """A device handler with a fault (what a bug in a handler looks like to the adapter)."""

    def read(self, image: Image, address: int) -> None:
        raise RuntimeError("sensor bus down")

    def write(self, image: Image, address: int, values: list[int]) -> None:
        raise RuntimeError("sensor bus down")


@pytest.mark.timeout(60)
def test_a_fault_of_the_server_answers_04_with_one_line(
        caplog: pytest.LogCaptureFixture) -> None:
    """When the device handler itself fails the client gets exception 04 (server device
    failure), and the log one ERROR line without a traceback."""
    caplog.set_level(logging.DEBUG)
    rmap = build_map()
    initial = {table: {e.address: [0] * e.size for e in rmap.table(table)}
               for table in {e.table for e in rmap.entries}}

    async def main() -> None:
        listener = Listener([DeviceSpec(1, rmap, initial, FailingDevice())], port=0)
        await listener.start()
        try:
            client = await RawClient.connect(listener.host, listener.port)
            caplog.clear()
            answer = await client.ask(adu(51, 1, struct.pack(">BHH", 0x03, 0, 2)))
            assert answer == exception(51, 1, 0x03, DEVICE_FAILURE)
            assert_at_most_one_line(caplog)
            assert [r.levelno for r in server_records(caplog)] == [logging.ERROR]
            client.close()
        finally:
            await listener.stop()

    asyncio.run(asyncio.wait_for(main(), 30))


def random_pdu(rng: random.Random) -> bytes:
    """A PDU a careless or hostile client might send: a served function code with fields
    near the limits and a body of any length, or any bytes at all."""
    if rng.random() < 0.2:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 253)))
    function = rng.choice([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0F, 0x10])
    address = rng.choice([0, 2, 5, 7, 11, 13, 90, 100, 124, 170, 0xFFFF, rng.randrange(65536)])
    count = rng.choice([0, 1, 2, 3, 123, 124, 125, 126, 2000, 2001, rng.randrange(65536)])
    body = struct.pack(">HH", address, count)
    if function in (0x0F, 0x10):
        byte_count = rng.choice([(count + 7) // 8 if function == 0x0F else 2 * count,
                                 rng.randrange(256)]) & 0xFF
        body += bytes([byte_count]) + bytes(rng.randrange(256) for _ in range(
            rng.choice([byte_count, rng.randrange(248)])))
    elif rng.random() < 0.2:
        body = body[:rng.randrange(4)] + bytes(rng.randrange(3))
    return bytes([function]) + body[:252]


@pytest.mark.timeout(120)
def test_random_requests_get_a_well_formed_answer_each(caplog: pytest.LogCaptureFixture) -> None:
    """1500 random requests (seeded): each gets exactly one answer with its transaction and
    unit id, either the function's own response or function | 0x80 with 01, 02 or 03,
    never 04 (no fault of the server); the log holds no traceback and at most one line
    per request."""
    caplog.set_level(logging.DEBUG)
    rng = random.Random(20261201)

    async def session(lin: Line, client: RawClient) -> None:
        caplog.clear()
        total = 1500
        seen: set[int] = set()
        for transaction in range(total):
            pdu = random_pdu(rng)
            answer = await client.ask(adu(transaction, 1, pdu))
            assert answer[:4] == struct.pack(">HH", transaction, 0), pdu.hex()
            assert struct.unpack(">H", answer[4:6])[0] == len(answer) - 6
            assert answer[6] == 1
            if answer[7] & 0x80:
                assert answer[7] == pdu[0] | 0x80, pdu.hex()
                assert answer[8:] in (b"\x01", b"\x02", b"\x03"), (pdu.hex(), answer.hex())
                seen.add(answer[8])
            else:
                assert answer[7] == pdu[0], pdu.hex()
                seen.add(0)
        assert seen == {0, 1, 2, 3}  # the draw reaches every outcome
        records = server_records(caplog)
        assert len(records) <= total
        assert not [r for r in records if r.exc_info or "Traceback" in r.getMessage()]
        assert not [r for r in records if r.levelno >= logging.ERROR]

    serve(session)
