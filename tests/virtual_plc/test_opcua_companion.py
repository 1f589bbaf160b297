"""Specification of the companion-specification model (mestwin.virtual_plc.opcua_companion).

A client that knows nothing of our string NodeIds, only OPC 40001-1 (Machinery) and OPC
30050 (PackML), finds every machine of a scenario in ``Objects/Machines`` and reads its
identification and PackML state through the standard types. Namespaces are looked up by
their URIs, type and state NodeIds by browsing the OPC Foundation's types as served, and
the expected values come from the PLC's tags. Status codes are the numbers of OPC 10000-6
Annex A, so a renamed constant cannot hide a wrong answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import simpy
from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.uaerrors import UaStatusCodeError

from mestwin.plantmodels.plant import Plant
from mestwin.sim.loop import make_plcs
from mestwin.sim.scenario import Scenario, build_plant, load_scenario
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, OpcUaUser, Role
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC
from tests.interop import clients

MACHINERY = "http://opcfoundation.org/UA/Machinery/"
PACKML = "http://opcfoundation.org/UA/PackML/"
DI = "http://opcfoundation.org/UA/DI/"
MACHINES = 1001  # OPC 40001-1 9.1: the Machines folder's NodeId in the Machinery namespace
BASE_OBJECT_TYPE, ORGANIZES, HAS_SUBTYPE, HAS_PROPERTY, HAS_ADD_IN = 58, 35, 45, 46, 17604
BAD_NOT_WRITABLE = 0x803B0000
BAD_STATE_NOT_ACTIVE = 0x80BF0000
LEVELS = ("BaseStateMachine", "MachineState", "ExecuteState")  # OPC 30050 6.3.6
STATE = "PackTags.Status.StateCurrent"
SECURITY = OpcUaSecurity(users=(OpcUaUser("operator", "op-secret", Role.OPERATOR),))


@dataclass
class Served:
    scenario: Scenario
    plant: Plant
    plcs: dict[str, VirtualPLC]
    server: PlcOpcUaServer
    client: Client
    namespaces: dict[str, int]

    def ns(self, uri: str) -> int:
        """The namespace index of *uri*, as the client looked it up."""
        return self.namespaces[uri]


Session = Callable[[Served], Awaitable[None]]


def serve(scenarios_dir: Path, session: Session, *, user: str | None = None) -> None:
    """The two-step line (a cutter and two packers that break down), one PLC per machine,
    served over OPC UA on 127.0.0.1; *session* runs with an asyncua client (anonymous, or
    logged in as *user*)."""
    scenario = load_scenario(scenarios_dir / "two_step_line.yaml").model_copy(
        update={"warmup": 0.0})
    env = simpy.Environment()
    plant = build_plant(scenario, env)
    plant.start()
    plcs = make_plcs(plant, "L1", 1.0)
    env.run(until=600)

    async def main() -> None:
        async with PlcOpcUaServer(list(plcs.values()), security=SECURITY) as server:
            client = Client(server.endpoint, timeout=10)
            if user is not None:
                client.set_user(user)
                client.set_password("op-secret")
            await client.connect()
            try:
                namespaces = {u: await client.get_namespace_index(u)
                              for u in (MACHINERY, PACKML, DI)}
                await session(Served(scenario, plant, plcs, server, client, namespaces))
            finally:
                await client.disconnect()

    asyncio.run(asyncio.wait_for(main(), 50))


async def machines(s: Served) -> dict[str, Node]:
    """BrowseName -> node of everything Objects/Machines organizes."""
    folder = s.client.get_node(ua.NodeId(MACHINES, s.ns(MACHINERY)))
    found = await folder.get_children(refs=ORGANIZES)
    return {(await n.read_browse_name()).Name: n for n in found}


async def child(s: Served, node: Node, *path: tuple[str, str]) -> Node:
    """The node at *path* below *node*, each step (namespace URI or "" for OPC UA, name)."""
    return await node.get_child([
        ua.QualifiedName(name, s.ns(uri) if uri else 0) for uri, name in path])


async def type_chain(node: Node) -> list[tuple[int, str]]:
    """(namespace index, BrowseName) of the node's type and each supertype, up to the root."""
    chain = []
    current = Node(node.session, await node.read_type_definition())
    while True:
        name = await current.read_browse_name()
        chain.append((name.NamespaceIndex, name.Name))
        parents = await current.get_references(HAS_SUBTYPE, ua.BrowseDirection.Inverse)
        if not parents:
            return chain
        current = Node(current.session, parents[0].NodeId)


async def packml_state(s: Served, item: Node) -> tuple[int, list[int]]:
    """The machine's PackML state number as OPC 30050 shows it: the StateNumber (read from
    the type's state node) that the deepest active level's CurrentState.Id points to;
    and the StatusCode of each level's CurrentState."""
    node, number, codes = item, -1, []
    for level in LEVELS:
        node = await child(s, node, (PACKML, level))
        current = await child(s, node, ("", "CurrentState"))
        value = await current.read_data_value(raise_on_bad_status=False)
        codes.append(value.StatusCode.value)  # type: ignore[union-attr]
        if value.StatusCode.is_good():  # type: ignore[union-attr]
            state_id = await (await child(s, current, ("", "Id"))).read_value()
            state = s.client.get_node(state_id)
            state_number = await (await child(s, state, ("", "StateNumber"))).read_value()
            assert await (await child(s, current, ("", "Number"))).read_value() == state_number
            assert value.Value.Value.Text == (await state.read_browse_name()).Name  # type: ignore[union-attr]
            number = state_number
    return number, codes


def breakdown(s: Served) -> VirtualPLC:
    """Run the plant until a machine is down (its PLC Aborted); that machine's PLC."""
    env = s.plant.env
    for _ in range(1000):
        down = [p for p in s.plcs.values() if p.packml.state is State.ABORTED]
        if down:
            return down[0]
        env.run(until=env.now + 600)
    raise AssertionError("no breakdown in 1000 x 10 min")


@pytest.mark.timeout(60)
def test_a_client_finds_every_machine_of_the_scenario_in_machinery_s_machines_folder(
        scenarios_dir: Path) -> None:
    """Machines organizes one item per machine of the scenario (each server of each station),
    named by its id; each is an OPC 30050 PackMLBaseObjectType (an ObjectType of the PackML
    namespace, down from BaseObjectType) with the Machinery AddIns: DI:Identification of
    MachineIdentificationType, MachineryItemState and MachineryOperationMode. Its NodeId is
    the documented string ``<line>.<machine>.Machinery`` in the server's namespace."""

    async def session(s: Served) -> None:
        found = await machines(s)
        assert len(found) == sum(station.servers for station in s.scenario.stations)
        assert set(found) == set(s.plcs)
        for name, item in found.items():  # a string NodeId that survives a restart
            assert item.nodeid == ua.NodeId(f"L1.{name}.Machinery", s.server.namespace_index)
            chain = await type_chain(item)
            assert chain[0] == (s.ns(PACKML), "PackMLBaseObjectType")
            assert chain[-1] == (0, "BaseObjectType")
            assert len(chain) == 2
            addins = {(r.BrowseName.NamespaceIndex, r.BrowseName.Name): r
                      for r in await item.get_references(HAS_ADD_IN)}
            assert set(addins) == {(s.ns(DI), "Identification"),
                                   (s.ns(MACHINERY), "MachineryItemState"),
                                   (s.ns(MACHINERY), "MachineryOperationMode")}
            identification = s.client.get_node(addins[(s.ns(DI), "Identification")].NodeId)
            assert (await type_chain(identification))[:2] == [
                (s.ns(MACHINERY), "MachineIdentificationType"),
                (s.ns(MACHINERY), "MachineryItemIdentificationType")]
            state = s.client.get_node(addins[(s.ns(MACHINERY), "MachineryItemState")].NodeId)
            assert (await type_chain(state))[0] == (
                s.ns(MACHINERY), "MachineryItemState_StateMachineType")
            assert (await type_chain(await child(s, item, (PACKML, "Status"))))[0] == (
                s.ns(PACKML), "PackMLStatusObjectType")

    serve(scenarios_dir, session)


@pytest.mark.timeout(60)
def test_each_machine_s_packml_state_reads_as_its_plc_s_through_the_30050_model(
        scenarios_dir: Path) -> None:
    """Running, every machine's state is Cleared / Running / Execute with the StateNumber of
    the PLC's StateCurrent; after a breakdown the broken machine's BaseStateMachine is
    Aborted (number 9 = StateCurrent) and its sub-state machines are Bad_StateNotActive
    (OPC 10000-16 4.2.3), while the others still read their PLC's state."""

    async def session(s: Served) -> None:
        found = await machines(s)
        for name, item in found.items():
            number, codes = await packml_state(s, item)
            assert number == s.plcs[name].tags[STATE]
            assert codes == [0, 0, 0]
        broken = breakdown(s)
        await s.server.publish()
        for name, item in found.items():
            number, codes = await packml_state(s, item)
            assert number == s.plcs[name].tags[STATE]
            if name == broken.machine:
                assert number == 9
                assert codes == [0, BAD_STATE_NOT_ACTIVE, BAD_STATE_NOT_ACTIVE]

    serve(scenarios_dir, session)


@pytest.mark.timeout(60)
def test_companion_values_carry_the_tag_s_value_and_source_timestamp(
        scenarios_dir: Path) -> None:
    """The identification properties equal the PLC's Identification tags (Manufacturer and
    Model as LocalizedText, as OPC 40001-1 types them), and PackML Status variables and
    Machinery's MachineryItemState equal their tags with the same SourceTimestamp."""

    async def session(s: Served) -> None:
        found = await machines(s)
        for name, item in found.items():
            tags, ident = s.plcs[name].tags, await child(s, item, (DI, "Identification"))
            for uri, field in ((DI, "Manufacturer"), (DI, "Model")):
                value = await (await child(s, ident, (uri, field))).read_value()
                assert value.Text == tags[f"Identification.{field}"]
            for uri, field in ((DI, "SerialNumber"), (DI, "ProductInstanceUri"),
                               (DI, "SoftwareRevision"), (MACHINERY, "YearOfConstruction")):
                value = await (await child(s, ident, (uri, field))).read_value()
                assert value == tags[f"Identification.{field}"]
            state = await child(s, item, (MACHINERY, "MachineryItemState"), ("", "CurrentState"))
            assert (await state.read_value()).Text == tags["MachineryItemState.CurrentState"]
            tag_node = s.client.get_node(
                s.server.node_id(s.plcs[name], "PackTags.Status.CurMachSpeed"))
            alias = await child(s, item, (PACKML, "Status"), (PACKML, "CurMachSpeed"))
            ours, theirs = await tag_node.read_data_value(), await alias.read_data_value()
            assert theirs.Value == ours.Value
            assert theirs.SourceTimestamp == ours.SourceTimestamp

    serve(scenarios_dir, session)


@pytest.mark.timeout(60)
def test_counters_and_stop_reason_decode_with_the_nodeset_s_dictionary_as_the_tags(
        scenarios_dir: Path) -> None:
    """Decoded with the TypeDictionary the server serves (asyncua's own decoder, nothing of
    ours), a broken machine's Admin.ProdProcessedCount, ProdDefectiveCount (all, scrap,
    rework) and StopReason (a PackMLAlarmDataType) carry its PLC's counter and stop tags."""

    async def session(s: Served) -> None:
        await s.client.load_type_definitions()
        broken = breakdown(s)
        await s.server.publish()
        admin = await child(s, (await machines(s))[broken.machine], (PACKML, "Admin"))
        tags = broken.tags
        processed = await (await child(s, admin, (PACKML, "ProdProcessedCount"))).read_value()
        defective = await (await child(s, admin, (PACKML, "ProdDefectiveCount"))).read_value()
        for counts, kind in ((processed, "ProdProcessedCount"), (defective, "ProdDefectiveCount")):
            for k, count in enumerate(counts):
                tag = f"PackTags.Admin.{kind}[{k}]."
                assert (count.ID, count.Name, count.Count, count.AccCount) == (
                    tags[tag + "ID"], tags[tag + "Name"], tags[tag + "Count"],
                    tags[tag + "AccCount"])
                assert count.Unit.DisplayName.Text == tags[tag + "Unit"]
        assert len(defective) == 3
        assert processed[0].AccCount > 0
        stop = await (await child(s, admin, (PACKML, "StopReason"))).read_value()
        tag = "PackTags.Admin.StopReason."
        assert (stop.ID, stop.Value, stop.Message, stop.Category, stop.DateTime) == (
            tags[tag + "ID"], tags[tag + "Value"], tags[tag + "Message"],
            tags[tag + "Category"], tags[tag + "DateTime"])
        assert stop.ID == 10  # a breakdown (the STOP_REASONS code)
        assert stop.Trigger

    serve(scenarios_dir, session)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("user", [None, "operator"])
def test_a_write_to_a_companion_variable_is_refused_and_changes_nothing(
        scenarios_dir: Path, user: str | None) -> None:
    """Anonymous or even an operator, who may write the PLC's MachSpeed setpoint, gets
    Bad_NotWritable for PackML's Status.MachSpeed and Identification's SerialNumber; the
    values and the PLC's setpoint stay as they were, and UserAccessLevel says CurrentRead
    only."""

    async def session(s: Served) -> None:
        name, item = next(iter((await machines(s)).items()))
        plc = s.plcs[name]
        targets = [await child(s, item, (PACKML, "Status"), (PACKML, "MachSpeed")),
                   await child(s, item, (DI, "Identification"), (DI, "SerialNumber"))]
        before = [await t.read_value() for t in targets]
        setpoint = plc.tags["PackTags.Command.MachSpeed"]
        for target, value in zip(targets, (ua.Variant(1.0, ua.VariantType.Float),
                                           ua.Variant("forged", ua.VariantType.String)),
                                 strict=True):
            with pytest.raises(UaStatusCodeError) as refused:
                await target.write_attribute(ua.AttributeIds.Value, ua.DataValue(value))
            assert refused.value.code == BAD_NOT_WRITABLE
            level = (await target.read_attribute(ua.AttributeIds.UserAccessLevel)).Value.Value
            assert level == 1  # CurrentRead (OPC 10000-3 8.57)
        await s.server.publish()
        assert [await t.read_value() for t in targets] == before
        assert plc.tags["PackTags.Command.MachSpeed"] == setpoint

    serve(scenarios_dir, session, user=user)


class _Queue:
    def __init__(self) -> None:
        self.values: dict[Any, list[ua.DataValue]] = {}

    def datachange_notification(self, node: Node, _val: object, data: Any) -> None:
        self.values.setdefault(node.nodeid, []).append(data.monitored_item.Value)


@pytest.mark.timeout(60)
def test_a_queued_monitored_item_on_a_companion_variable_gets_every_change(
        scenarios_dir: Path) -> None:
    """A monitored item with a queue on BaseStateMachine's CurrentState.Number receives every
    change of what it shows between two publishes, in order, stamped as the tag's own queued
    item is: through a breakdown and its repair, the number of each state the base level
    shows (Aborting 8, Aborted 9, Cleared 19 for every other state: the StateNumbers of OPC
    30050's type) whenever it changes, each with the SourceTimestamp of the tag's change."""

    async def session(s: Served) -> None:
        found = await machines(s)
        machine = await child(s, found["cut"], (PACKML, "BaseStateMachine"))
        type_ = s.client.get_node(await machine.read_type_definition())  # type: ignore[arg-type]
        numbers = {}
        for state in ("Aborting", "Aborted", "Cleared"):
            type_state = await child(s, type_, (PACKML, state))
            numbers[state] = await (await child(s, type_state, ("", "StateNumber"))).read_value()

        def base(code: int) -> int:  # ISA-TR88.00.02 codes of the PLC's StateCurrent
            return numbers["Aborting"] if code == 8 else numbers["Aborted"] if code == 9 \
                else numbers["Cleared"]

        pairs = {}
        for name, item in found.items():
            alias = await child(s, item, (PACKML, "BaseStateMachine"), ("", "CurrentState"),
                                ("", "Number"))
            pairs[name] = (s.client.get_node(s.server.node_id(s.plcs[name], STATE)), alias)
        queue = _Queue()
        sub = await s.client.create_subscription(20, queue)
        await sub.subscribe_data_change([n for pair in pairs.values() for n in pair],
                                        queuesize=1000)
        await asyncio.sleep(0.3)
        queue.values.clear()
        before = {name: base(plc.tags[STATE]) for name, plc in s.plcs.items()}  # type: ignore[arg-type]
        broken = breakdown(s)
        s.plant.env.run(until=s.plant.env.now + 3600)  # and its repair
        await s.server.publish()
        await asyncio.sleep(0.5)
        for name, (tag, alias) in pairs.items():
            changes, last = [], before[name]
            for value in queue.values.get(tag.nodeid, []):
                shown = base(value.Value.Value)
                if shown != last:
                    changes.append((shown, value.SourceTimestamp))
                last = shown
            got = [(v.Value.Value, v.SourceTimestamp) for v in queue.values.get(alias.nodeid, [])]
            assert got == changes, name
            if name == broken.machine:
                assert [n for n, _ in got][:3] == [8, 9, 19]

    serve(scenarios_dir, session)


@pytest.mark.interop
@pytest.mark.timeout(90)
def test_node_opcua_finds_the_machines_and_reads_their_packml_state(scenarios_dir: Path) -> None:
    """An independent client (node-opcua, its own process) browses Machines by the Machinery
    namespace URI, finds every machine with its PackML BaseStateMachine, and reads the
    deepest active CurrentState.Number: the PLC's StateCurrent."""
    clients.node_opcua()  # before any event loop: fails at once if it is not installed

    async def session(s: Served) -> None:
        folder = await run_node(s, [{"op": "browse", "node": f"nsu={MACHINERY};i={MACHINES}"}])
        items = {r["browseName"]: r["nodeId"] for r in folder[0]["references"]}
        assert set(items) == set(s.plcs)
        names, paths = list(items), [".".join(LEVELS[:n]) for n in (1, 2, 3)]
        numbers = [f"{items[name]}.{path}.CurrentState.Number" for name in names for path in paths]
        answer = await run_node(s, [*({"op": "browse", "node": items[n]} for n in names),
                                    {"op": "read", "nodes": numbers}])
        for browse in answer[:-1]:
            assert {"Identification", "MachineryItemState", "BaseStateMachine", "Status"} <= {
                r["browseName"] for r in browse["references"]}
        values = answer[-1]["values"]
        for i, name in enumerate(names):
            levels = values[3 * i:3 * i + 3]
            active = [v["value"] for v in levels if v["status"] == "Good"]
            assert active[-1] == s.plcs[name].tags[STATE], (name, levels)

    serve(scenarios_dir, session)


async def run_node(s: Served, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the node-opcua client (anonymous) with *steps*; its results."""
    process = await asyncio.create_subprocess_exec(
        clients.node_opcua(), str(clients.NODE_DIR / "ua_client.mjs"), s.server.endpoint,
        json.dumps({"user": None, "steps": steps}), cwd=clients.NODE_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=40)
    answer = json.loads(out.decode().strip().splitlines()[-1])
    assert answer["ok"], (answer, err.decode()[-2000:])
    results: list[dict[str, Any]] = answer["results"]
    return results
