"""A virtual PLC: the scan cycle that couples one plant station to its PackTags.

:class:`VirtualPLC` runs as a SimPy process. Every ``scan_time_s`` of simulated time it
takes the requests clients wrote (``Command.CmdChangeRequest``, ``UnitModeChangeRequest``,
``MachSpeed``, ``StopReasonAck``) and writes every tag of :mod:`.tags` into its
:class:`~.tag_values.TagValues`, which the protocol servers serve. PackML itself does not
wait for the scan: it follows the plant at the simulated instant the plant changes.

How PackML follows the plant (the mirror, routes, acting-state timers, the interlock
permit) is :mod:`.follow`, the base class of :class:`VirtualPLC`; the mirror table and the
state tags are :mod:`.mirror`. Under ``reset="operator"`` a client's Clear and Reset of a
machine Aborted by a fault leave the station as it is (still down: the wait is breakdown
downtime).

:meth:`VirtualPLC.write` is the one entry point for client writes of both protocols, so OPC
UA and Modbus share a rule set; :meth:`VirtualPLC.snapshot` / :meth:`VirtualPLC.restore`
carry the retained data (AccCounts...) across a restart.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Generator, Mapping
from datetime import UTC, datetime
from typing import Any

import simpy

from mestwin.virtual_plc.follow import PlantFollower, needs_interlock
from mestwin.virtual_plc.image import (
    COUNTERS,
    STATE_TIME_PATHS,
    ProcessImage,
    station_counts,
)
from mestwin.virtual_plc.machinery import Identification
from mestwin.virtual_plc.mirror import END_OF_INSTANT, MIRROR, RESET_MODES, STATION_ACTIONS
from mestwin.virtual_plc.packml import (
    PACKML_NUMBERING,
    Command,
    CommandResult,
    PackMLMachine,
    State,
    StateNumbering,
    UnitMode,
)
from mestwin.virtual_plc.port import StationPort
from mestwin.virtual_plc.retain import CounterBase, RetainedData
from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import ACC_COUNT_MAX, TAG_BY_PATH, check_value
from mestwin.virtual_plc.writes import WriteResult, WriteStatus

_REQUESTS = frozenset({"PackTags.Command.CmdChangeRequest", "PackTags.Command.WorkOrder",
                       "PackTags.Command.UnitModeChangeRequest",
                       "PackTags.Command.StopReasonAck"})

START_DATETIME = datetime(2025, 1, 1, tzinfo=UTC)
"""Default ``PACDateTime`` at simulated time 0 (fixed, so runs are reproducible)."""
HISTORY = 10_000
"""Client commands and job downloads a PLC remembers (a diagnostic buffer, as a real PLC's
is bounded): a twin left running for days keeps flat memory however busy its clients are."""


class VirtualPLC(PlantFollower):
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
        self._init_follow()
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
        if needs_interlock(acting_time_s, reset) and hasattr(station, "interlock"):
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

    # -- tags -----------------------------------------------------------------------------

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




__all__ = [
    "END_OF_INSTANT", "HISTORY", "MIRROR", "RESET_MODES", "START_DATETIME", "STATION_ACTIONS",
    "Identification", "RetainedData", "VirtualPLC", "WriteResult", "WriteStatus",
]
