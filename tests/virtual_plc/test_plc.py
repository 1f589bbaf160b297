"""The virtual PLC scanning real plant stations: commands, mirroring, counters, retain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from mestwin.plantmodels import (
    Constant,
    FailureMode,
    MachineState,
    MaterialUse,
    Plant,
    QualityModel,
    Station,
)
from mestwin.plantmodels.units import LotCounter
from mestwin.virtual_plc.packml import Command, State, UnitMode
from mestwin.virtual_plc.plc import HISTORY, RetainedData, VirtualPLC, WriteStatus
from mestwin.virtual_plc.tags import COUNT_MODULUS, LossCategory, stop_reason

PROCESSED = "PackTags.Admin.ProdProcessedCount[0]"
STATE = "PackTags.Status.StateCurrent"


@dataclass
class Cell:
    """One station fed by a source, and its PLC."""

    plant: Plant
    station: Station
    plc: VirtualPLC

    def run(self, until: float) -> None:
        """Run the plant to *until* and scan once more, so the tags show that instant."""
        self.plant.run(until=until)
        self.plc.scan()


def cell(*, interarrival: float | None = None, failures: list[FailureMode] | None = None,
         calendar: list[FailureMode] | None = None, quality: bool = False,
         plant: Plant | None = None, scan_time_s: float = 0.1) -> Cell:
    """A source and a 10 s station (with the given losses) on one environment, plus a PLC."""
    rng = np.random.default_rng(3)
    plant = plant or Plant(warmup=0)
    if interarrival is None:
        plant.add_source("src", product="part", saturated=True)
    else:
        plant.add_source("src", product="part",
                         interarrival=Constant(interarrival).sampler(rng))
    model = None
    if quality:
        model = QualityModel(scrap=lambda: bool(rng.random() < 0.1),
                             rework=lambda: bool(rng.random() < 0.1))
    station = plant.add_station(
        "cut", servers=1, buffer=5, process_time={"*": Constant(10).sampler(rng)},
        ideal_cycle_time={"*": 10}, failures=[tuple(failures)] if failures else None,
        calendar_failures=calendar, quality=model,
        materials=[MaterialUse("steel", 1.0, LotCounter("steel", 7))])
    plant.connect("src", "cut")
    return Cell(plant, station, VirtualPLC(station, "L1", "cut", plant.env, scan_time_s))


def command(c: Cell, cmd: Command | int, settle: float = 1.0) -> None:
    """Write *cmd* as an MES would and let the PLC take it."""
    c.plc.command(cmd)
    c.run(c.plant.env.now + settle)


def test_the_plc_follows_a_running_station_into_execute() -> None:
    """From Stopped at power-up the PLC resets and starts by itself, because the station
    runs: Execute within a few scans, Running, Executing, at design speed."""
    c = cell()
    c.run(1.0)
    tags = c.plc.tags
    assert tags[STATE] == int(State.EXECUTE)
    assert tags["Signals.Running"] is True
    assert tags["MachineryItemState.CurrentState"] == "Executing"
    assert tags["PackTags.Admin.MachDesignSpeed"] == 6.0
    assert tags["PackTags.Status.CurMachSpeed"] == 6.0
    assert tags["PackTags.Status.UnitModeCurrent"] == int(UnitMode.PRODUCTION)
    assert tags["PackTags.Status.CurrentSerial"] == c.station.current_serial
    assert tags["PackTags.Status.CurrentLot"] == (c.station.current_lot or "")
    # material lots drawn for the unit in work are published for genealogy
    consumed = dict(item.split("=") for item in str(tags["PackTags.Status.Consumed"]).split(","))
    assert consumed == {lot: f"{q:g}" for lot, q, _ in c.station.current_consumed}
    assert consumed


def test_counters_equal_the_station_ground_truth() -> None:
    """Processed is PQ, Defective[0] is PQ - GQ, [1] scrap, [2] rework, Consumed the
    material draws; Count and AccCount agree while nothing wrapped."""
    c = cell(quality=True)
    c.run(2000.0)
    st, tags = c.station, c.plc.tags
    assert st.scrap > 0
    assert st.rework > 0
    expected = {PROCESSED: st.produced,
                "PackTags.Admin.ProdDefectiveCount[0]": st.produced - st.good,
                "PackTags.Admin.ProdDefectiveCount[1]": st.scrap,
                "PackTags.Admin.ProdDefectiveCount[2]": st.rework,
                "PackTags.Admin.ProdConsumedCount[0]": st.consumed}
    for prefix, value in expected.items():
        assert tags[f"{prefix}.AccCount"] == value, prefix
        assert tags[f"{prefix}.Count"] == value, prefix


def test_a_stop_command_stops_the_station_and_start_resumes_it() -> None:
    """Stop makes the station stop producing and PackML show Stopped with the operator
    stop reason; it stays stopped (the PLC does not restart it) until Reset and Start."""
    c = cell()
    c.run(100.0)
    command(c, Command.STOP)
    assert c.station.state == MachineState.STOPPED
    assert c.plc.tags[STATE] == int(State.STOPPED)
    assert c.plc.tags["PackTags.Admin.StopReason.ID"] == stop_reason("operator_stop").id
    assert c.plc.tags["PackTags.Command.CmdChangeRequest"] is False
    frozen = c.station.produced
    c.run(500.0)
    assert c.station.produced == frozen
    assert c.plc.tags[STATE] == int(State.STOPPED)
    command(c, Command.RESET)
    assert c.plc.tags[STATE] == int(State.IDLE)
    assert c.station.produced == frozen
    command(c, Command.START)
    c.run(600.0)
    assert c.station.produced > frozen
    assert c.plc.tags[STATE] == int(State.EXECUTE)
    assert c.plc.tags[f"{PROCESSED}.AccCount"] == c.station.produced


def test_hold_and_unhold() -> None:
    """Hold holds the station (HELD) and shows Held; Unhold resumes production."""
    c = cell()
    c.run(50.0)
    command(c, Command.HOLD)
    assert c.station.state == MachineState.HELD
    assert c.plc.tags[STATE] == int(State.HELD)
    assert c.plc.tags["Signals.Held"] is True
    frozen = c.station.produced
    c.run(200.0)
    assert c.station.produced == frozen
    command(c, Command.UNHOLD)
    c.run(300.0)
    assert c.station.produced > frozen
    assert c.plc.tags[STATE] == int(State.EXECUTE)


def test_refused_commands_change_nothing_and_the_request_is_cleared() -> None:
    """Start in Execute is refused: recorded as refused, CmdChangeRequest cleared, state
    and station untouched."""
    c = cell()
    c.run(10.0)
    command(c, Command.START)
    assert c.plc.command_results[-1].accepted is False
    assert c.plc.tags["PackTags.Command.CmdChangeRequest"] is False
    assert c.plc.tags[STATE] == int(State.EXECUTE)
    command(c, 77)
    assert c.plc.command_results[-1].accepted is False


def test_the_command_history_keeps_the_last_commands_only() -> None:
    """A client that sends commands all day does not grow the PLC: it remembers the last
    HISTORY commands, the newest last (a refused Start per request here)."""
    c = cell()
    c.run(10.0)
    for _ in range(HISTORY + 5):
        c.plc.command(Command.START)
        c.plc.scan()
    assert len(c.plc.command_results) == HISTORY
    assert all(r.command is Command.START and not r.accepted for r in c.plc.command_results)
    command(c, Command.STOP)
    assert len(c.plc.command_results) == HISTORY
    assert c.plc.command_results[-1].command is Command.STOP
    assert c.plc.command_results[-1].accepted


def test_abort_then_clear_reset_start() -> None:
    """Abort stops the station and shows Aborted/Faulted; the operator's Clear, Reset and
    Start bring it back to production."""
    c = cell()
    c.run(30.0)
    command(c, Command.ABORT)
    assert c.plc.tags[STATE] == int(State.ABORTED)
    assert c.plc.tags["Signals.Faulted"] is True
    assert c.station.state == MachineState.STOPPED
    for cmd in (Command.CLEAR, Command.RESET, Command.START):
        command(c, cmd)
    frozen = c.station.produced
    c.run(100.0)
    assert c.plc.tags[STATE] == int(State.EXECUTE)
    assert c.station.produced > frozen


def test_a_breakdown_aborts_and_the_plc_recovers_after_repair() -> None:
    """A breakdown (DOWN, reason breakdown) shows Aborted with a breakdown stop reason and
    an active alarm; after the repair the PLC clears, resets and starts by itself."""
    c = cell(calendar=[FailureMode(Constant(100).sampler(np.random.default_rng(0)),
                                   Constant(50).sampler(np.random.default_rng(0)))])
    c.run(120.0)
    tags = c.plc.tags
    assert c.station.state == MachineState.DOWN
    assert tags[STATE] == int(State.ABORTED)
    assert tags["PackTags.Admin.StopReason.ID"] == stop_reason("breakdown").id
    assert tags["PackTags.Admin.StopReason.Category"] == int(LossCategory.BREAKDOWN)
    assert tags["PackTags.Admin.AlarmExtent"] == 1
    assert tags["PackTags.Admin.Alarm[0].ID"] == stop_reason("breakdown").id
    assert tags["MachineryItemState.CurrentState"] == "OutOfService"
    c.run(160.0)
    assert tags[STATE] == int(State.EXECUTE)
    assert tags["PackTags.Admin.AlarmExtent"] == 0


def test_a_minor_stop_holds() -> None:
    """A minor stop is an internal condition the machine recovers from: Held, then back to
    Execute once it clears."""
    rng = np.random.default_rng(0)
    c = cell(failures=[FailureMode(Constant(35).sampler(rng), Constant(20).sampler(rng),
                                   reason="minor_stop")])
    c.run(45.0)
    assert c.station.state == MachineState.DOWN
    assert c.plc.tags[STATE] == int(State.HELD)
    assert c.plc.tags["PackTags.Admin.StopReason.Category"] == int(LossCategory.MINOR_STOP)
    c.run(60.0)
    assert c.plc.tags[STATE] == int(State.EXECUTE)


def test_a_starved_station_is_suspended() -> None:
    """Starved (no input) is external: Suspended with EquipmentInterlock.Starved."""
    c = cell(interarrival=100.0)
    c.run(50.0)
    tags = c.plc.tags
    assert c.station.state == MachineState.IDLE
    assert tags[STATE] == int(State.SUSPENDED)
    assert tags["PackTags.Status.EquipmentInterlock.Starved"] is True
    assert tags["Signals.Starved"] is True
    assert tags["PackTags.Admin.StopReason.Category"] == int(LossCategory.EXTERNAL)
    c.run(105.0)
    assert tags[STATE] == int(State.EXECUTE)
    assert tags["PackTags.Status.EquipmentInterlock.Starved"] is False


def test_writes_follow_one_rule_set() -> None:
    """write() stores writable tags of the right type and refuses unknown tags, read-only
    tags, wrong types, out-of-range values and a non-positive speed, storing nothing."""
    c = cell()
    plc = c.plc
    assert plc.write("PackTags.Command.WorkOrder", "WO-1").accepted
    assert plc.tags["PackTags.Command.WorkOrder"] == "WO-1"
    before = plc.tags.version
    refusals = [("No.Such.Tag", 1, WriteStatus.UNKNOWN_TAG),
                (f"{PROCESSED}.AccCount", 0, WriteStatus.READ_ONLY),
                (STATE, 6, WriteStatus.READ_ONLY),
                ("PackTags.Command.CntrlCmd", "2", WriteStatus.TYPE_MISMATCH),
                ("PackTags.Command.CmdChangeRequest", 1, WriteStatus.TYPE_MISMATCH),
                ("PackTags.Command.CntrlCmd", 2**40, WriteStatus.OUT_OF_RANGE),
                ("PackTags.Command.MachSpeed", 0.0, WriteStatus.OUT_OF_RANGE),
                ("PackTags.Command.MachSpeed", float("inf"), WriteStatus.OUT_OF_RANGE)]
    for path, value, status in refusals:
        result = plc.write(path, value)
        assert not result.accepted
        assert result.status is status, path
    assert plc.tags.version == before


def test_speed_setpoint_sets_the_station_speed() -> None:
    """MachSpeed (units/min) becomes the station's speed factor over the design speed, and
    the station then produces at that rate."""
    c = cell()
    c.run(1.0)
    assert c.plc.write("PackTags.Command.MachSpeed", 3.0).accepted
    c.run(2.0)
    assert c.station.speed == 0.5
    assert c.plc.tags["PackTags.Status.MachSpeed"] == 3.0
    start = c.station.produced
    c.run(602.0)
    assert 29 <= c.station.produced - start <= 31


def test_unit_mode_change_request() -> None:
    """A mode change is refused in Execute and taken in Stopped; the request is cleared."""
    c = cell()
    c.run(5.0)
    c.plc.write("PackTags.Command.UnitMode", int(UnitMode.MAINTENANCE))
    c.plc.write("PackTags.Command.UnitModeChangeRequest", True)
    c.run(6.0)
    assert c.plc.tags["PackTags.Status.UnitModeCurrent"] == int(UnitMode.PRODUCTION)
    assert c.plc.tags["PackTags.Command.UnitModeChangeRequest"] is False
    command(c, Command.STOP)
    c.plc.write("PackTags.Command.UnitModeChangeRequest", True)
    c.run(8.0)
    assert c.plc.tags["PackTags.Status.UnitModeCurrent"] == int(UnitMode.MAINTENANCE)
    assert c.plc.tags["MachineryOperationMode.CurrentState"] == "Maintenance"


def test_stop_reason_acknowledge() -> None:
    """StopReasonAck stamps AckDateTime with the PLC clock and is cleared."""
    c = cell()
    c.run(10.0)
    command(c, Command.STOP)
    c.plc.write("PackTags.Command.StopReasonAck", True)
    c.run(20.0)
    ack = c.plc.tags["PackTags.Admin.StopReason.AckDateTime"]
    assert ack > c.plc.tags["PackTags.Admin.StopReason.DateTime"]  # type: ignore[operator]
    assert c.plc.tags["PackTags.Command.StopReasonAck"] is False


def test_heartbeat_scan_count_and_clock() -> None:
    """Heartbeat and ScanCount go up by one per scan; SimTime and PACDateTime follow the
    simulation clock; state times grow; SpeedFactor shows what the real-time runner set."""
    c = cell(scan_time_s=0.5)
    c.plant.run(until=10.2)
    tags = c.plc.tags
    assert tags["Diagnostics.ScanCount"] == 21
    assert tags["PackTags.Status.Heartbeat"] == tags["Diagnostics.Heartbeat"] == 21
    assert tags["Diagnostics.SimTime"] == 10.0
    assert tags["PackTags.Admin.PACDateTime"] == c.plc.start_datetime + timedelta(seconds=10)
    # Execute since power-up: the PLC followed the running station in the instant t = 0
    assert tags["PackTags.Admin.StateCurrentTime"] == 10.0
    assert tags["PackTags.Admin.AccTimeSinceReset"] == 10.0
    assert tags["Diagnostics.SpeedFactor"] == 1.0
    c.plc.set_speed_factor(60)
    assert tags["Diagnostics.SpeedFactor"] == 60.0


def test_count_wraps_like_int32_while_acc_count_keeps_counting() -> None:
    """Restored near 2**31, Count rolls over to small values while AccCount goes past
    2**31 and never decreases."""
    c = cell()
    near = COUNT_MODULUS - 3
    c.plc.restore(RetainedData({PROCESSED: near}, {PROCESSED: near}, {}, 0.0))
    c.run(100.0)
    produced = c.station.produced
    assert produced > 5
    assert c.plc.tags[f"{PROCESSED}.AccCount"] == near + produced
    assert c.plc.tags[f"{PROCESSED}.Count"] == near + produced - COUNT_MODULUS


def test_acc_count_saturates_instead_of_wrapping() -> None:
    """At the top of UInt32 AccCount stays there: it never decreases."""
    c = cell()
    top = 2**32 - 2
    c.plc.restore(RetainedData({PROCESSED: top}, {PROCESSED: 5}, {}, 0.0))
    c.run(100.0)
    assert c.plc.tags[f"{PROCESSED}.AccCount"] == 2**32 - 1


def test_restart_on_the_same_simulation_keeps_ground_truth() -> None:
    """A PLC restarted from a snapshot on a simulation that went on counts the units made
    while it was down: AccCount equals the station's counter again."""
    c = cell()
    c.run(200.0)
    data = RetainedData.from_dict(c.plc.snapshot().to_dict())
    c.plant.run(until=400.0)
    again = VirtualPLC(c.station, "L1", "cut", c.plant.env)
    again.restore(data)
    assert again.tags[f"{PROCESSED}.AccCount"] == c.station.produced


def test_restart_on_a_new_simulation_never_goes_back() -> None:
    """On a fresh simulation (station counters back at 0) the restored AccCount continues
    from the snapshot and grows from there."""
    first = cell()
    first.run(300.0)
    data = first.plc.snapshot()
    before = first.plc.tags[f"{PROCESSED}.AccCount"]
    second = cell()
    second.plc.restore(data)
    assert second.plc.tags[f"{PROCESSED}.AccCount"] == before
    second.run(100.0)
    assert second.plc.tags[f"{PROCESSED}.AccCount"] == before + second.station.produced  # type: ignore[operator]
    assert second.plc.tags["PackTags.Admin.AccTimeSinceReset"] == 400.0


def test_reset_counters_zeroes_counts_but_not_acc_counts() -> None:
    """Count and AccTimeSinceReset restart from zero; AccCount is untouched."""
    c = cell()
    c.run(100.0)
    acc = c.plc.tags[f"{PROCESSED}.AccCount"]
    c.plc.reset_counters()
    assert c.plc.tags[f"{PROCESSED}.Count"] == 0
    assert c.plc.tags[f"{PROCESSED}.AccCount"] == acc
    c.run(200.0)
    assert c.plc.tags[f"{PROCESSED}.Count"] == c.station.produced - acc  # type: ignore[operator]
    assert c.plc.tags["PackTags.Admin.AccTimeSinceReset"] == 100.0
