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
value. Client
writes to tags go through ``VirtualPLC.write`` (the rule set Modbus shares): BadNotWritable
for a read-only tag, BadUserAccessDenied for a session without the operator role,
BadTypeMismatch for a Variant of the wrong built-in type, BadOutOfRange for a value the PLC
refuses (a CntrlCmd outside 0..10, a UnitMode outside 1..3, a string over its length); a
write to a node that does not exist is BadNodeIdUnknown. UserAccessLevel and UserExecutable
are answered per session: without the operator role nothing is writable or executable.

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
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AttributeService
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from mestwin.virtual_plc.opcua_companion import Companion, import_nodesets
from mestwin.virtual_plc.opcua_history import monitored_nodes, revise_default_queues
from mestwin.virtual_plc.opcua_jobs import JobOrderList, UaMethod, job_methods
from mestwin.virtual_plc.opcua_nodes import (
    VARIANT_TYPES,
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
    as_int,
    follow,
    publish_machine,
    push,
)
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, Role, apply_security, role_of
from mestwin.virtual_plc.opcua_transport import GuardedServer
from mestwin.virtual_plc.packml import Command, State, transition
from mestwin.virtual_plc.plc import VirtualPLC, WriteStatus
from mestwin.virtual_plc.tags import TagSpec

__all__ = ["NAMESPACE_URI", "PACKML_METHODS", "PlcOpcUaServer", "node_id_string"]

NAMESPACE_URI = "urn:mestwin:virtual-plc"

_log = logging.getLogger(__name__)
_WRITE_STATUS: dict[WriteStatus, int] = {
    WriteStatus.OK: StatusCodes.Good,
    WriteStatus.UNKNOWN_TAG: StatusCodes.BadNodeIdUnknown,
    WriteStatus.READ_ONLY: StatusCodes.BadNotWritable,
    WriteStatus.TYPE_MISMATCH: StatusCodes.BadTypeMismatch,
    WriteStatus.OUT_OF_RANGE: StatusCodes.BadOutOfRange,
}
_WRITE_BITS = (
    ua.AccessLevel.CurrentWrite.mask | ua.AccessLevel.HistoryWrite.mask
    | ua.AccessLevel.SemanticChange.mask | ua.AccessLevel.StatusWrite.mask
    | ua.AccessLevel.TimestampWrite.mask
)
"""AccessLevel bits a session without the operator role does not get (OPC 10000-3 8.57)."""
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


_ADMIN = User(role=UserRole.Admin)  # asyncua's default: the server's own internal session


class _PlcAttributeService(AttributeService):
    """asyncua's Write service, with writes to PLC tags routed through ``VirtualPLC.write``."""

    def __init__(self, server: PlcOpcUaServer, original: AttributeService) -> None:
        super().__init__(server.ua.iserver.aspace)
        self._server = server
        self._original = original

    async def write(self, params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for value in params.NodesToWrite:
            binding = self._server._bindings.get(value.NodeId)
            if user.role == UserRole.Admin:
                one = ua.WriteParameters(NodesToWrite=[value])
                results.extend(await self._original.write(one, user))
            elif binding is not None:
                results.append(status(await self._server._client_write(*binding, value, user)))
            else:
                results.append(await self._other_write(value, user))
        return results

    async def _other_write(self, value: ua.WriteValue, user: User) -> ua.StatusCode:
        """A client's write to a node that is no PLC tag (OPC 10000-4 5.10.4.4 codes)."""
        if value.NodeId not in self._server.ua.iserver.aspace:
            return status(StatusCodes.BadNodeIdUnknown)
        if value.AttributeId != AttributeIds.Value:
            return status(StatusCodes.BadNotWritable)
        level = self._server.ua.iserver.aspace.read_attribute_value(
            value.NodeId, AttributeIds.AccessLevel
        )
        writable = ua.AccessLevel.CurrentWrite.mask
        if level.Value is None or not (as_int(level.Value.Value) & writable):
            return status(StatusCodes.BadNotWritable)
        if role_of(self._server.ua, user) is not Role.OPERATOR:
            return status(StatusCodes.BadUserAccessDenied)
        return (await self._original.write(ua.WriteParameters(NodesToWrite=[value]), user))[0]


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
        self._bindings: dict[ua.NodeId, tuple[ServedMachine, TagSpec]] = {}
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
        server.iserver.attribute_service = _PlcAttributeService(
            self, server.iserver.attribute_service
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

    async def _push(self, machine: ServedMachine, path: str, now: datetime) -> int:
        return await push(self.ua.iserver.aspace, machine, path, now)

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
        """Answer UserAccessLevel and UserExecutable for the reading session's user
        (OPC 10000-3 5.6.2, 5.7): without the operator role nothing is writable or
        executable, just as the Write and Call services then refuse."""
        operator = role_of(self.ua, event.user) is Role.OPERATOR
        results: list[ua.DataValue] = event.response_params
        aspace = self.ua.iserver.aspace
        for i, item in enumerate(event.request_params.NodesToRead):
            if item.AttributeId == AttributeIds.UserAccessLevel:
                own = aspace.read_attribute_value(item.NodeId, AttributeIds.AccessLevel)
                if own.Value is not None and own.Value.Value is not None:
                    level = as_int(own.Value.Value) & (0xFF if operator else ~_WRITE_BITS & 0xFF)
                    results[i] = ua.DataValue(ua.Variant(level, VT.Byte))
            elif item.AttributeId == AttributeIds.UserExecutable:
                own = aspace.read_attribute_value(item.NodeId, AttributeIds.Executable)
                if own.Value is not None and own.Value.Value is not None:
                    executable = operator and bool(own.Value.Value)
                    results[i] = ua.DataValue(ua.Variant(executable, VT.Boolean))

    # -- client writes ---------------------------------------------------------------

    async def _client_write(
        self, machine: ServedMachine, spec: TagSpec, write: ua.WriteValue, user: User
    ) -> int:
        if write.AttributeId != AttributeIds.Value or not spec.writable:
            return StatusCodes.BadNotWritable
        if role_of(self.ua, user) is not Role.OPERATOR:
            return StatusCodes.BadUserAccessDenied
        if write.IndexRange:
            return StatusCodes.BadIndexRangeInvalid
        variant = write.Value.Value if write.Value is not None else None
        if variant is None or variant.VariantType != VARIANT_TYPES[spec.data_type]:
            return StatusCodes.BadTypeMismatch
        value = variant.Value
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        result = machine.plc.write(spec.path, value)
        if result.accepted:  # show the new value at once; the publisher skips it later
            await self._push(machine, spec.path, datetime.now(UTC))
        else:
            _log.info("OPC UA write refused: %s", result.message)
        return _WRITE_STATUS[result.status]
