"""Specification of the virtual PLCs' OPC UA server (mestwin.virtual_plc.opcua_server).

Real stations of the plant model under real PLCs, a real asyncua server on 127.0.0.1 with
a free port, and asyncua's own client. Simulated time is advanced explicitly
(``env.run``) and pushed with ``server.publish()`` so every assertion is deterministic.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import BadInvalidState, BadTypeMismatch, BadUserAccessDenied, UaError

from mestwin.plantmodels.distributions import Constant
from mestwin.plantmodels.plant import Plant
from mestwin.virtual_plc.opcua_jobs import JobOrderList, JobState, MachineSample, ReturnStatus
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, OpcUaUser, Role
from mestwin.virtual_plc.opcua_server import NAMESPACE_URI, PlcOpcUaServer
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC

SECURITY = OpcUaSecurity(
    users=(OpcUaUser("operator", "op-secret", Role.OPERATOR), OpcUaUser("viewer", "v", Role.VIEWER))
)
ACC = "PackTags.Admin.ProdProcessedCount[0].AccCount"


@dataclass
class Line:
    plant: Plant
    plcs: list[VirtualPLC]


def make_line(machines: int = 2, cycle: float = 10.0) -> Line:
    """A saturated serial line: every station processes a unit every *cycle* seconds."""
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", saturated=True)
    previous = "src"
    for i in range(machines):
        plant.add_station(
            f"st{i}",
            servers=1,
            buffer=5,
            process_time={"*": Constant(cycle).sampler(None)},  # type: ignore[arg-type]
            ideal_cycle_time={"*": cycle},
        )
        plant.connect(previous, f"st{i}")
        previous = f"st{i}"
    plcs = [
        VirtualPLC(plant.stations[f"st{i}"], "Line1", f"M{i}", plant.env) for i in range(machines)
    ]
    return Line(plant, plcs)


@pytest.fixture
def line() -> Line:
    return make_line()


async def started(line: Line, **kwargs: object) -> PlcOpcUaServer:
    server = PlcOpcUaServer(line.plcs, security=SECURITY, **kwargs)  # type: ignore[arg-type]
    await server.start()
    return server


async def connect(endpoint: str, user: str | None = None, password: str = "") -> Client:
    client = Client(endpoint, timeout=10)
    if user is not None:
        client.set_user(user)
        client.set_password(password)
    await client.connect()
    return client


def nid(idx: int, ident: str) -> str:
    return f"ns={idx};s={ident}"


@pytest.fixture
async def served(line: Line) -> AsyncIterator[tuple[Line, PlcOpcUaServer]]:
    server = await started(line)
    try:
        yield line, server
    finally:
        await server.stop()


def test_port_zero_binds_a_free_port_and_reports_it() -> None:
    """With port=0 the endpoint names the port actually bound, and clients can connect."""

    async def main() -> None:
        line = make_line(1)
        server = await started(line)
        try:
            assert server.port > 0
            assert server.endpoint == f"opc.tcp://127.0.0.1:{server.port}"
            client = await connect(server.endpoint)
            idx = await client.get_namespace_index(NAMESPACE_URI)
            assert idx == server.namespace_index
            await client.disconnect()
        finally:
            await server.stop()

    asyncio.run(main())


def test_address_space_has_explicit_string_node_ids_nested_by_group(line: Line) -> None:
    """Machines sit under their line, tags under their PackTags group, methods on the machine."""

    async def main() -> None:
        server = await started(line)
        client = await connect(server.endpoint)
        try:
            idx = await client.get_namespace_index(NAMESPACE_URI)
            machine = client.get_node(nid(idx, "Line1.M0"))
            names = {(await c.read_browse_name()).Name for c in await machine.get_children()}
            assert {"PackTags", "Identification", "Diagnostics", "MachineryItemState"} <= names
            assert {"MachineryOperationMode", "JobManagement", "Stop", "Reset", "Clear"} <= names
            status = client.get_node(nid(idx, "Line1.M0.PackTags.Status"))
            status_names = {(await c.read_browse_name()).Name for c in await status.get_children()}
            assert {"StateCurrent", "UnitModeCurrent", "Heartbeat"} <= status_names
            counter = client.get_node(nid(idx, f"Line1.M0.{ACC}"))
            assert (await counter.read_browse_name()).Name == "AccCount"
            assert await counter.read_data_type_as_variant_type() == ua.VariantType.UInt32
            for ident in (
                "Identification.Manufacturer",
                "Identification.YearOfConstruction",
                "MachineryItemState.CurrentState",
                "Diagnostics.SimTime",
                "Diagnostics.SpeedFactor",
                "JobManagement.JobOrderList",
            ):
                await client.get_node(nid(idx, f"Line1.M1.{ident}")).read_value()
            for folder in ("Line1", "Line1.M0", "Line1.M0.PackTags.Admin"):
                children = await client.get_node(nid(idx, folder)).get_children()
                assert len(children) < 100  # never thousands of children under one parent
        finally:
            await client.disconnect()
            await server.stop()

    asyncio.run(main())


def test_values_follow_the_plc_tags_after_a_publish(line: Line) -> None:
    """Counters, state and diagnostics read over OPC UA equal the PLC's TagValues."""

    async def main() -> None:
        server = await started(line)
        client = await connect(server.endpoint)
        try:
            line.plant.env.run(until=305)
            await server.publish()
            idx = server.namespace_index
            plc = line.plcs[0]
            acc = await client.get_node(nid(idx, f"Line1.M0.{ACC}")).read_value()
            assert acc == plc.tags[ACC]
            assert acc >= 25
            state = await client.get_node(
                nid(idx, "Line1.M0.PackTags.Status.StateCurrent")
            ).read_value()
            assert state == int(State.EXECUTE)
            sim = await client.get_node(nid(idx, "Line1.M0.Diagnostics.SimTime")).read_data_value()
            assert sim.Value is not None
            assert sim.Value.Value == pytest.approx(plc.tags["Diagnostics.SimTime"])
            assert sim.SourceTimestamp == plc.tags["PackTags.Admin.PACDateTime"]
        finally:
            await client.disconnect()
            await server.stop()

    asyncio.run(main())


def test_operator_writes_a_command_that_the_plc_takes_at_its_next_scan(line: Line) -> None:
    """CntrlCmd=Stop plus CmdChangeRequest from an operator stops the machine."""

    async def main() -> None:
        server = await started(line)
        client = await connect(server.endpoint, "operator", "op-secret")
        try:
            line.plant.env.run(until=50)
            idx = server.namespace_index
            await client.get_node(nid(idx, "Line1.M0.PackTags.Command.CntrlCmd")).write_value(
                ua.Variant(3, ua.VariantType.Int32)
            )
            request = client.get_node(nid(idx, "Line1.M0.PackTags.Command.CmdChangeRequest"))
            await request.write_value(ua.Variant(True, ua.VariantType.Boolean))
            assert await request.read_value() is True  # visible at once
            line.plant.env.run(until=51)
            await server.publish()
            assert line.plcs[0].packml.state is State.STOPPED
            assert await request.read_value() is False  # the PLC cleared the request
            state = await client.get_node(
                nid(idx, "Line1.M0.PackTags.Status.StateCurrent")
            ).read_value()
            assert state == int(State.STOPPED)
        finally:
            await client.disconnect()
            await server.stop()

    asyncio.run(main())


def test_bad_writes_answer_the_status_code_a_real_plc_gives(line: Line) -> None:
    """Wrong type -> BadTypeMismatch; read-only -> BadNotWritable; viewer/anonymous -> denied."""

    async def main() -> None:
        server = await started(line)
        operator = await connect(server.endpoint, "operator", "op-secret")
        viewer = await connect(server.endpoint, "viewer", "v")
        anonymous = await connect(server.endpoint)
        idx = server.namespace_index
        command = nid(idx, "Line1.M0.PackTags.Command.CntrlCmd")
        try:
            with pytest.raises(BadTypeMismatch):
                await operator.get_node(command).write_value(ua.Variant(3.0, ua.VariantType.Double))
            with pytest.raises(ua.uaerrors.BadNotWritable):
                await operator.get_node(nid(idx, f"Line1.M0.{ACC}")).write_value(
                    ua.Variant(7, ua.VariantType.UInt32)
                )
            for client in (viewer, anonymous):
                with pytest.raises(BadUserAccessDenied):
                    await client.get_node(command).write_value(ua.Variant(3, ua.VariantType.Int32))
            speed = operator.get_node(nid(idx, "Line1.M0.PackTags.Command.MachSpeed"))
            with pytest.raises(ua.uaerrors.BadOutOfRange):
                await speed.write_value(ua.Variant(-1.0, ua.VariantType.Float))
            assert line.plcs[0].tags["PackTags.Command.CntrlCmd"] == 0  # nothing got through
        finally:
            for client in (operator, viewer, anonymous):
                await client.disconnect()
            await server.stop()

    asyncio.run(main())


def test_packml_methods_command_the_machine_and_refuse_invalid_transitions(line: Line) -> None:
    """Stop is taken in Execute; Reset is refused there (BadInvalidState); viewers cannot call."""

    async def main() -> None:
        server = await started(line)
        operator = await connect(server.endpoint, "operator", "op-secret")
        viewer = await connect(server.endpoint, "viewer", "v")
        idx = server.namespace_index
        try:
            line.plant.env.run(until=30)
            assert line.plcs[1].packml.state is State.EXECUTE
            machine = operator.get_node(nid(idx, "Line1.M1"))
            with pytest.raises(BadInvalidState):
                await machine.call_method(f"{idx}:Reset")
            with pytest.raises(BadUserAccessDenied):
                await viewer.get_node(nid(idx, "Line1.M1")).call_method(f"{idx}:Stop")
            await machine.call_method(f"{idx}:Stop")
            line.plant.env.run(until=31)
            assert line.plcs[1].packml.state.name == "STOPPED"
            await machine.call_method(f"{idx}:Reset")
            line.plant.env.run(until=32)
            await machine.call_method(f"{idx}:Start")
            line.plant.env.run(until=34)
            assert line.plcs[1].packml.state is State.EXECUTE
        finally:
            await operator.disconnect()
            await viewer.disconnect()
            await server.stop()

    asyncio.run(main())


class _Collector:
    def __init__(self) -> None:
        self.values: list[object] = []

    def datachange_notification(self, node: object, value: object, data: object) -> None:
        self.values.append(value)


def test_a_subscription_receives_data_changes(line: Line) -> None:
    """A monitored AccCount reports the counts as the simulation advances."""

    async def main() -> None:
        server = await started(line, publish_interval=0.02)
        client = await connect(server.endpoint)
        try:
            collector = _Collector()
            sub = await client.create_subscription(20, collector)
            await sub.subscribe_data_change(
                client.get_node(nid(server.namespace_index, f"Line1.M0.{ACC}"))
            )
            for until in (100, 200, 300):
                line.plant.env.run(until=until)
                await asyncio.sleep(0.3)
            values = [v for v in collector.values if isinstance(v, int)]
            assert values == sorted(values)
            assert len(set(values)) >= 3
            assert values[-1] == line.plcs[0].tags[ACC]
        finally:
            await client.disconnect()
            await server.stop()

    asyncio.run(main())


def test_restart_keeps_node_ids_and_counts(line: Line) -> None:
    """A server stopped mid-run and started again serves the same NodeIds; AccCount never
    goes back and a client that reconnects sees every unit counted."""

    async def main() -> None:
        first = await started(line)
        idx = first.namespace_index
        ident = nid(idx, f"Line1.M0.{ACC}")
        client = await connect(first.endpoint)
        line.plant.env.run(until=200)
        await first.publish()
        before = await client.get_node(ident).read_value()
        await client.disconnect()
        await first.stop()
        line.plant.env.run(until=400)  # the plant and PLCs go on while the server is down
        second = await started(line, job_lists=first.job_lists)
        try:
            assert second.namespace_index == idx
            client = await connect(second.endpoint)
            after = await client.get_node(ident).read_value()
            assert after >= before
            assert after == line.plcs[0].tags[ACC]
            assert after == line.plant.stations["st0"].produced  # no unit lost
            assert second.job_lists is not first.job_lists
            assert second.job_lists["Line1.M0"] is first.job_lists["Line1.M0"]
            await client.disconnect()
        finally:
            await second.stop()

    asyncio.run(main())


def test_job_orders_are_stored_started_and_end_with_the_quantity(line: Line) -> None:
    """Store + Start over OPC UA; the order runs while the machine executes and ends after
    the ordered quantity; Clear removes it."""

    async def main() -> None:
        server = await started(line)
        client = await connect(server.endpoint, "operator", "op-secret")
        idx = server.namespace_index
        jobs = client.get_node(nid(idx, "Line1.M0.JobManagement"))
        orders = client.get_node(nid(idx, "Line1.M0.JobManagement.JobOrderList"))

        def s(text: str) -> ua.Variant:
            return ua.Variant(text, ua.VariantType.String)

        try:
            line.plant.env.run(until=20)
            status = await jobs.call_method(
                f"{idx}:Store", s("J1"), s("part"), ua.Variant(3, ua.VariantType.UInt32), s("")
            )
            assert status == ReturnStatus.OK
            duplicate = await jobs.call_method(
                f"{idx}:Store", s("J1"), s("part"), ua.Variant(3, ua.VariantType.UInt32), s("")
            )
            assert duplicate == ReturnStatus.INVALID_REQUEST
            assert (
                await jobs.call_method(f"{idx}:Start", s("nope")) == ReturnStatus.UNKNOWN_JOB_ORDER
            )
            await server.publish()
            listed = json.loads(await orders.read_value())
            assert [(o["job_order_id"], o["state"]) for o in listed] == [("J1", 1)]
            assert await jobs.call_method(f"{idx}:Start", s("J1")) == ReturnStatus.OK
            await server.publish()
            assert json.loads(await orders.read_value())[0]["state"] == JobState.RUNNING
            line.plant.env.run(until=60)
            await server.publish()
            order = json.loads(await orders.read_value())[0]
            assert order["state"] == JobState.ENDED
            assert order["processed"] >= 3
            assert await jobs.call_method(f"{idx}:Clear", s("J1")) == ReturnStatus.OK
            await server.publish()
            assert json.loads(await orders.read_value()) == []
        finally:
            await client.disconnect()
            await server.stop()

    asyncio.run(main())


def test_job_order_list_state_machine_in_plain_python() -> None:
    """The job model without a server: release, interruption, abort and removal rules."""
    jobs = JobOrderList()
    clock = make_line(1).plcs[0].tags["PackTags.Admin.PACDateTime"]
    assert jobs.store("A", "part", 2) is ReturnStatus.OK
    assert jobs.store_and_start("B", "part", 1) is ReturnStatus.OK
    assert jobs.store("", "part", 1) is ReturnStatus.INVALID_REQUEST
    assert jobs.cancel("A") is ReturnStatus.OK
    assert jobs.get("A") is None
    jobs.update(MachineSample(executing=False, processed=0, defective=0, clock=clock))  # type: ignore[arg-type]
    assert jobs.get("B").state is JobState.ALLOWED_TO_START  # type: ignore[union-attr]
    jobs.update(MachineSample(executing=True, processed=10, defective=0, clock=clock))  # type: ignore[arg-type]
    assert jobs.get("B").state is JobState.RUNNING  # type: ignore[union-attr]
    jobs.update(MachineSample(executing=False, processed=10, defective=0, clock=clock))  # type: ignore[arg-type]
    assert jobs.get("B").state is JobState.INTERRUPTED  # type: ignore[union-attr]
    assert jobs.clear("B") is ReturnStatus.INVALID_STATE  # not finished
    assert jobs.abort("B") is ReturnStatus.OK
    assert jobs.get("B").state is JobState.ABORTED  # type: ignore[union-attr]
    assert jobs.abort("B") is ReturnStatus.INVALID_STATE
    assert jobs.clear("B") is ReturnStatus.OK
    assert len(jobs) == 0


def test_two_plcs_with_the_same_name_are_refused() -> None:
    """NodeIds must be unique: a duplicate line/machine name is a configuration error."""
    line = make_line(1)
    twin = VirtualPLC(line.plant.stations["st0"], "Line1", "M0", line.plant.env, autostart=False)
    with pytest.raises(ValueError, match="share"):
        PlcOpcUaServer([*line.plcs, twin])


def test_anonymous_reads_when_allowed_and_is_refused_when_not() -> None:
    """Anonymous sessions read; with allow_anonymous=False they cannot log in."""

    async def main() -> None:
        line = make_line(1)
        closed = OpcUaSecurity(allow_anonymous=False, users=(OpcUaUser("op", "x", Role.OPERATOR),))
        server = PlcOpcUaServer(line.plcs, security=closed)
        await server.start()
        try:
            with pytest.raises((UaError, OSError, asyncio.TimeoutError)):
                await connect(server.endpoint)
            client = await connect(server.endpoint, "op", "x")
            await client.get_node(nid(server.namespace_index, f"Line1.M0.{ACC}")).read_value()
            await client.disconnect()
            with pytest.raises((UaError, OSError, asyncio.TimeoutError)):
                await connect(server.endpoint, "op", "wrong")
        finally:
            await server.stop()

    asyncio.run(main())
