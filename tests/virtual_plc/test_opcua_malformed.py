"""Specification of the OPC UA server against malformed UA TCP messages (OPC 10000-6 7.1.5):
each gets an ERR message with its Bad code and a closed connection, and the server logs one
line at most and serves on."""

from __future__ import annotations

import asyncio

import pytest
from asyncua.client.client import Client

from mestwin.virtual_plc.opcua_security import OpcUaSecurity
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.plc import VirtualPLC
from tests.virtual_plc.opcua_cell import (
    BAD_DECODING_ERROR,
    BAD_TCP_MESSAGE_TOO_LARGE,
    BAD_TCP_MESSAGE_TYPE_INVALID,
    assert_quiet,
    one_plc,
    refused_with,
)
from tests.virtual_plc.raw_opcua import RawClient, frame, hello, kind_of


def _open_server() -> tuple[VirtualPLC, PlcOpcUaServer]:
    _plant, plc = one_plc()
    return plc, PlcOpcUaServer([plc], security=OpcUaSecurity())


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("name", "after_hello", "code"),
    [
        ("unknown message type", frame(b"XYZ", b"\x00" * 16), BAD_TCP_MESSAGE_TYPE_INVALID),
        ("ACK from a client", frame(b"ACK", b"\x00" * 20), BAD_TCP_MESSAGE_TYPE_INVALID),
        ("second HEL", hello("opc.tcp://x"), BAD_TCP_MESSAGE_TYPE_INVALID),
        ("bad chunk type", frame(b"MSG", b"\x00" * 16, chunk=b"Q"), BAD_TCP_MESSAGE_TYPE_INVALID),
        ("chunk over the buffer", b"MSGF" + (200_000).to_bytes(4, "little") + bytes(64),
         BAD_TCP_MESSAGE_TOO_LARGE),
        ("size smaller than a header", b"MSGF" + (4).to_bytes(4, "little") + bytes(8),
         BAD_DECODING_ERROR),
        ("OPN with a policy URI longer than the message",
         frame(b"OPN", bytes(4) + b"\xff\xff\xff\x7f" + bytes(36)), BAD_DECODING_ERROR),
    ],
)
def test_a_malformed_message_gets_err_and_a_closed_connection(
    name: str, after_hello: bytes, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Each malformed message is answered with an ERR message carrying its Bad code, then
    the server closes the connection and logs one line."""

    async def main() -> None:
        _plc, server = _open_server()
        await server.start()
        try:
            caplog.clear()
            raw = await RawClient.connect(server.endpoint)
            ack = await raw.hello(server.endpoint)
            assert kind_of(ack) == b"ACK"
            await raw.send(after_hello)
            await refused_with(raw, code)
            assert_quiet(caplog, 1)
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
def test_the_first_message_must_be_hello_and_a_broken_service_body_is_a_decoding_error() -> None:
    """MSG before HEL: Bad_TcpMessageTypeInvalid. On an open channel, a MSG whose service body
    cannot be decoded: Bad_DecodingError. Both close the connection; the server serves on."""

    async def main() -> None:
        _plc, server = _open_server()
        await server.start()
        try:
            raw = await RawClient.connect(server.endpoint)
            await raw.send(frame(b"MSG", bytes(24)))
            await refused_with(raw, BAD_TCP_MESSAGE_TYPE_INVALID)

            raw = await RawClient.connect(server.endpoint)
            await raw.hello(server.endpoint)
            opened = await raw.open_none_channel()
            assert kind_of(opened) == b"OPN"
            await raw.send(raw.message_frame(b"\x01\x00\xff"))  # a NodeId cut short
            await refused_with(raw, BAD_DECODING_ERROR)

            client = Client(server.endpoint, timeout=5)  # the server is still there
            await client.connect()
            await client.disconnect()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))
