"""What the OPC UA server specifications share: one machine, and a look at the server's log.

Status codes in these tests are written as the numbers OPC 10000-6 Table 74 and OPC 10000-4
7.38 give them, so a renamed constant cannot hide a wrong answer.
"""

from __future__ import annotations

import logging

import pytest

from mestwin.plantmodels.plant import Plant
from mestwin.virtual_plc.plc import VirtualPLC
from tests.virtual_plc.raw_opcua import RawClient

BAD_DECODING_ERROR = 0x80070000
BAD_TCP_MESSAGE_TYPE_INVALID = 0x807E0000
BAD_TCP_SECURE_CHANNEL_UNKNOWN = 0x807F0000
BAD_TCP_MESSAGE_TOO_LARGE = 0x80800000


def one_plc() -> tuple[Plant, VirtualPLC]:
    """A saturated 5 s station and its PLC, machine ``M`` of line ``L``."""
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", saturated=True)
    plant.add_station(
        "st0", servers=1, buffer=2, process_time={"*": lambda: 5.0}, ideal_cycle_time={"*": 5.0}
    )
    plant.connect("src", "st0")
    return plant, VirtualPLC(plant.stations["st0"], "L", "M", plant.env)


def server_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the server logged at WARNING and above (asyncua's server and ours)."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING
            and r.name.startswith(("mestwin", "asyncua.server", "asyncuagds", "asyncua.crypto"))]


def assert_quiet(caplog: pytest.LogCaptureFixture, lines: int) -> None:
    """At most *lines* log lines and no traceback: a client cannot flood the log."""
    records = server_log(caplog)
    assert len(records) <= lines, [r.getMessage() for r in records]
    assert not [r for r in records if r.exc_info], "a traceback was logged"


async def refused_with(raw: RawClient, code: int) -> None:
    """The server answered ERR with *code* and then closed the connection."""
    reply = await raw.receive()
    assert reply is not None, "server closed without an ERR message"
    assert reply.error()[0] == code, f"got {reply.error()}"
    assert await raw.closed_by_server()
