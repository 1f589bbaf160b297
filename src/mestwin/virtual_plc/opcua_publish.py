"""Publishing a PLC's tags into the OPC UA address space: what the server's publisher does.

Values flow one way: each push copies what changed in a PLC's
:class:`~mestwin.virtual_plc.tag_values.TagValues` (``changed_since``) into the address
space. Like a real PLC's, every value's SourceTimestamp is the instant it changed on the PLC
clock, the clock of ``PACDateTime`` (``VirtualPLC.start_datetime`` + simulated seconds), so
values changed in one instant share it; ServerTimestamp is wall time. A tag followed by a
monitored item with QueueSize > 1 has its every change delivered in order, the older ones
to the queues only (:mod:`.opcua_history`); a tag with companion aliases
(:mod:`.opcua_companion`) is written to them the same way. Kept apart from
:mod:`.opcua_server` (the address space, the lifecycle, client writes) because it is the
part that runs all the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asyncua import ua
from asyncua.server.address_space import AddressSpace
from asyncua.ua.attribute_ids import AttributeIds

from mestwin.virtual_plc.opcua_companion import Aliases, write_changes
from mestwin.virtual_plc.opcua_history import ChangeHistory, deep_queue_size, deliver_queued
from mestwin.virtual_plc.opcua_jobs import JobOrderList, MachineSample
from mestwin.virtual_plc.opcua_nodes import VT, tag_variant
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.tags import TagValue

RECHECK_QUEUES_S = 1.0
"""Wall seconds between looks for queued items that went away with a deleted subscription
or session (asyncua tells of no such deletion; a look costs a little per followed tag)."""


def data_value(variant: ua.Variant, source: datetime | None, server: datetime) -> ua.DataValue:
    """*variant* with its SourceTimestamp (PLC clock) and ServerTimestamp (wall time)."""
    return ua.DataValue(variant, SourceTimestamp=source, ServerTimestamp=server)  # type: ignore[arg-type]


def as_int(value: TagValue) -> int:
    """*value* if it is an integer, else 0."""
    return value if isinstance(value, int) else 0


@dataclass
class ServedMachine:
    """A served PLC: its nodes and what the publisher last pushed."""

    plc: VirtualPLC
    jobs: JobOrderList
    nodes: dict[str, ua.NodeId] = field(default_factory=dict)  # tag path -> NodeId
    aliases: Aliases = field(default_factory=dict)  # tag path -> companion variables
    version: int = -1
    jobs_version: int = -1
    job_list: ua.NodeId = field(default_factory=ua.NodeId)
    """The node of ``JobManagement.JobOrderList`` (set when the address space is built)."""
    history: ChangeHistory = field(init=False)
    """What the publisher last pushed, and the changes it owes queued items."""

    def __post_init__(self) -> None:
        self.history = ChangeHistory(self.plc.tags)

    def stamp(self, instant: float | None = None) -> datetime:
        """The PLC clock (``PACDateTime``) at simulated *instant*; now if None (a tag
        never changed since the PLC started: dated when first served)."""
        plc = self.plc
        return plc.start_datetime + timedelta(seconds=plc.env.now if instant is None else instant)


async def publish_machine(aspace: AddressSpace, machine: ServedMachine, now: datetime,
                          speed: float | None, recheck: bool) -> int:
    """Push every tag of *machine* changed since its last push, and its job order list if
    it changed; returns how many values. *speed* (if not None) is
    shown in ``Diagnostics.SpeedFactor``; with *recheck* the queues of followed tags are
    looked at again."""
    pushed = 0
    tags = machine.plc.tags
    if speed is not None:
        tags.set("Diagnostics.SpeedFactor", float(speed))
    update_jobs(machine)
    for path in machine.history.paths if recheck else ():  # gone with a session?
        follow(aspace, machine, path)
    if tags.version != machine.version:
        changed = (
            tags.changed_since(machine.version) if machine.version >= 0 else tags.as_dict()
        )
        machine.version = tags.version
        served = machine.nodes
        for path in changed:
            if path in served:  # the Modbus-only state log is not
                pushed += await push(aspace, machine, path, now)
    if machine.jobs.version != machine.jobs_version:
        machine.jobs_version = machine.jobs.version
        dv = data_value(ua.Variant(machine.jobs.to_json(), VT.String), machine.stamp(), now)
        await aspace.write_attribute_value(machine.job_list, AttributeIds.Value, dv)
        pushed += 1
    return pushed


async def push(aspace: AddressSpace, machine: ServedMachine, path: str, now: datetime) -> int:
    """Write what *path* is due (:meth:`ChangeHistory.due`), each value stamped with
    its instant on the PLC clock; returns how many values."""
    spec, node = machine.plc.tags.specs[path], machine.nodes[path]
    changes = machine.history.due(path)
    aliases, shown = machine.aliases.get(path), []
    for i, (value, instant) in enumerate(changes, 1 - len(changes)):
        dv = data_value(tag_variant(spec, value), machine.stamp(instant), now)
        if i:  # an older change: to the queues only
            await deliver_queued(aspace, node, dv)
        else:
            await aspace.write_attribute_value(node, AttributeIds.Value, dv)
        if aliases:
            shown.append((value, dv))
    for alias in aliases or ():  # its companion variables, the same way
        await write_changes(aspace, alias.node, alias.values(shown))
    return len(changes)


def follow(aspace: AddressSpace, machine: ServedMachine, path: str) -> None:
    """Record *path*'s every change while a monitored item queues more than one."""
    nodes = (machine.nodes[path], *(a.node for a in machine.aliases.get(path, ())))
    machine.history.follow(path, max(deep_queue_size(aspace, n) for n in nodes))


def update_jobs(machine: ServedMachine) -> None:
    """Tell the job order list what the machine did (executing, counts, the PLC clock)."""
    tags = machine.plc.tags
    clock = tags["PackTags.Admin.PACDateTime"]
    machine.jobs.update(
        MachineSample(
            executing=machine.plc.packml.state is State.EXECUTE,
            processed=as_int(tags["PackTags.Admin.ProdProcessedCount[0].AccCount"]),
            defective=as_int(tags["PackTags.Admin.ProdDefectiveCount[0].AccCount"]),
            clock=clock if isinstance(clock, datetime) else datetime.now(UTC),
        )
    )
