"""Serve virtual PLCs over OPC UA (asyncua), one address space for a whole plant.

Address space (OPC 40001-1 Machinery + PackML PackTags, see the PackTags table in
:mod:`mestwin.virtual_plc.tags`, which is the only source of the tags served)::

    Objects/<Line>/<Machine>/            methods Reset Start Stop Hold Unhold Suspend
                                         Unsuspend Abort Clear (PackML commands)
        Identification/ MachineryItemState/ MachineryOperationMode/
        PackTags/Command|Status|Admin/...    Diagnostics/  Signals/
        JobManagement/  JobOrderID JobState JobOrderList + job methods (opcua_jobs)

Every node has an explicit string NodeId ``ns=<idx>;s=<Line>.<Machine>.<dotted path>``
(folders too: ``<Line>.<Machine>.PackTags.Admin``) in namespace :data:`NAMESPACE_URI`;
clients look the index up by URI. NodeIds therefore survive a restart. The address space
is built with one AddNodes batch per server, nested by group (:mod:`.opcua_nodes`).
Beside it, each machine is an OPC 40001-1 MachineryItem in ``Objects/Machines`` and an OPC
30050 PackML object (:mod:`.opcua_companion`), whose variables alias the tags above.

Values flow one way: a publisher task copies what changed in each PLC's
:class:`~mestwin.virtual_plc.tag_values.TagValues` (``changed_since``) into the address
space every ``publish_interval`` wall seconds (sooner when a clock driver
(:class:`ClockDriver`) reports a batch), each value stamped with its instant on the PLC
clock (``PACDateTime``); how is :mod:`.opcua_publish`. A monitored item with QueueSize > 1
receives every change in order (:mod:`.opcua_history`); one with QueueSize 1 the latest
value. Client writes go through ``VirtualPLC.write`` (the rule set Modbus shares), and
UserAccessLevel and UserExecutable are answered per session (:mod:`.opcua_access`).

The asyncua server underneath is a :class:`~.opcua_transport.GuardedServer`: its endpoints'
security is enforced on every path, and malformed messages get ERR and a closed connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlparse

from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from mestwin.virtual_plc.opcua_access import Bindings, PlcAttributeService, user_access
from mestwin.virtual_plc.opcua_companion import Companion, import_nodesets
from mestwin.virtual_plc.opcua_history import monitored_nodes, revise_default_queues
from mestwin.virtual_plc.opcua_jobs import JobOrderList, UaMethod, job_methods
from mestwin.virtual_plc.opcua_nodes import (
    VT,
    NodeBuilder,
    describe,
    method_callback,
    nid,
    node_id_string,
    status,
    tag_variant,
)
from mestwin.virtual_plc.opcua_publish import (
    RECHECK_QUEUES_S,
    ServedMachine,
    follow,
    publish_machine,
)
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, apply_security
from mestwin.virtual_plc.opcua_transport import GuardedServer
from mestwin.virtual_plc.packml import Command, State, transition
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.tags import TagSpec

__all__ = ["NAMESPACE_URI", "PACKML_METHODS", "PlcOpcUaServer", "node_id_string"]

NAMESPACE_URI = "urn:mestwin:virtual-plc"

_log = logging.getLogger(__name__)
PACKML_METHODS: tuple[Command, ...] = (
    Command.RESET,
    Command.START,
    Command.STOP,
    Command.HOLD,
    Command.UNHOLD,
    Command.SUSPEND,
    Command.UNSUSPEND,
    Command.ABORT,
    Command.CLEAR,
)
"""PackML commands offered as methods on each machine object (named ``Reset``, ``Start``...)."""

class ClockDriver(Protocol):
    """What the server needs of the real-time driver (``mestwin.sim.realtime``), which
    lives in a higher package: its speed, and a wake-up after each batch of events."""

    @property
    def speed(self) -> float | None: ...

    def add_listener(self, listener: Callable[[], Any]) -> None: ...

    def remove_listener(self, listener: Callable[[], Any]) -> None: ...


class PlcOpcUaServer:
    """An OPC UA server for *plcs* (each ``VirtualPLC`` knows its line and machine name).

    ``port=0`` picks a free port; :attr:`endpoint` gives the bound URL after :meth:`start`.
    ``driver`` (optional) wakes the publisher after each simulation batch and fills
    ``Diagnostics.SpeedFactor``. ``job_lists`` carries the job orders of each machine
    (keyed ``"<Line>.<Machine>"``) across a restart; new lists are made for missing keys
    and are available as :attr:`job_lists`.
    """

    def __init__(
        self,
        plcs: Sequence[VirtualPLC],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        security: OpcUaSecurity | None = None,
        driver: ClockDriver | None = None,
        publish_interval: float = 0.1,
        name: str = "mestwin virtual PLCs",
        job_lists: dict[str, JobOrderList] | None = None,
    ) -> None:
        keys = [node_id_string(p.line, p.machine) for p in plcs]
        if len(set(keys)) != len(keys):
            raise ValueError("two PLCs share a line and machine name")
        self.plcs = list(plcs)
        self.host = host
        self.port = port
        self.security = security or OpcUaSecurity()
        self.driver = driver
        self.publish_interval = publish_interval
        self.name = name
        self.job_lists = dict(job_lists or {})
        for key in keys:
            self.job_lists.setdefault(key, JobOrderList())
        self.ua = GuardedServer()
        self.namespace_index = -1
        self.build_seconds = 0.0
        """Wall time the last address-space build took."""
        self._machines = [
            ServedMachine(p, self.job_lists[k]) for p, k in zip(self.plcs, keys, strict=True)
        ]
        self._bindings: Bindings = {}
        self._followed: dict[ua.NodeId, tuple[ServedMachine, TagSpec]] = {}  # bindings + aliases
        self._wake = asyncio.Event()
        self._recheck_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``opc.tcp://host:port`` of the running server (the bound port when port=0)."""
        return f"opc.tcp://{self.host}:{self.port}"

    async def start(self) -> None:
        """Build the address space and listen; returns once clients can connect."""
        if self._started:
            raise RuntimeError("server already started")
        server = self.ua
        await server.init()
        server.set_server_name(self.name)
        server.set_endpoint(self.endpoint)
        await apply_security(server, self.security)
        self.namespace_index = await server.register_namespace(NAMESPACE_URI)
        started = time.perf_counter()
        await import_nodesets(server)
        self._build()
        self._build_companion(await server.get_namespace_array())
        self.build_seconds = time.perf_counter() - started
        server.iserver.attribute_service = PlcAttributeService(
            server, self._bindings, server.iserver.attribute_service
        )
        server.subscribe_server_callback(CallbackType.PostRead, self._user_access)
        for kind in (CallbackType.ItemSubscriptionCreated, CallbackType.ItemSubscriptionModified):
            server.subscribe_server_callback(kind, self._items_changed)
        await server.start()
        if server.bserver is not None and self.port == 0:
            self.port = server.bserver.port
            self._fix_endpoint_urls()
        self._started = True
        await self.publish()
        if self.driver is not None:
            self.driver.add_listener(self._wake.set)
        self._task = asyncio.create_task(self._publish_loop(), name="opcua-publisher")

    async def stop(self) -> None:
        """Stop publishing and close every connection; the PLCs keep running."""
        if self.driver is not None:
            self.driver.remove_listener(self._wake.set)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._started:
            clock = self.ua.iserver.time_task  # ticks once a second: do not wait for it
            if clock is not None:
                clock.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await clock
                self.ua.iserver.time_task = None
            await self.ua.stop()
            self._started = False

    async def __aenter__(self) -> PlcOpcUaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _fix_endpoint_urls(self) -> None:
        url = self.endpoint
        self.ua.endpoint = urlparse(url)
        for edp in self.ua.iserver.endpoints:
            edp.EndpointUrl = url
            edp.Server.DiscoveryUrls = [url]

    def node_id(self, plc: VirtualPLC, path: str = "") -> ua.NodeId:
        """The NodeId of *plc*'s tag, folder or method at *path* (the machine if empty)."""
        return nid(node_id_string(plc.line, plc.machine, path), self.namespace_index)

    # -- address space ---------------------------------------------------------------

    def _build(self) -> None:
        builder = NodeBuilder(self.namespace_index)
        objects = nid(ObjectIds.ObjectsFolder)
        lines: dict[str, ua.NodeId] = {}
        for machine in self._machines:
            plc = machine.plc
            if plc.line not in lines:
                lines[plc.line] = builder.obj(plc.line, objects, plc.line, folder=True)
            base = node_id_string(plc.line, plc.machine)
            root = builder.obj(base, lines[plc.line], plc.machine, folder=False)
            folders: dict[str, ua.NodeId] = {"": root}
            for path, spec in plc.tags.specs.items():
                if not spec.opcua:
                    continue
                parent = builder.folder(folders, base, path.rpartition(".")[0])
                node = builder.var(
                    f"{base}.{path}",
                    parent,
                    path.rpartition(".")[2],
                    tag_variant(spec, plc.tags[path]),
                    writable=spec.writable,
                    description=describe(spec),
                )
                machine.nodes[path] = node
                self._bindings[node] = (machine, spec)
            for command in PACKML_METHODS:
                builder.method(
                    f"{base}.{command.name.title()}", root, self._packml_method(plc, command)
                )
            jobs = builder.folder(folders, base, "JobManagement")
            machine.job_list = builder.var(
                f"{base}.JobManagement.JobOrderList",
                jobs,
                "JobOrderList",
                ua.Variant(machine.jobs.to_json(), VT.String),
                description="Job orders as a JSON array (opcua_jobs.JobOrder fields)",
            )
            for method in job_methods(machine.jobs):
                builder.method(f"{base}.JobManagement.{method.name}", jobs, method)
        for result, item in zip(
            self.ua.iserver.node_mgt_service.add_nodes(builder.items), builder.items, strict=True
        ):
            if not result.StatusCode.is_good():
                raise RuntimeError(f"cannot add {item.RequestedNewNodeId}: {result.StatusCode}")
        for method_id, method in builder.methods.items():
            self.ua.iserver.isession.add_method_callback(method_id, method_callback(method))

    def _build_companion(self, namespaces: list[str]) -> None:
        """The machines' OPC 40001-1 / OPC 30050 objects (:mod:`.opcua_companion`)."""
        companion = Companion(self.ua.iserver.aspace, self.namespace_index, namespaces)
        plcs = [m.plc for m in self._machines]
        built = companion.build(plcs, [self.node_id(plc) for plc in plcs])
        for machine, aliases in zip(self._machines, built, strict=True):
            machine.aliases = aliases
            self._followed.update({a.node: (machine, machine.plc.tags.specs[path])
                                   for path, shown in aliases.items() for a in shown})
        self._followed.update(self._bindings)

    def _packml_method(self, plc: VirtualPLC, command: Command) -> UaMethod:
        def handler(_args: list[Any]) -> list[Any] | ua.StatusCode:
            state: State = plc.packml.state
            if transition(state, command) is None:
                return status(StatusCodes.BadInvalidState)
            plc.command(command)
            return []

        return UaMethod(
            command.name.title(),
            (),
            (),
            handler,
            f"PackML {command.name.title()}: taken at the next scan; "
            "BadInvalidState if not allowed in the current state",
        )

    # -- publishing ------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        while True:
            await asyncio.sleep(self.publish_interval if self.driver is None else 0.0)
            if self.driver is not None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.publish_interval)
                await asyncio.sleep(self.publish_interval / 2)  # rate limit: batch scans
            try:
                await self.publish()
            except Exception:  # keep serving: a bad value must not kill the publisher
                _log.exception("OPC UA publish failed")

    async def publish(self) -> int:
        """Push every tag changed since the last push into the address space; returns count."""
        aspace = self.ua.iserver.aspace
        now = datetime.now(UTC)
        pushed = 0
        speed = None if self.driver is None else (self.driver.speed or 0.0)
        recheck = time.monotonic() >= self._recheck_at
        if recheck:
            self._recheck_at = time.monotonic() + RECHECK_QUEUES_S
        for machine in self._machines:
            pushed += await publish_machine(aspace, machine, now, speed, recheck)
        return pushed

    def _follow(self, machine: ServedMachine, path: str) -> None:
        follow(self.ua.iserver.aspace, machine, path)

    def _items_changed(self, event: ServerItemCallback, _service: object) -> None:
        """Monitored items were created or modified: follow the tags they queue."""
        revise_default_queues(self.ua.iserver, event)
        for node in monitored_nodes(self.ua.iserver.aspace, event, self._followed):
            machine, spec = self._followed[node]
            self._follow(machine, spec.path)

    # -- what the session's user may do ------------------------------------------------

    def _user_access(self, event: ServerItemCallback, _service: object) -> None:
        user_access(self.ua, event)
