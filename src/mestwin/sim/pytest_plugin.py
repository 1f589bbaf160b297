"""The ``virtual_plant`` pytest fixture: a scenario's virtual PLCs for your own CI.

Installed with mestwin (entry point ``pytest11``: ``mestwin``), or load it with
``pytest -p mestwin.sim.pytest_plugin``. A test asks for ``virtual_plant`` and gets a
:class:`VirtualPlant`: the scenario runs with an OPC UA server and a Modbus TCP server on
free ports of 127.0.0.1, in a background thread, so a plain synchronous test (or the MES
under test, in any process) talks to it like to a real line. Simulated time stands still
until the test calls :meth:`VirtualPlant.advance` (a span, as fast as possible) or
:meth:`VirtualPlant.pace` (real time x speed); the ground truth (event log, the KPIs of
``mestwin run --json``, the records of a ``--truth`` file, each machine's and station's
counters) is there to check what the MES concluded.

Choose the scenario per test with the marker, or for a whole run with an option::

    @pytest.mark.virtual_plant(scenario="line.yaml", speed=None, seed=None,
                               users={"operator": "operator"}, opcua=True, modbus=True)

    pytest --virtual-plant-scenario=scenarios/line.yaml     # or ini: virtual_plant_scenario

``scenario`` is a YAML path (relative: to the test file's folder first, then the current
folder), a dict of scenario data, or a :class:`~mestwin.sim.scenario.Scenario`. ``speed``
starts pacing at once (default: time stands still at 0). ``users`` are OPC UA operator
accounts (default one, ``operator`` / ``operator``); anonymous sessions are read-only.

The fixture keeps the whole event log in memory (``Retention.ALL``): tests are short, and
:meth:`VirtualPlant.events` returning every row is its contract. A twin left running for
days is ``mestwin serve``'s job, which keeps none (or streams them with ``--events``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mestwin.plantmodels.eventlog import EventKind, Record, Retention
from mestwin.sim.plant_runtime import (
    MachineCounters,
    PlantEndpoints,
    PlantRuntime,
    RuntimeSettings,
)
from mestwin.sim.realtime import LagStats
from mestwin.sim.scenario import Scenario, load_scenario, parse_scenario
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, OpcUaUser, Role

__all__ = ["VirtualPlant", "virtual_plant"]

T = TypeVar("T")
MARKER = "virtual_plant"
DEFAULT_USERS: Mapping[str, str] = {"operator": "operator"}


class VirtualPlant:
    """A running plant served on 127.0.0.1, driven from synchronous code.

    The asyncio loop with the simulation and both servers runs in a daemon thread; every
    method hands its work to that thread and waits for it, so reads of the ground truth
    see a consistent plant. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, scenario: Scenario, settings: RuntimeSettings | None = None,
                 speed: float | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="virtual-plant",
                                        daemon=True)
        self._thread.start()
        self.runtime = PlantRuntime(scenario, settings or _settings(DEFAULT_USERS),
                                    retention=Retention.ALL)
        """The :class:`PlantRuntime` (only touch it through :meth:`call`)."""
        try:
            self._run(self.runtime.start())
            if speed is not None:
                self.pace(speed)
        except BaseException:
            self.close()
            raise
        self.endpoints: PlantEndpoints = self._call(lambda: self.runtime.endpoints)
        """Where clients reach the plant (OPC UA URL, Modbus host/port/unit per machine)."""

    # -- plumbing ---------------------------------------------------------------------------
    def _run(self, coroutine: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coroutine

        future: Future[T] = asyncio.run_coroutine_threadsafe(wrapped(), self._loop)
        return future.result()

    def _call(self, function: Callable[[], T]) -> T:
        async def wrapped() -> T:
            return function()

        return self._run(wrapped())

    def call(self, function: Callable[[PlantRuntime], T]) -> T:
        """Run ``function(runtime)`` in the plant's thread and return its result."""
        return self._call(lambda: function(self.runtime))

    def close(self) -> None:
        """Stop the servers and the loop thread (idempotent)."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                self._run(self.runtime.stop())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> VirtualPlant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time -------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated time, seconds."""
        return self._call(lambda: self.runtime.now)

    def advance(self, seconds: float) -> None:
        """Run *seconds* of simulated time as fast as possible; returns when done, with every
        tag scanned and published (servers answer clients meanwhile)."""
        self._run(self.runtime.advance(seconds))

    def pace(self, speed: float) -> None:
        """Run simulated time at *speed* x real time in the background from now on."""
        self._run(self.runtime.pace(speed))

    def pause(self) -> None:
        """Stop simulated time (after :meth:`pace`)."""
        self._run(self.runtime.pause())

    def lag_stats(self) -> LagStats:
        """How far behind the wall clock paced events ran."""
        return self._call(self.runtime.lag_stats)

    def restart_servers(self) -> PlantEndpoints:
        """Stop and restart both servers on the same ports (same NodeIds, same PLCs)."""
        return self._run(self.runtime.restart_servers())

    # -- addresses --------------------------------------------------------------------------
    @property
    def machines(self) -> tuple[str, ...]:
        """Machine ids in scenario order (machine i is Modbus unit i + 1)."""
        return self.endpoints.machines

    def node_id(self, machine: str, path: str = "") -> str:
        """String identifier of *machine*'s node at *path*, for ``ns=<idx>;s=<it>`` where
        idx is the server's index of ``endpoints.namespace_uri``."""
        return self.endpoints.node_id(machine, path)

    # -- ground truth -----------------------------------------------------------------------
    def counters(self, name: str) -> MachineCounters:
        """Cumulative counters since t=0 (produced, good, scrap, rework, consumed) of
        machine *name* (``pack-1``: what its PLC counts) or of station *name* (``pack``:
        the sum over its machines; a one-server station's machine has the station's id)."""
        return self._call(lambda: self.runtime.counters(name))

    def results(self) -> dict[str, Any]:
        """The JSON object ``mestwin run --json`` prints, for the run so far: the keys of
        the README's ``--json`` contract, plain JSON types (``results()["stations"]["cut"]
        ["kpi"]["oee"]``). Every figure covers the window [``warmup_s``, ``horizon_s``]:
        from the end of warm-up to now, or [0, now] while the warm-up has not ended."""
        result = self._call(self.runtime.results)
        data: dict[str, Any] = json.loads(json.dumps(result.to_dict()))
        return data

    def truth(self) -> list[dict[str, Any]]:
        """The ground truth so far as the records of a ``mestwin run --truth`` file (parsed
        JSON Lines, docs/integrators.md): header, the state intervals of every machine
        from t = 0 with the open ones closed now, units, per-machine ``machine`` records
        (elements, counts, downtime by reason) over the window of :meth:`results` (the
        header's ``warmup_s`` .. ``horizon_s`` = now), and the end record."""
        return self._call(self.runtime.truth)

    def events(self, kind: EventKind | None = None) -> list[Record]:
        """The ground-truth event log so far as typed records (optionally of one kind)."""
        return self._call(lambda: list(self.runtime.log.records(kind)))

    def event_log_sha256(self) -> str:
        """Fingerprint of the event log so far."""
        return self._call(self.runtime.log.sha256)


def _settings(users: Mapping[str, str], *, opcua: bool = True,
              modbus: bool = True) -> RuntimeSettings:
    security = OpcUaSecurity(users=tuple(OpcUaUser(name, password, Role.OPERATOR)
                                         for name, password in users.items()))
    return RuntimeSettings(opcua=opcua, modbus=modbus, security=security)


def _scenario(spec: object, seed: int | None, base: Path) -> Scenario:
    overrides = {"seed": seed} if seed is not None else None
    if isinstance(spec, Scenario):
        return spec if seed is None else spec.model_copy(update={"seed": seed})
    if isinstance(spec, Mapping):
        return parse_scenario({**spec, **(overrides or {})}, "<virtual_plant marker>")
    if isinstance(spec, str | Path):
        path = Path(spec)
        if not path.is_absolute() and (base / path).exists():
            path = base / path
        return load_scenario(path, overrides)
    raise pytest.UsageError("virtual_plant: scenario must be a YAML path, a dict or a Scenario")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--virtual-plant-scenario`` and the ``virtual_plant_scenario`` ini value."""
    group = parser.getgroup("mestwin", "mestwin virtual plant")
    group.addoption("--virtual-plant-scenario", default=None, metavar="YAML",
                    help="scenario of the virtual_plant fixture when a test has no marker")
    parser.addini("virtual_plant_scenario", "scenario of the virtual_plant fixture when a "
                  "test has no marker", default="")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers", "virtual_plant(scenario, speed=None, seed=None, users=None, opcua=True, "
        "modbus=True): the scenario the virtual_plant fixture runs, and how")


@pytest.fixture
def virtual_plant(request: pytest.FixtureRequest) -> Iterator[VirtualPlant]:
    """A scenario's plant with its virtual PLCs served over OPC UA and Modbus TCP on free
    ports of 127.0.0.1; stopped after the test. See :class:`VirtualPlant`."""
    marker = request.node.get_closest_marker(MARKER)
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        kwargs.setdefault("scenario", marker.args[0])
    config = request.config
    spec = kwargs.pop("scenario", None)
    base = Path(str(request.node.path)).parent
    if spec is None:
        spec = config.getoption("--virtual-plant-scenario") or config.getini(
            "virtual_plant_scenario") or None
        base = Path.cwd()
    if spec is None:
        raise pytest.UsageError(
            "virtual_plant needs a scenario: @pytest.mark.virtual_plant(scenario=...) or "
            "--virtual-plant-scenario=FILE")
    scenario = _scenario(spec, kwargs.pop("seed", None), base)
    users = kwargs.pop("users", None)
    settings = _settings(DEFAULT_USERS if users is None else users,
                         opcua=kwargs.pop("opcua", True), modbus=kwargs.pop("modbus", True))
    speed = kwargs.pop("speed", None)
    if kwargs:
        raise pytest.UsageError(f"virtual_plant marker: unknown arguments {sorted(kwargs)}")
    with VirtualPlant(scenario, settings, speed) as plant:
        yield plant
