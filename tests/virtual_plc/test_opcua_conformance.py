"""Specification of the OPC UA server's answers to bad requests (OPC 10000-4 status codes).

Out-of-range commands and modes, unknown nodes, strings over their documented limits, and
access levels that tell each user what it may really do; over a real socket on 127.0.0.1
with asyncua's client. Limits are the documented ones (README "Virtual PLCs on the
network", PackML CntrlCmd 0..10, unit modes 1..3) and status codes are the numbers of
OPC 10000-4 7.38, written out so that neither can drift unnoticed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asyncua import ua
from asyncua.client.client import Client

from mestwin.plantmodels.plant import Plant
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, OpcUaUser, Role
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC, WriteStatus
from tests.virtual_plc.opcua_cell import one_plc

GOOD = 0
BAD_NOT_WRITABLE = 0x803B0000
BAD_OUT_OF_RANGE = 0x803C0000
BAD_NODE_ID_UNKNOWN = 0x80340000
BAD_USER_ACCESS_DENIED = 0x801F0000
BAD_INVALID_ARGUMENT = 0x80AB0000
CURRENT_READ, CURRENT_WRITE = 1, 2  # AccessLevel bits 0 and 1 (OPC 10000-3 8.57)
ID_LIMIT, DESCRIPTION_LIMIT = 32, 64  # characters (README)
VT = ua.VariantType
SECURITY = OpcUaSecurity(
    users=(OpcUaUser("operator", "op", Role.OPERATOR), OpcUaUser("viewer", "v", Role.VIEWER))
)


async def client_for(server: PlcOpcUaServer, user: str | None = None, password: str = "") -> Client:
    client = Client(server.endpoint, timeout=10)
    if user is not None:
        client.set_user(user)
        client.set_password(password)
    await client.connect()
    return client


async def write_codes(client: Client, items: list[tuple[ua.NodeId, ua.Variant]]) -> list[int]:
    """One Write request with *items*; the StatusCode of each, as numbers."""
    params = ua.WriteParameters()
    for node, variant in items:
        value = ua.WriteValue()
        value.NodeId, value.AttributeId = node, ua.AttributeIds.Value
        value.Value = ua.DataValue(variant)
        params.NodesToWrite.append(value)
    return [code.value for code in await client.uaclient.write(params)]


async def read_attribute(client: Client, node: ua.NodeId, attribute: ua.AttributeIds) -> Any:
    params = ua.ReadParameters()
    item = ua.ReadValueId()
    item.NodeId, item.AttributeId = node, attribute
    params.NodesToRead.append(item)
    (value,) = await client.uaclient.read(params)
    assert value.StatusCode.is_good()
    return value.Value.Value


def served(security: OpcUaSecurity = SECURITY) -> Callable[
    [Callable[[Plant, VirtualPLC, PlcOpcUaServer], Awaitable[None]]], None
]:
    """Run a test body against a started server (stopped afterwards), within 50 s."""

    def run(body: Callable[[Plant, VirtualPLC, PlcOpcUaServer], Awaitable[None]]) -> None:
        async def main() -> None:
            plant, plc = one_plc()
            server = PlcOpcUaServer([plc], security=security)
            await server.start()
            try:
                await body(plant, plc, server)
            finally:
                await server.stop()

        asyncio.run(asyncio.wait_for(main(), 50))

    return run


@pytest.mark.timeout(60)
def test_out_of_range_commands_and_modes_answer_bad_out_of_range() -> None:
    """CntrlCmd outside the PackML commands 0..10 and UnitMode outside 1..3 get
    Bad_OutOfRange per item and are not stored; the machine does not change state."""

    async def body(plant: Plant, plc: VirtualPLC, server: PlcOpcUaServer) -> None:
        plant.env.run(until=30)
        assert plc.packml.state is State.EXECUTE
        client = await client_for(server, "operator", "op")
        command = server.node_id(plc, "PackTags.Command.CntrlCmd")
        mode = server.node_id(plc, "PackTags.Command.UnitMode")
        try:
            codes = await write_codes(client, [
                (command, ua.Variant(11, VT.Int32)),
                (command, ua.Variant(-1, VT.Int32)),
                (command, ua.Variant(99, VT.Int32)),
                (mode, ua.Variant(0, VT.Int32)),
                (mode, ua.Variant(4, VT.Int32)),
                (mode, ua.Variant(2**31 - 1, VT.Int32)),
            ])
            assert codes == [BAD_OUT_OF_RANGE] * 6
            assert plc.tags["PackTags.Command.CntrlCmd"] == 0
            assert plc.tags["PackTags.Command.UnitMode"] == 1
            request = server.node_id(plc, "PackTags.Command.CmdChangeRequest")
            assert await write_codes(client, [(request, ua.Variant(True, VT.Boolean))]) == [GOOD]
            plant.env.run(until=31)
            assert plc.packml.state is State.EXECUTE  # CntrlCmd 0 Undefined: nothing to take
            codes = await write_codes(client, [
                (command, ua.Variant(10, VT.Int32)), (command, ua.Variant(3, VT.Int32)),
                (mode, ua.Variant(3, VT.Int32)), (mode, ua.Variant(1, VT.Int32)),
            ])
            assert codes == [GOOD] * 4  # the ends of the ranges are valid
            assert plc.tags["PackTags.Command.CntrlCmd"] == 3
        finally:
            await client.disconnect()

    served()(body)


def test_the_limits_hold_at_the_tag_layer_for_every_protocol() -> None:
    """The same rule without any server: ``VirtualPLC.write`` (which Modbus uses too)."""
    _plant, plc = one_plc()
    for path, value in (("PackTags.Command.CntrlCmd", 11), ("PackTags.Command.UnitMode", 0),
                        ("PackTags.Command.WorkOrder", "W" * (ID_LIMIT + 1))):
        assert plc.write(path, value).status is WriteStatus.OUT_OF_RANGE
    assert plc.write("PackTags.Command.WorkOrder", "W" * ID_LIMIT).accepted


@pytest.mark.timeout(60)
def test_a_write_to_an_unknown_node_answers_bad_node_id_unknown() -> None:
    """Whatever the user, a NodeId that is not in the address space is Bad_NodeIdUnknown
    (not an access error); a read-only server node is Bad_NotWritable."""

    async def body(_plant: Plant, plc: VirtualPLC, server: PlcOpcUaServer) -> None:
        operator = await client_for(server, "operator", "op")
        anonymous = await client_for(server)
        unknown = [
            (server.node_id(plc, "PackTags.Command.NoSuchTag"), ua.Variant(1, VT.Int32)),
            (ua.NodeId("nowhere", server.namespace_index), ua.Variant(1, VT.Int32)),
            (ua.NodeId(987654, 0), ua.Variant(1, VT.Int32)),
        ]
        state = ua.NodeId(2259, 0)  # Server_ServerStatus_State, read-only (OPC 10000-5)
        try:
            for client in (operator, anonymous):
                assert await write_codes(client, unknown) == [BAD_NODE_ID_UNKNOWN] * 3
                assert await write_codes(client, [(state, ua.Variant(1, VT.Int32))]) == [
                    BAD_NOT_WRITABLE]
        finally:
            await operator.disconnect()
            await anonymous.disconnect()

    served()(body)


@pytest.mark.timeout(60)
def test_user_access_level_and_user_executable_tell_what_the_user_may_do() -> None:
    """Anonymous and viewer sessions see UserAccessLevel CurrentRead only and
    UserExecutable False (and are indeed refused); an operator sees CurrentRead|CurrentWrite
    on command tags and may execute the PackML methods. AccessLevel and Executable are the
    node's own and the same for everybody."""

    async def body(_plant: Plant, plc: VirtualPLC, server: PlcOpcUaServer) -> None:
        command = server.node_id(plc, "PackTags.Command.CntrlCmd")
        counter = server.node_id(plc, "PackTags.Admin.ProdProcessedCount[0].AccCount")
        stop = server.node_id(plc, "Stop")
        store = server.node_id(plc, "JobManagement.Store")
        sessions = {
            "anonymous": await client_for(server),
            "viewer": await client_for(server, "viewer", "v"),
            "operator": await client_for(server, "operator", "op"),
        }
        try:
            for name, client in sessions.items():
                may = name == "operator"
                assert await read_attribute(client, command, ua.AttributeIds.AccessLevel) == 3
                assert await read_attribute(client, command, ua.AttributeIds.UserAccessLevel) == (
                    CURRENT_READ | CURRENT_WRITE if may else CURRENT_READ)
                assert await read_attribute(client, counter, ua.AttributeIds.UserAccessLevel) == (
                    CURRENT_READ)
                for method in (stop, store):
                    assert await read_attribute(client, method, ua.AttributeIds.Executable) is True
                    assert await read_attribute(
                        client, method, ua.AttributeIds.UserExecutable) is may
                codes = await write_codes(client, [(command, ua.Variant(0, VT.Int32))])
                assert codes == [GOOD if may else BAD_USER_ACCESS_DENIED]
        finally:
            for client in sessions.values():
                await client.disconnect()

    served()(body)


@pytest.mark.timeout(60)
def test_anonymous_operators_are_told_they_may_write() -> None:
    """With ``--anonymous operator`` the anonymous session's UserAccessLevel says so."""

    async def body(_plant: Plant, plc: VirtualPLC, server: PlcOpcUaServer) -> None:
        client = await client_for(server)
        try:
            command = server.node_id(plc, "PackTags.Command.CntrlCmd")
            assert await read_attribute(client, command, ua.AttributeIds.UserAccessLevel) == 3
            assert await read_attribute(
                client, server.node_id(plc, "Stop"), ua.AttributeIds.UserExecutable) is True
        finally:
            await client.disconnect()

    served(OpcUaSecurity(anonymous_role=Role.OPERATOR))(body)


async def call_store(client: Client, jobs: ua.NodeId, method: ua.NodeId,
                     args: tuple[str, str, int, str]) -> ua.CallMethodResult:
    request = ua.CallMethodRequest()
    request.ObjectId, request.MethodId = jobs, method
    request.InputArguments = [ua.Variant(args[0], VT.String), ua.Variant(args[1], VT.String),
                              ua.Variant(args[2], VT.UInt32), ua.Variant(args[3], VT.String)]
    (result,) = await client.uaclient.call([request])
    return result


@pytest.mark.timeout(60)
def test_strings_over_their_limit_are_refused_and_nothing_is_stored() -> None:
    """WorkOrder (32 characters): Bad_OutOfRange past the limit. Store with a 100,000
    character JobOrderID, or a description over 64 characters: Bad_InvalidArgument with
    Bad_OutOfRange for that argument (OPC 10000-4 5.11.2), and the job list stays empty.
    Exactly at the limits both are accepted."""

    async def body(_plant: Plant, plc: VirtualPLC, server: PlcOpcUaServer) -> None:
        client = await client_for(server, "operator", "op")
        order = server.node_id(plc, "PackTags.Command.WorkOrder")
        jobs = server.node_id(plc, "JobManagement")
        store = server.node_id(plc, "JobManagement.Store")
        listed = client.get_node(server.node_id(plc, "JobManagement.JobOrderList"))
        try:
            for text in ("W" * (ID_LIMIT + 1), "W" * 100_000):
                assert await write_codes(client, [(order, ua.Variant(text, VT.String))]) == [
                    BAD_OUT_OF_RANGE]
            assert plc.tags["PackTags.Command.WorkOrder"] == ""
            refused = {
                ("J" * 100_000, "part", 1, ""): [BAD_OUT_OF_RANGE, GOOD, GOOD, GOOD],
                ("J" * (ID_LIMIT + 1), "part", 1, ""): [BAD_OUT_OF_RANGE, GOOD, GOOD, GOOD],
                ("J1", "p" * (ID_LIMIT + 1), 1, ""): [GOOD, BAD_OUT_OF_RANGE, GOOD, GOOD],
                ("J1", "part", 1, "d" * (DESCRIPTION_LIMIT + 1)): [GOOD, GOOD, GOOD,
                                                                   BAD_OUT_OF_RANGE],
            }
            for args, per_argument in refused.items():
                result = await call_store(client, jobs, store, args)
                assert result.StatusCode.value == BAD_INVALID_ARGUMENT
                assert [c.value for c in result.InputArgumentResults] == per_argument
            await server.publish()
            assert json.loads(await listed.read_value()) == []
            assert len(server.job_lists["L.M"]) == 0
            longest = ("J" * ID_LIMIT, "p" * ID_LIMIT, 1, "d" * DESCRIPTION_LIMIT)
            result = await call_store(client, jobs, store, longest)
            assert result.StatusCode.value == GOOD
            assert [v.Value for v in result.OutputArguments] == [0]  # ReturnStatus OK
            assert await write_codes(client, [(order, ua.Variant("W" * ID_LIMIT, VT.String))]) == [
                GOOD]
        finally:
            await client.disconnect()

    served()(body)


@pytest.mark.timeout(60)
def test_the_state_log_is_served_over_modbus_only() -> None:
    """OPC UA delivers every state change with its own time stamp, so the PLC's state log
    (an event buffer for register polling) is not in the address space; the OEE state tags
    it records are."""

    async def body(_plant: Plant, plc: VirtualPLC, server: PlcOpcUaServer) -> None:
        client = await client_for(server)
        try:
            log = client.get_node(server.node_id(plc, "StateLog.Seq"))
            with pytest.raises(ua.UaStatusCodeError) as refused:
                await log.read_value()
            assert refused.value.code == BAD_NODE_ID_UNKNOWN
            state = client.get_node(server.node_id(plc, "PackTags.Status.MachineState"))
            assert await state.read_value() == plc.tags["PackTags.Status.MachineState"]
        finally:
            await client.disconnect()

    served()(body)
