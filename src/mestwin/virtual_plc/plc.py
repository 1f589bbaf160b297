"""A virtual PLC: the scan cycle that couples one plant station to its PackTags.

:class:`VirtualPLC` runs as a SimPy process. Every ``scan_time_s`` of simulated time it
completes finished acting states of its :class:`~.packml.PackMLMachine`, takes the requests
clients wrote (``Command.CmdChangeRequest``, ``UnitModeChangeRequest``, ``MachSpeed``,
``StopReasonAck``), makes PackML follow the physical station, and writes every tag of
:mod:`.tags` into its :class:`~.tag_values.TagValues`, which the protocol servers serve.

Who owns the state. An accepted client command acts on the station (:data:`STATION_ACTIONS`)
and leaves PackML where the operator put it. When the machine is in Execute, or in a state
the PLC itself entered to follow the plant, the PLC drives PackML toward the state
:data:`MIRROR` gives for the station's physical state, using the shortest sequence of PackML
commands (:func:`~.packml.route`), one command per scan; such automatic commands never act
on the station. So a breakdown shows Execute -> Aborting -> Aborted with ``StopReason``
breakdown and an alarm, and when the repair is over the PLC clears, resets and starts again
by itself (Clearing -> Stopped -> Resetting -> Idle -> Starting -> Execute); an operator
Stop stays Stopped until the operator resets and starts.

The mirror table (one place, PackML's own rule): starved or blocked is an external
condition -> Suspended (with ``EquipmentInterlock.Starved`` / ``Blocked``); a minor stop is
an internal condition the machine recovers from -> Held; a breakdown (any other DOWN
reason) is a fault -> Aborted; planned downtime and commanded stops -> Stopped; processing
and setup -> Execute (``MachineryOperationMode`` shows Setup).

:meth:`VirtualPLC.write` is the one entry point for client writes of both protocols, so OPC
UA and Modbus share a rule set; :meth:`VirtualPLC.snapshot` / :meth:`VirtualPLC.restore`
carry the retained data (AccCounts...) across a restart.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Generator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import simpy

from mestwin.virtual_plc.image import (
    COUNTERS,
    STATE_TIME_PATHS,
    ProcessImage,
    station_counts,
)
from mestwin.virtual_plc.machinery import (
    Identification,
    item_state,
    job_state,
    operation_mode,
)
from mestwin.virtual_plc.packml import (
    ACTING_STATES,
    PACKML_NUMBERING,
    Command,
    CommandResult,
    PackMLMachine,
    State,
    StateNumbering,
    UnitMode,
    route,
)
from mestwin.virtual_plc.port import StationPort
from mestwin.virtual_plc.retain import CounterBase, RetainedData
from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import (
    ACC_COUNT_MAX,
    TAG_BY_PATH,
    check_value,
    stop_reason,
)
from mestwin.virtual_plc.writes import WriteResult, WriteStatus

# Physical machine states (mestwin.plantmodels.states.MachineState codes, see port.py).
IDLE, PROCESSING, SETUP, BLOCKED, DOWN, PLANNED_DOWN, STOPPED, HELD = range(8)

MIRROR: Mapping[tuple[int, str | None], State] = MappingProxyType({
    (IDLE, None): State.SUSPENDED,
    (PROCESSING, None): State.EXECUTE,
    (SETUP, None): State.EXECUTE,
    (BLOCKED, None): State.SUSPENDED,
    (DOWN, "minor_stop"): State.HELD,
    (DOWN, None): State.ABORTED,
    (PLANNED_DOWN, None): State.STOPPED,
    (STOPPED, None): State.STOPPED,
    (HELD, None): State.HELD,
})
"""(physical state, reason or None for any) -> the PackML state the PLC shows for it."""

STATION_ACTIONS: Mapping[Command, tuple[str, str]] = MappingProxyType({
    Command.START: ("start", ""),
    Command.STOP: ("stop", "operator_stop"),
    Command.RESET: ("stop", "operator_stop"),
    Command.CLEAR: ("stop", "operator_stop"),
    Command.ABORT: ("stop", "abort"),
    Command.COMPLETE: ("stop", "complete"),
    Command.HOLD: ("hold", "operator_hold"),
    Command.SUSPEND: ("hold", "operator_hold"),
    Command.UNHOLD: ("unhold", ""),
    Command.UNSUSPEND: ("unhold", ""),
})
"""What an accepted client command does to the station: (method, stop reason shown).

Start also releases a hold, so Start always means "run". Reset and Clear keep the station
stopped, so a station repaired under an operator's Clear does not restart on its own."""

_REQUESTS = frozenset({"PackTags.Command.CmdChangeRequest", "PackTags.Command.WorkOrder",
                       "PackTags.Command.UnitModeChangeRequest",
                       "PackTags.Command.StopReasonAck"})

START_DATETIME = datetime(2025, 1, 1, tzinfo=UTC)
"""Default ``PACDateTime`` at simulated time 0 (fixed, so runs are reproducible)."""
HISTORY = 10_000
"""Client commands and job downloads a PLC remembers (a diagnostic buffer, as a real PLC's
is bounded): a twin left running for days keeps flat memory however busy its clients are."""


class VirtualPLC:
    """The PLC of machine *machine* on line *line*, reading and driving *station*.

    The scan runs every *scan_time_s* simulated seconds in *env* (started at once unless
    *autostart* is false; call :meth:`scan` yourself then). *acting_time_s* is how long
    PackML acting states last (0: one scan). *numbering* is how ``StateCurrent`` numbers
    states. *start_datetime* is ``PACDateTime`` at simulated time 0. *mirror* is the
    physical-to-PackML table (default :data:`MIRROR`).
    """

    def __init__(self, station: StationPort, line: str, machine: str, env: simpy.Environment,
                 scan_time_s: float = 0.1, *, acting_time_s: float | Mapping[State, float] = 0.0,
                 numbering: StateNumbering = PACKML_NUMBERING,
                 start_datetime: datetime = START_DATETIME,
                 mirror: Mapping[tuple[int, str | None], State] = MIRROR,
                 identification: Identification | None = None,
                 autostart: bool = True, immediate_commands: bool = False) -> None:
        if scan_time_s <= 0:
            raise ValueError("scan_time_s must be positive")
        self.station = station
        self.immediate_commands = immediate_commands
        """Take command requests in the instant they are written, not at the next scan."""
        self._scan_pending = False
        self.frozen = False
        """True while :meth:`freeze` holds the PLC."""
        self.downloaded: deque[str] = deque(maxlen=HISTORY)
        """The last :data:`HISTORY` work orders taken by job download, in order."""
        self.line = line
        self.machine = machine
        self.env = env
        self.scan_time_s = scan_time_s
        self.numbering = numbering
        self.start_datetime = start_datetime
        self.mirror = mirror
        self.tags = TagValues(clock=lambda: env.now)
        """The values the protocol servers serve, each change dated on the PLC clock."""
        self.packml = PackMLMachine(env.now, State.STOPPED, UnitMode.PRODUCTION, acting_time_s)
        self.command_results: deque[CommandResult] = deque(maxlen=HISTORY)
        """The last :data:`HISTORY` client commands taken, accepted or refused, in order."""
        self.scan_count = 0
        self._auto = True
        """True if the PLC, not an operator, put PackML in its current state."""
        self._reset_time = env.now
        self._acc_time_base = 0.0
        counts = station_counts(station)
        self._counters = {prefix: CounterBase(origin=value) for prefix, value in counts.items()}
        self.image = ProcessImage(station, self.tags, env, self._counters)
        """The event-driven part of the tags (counts, unit in work, OEE state, genealogy)."""
        self._speed_setpoint = 0.0
        self._init_tags(identification or Identification())
        observers = getattr(station, "observers", None)
        if observers is not None:
            observers.append(self._on_plant_change)
        self.process: simpy.Process | None = env.process(self._run()) if autostart else None
        """The scan process, if started by the constructor."""

    # -- client side --------------------------------------------------------------------
    def check(self, path: str, value: object) -> WriteResult:
        """Whether :meth:`write` would store *value* at *path*, without storing it.

        Refused: unknown tags, read-only tags, values of the wrong type or out of range
        (:func:`~.tags.check_value`), and a ``MachSpeed`` setpoint that is not positive and
        finite. Servers call it for every item of a multi-item write before writing any.
        """
        spec = TAG_BY_PATH.get(path)
        if spec is None:
            return WriteResult(path, WriteStatus.UNKNOWN_TAG, f"no tag {path!r}")
        if not spec.writable:
            return WriteResult(path, WriteStatus.READ_ONLY, f"{path} is read-only")
        try:
            checked = check_value(spec, value)
        except TypeError as error:
            return WriteResult(path, WriteStatus.TYPE_MISMATCH, str(error))
        except ValueError as error:
            return WriteResult(path, WriteStatus.OUT_OF_RANGE, str(error))
        if path == "PackTags.Command.MachSpeed" and not (
                isinstance(checked, float) and math.isfinite(checked) and checked > 0):
            return WriteResult(path, WriteStatus.OUT_OF_RANGE, "MachSpeed must be positive")
        return WriteResult(path, WriteStatus.OK, value=checked)

    def write(self, path: str, value: object) -> WriteResult:
        """Store a client's *value* at *path* if :meth:`check` accepts it.

        This is the one write rule set of both protocol servers. Requests
        (``CmdChangeRequest``, ``UnitModeChangeRequest``, ``StopReasonAck``, a new
        ``MachSpeed``) are taken at the next scan.
        """
        result = self.check(path, value)
        if result.accepted and result.value is not None:
            self.tags.set(path, result.value)
            if self.immediate_commands and path in _REQUESTS and result.value:
                self._scan_now()
        return result

    def _scan_now(self) -> None:
        """Take a request in this instant (an event-driven command task) instead of at the
        next cyclic scan."""
        if not self._scan_pending:
            self._scan_pending = True
            event = self.env.timeout(0)
            event.callbacks.append(self._scan_event)

    def _scan_event(self, _event: object) -> None:
        self._scan_pending = False
        self.scan()

    def command(self, command: Command | int) -> None:
        """Write *command* and its change request, as an MES would (taken at the next scan)."""
        self.write("PackTags.Command.CntrlCmd", int(command))
        self.write("PackTags.Command.CmdChangeRequest", True)

    def set_speed_factor(self, factor: float) -> None:
        """Show *factor* (simulated seconds per wall-clock second) in
        ``Diagnostics.SpeedFactor``; the real-time runner calls it when its speed changes."""
        self.tags.set("Diagnostics.SpeedFactor", float(factor))

    # -- retained data ------------------------------------------------------------------
    def snapshot(self) -> RetainedData:
        """The retained data as of the last scan."""
        tags = self.tags
        return RetainedData(
            {p: tags.integer(f"{p}.AccCount") for p in self._counters},
            {p: tags.integer(f"{p}.Count") for p in self._counters},
            station_counts(self.station), self._acc_time(),
            int(self.packml.mode), self._speed_setpoint,
            {path: tags.real(path) for path in STATE_TIME_PATHS},
            tags.real("PackTags.Status.StateChangeTime"),
            tags.integer("PackTags.Status.MachineState"))

    def restore(self, data: RetainedData) -> None:
        """Continue from *data* (a restarted PLC): AccCounts never go back.

        If the station's counter is at or past the one in the snapshot (same simulation,
        only the PLC restarted), units made while the PLC was down are counted too;
        otherwise (a new simulation) counting resumes from the snapshot's values.
        """
        now_counts = station_counts(self.station)
        for prefix, counter in self._counters.items():
            then = data.station_counts.get(prefix, 0)
            now = now_counts[prefix]
            counter.origin = then if now >= then else now
            counter.acc_base = data.acc_counts.get(prefix, 0)
            counter.count_base = data.counts.get(prefix, 0)
        self._acc_time_base = data.acc_time_since_reset
        self._reset_time = self.env.now
        self.packml.change_mode(data.unit_mode, self.env.now)
        if data.mach_speed > 0:
            self.write("PackTags.Command.MachSpeed", data.mach_speed)
        if data.state_times:
            restart = float(self.env.now)
            times = dict(data.state_times)
            down = STATE_TIME_PATHS[data.machine_state]
            times[down] = times.get(down, 0.0) + max(0.0, restart - data.state_change_time)
            for path, seconds in times.items():
                self.tags.set(path, seconds)
            self.tags.set("PackTags.Status.StateChangeTime", restart)
        self.image.invalidate()
        self._update_tags()

    def reset_counters(self) -> None:
        """Zero every ``Count`` and ``AccTimeSinceReset`` (AccCounts are not touched)."""
        counts = station_counts(self.station)
        for prefix, counter in self._counters.items():
            counter.acc_base = self._acc(prefix, counts[prefix])
            counter.count_base = 0
            counter.origin = counts[prefix]
        self._acc_time_base = 0.0
        self._reset_time = self.env.now
        self.image.invalidate()
        self._update_tags()

    # -- the scan -----------------------------------------------------------------------
    def freeze(self) -> None:
        """Fault injection: the PLC stops scanning and stops updating its tags (a CPU in
        STOP or a hung task), while the plant runs on; an MES sees the Heartbeat stand still."""
        self.frozen = True

    def unfreeze(self) -> None:
        """End :meth:`freeze`: the next scan publishes the current image again."""
        self.frozen = False
        self.image.invalidate()
        self.scan()

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            if not self.frozen:
                self.scan()
            yield self.env.timeout(self.scan_time_s)

    def scan(self) -> None:
        """One scan: finish acting states, take requests, follow the plant, write tags."""
        now = self.env.now
        self.scan_count += 1
        self.packml.tick(now)
        self._take_requests(now)
        self._follow_plant(now)
        self._update_tags()

    def _take_requests(self, now: float) -> None:
        tags, packml = self.tags, self.packml
        if tags["PackTags.Command.UnitModeChangeRequest"]:
            packml.change_mode(tags.integer("PackTags.Command.UnitMode"), now)
            tags.set("PackTags.Command.UnitModeChangeRequest", False)
        setpoint = tags.real("PackTags.Command.MachSpeed")
        design = self.station.design_rate_per_h / 60.0
        if setpoint > 0 and setpoint != self._speed_setpoint and design > 0:
            self.station.set_speed(setpoint / design)
            self._speed_setpoint = setpoint
        order = str(tags["PackTags.Command.WorkOrder"])
        if order:
            self._download(order)
        if tags["PackTags.Command.StopReasonAck"]:
            tags.set("PackTags.Admin.StopReason.AckDateTime", self._pac(now))
            tags.set("PackTags.Command.StopReasonAck", False)
        if tags["PackTags.Command.CmdChangeRequest"]:
            result = packml.command(tags.integer("PackTags.Command.CntrlCmd"), now)
            self.command_results.append(result)
            if result.accepted:
                self._auto = False
                method, reason = STATION_ACTIONS[result.command]
                self._act(method, reason)
                if reason:
                    self._set_stop_reason(reason, self.station.state, now)
            tags.set("PackTags.Command.CmdChangeRequest", False)

    def _download(self, order: str) -> None:
        """Job download: the machine takes the work order the MES wrote, then clears the
        request (the same handshake as ``CmdChangeRequest``)."""
        dispatch = getattr(self.station, "dispatch", None)
        if dispatch is not None:
            # a machine that takes work first come first served runs what it has
            with contextlib.suppress(ValueError):
                dispatch(order)
        self.downloaded.append(order)
        self.tags.set("PackTags.Command.WorkOrder", "")

    def _act(self, method: str, reason: str) -> None:
        station = self.station
        if method == "start":
            station.unhold()
            station.start()
        elif method == "stop":
            station.stop(reason)
        elif method == "hold":
            station.hold()
        else:
            station.unhold()

    def _target(self) -> State:
        state, reason = int(self.station.state), self.station.reason
        target = self.mirror.get((state, reason))
        return target if target is not None else self.mirror[state, None]

    def _follow_plant(self, now: float) -> None:
        packml = self.packml
        current = packml.state
        if current in ACTING_STATES or not (self._auto or current is State.EXECUTE):
            return
        target = self._target()
        if target is current:
            return
        commands = route(current, target)
        if not commands:
            return
        if current is State.EXECUTE:
            self._set_stop_reason(self.station.reason, int(self.station.state), now)
        packml.command(commands[0], now)
        self._auto = True

    def _set_stop_reason(self, reason: str, physical: int, now: float) -> None:
        code = stop_reason(reason)
        tags = self.tags
        tags.set("PackTags.Admin.StopReason.ID", code.id)
        tags.set("PackTags.Admin.StopReason.Value", int(physical))
        tags.set("PackTags.Admin.StopReason.Message", code.message)
        tags.set("PackTags.Admin.StopReason.Category", int(code.category))
        tags.set("PackTags.Admin.StopReason.DateTime", self._pac(now))

    # -- tags -----------------------------------------------------------------------------
    def _pac(self, now: float) -> datetime:
        return self.start_datetime + timedelta(seconds=now)

    def _acc_time(self) -> float:
        return self._acc_time_base + (self.env.now - self._reset_time)

    def _acc(self, prefix: str, value: int) -> int:
        counter = self._counters[prefix]
        return min(ACC_COUNT_MAX, counter.acc_base + max(0, value - counter.origin))

    def _init_tags(self, ident: Identification) -> None:
        tags = self.tags
        for prefix, number, name in COUNTERS:
            tags.set(f"{prefix}.ID", number)
            tags.set(f"{prefix}.Name", name)
            tags.set(f"{prefix}.Unit", "units")
        tags.set("Identification.Manufacturer", ident.manufacturer)
        tags.set("Identification.Model", ident.model)
        tags.set("Identification.SerialNumber", f"{self.line}.{self.machine}"[:32])
        tags.set("Identification.ProductInstanceUri",
                 f"urn:mestwin:{self.line}:{self.machine}"[:64])
        tags.set("Identification.SoftwareRevision", ident.software_revision)
        tags.set("Identification.YearOfConstruction", ident.year_of_construction)
        tags.set("Diagnostics.SpeedFactor", 1.0)
        tags.set("PackTags.Status.StateChangeTime", float(self.env.now))
        tags.set("PackTags.Command.UnitMode", int(UnitMode.PRODUCTION))
        design = self.station.design_rate_per_h / 60.0
        tags.set("PackTags.Command.MachSpeed", float(design * self.station.speed))
        self._speed_setpoint = float(design * self.station.speed)
        self._update_tags()

    def _on_plant_change(self, _machine: object) -> None:
        """The plant changed state or counts: update the process image at once (like an
        interrupt-driven task), so state times and counts carry their exact time."""
        if not self.frozen:
            self.image.update()

    def _update_tags(self) -> None:
        now = self.env.now
        st, packml, tags, put = self.station, self.packml, self.tags, self.tags.set
        physical = int(st.state)
        state = packml.state
        self.image.update()
        beat = self.scan_count % 2**32
        design = st.design_rate_per_h / 60.0
        starved, blocked = physical == IDLE, physical == BLOCKED
        put("PackTags.Status.UnitModeCurrent", int(packml.mode))
        put("PackTags.Status.StateCurrent", self.numbering.code(state))
        put("PackTags.Status.StateRequested", self.numbering.code(packml.requested))
        put("PackTags.Status.StateChangeInProcess", packml.acting)
        put("PackTags.Status.MachSpeed", tags.real("PackTags.Command.MachSpeed"))
        put("PackTags.Status.CurMachSpeed", float(design * st.speed) if physical == PROCESSING
            else 0.0)
        put("PackTags.Status.EquipmentInterlock.Blocked", blocked)
        put("PackTags.Status.EquipmentInterlock.Starved", starved)
        put("PackTags.Status.Heartbeat", beat)
        alarm = physical == DOWN
        code = stop_reason(st.reason) if alarm else stop_reason("")
        if alarm and tags["PackTags.Admin.Alarm[0].ID"] != code.id:
            put("PackTags.Admin.Alarm[0].DateTime", self._pac(now))
        put("PackTags.Admin.AlarmExtent", int(alarm))
        put("PackTags.Admin.Alarm[0].ID", code.id)
        put("PackTags.Admin.Alarm[0].Value", physical if alarm else 0)
        put("PackTags.Admin.Alarm[0].Message", code.message if alarm else "")
        put("PackTags.Admin.StateCurrentTime", packml.state_current_time(now))
        put("PackTags.Admin.StateCumulativeTime", packml.state_cumulative_time(now))
        put("PackTags.Admin.ModeCurrentTime", packml.mode_current_time(now))
        put("PackTags.Admin.ModeCumulativeTime", packml.mode_cumulative_time(now))
        put("PackTags.Admin.AccTimeSinceReset", self._acc_time())
        put("PackTags.Admin.MachDesignSpeed", float(design))
        put("PackTags.Admin.PACDateTime", self._pac(now))
        put("Diagnostics.Heartbeat", beat)
        put("Diagnostics.ScanCount", self.scan_count % 2**32)
        put("Diagnostics.SimTime", float(now))
        put("MachineryItemState.CurrentState", item_state(state))
        put("MachineryOperationMode.CurrentState", operation_mode(packml.mode, physical))
        order = (st.current_order or "")[:32]
        put("JobManagement.JobOrderID", order)
        put("JobManagement.JobState", job_state(state, bool(order)))
        put("Signals.Running", state is State.EXECUTE)
        put("Signals.Faulted", state in (State.ABORTING, State.ABORTED) or alarm)
        put("Signals.Blocked", blocked)
        put("Signals.Starved", starved)
        put("Signals.Held", state in (State.HOLDING, State.HELD))


__all__ = [
    "HISTORY", "MIRROR", "START_DATETIME", "STATION_ACTIONS", "Identification", "RetainedData",
    "VirtualPLC", "WriteResult", "WriteStatus",
]
