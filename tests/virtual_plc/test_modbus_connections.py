"""Modbus TCP connection management: a bounded number of clients, idle ones closed.

The Modbus Messaging on TCP/IP Implementation Guide v1.0b §4.2.1 has a server keep a fixed
pool of connections and lets it close the ones it cannot or need not keep. The twin does what
a PLC with fixed connection resources does: beyond the limit a new connection is closed at
once while the open ones keep answering, and a connection that sends nothing for the idle
timeout is closed so that a vanished client does not hold a slot forever. The clients here
are raw sockets (frames from :mod:`tests.virtual_plc.test_modbus_conformance`).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable

import pytest

from mestwin.virtual_plc.modbus_server import ModbusServer, ModbusSettings
from tests.virtual_plc.test_modbus import line
from tests.virtual_plc.test_modbus_conformance import (
    RawClient,
    adu,
    assert_at_most_one_line,
    execute_reply,
)

READ_STATE = struct.pack(">BHH", 4, 2, 2)
"""FC04 of StateCurrent (input registers 2-3)."""


def run(session: Callable[[str, int], Awaitable[None]], settings: ModbusSettings) -> None:
    lin = line({"cut": 10.0})
    lin.run(20.0)  # in Execute

    async def main() -> None:
        async with ModbusServer(lin.plcs, settings) as server:
            endpoint = server.endpoint("cut")
            await asyncio.wait_for(session(endpoint.host, endpoint.port), 60)

    asyncio.run(main())


@pytest.mark.timeout(60)
def test_a_connection_beyond_the_limit_is_closed_and_the_others_keep_answering(
        caplog: pytest.LogCaptureFixture) -> None:
    async def session(host: str, port: int) -> None:
        kept = [await RawClient.connect(host, port) for _ in range(3)]
        for i, client in enumerate(kept):
            assert await client.ask(adu(i, 1, READ_STATE)) == execute_reply(i)
        caplog.clear()
        extra = await RawClient.connect(host, port)
        assert await extra.closed_by_server()
        assert_at_most_one_line(caplog)
        assert "at most 3" in caplog.records[0].getMessage()
        for i, client in enumerate(kept):
            assert await client.ask(adu(10 + i, 1, READ_STATE)) == execute_reply(10 + i)
        kept.pop().close()
        await asyncio.sleep(0.2)  # the server sees the FIN and frees the slot
        again = await RawClient.connect(host, port)
        assert await again.ask(adu(20, 1, READ_STATE)) == execute_reply(20)
        for client in (*kept, again, extra):
            client.close()

    with caplog.at_level(logging.INFO):
        run(session, ModbusSettings(port=0, max_connections=3))


@pytest.mark.timeout(60)
def test_an_idle_connection_is_closed_and_a_busy_one_is_not() -> None:
    async def session(host: str, port: int) -> None:
        idle = await RawClient.connect(host, port)
        busy = await RawClient.connect(host, port)
        loop = asyncio.get_running_loop()
        opened = loop.time()
        for i in range(8):  # 1.6 s of requests, well past the 0.5 s timeout
            assert await busy.ask(adu(i, 1, READ_STATE)) == execute_reply(i)
            await asyncio.sleep(0.2)
        assert await idle.closed_by_server()
        assert loop.time() - opened >= 0.5
        assert await busy.ask(adu(99, 1, READ_STATE)) == execute_reply(99)
        idle.close()
        busy.close()

    run(session, ModbusSettings(port=0, idle_timeout_s=0.5))


def test_the_limits_must_make_sense() -> None:
    lin = line({"cut": 10.0})
    for settings in (ModbusSettings(port=0, max_connections=0),
                     ModbusSettings(port=0, idle_timeout_s=0.0)):
        with pytest.raises(ValueError, match="must be"):
            asyncio.run(ModbusServer(lin.plcs, settings).start())
