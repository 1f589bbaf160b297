"""A virtual PLC: the scan cycle that couples one plant station to its PackTags.

:class:`VirtualPLC` runs as a SimPy process. Every ``scan_time_s`` of simulated time it
takes the requests clients wrote (``Command.CmdChangeRequest``, ``UnitModeChangeRequest``,
``MachSpeed``, ``StopReasonAck``) and writes every tag of :mod:`.tags` into its
:class:`~.tag_values.TagValues`, which the protocol servers serve. PackML itself does not
wait for the scan: it follows the plant at the simulated instant the plant changes.

Who owns the state. An accepted client command acts on the station (:data:`STATION_ACTIONS`)
and leaves PackML where the operator put it. When the machine is in Execute, or in a state
the PLC itself entered to follow the plant, the PLC drives PackML toward the state
:data:`MIRROR` gives for the station's physical state, along the whole shortest route of
PackML commands (:func:`~.packml.route`); such automatic commands never act on the station.
So a breakdown shows Execute -> Aborting -> Aborted with ``StopReason`` breakdown and an
alarm, and when the repair is over the PLC clears, resets and starts again by itself
(Clearing -> Stopped -> Resetting -> Idle -> Starting -> Execute); an operator Stop stays
Stopped until the operator resets and starts. With ``reset="operator"`` an Aborted machine
is never cleared by the PLC: it waits for a client's Clear, Reset and Start, and Clear and
Reset then leave the station as it is (still down: the wait is breakdown downtime).

When. The station calls the PLC's observer on every change; the PLC follows once at the end
of that simulated instant (a SimPy event of lower priority than NORMAL, scheduled once per
instant), looking at the station's state then: a part finished and the next one taken in
one instant is no change, so no PackML blip. Every state of the route is written to
``Status.StateCurrent`` in turn (each one change, dated that instant). An acting state
lasts its acting time (default 0 s: it appears and completes in the same instant) and
completes at its exact instant (a timer, not the next scan), whether a client command or the
PLC entered it. With any acting time above 0 (or ``reset="operator"``) the PLC sets the
station's interlock: the station does not start work after a stop until the PLC permits it,
which it does when PackML reaches Execute, so the plant never produces outside Execute and
waits in its stop state (booked to that stop's time element) while PackML leaves it.

The mirror table (one place, PackML's own rule): starved or blocked is an external
condition -> Suspended (with ``EquipmentInterlock.Starved`` / ``Blocked``); a minor stop is
an internal condition the machine recovers from -> Held; a breakdown (any other DOWN
reason) is a fault -> Aborted; planned downtime and commanded stops -> Stopped; processing
and setup -> Execute (``MachineryOperationMode`` shows Setup). ``Admin.StopReason`` is set on
leaving Execute and again whenever the stopped plant's reason changes (starved, then a
breakdown), so each reason's downtime can be attributed from it.

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
from typing import Any

import simpy

from mestwin.virtual_plc.image import (
    COUNTERS,
    STATE_TIME_PATHS,
    ProcessImage,
    station_counts,
)
from mestwin.virtual_plc.machinery import Identification
from mestwin.virtual_plc.mirror import (
    END_OF_INSTANT,
    MIRROR,
    RESET_MODES,
    RUNNING,
    STATION_ACTIONS,
    publish_packml,
    publish_physical,
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

_REQUESTS = frozenset({"PackTags.Command.CmdChangeRequest", "PackTags.Command.WorkOrder",
                       "PackTags.Command.UnitModeChangeRequest",
                       "PackTags.Command.StopReasonAck"})

_MAX_STEPS = 64
"""Bound on the PackML commands of one follow (a route is at most a handful)."""
START_DATETIME = datetime(2025, 1, 1, tzinfo=UTC)
"""Default ``PACDateTime`` at simulated time 0 (fixed, so runs are reproducible)."""
HISTORY = 10_000
"""Client commands and job downloads a PLC remembers (a diagnostic buffer, as a real PLC's
is bounded): a twin left running for days keeps flat memory however busy its clients are."""


class VirtualPLC:
    """The PLC of machine *machine* on line *line*, reading and driving *station*.

    The scan runs every *scan_time_s* simulated seconds in *env* (started at once unless
    *autostart* is false; call :meth:`scan` yourself then). *acting_time_s* is how long
    PackML acting states last (one value, or per state; default 0 s). *reset* is one of
    :data:`RESET_MODES`. *numbering* is how ``StateCurrent`` numbers states.
    *start_datetime* is ``PACDateTime`` at simulated time 0. *mirror* is the
    physical-to-PackML table (default :data:`MIRROR`).
    """

    def __init__(self, station: StationPort, line: str, machine: str, env: simpy.Environment,
                 scan_time_s: float = 0.1, *, acting_time_s: float | Mapping[State, float] = 0.0,
                 numbering: StateNumbering = PACKML_NUMBERING,
                 start_datetime: datetime = START_DATETIME,
                 mirror: Mapping[tuple[int, str | None], State] = MIRROR,
                 identification: Identification | None = None,
                 autostart: bool = True, immediate_commands: bool = False,
                 reset: str = "auto") -> None:
        if scan_time_s <= 0:
            raise ValueError("scan_time_s must be positive")
        if reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, not {reset!r}")
        self.reset = reset
        """How an Aborted machine comes back (:data:`RESET_MODES`)."""
        self._follow_pending = False
        self._timer_for: tuple[State, float] | None = None
        """The acting state (and its entry time) a completion timer is set for."""
        self._shown_reason: str | None = None
        self._published: tuple[tuple[State, UnitMode], int, str, str | None, float] | None = None
        self._followed: tuple[object, ...] | None = None
        """What the station showed when the PLC last followed it."""
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
        self._event_driven = observers is not None
        """The station reports its changes: follow them at their instant (else at scans)."""
        if observers is not None:
            observers.append(self._on_plant_change)
        timed = (acting_time_s.values() if isinstance(acting_time_s, Mapping)
                 else (acting_time_s,))
        if (reset == "operator" or any(t > 0 for t in timed)) and hasattr(station, "interlock"):
            station.interlock = True  # type: ignore[attr-defined]
        self._schedule_follow()
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
        self._permit()  # work waiting for PackML's Execute goes on: the plant runs on

    def unfreeze(self) -> None:
        """End :meth:`freeze`: the next scan publishes the current image again."""
        self.frozen = False
        self.image.invalidate()
        self._schedule_follow()
        self.scan()

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            if not self.frozen:
                self.scan()
            yield self.env.timeout(self.scan_time_s)

    def scan(self) -> None:
        """One scan: take requests, write tags (and follow the plant if the station does
        not report its changes)."""
        now = self.env.now
        self.scan_count += 1
        self._take_requests(now)
        if not self._event_driven:
            self._advance(now)
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
                if not self._latched(result.command):
                    self._act(method, reason)
                    if reason:
                        self._set_stop_reason(reason, self.station.state, now)
                self._publish_step(now)
                self._advance(now, follow=False)
                self._schedule_follow()
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

    def _latched(self, command: Command) -> bool:
        """A Clear or Reset of a machine aborted by a fault under ``reset="operator"``: it
        does not act on the station, which stays down for the same reason until Start."""
        return (self.reset == "operator" and command in (Command.CLEAR, Command.RESET)
                and self._mirrored() is State.ABORTED)

    def _mirrored(self) -> State:
        state, reason = int(self.station.state), self.station.reason
        target = self.mirror.get((state, reason))
        return target if target is not None else self.mirror[state, None]

    def _target(self) -> State:
        """Execute if the station waits for the PLC's permit to work, else the mirror."""
        if getattr(self.station, "awaiting_run", False):
            return State.EXECUTE
        return self._mirrored()

    def _follows(self, state: State) -> bool:
        """Whether the PLC drives PackML out of *state* to follow the plant."""
        if state is State.EXECUTE:
            return True
        return self._auto and not (self.reset == "operator" and state is State.ABORTED)

    # -- following the plant --------------------------------------------------------------
    def _on_plant_change(self, _machine: object) -> None:
        """The plant changed state or counts: update the process image at once (like an
        interrupt-driven task), so state times and counts carry their exact time, and
        follow with PackML at the end of this instant if what PackML follows changed (a
        count alone does not)."""
        if self.frozen:
            self._permit()  # a PLC in STOP holds nothing back: the plant runs on
            return
        self.image.update()
        if not self._follow_pending and self._followed_key() != self._followed:
            self._schedule_follow()

    def _followed_key(self) -> tuple[object, ...]:
        st = self.station
        return (int(st.state), st.reason, st.current_order,
                getattr(st, "awaiting_run", False))

    def _schedule_follow(self) -> None:
        if not self._follow_pending:
            self._follow_pending = True
            event = simpy.Event(self.env)
            event._ok = True
            event._value = None
            event.callbacks.append(self._follow_event)
            self.env.schedule(event, END_OF_INSTANT)

    def _follow_event(self, _event: object) -> None:
        self._follow_pending = False
        if not self.frozen:
            self._advance(self.env.now)

    def _advance(self, now: float, follow: bool = True) -> None:
        """Complete acting states whose time is over (set a timer for one that is not) and,
        if *follow*, drive PackML along the route to the plant's state, writing every state
        on the way; then permit the station to work if PackML is in Execute."""
        packml = self.packml
        for _ in range(_MAX_STEPS):
            state = packml.state
            if state in ACTING_STATES:
                if packml.remaining(now) > 0:
                    self._arm_timer(now)
                    break
                packml.complete(now)
                self._publish_step(now)
                continue
            if not follow or not self._follows(state):
                break
            target = self._target()
            commands = route(state, target) if target is not state else ()
            if not commands:
                break
            if state is State.EXECUTE:
                self._set_stop_reason(self.station.reason, int(self.station.state), now)
            packml.command(commands[0], now)
            self._auto = True
            self._publish_step(now)
        if follow:
            self._permit()
            self._track_stop_reason(now)
            self._followed = self._followed_key()
        self._publish_state(now)

    def _arm_timer(self, now: float) -> None:
        """Complete the current acting state at its exact instant."""
        key = (self.packml.state, self.packml.since)
        if self._timer_for == key:
            return
        self._timer_for = key
        timer = self.env.timeout(self.packml.remaining(now))
        timer.callbacks.append(lambda _event: self._acting_over(key))

    def _acting_over(self, key: tuple[State, float]) -> None:
        packml = self.packml
        if (packml.state, packml.since) != key:
            return  # a command left the acting state before its time was over
        self._timer_for = None
        if self.frozen:
            return
        now = self.env.now
        packml.complete(now)
        self._publish_step(now)
        self._advance(now, follow=False)
        self._schedule_follow()

    def _permit(self) -> None:
        station = self.station
        if (getattr(station, "awaiting_run", False)
                and (self.frozen or self.packml.state is State.EXECUTE)):
            station.permit_run()  # type: ignore[attr-defined]

    def _track_stop_reason(self, now: float) -> None:
        """While stopped, ``StopReason`` follows the cause (starved, then a breakdown)."""
        station = self.station
        physical = int(station.state)
        if (physical not in RUNNING and self.packml.state is not State.EXECUTE
                and station.reason != self._shown_reason):
            self._set_stop_reason(station.reason, physical, now)

    def _set_stop_reason(self, reason: str, physical: int, now: float) -> None:
        self._shown_reason = reason
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

    def _update_tags(self) -> None:
        """The scan's write of every tag."""
        now = self.env.now
        st, packml, tags, put = self.station, self.packml, self.tags, self.tags.set
        self.image.update()
        beat = self.scan_count % 2**32
        design = st.design_rate_per_h / 60.0
        put("PackTags.Status.UnitModeCurrent", int(packml.mode))
        self._publish_state(now, force=True)
        put("PackTags.Status.MachSpeed", tags.real("PackTags.Command.MachSpeed"))
        put("PackTags.Status.Heartbeat", beat)
        put("PackTags.Admin.ModeCurrentTime", packml.mode_current_time(now))
        put("PackTags.Admin.ModeCumulativeTime", packml.mode_cumulative_time(now))
        put("PackTags.Admin.AccTimeSinceReset", self._acc_time())
        put("PackTags.Admin.MachDesignSpeed", float(design))
        put("PackTags.Admin.PACDateTime", self._pac(now))
        put("Diagnostics.Heartbeat", beat)
        put("Diagnostics.ScanCount", self.scan_count % 2**32)
        put("Diagnostics.SimTime", float(now))

    def _publish_step(self, now: float) -> None:
        """Write a state PackML passes through (the rest follows at the end of the step)."""
        packml, put = self.packml, self.tags.set
        self._published = None  # the end of the step writes everything again
        put("PackTags.Admin.PACDateTime", self._pac(now))
        put("PackTags.Status.StateCurrent", self.numbering.code(packml.state))
        put("PackTags.Status.StateRequested", self.numbering.code(packml.requested))
        put("PackTags.Status.StateChangeInProcess", packml.acting)

    def _publish_state(self, now: float, force: bool = False) -> None:
        """Write the tags that depend on the PackML and physical state (at once when either
        changes, so they agree at every instant; all of them at a scan), with the
        PACDateTime of the change."""
        st, packml = self.station, self.packml
        state_key = (packml.state, packml.mode)
        key = (state_key, int(st.state), st.reason, st.current_order, st.speed)
        if key == self._published and not force:
            return
        pac = self._pac(now)
        self.tags.set("PackTags.Admin.PACDateTime", pac)
        if force or self._published is None or self._published[0] != state_key:
            publish_packml(self.tags, packml, self.numbering, now)
        publish_physical(self.tags, st, packml, pac)
        self._published = key


__all__ = [
    "END_OF_INSTANT", "HISTORY", "MIRROR", "RESET_MODES", "START_DATETIME", "STATION_ACTIONS",
    "Identification", "RetainedData", "VirtualPLC", "WriteResult", "WriteStatus",
]
