"""``reset="operator"``: a machine aborted by a breakdown waits for a client's Clear, Reset
and Start, down all the while; and ``Admin.StopReason`` follows the stop's cause."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import numpy as np
import pytest
from asyncua import ua
from asyncua.client.client import Client

from mestwin.plantmodels import Constant, FailureMode, MachineState, Plant, Station
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, OpcUaUser, Role
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.packml import Command, State
from mestwin.virtual_plc.plc import START_DATETIME, VirtualPLC
from mestwin.virtual_plc.tags import stop_reason
from tests.virtual_plc.test_plc_follow import Recorder, station

STATE = "PackTags.Status.StateCurrent"
SCAN = 1.0
ACTING = {State.CLEARING: 2.0, State.RESETTING: 1.0, State.STARTING: 3.0}


def broken(plant: Plant) -> Station:
    """A saturated 10 s station that breaks down at 100.5 s for 50 s (calendar failure)."""
    rng = np.random.default_rng(0)
    return station(plant, calendar=[FailureMode(Constant(100.5).sampler(rng),
                                                Constant(50).sampler(rng))])


def write_command(plc: VirtualPLC, command: Command) -> None:
    """What an MES writes: CntrlCmd, then CmdChangeRequest, through the one write path."""
    assert plc.write("PackTags.Command.CntrlCmd", int(command)).accepted
    assert plc.write("PackTags.Command.CmdChangeRequest", True).accepted


def test_a_repaired_machine_waits_for_the_operator_and_stays_breakdown_downtime() -> None:
    """Repaired at 150.5 s, the machine stays Aborted and the station DOWN (breakdown)
    until Clear, Reset and Start come (at 300, 310, 320 s); Clear and Reset do not turn it
    into an operator stop; it produces again after Starting. All that is ADET."""
    plant = Plant(warmup=0)
    st = broken(plant)
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN, reset="operator", acting_time_s=ACTING)
    rec = Recorder(plc)
    plant.run(until=299.0)
    assert plc.packml.state is State.ABORTED
    assert (st.state, st.reason) == (MachineState.DOWN, "breakdown")
    assert plc.tags["PackTags.Admin.StopReason.ID"] == stop_reason("breakdown").id
    produced = st.produced
    for at, command, shown in ((300.0, Command.CLEAR, State.STOPPED),
                               (310.0, Command.RESET, State.IDLE)):
        plant.run(until=at - 0.5)
        write_command(plc, command)
        plant.run(until=at + 5.0)
        assert plc.packml.state is shown
        assert (st.state, st.reason) == (MachineState.DOWN, "breakdown"), command
        assert plc.tags["PackTags.Admin.StopReason.ID"] == stop_reason("breakdown").id
    plant.run(until=319.5)
    write_command(plc, Command.START)
    plant.run(until=322.9)  # Starting takes 3 s from the scan at 320 s
    assert (st.state, st.reason) == (MachineState.DOWN, "breakdown")
    plant.run(until=340.0)
    assert st.state == MachineState.PROCESSING
    assert st.produced > produced
    assert rec.between(100.0, 340.0) == [
        (100.5, State.ABORTING), (100.5, State.ABORTED),
        (300.0, State.CLEARING), (302.0, State.STOPPED),
        (310.0, State.RESETTING), (311.0, State.IDLE),
        (320.0, State.STARTING), (323.0, State.EXECUTE)]
    _apt, _asut, adet, adot, _pdot = st.pool[0].close_elements()
    assert adet == pytest.approx(323.0 - 100.5)
    assert adot == pytest.approx(1.0 + 3.0)  # power-up: Resetting and Starting, starved


def test_under_auto_reset_the_same_machine_recovers_by_itself() -> None:
    """The default: the PLC clears, resets and starts by itself after the repair."""
    plant = Plant(warmup=0)
    st = broken(plant)
    plc = VirtualPLC(st, "L1", "cut", plant.env, SCAN, acting_time_s=ACTING)
    plant.run(until=160.0)
    assert plc.packml.state is State.EXECUTE
    assert st.state == MachineState.PROCESSING
    _apt, _asut, adet, _adot, _pdot = st.pool[0].close_elements()
    assert adet == pytest.approx(50.0 + 2.0 + 1.0 + 3.0)


@pytest.mark.timeout(60)
def test_the_operator_resets_a_latched_machine_over_opc_ua() -> None:
    """The same latch cleared by a real asyncua client writing CntrlCmd and
    CmdChangeRequest as an operator."""
    plant = Plant(warmup=0)
    st = broken(plant)
    plc = VirtualPLC(st, "L1", "M", plant.env, SCAN, reset="operator")
    security = OpcUaSecurity(users=(OpcUaUser("operator", "op-secret", Role.OPERATOR),))

    async def main() -> list[tuple[float, MachineState]]:
        server = PlcOpcUaServer([plc], security=security)
        await server.start()
        client = Client(server.endpoint, timeout=10)
        client.set_user("operator")
        client.set_password("op-secret")
        await client.connect()
        seen = []
        try:
            idx = server.namespace_index
            cmd = client.get_node(f"ns={idx};s=L1.M.PackTags.Command.CntrlCmd")
            request = client.get_node(f"ns={idx};s=L1.M.PackTags.Command.CmdChangeRequest")
            plant.env.run(until=200.0)
            for command in (Command.CLEAR, Command.RESET, Command.START):
                await cmd.write_value(ua.Variant(int(command), ua.VariantType.Int32))
                await request.write_value(ua.Variant(True, ua.VariantType.Boolean))
                plant.env.run(until=plant.env.now + 10.0)
                await server.publish()
                seen.append((plant.env.now, st.state))
            state = await client.get_node(f"ns={idx};s=L1.M.{STATE}").read_value()
            assert state == int(State.EXECUTE)
        finally:
            await client.disconnect()
            await server.stop()
        return seen

    seen = asyncio.run(asyncio.wait_for(main(), timeout=45))
    assert seen == [(210.0, MachineState.DOWN), (220.0, MachineState.DOWN),
                    (230.0, MachineState.PROCESSING)]
    _apt, _asut, adet, _adot, _pdot = st.pool[0].close_elements()
    assert adet == pytest.approx(220.0 - 100.5)  # the scan at 220 s took Start


def test_stop_reason_follows_the_cause_while_stopped() -> None:
    """Starved from 10 s (one part every 1000 s), then a calendar breakdown at 100.5 s
    while still starved: StopReason says starved from 10 s, then breakdown from 100.5 s
    (ID, Value, Message, Category and DateTime), then starved again after the repair."""
    rng = np.random.default_rng(0)
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", interarrival=Constant(1000).sampler(rng),
                     limit=None)
    st = plant.add_station(
        "cut", servers=1, buffer=2, process_time={"*": Constant(10).sampler(rng)},
        ideal_cycle_time={"*": 10},
        calendar_failures=[FailureMode(Constant(100.5).sampler(rng), Constant(50).sampler(rng))])
    plant.connect("src", "cut")
    plc = VirtualPLC(st, "L1", "cut", plant.env, 10.0)
    ids: list[tuple[float, object]] = []
    plc.tags.watch(lambda _p, v: ids.append((plant.env.now, v)),
                   ["PackTags.Admin.StopReason.ID"])
    plant.run(until=120.0)
    tags = plc.tags
    breakdown = stop_reason("breakdown")
    assert tags["PackTags.Admin.StopReason.ID"] == breakdown.id
    assert tags["PackTags.Admin.StopReason.Value"] == int(MachineState.DOWN)
    assert tags["PackTags.Admin.StopReason.Message"] == breakdown.message
    assert tags["PackTags.Admin.StopReason.Category"] == int(breakdown.category)
    assert tags["PackTags.Admin.StopReason.DateTime"] == START_DATETIME + timedelta(
        seconds=100.5)
    plant.run(until=200.0)
    assert ids == [(0.0, stop_reason("starved").id), (100.5, breakdown.id),
                   (150.5, stop_reason("starved").id)]
