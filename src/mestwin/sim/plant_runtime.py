"""One live run of a scenario: the plant, a virtual PLC per machine, their servers, a clock.

:class:`PlantRuntime` wires what the lower levels provide and adds no protocol code of its
own: a SimPy environment with the scenario's plant (level 0), one
:class:`~mestwin.virtual_plc.plc.VirtualPLC` per machine (levels 1-2; line name = the
scenario name as a slug, machine name = the machine id), an optional OPC UA server and an
optional Modbus TCP server over those PLCs, and a :class:`~mestwin.sim.realtime.RealtimeDriver`
that paces simulated time against the wall clock. ``mestwin serve``, the ``virtual_plant``
pytest fixture and the benchmarks all run plants through it.

Time. After :meth:`PlantRuntime.start` simulated time stands still until :meth:`pace`
(real time x *speed*) or :meth:`advance` (a given span, as fast as possible; then back to
what it was doing). :meth:`pause` freezes it again.

PLC scan. A real PLC scans on the wall clock. The PLCs here scan every ``scan_time_s``
simulated seconds at low speed factors, and every ``wall_scan_s`` of *wall* time once the
speed factor makes that longer (scan period = ``max(scan_time_s, speed * wall_scan_s)``), so
a 20-machine line can run at 1000x without 200,000 scans a second; while advancing as fast
as possible the period is ``max(scan_time_s, fast_scan_s)`` and every PLC scans once more
at the end. Counters (``AccCount``...) are cumulative, so they are exact after any scan;
states shorter than one scan period may not show in the PackML state tags.

Ground truth. The event log keeps every row by default (what the ``virtual_plant`` fixture's
``events()`` needs); a runtime left running for days asks for ``Retention.NONE`` (count
and hash only) or ``Retention.STREAM`` with an *events* file, so memory stays flat. With a
*truth* stream a :class:`~mestwin.sim.truth.TruthRecorder` writes the truth file as the run
goes (flat too) and :meth:`PlantRuntime.stop` finishes it; :meth:`PlantRuntime.truth` gives the same
records for the run so far from a log that keeps every row.

Restart. :meth:`restart_servers` stops the OPC UA and Modbus servers and starts new ones
on the same ports over the same PLCs (explicit string NodeIds, so the same NodeIds; the
PLCs kept scanning, so AccCounts never go back and a client that reconnects loses no count;
job orders are carried over).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import simpy

from mestwin.plantmodels.eventlog import EventLog, Retention
from mestwin.plantmodels.results import PlantResult
from mestwin.sim.naming import line_name, machine_ports
from mestwin.sim.realtime import LagPolicy, LagStats, RealtimeDriver
from mestwin.sim.scenario import Scenario, build_plant
from mestwin.sim.scenario.build import plc_options
from mestwin.sim.scenario.run_warnings import run_warnings
from mestwin.sim.truth import TruthRecorder, truth_so_far
from mestwin.virtual_plc.modbus_server import Endpoint, ModbusServer, ModbusSettings
from mestwin.virtual_plc.opcua_jobs import JobOrderList
from mestwin.virtual_plc.opcua_security import OpcUaSecurity
from mestwin.virtual_plc.opcua_server import NAMESPACE_URI, PlcOpcUaServer, node_id_string
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.port import StationPort
from mestwin.virtual_plc.regmap import Addressing, Profile, WordOrder

__all__ = [
    "MachineCounters",
    "PlantEndpoints",
    "PlantRuntime",
    "RuntimeSettings",
    "line_name",
    "machine_ports",
]


@dataclass(frozen=True)
class RuntimeSettings:
    """How a :class:`PlantRuntime` serves its plant. Every server binds *host*."""

    host: str = "127.0.0.1"
    opcua: bool = True
    opcua_port: int = 0
    """0 picks a free port."""
    security: OpcUaSecurity | None = None
    """None: anonymous read-only access, no users, policy None."""
    publish_interval: float = 0.1
    """Wall seconds between OPC UA publishes of changed tags."""
    modbus: bool = True
    modbus_port: int = 0
    """0 picks a free port."""
    modbus_addressing: Addressing = Addressing.UNIT_ID
    modbus_profile: Profile = Profile.STANDARD
    word_order: WordOrder = WordOrder.HIGH_FIRST
    scan_time_s: float = 0.1
    """Shortest PLC scan period, in simulated seconds."""
    wall_scan_s: float = 0.02
    """PLC scan period in wall seconds at high speed factors."""
    fast_scan_s: float = 1.0
    """PLC scan period (simulated seconds) while running as fast as possible."""
    lag_policy: LagPolicy = "warn"

    def __post_init__(self) -> None:
        if min(self.scan_time_s, self.wall_scan_s, self.fast_scan_s) <= 0:
            raise ValueError("scan periods must be positive")


@dataclass(frozen=True)
class PlantEndpoints:
    """Where clients reach a running plant."""

    line: str
    """Line name: the first part of every NodeId."""
    machines: tuple[str, ...]
    """Machine ids, in scenario order (machine i is Modbus unit i + 1)."""
    opcua: str | None
    """``opc.tcp://host:port``, or None without an OPC UA server."""
    modbus: tuple[Endpoint, ...] = ()
    """One entry per machine (host, port, unit id), empty without a Modbus server."""
    namespace_uri: str = NAMESPACE_URI
    """Look its index up on the server (``get_namespace_index``); never assume it."""

    def node_id(self, machine: str, path: str = "") -> str:
        """The string identifier of *machine*'s node at *path*: use it as
        ``ns=<index of namespace_uri>;s=<identifier>``."""
        if machine not in self.machines:
            raise KeyError(f"no machine {machine!r}; machines: {', '.join(self.machines)}")
        return node_id_string(self.line, machine, path)

    def modbus_endpoint(self, machine: str) -> Endpoint:
        """Where *machine* is served over Modbus TCP."""
        for endpoint in self.modbus:
            if endpoint.machine == machine:
                return endpoint
        raise KeyError(f"no Modbus endpoint for machine {machine!r}")

    def to_dict(self) -> dict[str, Any]:
        """The endpoints as plain JSON types."""
        return {"line": self.line, "machines": list(self.machines), "opcua": self.opcua,
                "namespace_uri": self.namespace_uri,
                "modbus": [{"machine": e.machine, "host": e.host, "port": e.port,
                            "unit_id": e.unit_id} for e in self.modbus]}


@dataclass(frozen=True)
class MachineCounters:
    """Cumulative counters since t=0 of a machine (the ground truth its PLC counts) or of
    a station (the sum over its machines). Never reset: the window of ``results()`` does
    not apply to them."""

    produced: int
    good: int
    scrap: int
    rework: int
    consumed: int


_COUNTER_FIELDS = ("produced", "good", "scrap", "rework", "consumed")


@dataclass
class _Servers:
    opcua: PlcOpcUaServer | None = None
    modbus: ModbusServer | None = None
    opcua_port: int = 0
    modbus_port: int = 0
    job_lists: dict[str, JobOrderList] = field(default_factory=dict)


class PlantRuntime:
    """A live run of *scenario*: plant, PLCs, servers and clock on the running event loop.

    Use ``async with PlantRuntime(scenario) as runtime`` or :meth:`start` / :meth:`stop`;
    everything but the constructor must be called from the event loop that started it.
    *until* (simulated seconds) ends the run: :meth:`wait` returns once it is reached.
    """

    def __init__(self, scenario: Scenario, settings: RuntimeSettings | None = None,
                 *, until: float | None = None, retention: Retention = Retention.ALL,
                 events: TextIO | None = None, truth: TextIO | None = None) -> None:
        self.scenario = scenario
        self.settings = settings or RuntimeSettings()
        self.until = until
        self.env = simpy.Environment()
        self.plant = build_plant(scenario, self.env)
        self.plant.log.retain(retention, events)
        self._truth: TruthRecorder | None = None
        if truth is not None:  # attached before the plant starts, so it sees every row
            self._truth = TruthRecorder(self.plant, truth, scenario.name, scenario.seed,
                                        scenario.warmup, until)
            self._truth.attach(self.plant)
        self.line = line_name(scenario.name)
        self.machines: dict[str, StationPort] = machine_ports(self.plant)
        """Machine id -> the plant object its PLC reads and drives."""
        self.plcs: dict[str, VirtualPLC] = {
            mid: VirtualPLC(port, self.line, mid, self.env, self.settings.scan_time_s,
                            autostart=False, **plc_options(port))
            for mid, port in self.machines.items()}
        self.driver = RealtimeDriver(self.env, None, lag_policy=self.settings.lag_policy)
        self._servers = _Servers(opcua_port=self.settings.opcua_port,
                                 modbus_port=self.settings.modbus_port)
        self._period = self._scan_period()
        self._scanner: simpy.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()
        self._error: BaseException | None = None
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the servers with simulated time frozen at its current value."""
        if self._started:
            raise RuntimeError("runtime already started")
        self._started = True
        self.plant.start()  # open the statistics window; the driver runs time
        self.scan()
        self._scanner = self.env.process(self._scan_loop())
        self.driver.pause()
        self._task = asyncio.create_task(self._clock(), name="plant-clock")
        await self.start_servers()

    async def stop(self) -> None:
        """Stop the clock and the servers (the plant and its ground truth stay readable;
        the event log is flushed, so an events file holds every row up to now)."""
        await self._halt()
        self.plant.log.flush()
        recorder, self._truth = self._truth, None
        if recorder is not None:
            recorder.finish(self.now)
        self._finished.set()
        await self.stop_servers()

    async def __aenter__(self) -> PlantRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait(self) -> None:
        """Return once *until* is reached or the runtime is stopped (without *until*, only
        then); re-raise what stopped the simulation if it failed."""
        await self._finished.wait()
        if self._error is not None:
            raise self._error

    async def _halt(self) -> None:
        """End the clock task between two batches of events (it may not have started)."""
        task, self._task = self._task, None
        if task is not None:
            # Both: a task that has not started yet would reset the driver's stop flag, and
            # Python 3.11's wait_for (inside the driver) can swallow a cancellation.
            self.driver.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _clock(self) -> None:
        try:
            await self.driver.run_until(self.until)
        except Exception as error:  # a model error ends the run; wait() re-raises it
            self._error = error
            self._finished.set()
            return
        if self.until is not None and self.now >= self.until:
            self._finished.set()

    # -- servers --------------------------------------------------------------------------
    async def start_servers(self) -> PlantEndpoints:
        """Start the configured servers (on the ports they had, after a stop)."""
        s, servers = self.settings, self._servers
        plcs = list(self.plcs.values())
        if s.opcua and servers.opcua is None:
            opcua = PlcOpcUaServer(plcs, s.host, servers.opcua_port, security=s.security,
                                   driver=self.driver, publish_interval=s.publish_interval,
                                   name=f"mestwin {self.scenario.name}",
                                   job_lists=servers.job_lists)
            await opcua.start()
            servers.opcua, servers.opcua_port = opcua, opcua.port
            servers.job_lists = opcua.job_lists
        if s.modbus and servers.modbus is None:
            settings = ModbusSettings(s.host, servers.modbus_port, s.modbus_addressing,
                                      s.modbus_profile, s.word_order)
            modbus = ModbusServer(self.plcs, settings)
            await modbus.start()
            servers.modbus = modbus
            if modbus.endpoints:
                servers.modbus_port = modbus.endpoints[0].port
        return self.endpoints

    async def stop_servers(self) -> None:
        """Stop the servers and drop their connections; the plant and PLCs keep running."""
        servers = self._servers
        if servers.opcua is not None:
            await servers.opcua.stop()
            servers.opcua = None
        if servers.modbus is not None:
            await servers.modbus.stop()
            servers.modbus = None

    async def restart_servers(self) -> PlantEndpoints:
        """Stop and start the servers again: same ports, same NodeIds, same PLCs."""
        await self.stop_servers()
        return await self.start_servers()

    @property
    def opcua(self) -> PlcOpcUaServer | None:
        """The running OPC UA server, if any."""
        return self._servers.opcua

    @property
    def modbus(self) -> ModbusServer | None:
        """The running Modbus server, if any."""
        return self._servers.modbus

    @property
    def endpoints(self) -> PlantEndpoints:
        """Where clients reach the plant now."""
        servers = self._servers
        return PlantEndpoints(
            self.line, tuple(self.machines),
            servers.opcua.endpoint if servers.opcua is not None else None,
            tuple(servers.modbus.endpoints) if servers.modbus is not None else ())

    async def publish(self) -> None:
        """Push every changed tag to the OPC UA address space now (Modbus reads are always
        current)."""
        if self._servers.opcua is not None:
            await self._servers.opcua.publish()

    # -- time -----------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Current simulated time, seconds."""
        return float(self.env.now)

    @property
    def speed(self) -> float | None:
        """The speed factor when pacing; None when paused."""
        return None if self.driver.paused else self.driver.speed

    async def pace(self, speed: float | None) -> None:
        """Run simulated time at *speed* x the wall clock from now on (None: as fast as
        possible, without end)."""
        self._check_running()
        self.driver.set_speed(speed)
        self._rescan()
        self.driver.resume()

    async def pause(self) -> None:
        """Freeze simulated time; every PLC scans once more and the servers show it."""
        self._check_running()
        self.driver.pause()
        self.scan()
        await self.publish()

    async def advance(self, seconds: float) -> None:
        """Run *seconds* of simulated time as fast as possible (servers stay responsive),
        scan every PLC, publish, then go back to pacing or pausing as before."""
        self._check_running()
        if seconds < 0:
            raise ValueError("cannot advance by a negative time")
        target = self.now + seconds
        if self.until is not None and target > self.until:
            raise ValueError(f"cannot advance past the end of the run (t={self.until})")
        speed, paused = self.driver.speed, self.driver.paused
        await self._halt()
        self.driver.resume()
        self.driver.set_speed(None)
        self._rescan()
        if target > self.now:
            await self.driver.run_until(target)
        self.scan()
        self.driver.set_speed(speed)
        self._rescan()
        if paused:
            self.driver.pause()
        self._task = asyncio.create_task(self._clock(), name="plant-clock")
        await self.publish()

    def lag_stats(self) -> LagStats:
        """Pacing lag of the events processed so far (see :class:`RealtimeDriver`)."""
        return self.driver.lag_stats()

    def _check_running(self) -> None:
        if not self._started:
            raise RuntimeError("start the runtime first")

    # -- PLC scan -------------------------------------------------------------------------
    def scan(self) -> None:
        """Scan every PLC once, now."""
        for plc in self.plcs.values():
            plc.scan()

    def _scan_period(self) -> float:
        s, speed = self.settings, self.driver.speed
        if speed is None:
            return max(s.scan_time_s, s.fast_scan_s)
        return max(s.scan_time_s, speed * s.wall_scan_s)

    def _rescan(self) -> None:
        """Apply the scan period of the current speed (at once if it got shorter)."""
        period, self._period = self._period, self._scan_period()
        factor = self.driver.speed
        for plc in self.plcs.values():
            plc.scan_time_s = self._period
            plc.set_speed_factor(0.0 if factor is None else factor)
        scanner = self._scanner
        if self._period < period and scanner is not None and scanner.is_alive \
                and scanner is not self.env.active_process:
            scanner.interrupt("scan period changed")

    def _scan_loop(self) -> Any:
        while True:
            with contextlib.suppress(simpy.Interrupt):
                yield self.env.timeout(self._period)
            self.scan()

    # -- ground truth ---------------------------------------------------------------------
    @property
    def log(self) -> EventLog:
        """The ground-truth event log."""
        return self.plant.log

    def results(self) -> PlantResult:
        """What ``mestwin run`` reports, at now: the KPIs of the window [warmup_s,
        horizon_s] (end of warm-up to now; while the warm-up lasts, [0, now] for every
        figure) and the run's warnings."""
        result = self.plant.results()
        result.warnings = run_warnings(self.scenario, self.plant)
        return result

    def truth(self) -> list[dict[str, Any]]:
        """The truth file's records (:mod:`mestwin.sim.truth`) for the run so far, as if it
        ended now: open intervals closed now, machine lines over [warmup_s, now] ([0, now]
        while the warm-up lasts). Needs a log that keeps every row (Retention.ALL)."""
        if not self.log.keeps_rows:
            raise RuntimeError("truth() replays the event log: use Retention.ALL (or stream "
                               "the truth with truth=FILE)")
        return truth_so_far(self.scenario, self.log.rows, self.now)

    def counters(self, name: str) -> MachineCounters:
        """Cumulative counters since t=0 of machine *name* (``pack-1``, what its PLC counts),
        or of station *name* (``pack``): the sum over the station's machines."""
        port = self.machines.get(name)
        if port is not None:
            return MachineCounters(port.produced, port.good, port.scrap, port.rework,
                                   port.consumed)
        station = self.plant.stations.get(name)
        if station is None:
            raise KeyError(f"no machine or station {name!r}; machines: "
                           f"{', '.join(self.machines)}; stations: "
                           f"{', '.join(self.plant.stations)}")
        parts = [self.counters(machine.id) for machine in station.machines()]
        return MachineCounters(*(sum(getattr(c, f) for c in parts) for f in _COUNTER_FIELDS))

    def all_counters(self) -> Mapping[str, MachineCounters]:
        """:meth:`counters` of every machine."""
        return {mid: self.counters(mid) for mid in self.machines}

    def plc(self, machine: str) -> VirtualPLC:
        """The PLC of *machine*."""
        return self.plcs[machine]

