"""An outside MES's OEE collector, written from README.md and docs/integrators.md alone.

What an integrator testing their own MES against the twin would write: asyncua and the
standard library only, nothing of mestwin (a test checks the imports). It finds the
machines by browsing ``Objects`` (namespace index looked up by URI, string NodeIds
``<line>.<machine>``), subscribes with a deep queue to each machine's PackML state, stop
reason, operation mode and counters, and times every state from the values'
SourceTimestamps (the PLC clock: seconds since the ``PACDateTime`` epoch), never from
when a value arrived. It reads no ``OEE.*``, ``Status.MachineState`` or
``Diagnostics.SimTime``: those are the twin's conveniences; a real line has PackML.

Booking (docs/integrators.md, "Plant states, PackML states and OEE": "book a stop by its
stop reason, not by its PackML state"): Execute is APT, or ASUT while
``MachineryOperationMode`` shows Setup ("setup counts as Execute"); every other state is
booked by its ``Admin.StopReason.ID`` from the column "ISO 22400 element" of the
document's stop-reason table, copied here as :data:`STOP_ELEMENTS` (an operator's Abort,
11, is ADOT though PackML shows Aborted; a Suspend command's ``operator_hold``, 74, is ADET
though PackML shows Suspended). Only a stop without a known reason falls back to the
PackML state: an acting state is booked as the state it ends in ("ends: by itself, to
..."); Suspended is ADOT; Held and Aborted are ADET; Stopped is PDOT for a
planned-downtime reason, else ADOT. Every interval but processing is booked to the
``Admin.StopReason.ID`` in force (setup: 20, which raises no stop reason).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncua import Client, Node, ua

NAMESPACE = "urn:mestwin:virtual-plc"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)  # PACDateTime at simulated time 0

STATE = "PackTags.Status.StateCurrent"
REASON = "PackTags.Admin.StopReason.ID"
MODE = "MachineryOperationMode.CurrentState"
PROCESSED = "PackTags.Admin.ProdProcessedCount[0].AccCount"
DEFECTIVE = "PackTags.Admin.ProdDefectiveCount[0].AccCount"
SCRAP = "PackTags.Admin.ProdDefectiveCount[1].AccCount"
REWORK = "PackTags.Admin.ProdDefectiveCount[2].AccCount"
TAGS = (STATE, REASON, MODE, PROCESSED, DEFECTIVE, SCRAP, REWORK)
COUNTERS = (PROCESSED, DEFECTIVE, SCRAP, REWORK)

# PackML (ISA-TR88.00.02 numbering): acting state -> the state it ends in by itself
ENDS_IN = {1: 2, 3: 6, 7: 2, 8: 9, 10: 11, 12: 6, 13: 5, 14: 6, 15: 4, 16: 17}
EXECUTE, SUSPENDED, ABORTED, HELD = 6, 5, 9, 11
PLANNED_DOWNTIME = {70, 71, 72, 76, 77}  # break, shift_off, planned_maintenance, planned,
# cleaning; operator_stop 73 and complete 75 are Planned as a category but ADOT in time
SETUP, MINOR_STOP = 20, 30
ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")
# docs/integrators.md, "Stop reasons and loss categories": code -> ISO 22400 element
STOP_ELEMENTS = {
    10: "ADET", 11: "ADOT", 20: "ASUT", 21: "ADET", 30: "ADET", 40: "ADET", 50: "ADET",
    51: "ADET", 60: "ADET", 70: "PDOT", 71: "PDOT", 72: "PDOT", 76: "PDOT", 77: "PDOT",
    73: "ADOT", 74: "ADET", 75: "ADOT", 80: "ADOT", 81: "ADOT", 99: "ADET",
}


def seconds(stamp: datetime) -> float:
    """Simulated seconds of a PLC-clock time stamp."""
    return (stamp - EPOCH).total_seconds()


def element(state: int, reason: int, mode: str) -> str:
    """The ISO 22400-2 time element of a PackML state with its stop reason."""
    if state == EXECUTE:
        return "ASUT" if mode == "Setup" else "APT"
    if reason in STOP_ELEMENTS:
        return STOP_ELEMENTS[reason]
    state = ENDS_IN.get(state, state)  # no known reason: by the PackML state
    if state == EXECUTE:
        return "ASUT" if mode == "Setup" else "APT"
    if state == SUSPENDED:
        return "ADOT"
    if state in (HELD, ABORTED):
        return "ADET"
    return "PDOT" if reason in PLANNED_DOWNTIME else "ADOT"  # Stopped, Idle, Complete...


@dataclass(frozen=True)
class Change:
    """One value of one tag, at the simulated instant it changed."""

    t: float
    machine: str
    tag: str
    value: Any


@dataclass
class MachineReport:
    """What the MES concluded about one machine over a window."""

    elements: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ELEMENTS, 0.0))
    counts: dict[str, int] = field(default_factory=dict)
    downtime_by_reason: dict[int, float] = field(default_factory=dict)
    downtime_by_element: dict[tuple[int, str], float] = field(default_factory=dict)
    """(reason code, element) -> seconds: where each reason's downtime was booked."""
    minor_stops: list[tuple[float, float]] = field(default_factory=list)

    @property
    def pbt(self) -> float:
        """Planned busy time: POT less planned downtime."""
        return sum(self.elements[e] for e in ("APT", "ASUT", "ADET", "ADOT"))

    @property
    def availability(self) -> float | None:
        """APT / PBT (ISO 22400-2), None without planned busy time."""
        return self.elements["APT"] / self.pbt if self.pbt > 0 else None


class OeeCollector:
    """Subscribes to every machine of a plant and keeps every change it is sent."""

    def __init__(self, url: str, queue_size: int = 10000, publishing_ms: float = 50) -> None:
        self.client = Client(url, timeout=10)
        self.queue_size, self.publishing_ms = queue_size, publishing_ms
        self.items: dict[ua.NodeId, tuple[str, str]] = {}  # node -> (machine, tag)
        self.last: dict[ua.NodeId, tuple[Any, datetime | None]] = {}
        self.changes: list[Change] = []
        self.machines: list[str] = []

    async def start(self) -> None:
        """Connect, find the machines, subscribe."""
        await self.client.connect()
        ns = await self.client.get_namespace_index(NAMESPACE)
        for line in await self.client.nodes.objects.get_children():
            if line.nodeid.NamespaceIndex != ns or not isinstance(line.nodeid.Identifier, str):
                continue
            for machine in await line.get_children():
                name = machine.nodeid.Identifier  # "<line>.<machine>"
                prefix, _, rest = str(name).partition(".")
                if prefix == line.nodeid.Identifier and rest and "." not in rest:
                    self.machines.append(rest)
                    for tag in TAGS:
                        node = self.client.get_node(f"ns={ns};s={name}.{tag}")
                        self.items[node.nodeid] = (self.machines[-1], tag)
        subscription = await self.client.create_subscription(self.publishing_ms, self)
        await subscription.subscribe_data_change(
            [self.client.get_node(n) for n in self.items], queuesize=self.queue_size)

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        """asyncua's callback: one call per queued value, in order per item."""
        stamp = data.monitored_item.Value.SourceTimestamp
        self.last[node.nodeid] = (value, stamp)
        machine, tag = self.items[node.nodeid]
        self.changes.append(Change(seconds(stamp), machine, tag, value))

    async def settle(self, quiet_s: float = 0.3) -> None:
        """Wait until every item's last notification is what a Read returns now (value and
        SourceTimestamp): with the plant paused, nothing is left in the server's queues."""
        nodes = list(self.items)
        while True:
            values = await self.client.read_attributes(
                [self.client.get_node(n) for n in nodes], ua.AttributeIds.Value)
            if all(self.last.get(n) == (v.Value and v.Value.Value, v.SourceTimestamp)
                   for n, v in zip(nodes, values, strict=True)):
                return
            await asyncio.sleep(quiet_s)

    async def stop(self) -> None:
        """Disconnect."""
        await self.client.disconnect()

    def report(self, start: float, end: float) -> dict[str, MachineReport]:
        """Per machine, what happened in [start, end] (simulated seconds, taken on the PLC
        clock like the stamps: to the microsecond)."""
        start, end = (seconds(EPOCH + timedelta(seconds=t)) for t in (start, end))
        by_machine: dict[str, list[Change]] = {m: [] for m in self.machines}
        for change in sorted(self.changes, key=lambda c: c.t):  # stable: order per tag kept
            by_machine[change.machine].append(change)
        return {m: _book(changes, start, end) for m, changes in by_machine.items()}


def _book(changes: list[Change], start: float, end: float) -> MachineReport:
    """Time every state from its changes (all changes of one instant applied before the
    interval closes) and take the counters' differences over the window."""
    report = MachineReport()
    now: dict[str, Any] = {STATE: 0, REASON: 0, MODE: "", **dict.fromkeys(COUNTERS, 0)}
    at_start: dict[str, Any] | None = None
    since = 0.0
    for t, instant in itertools.groupby(changes, key=lambda c: c.t):
        if t > end:
            break
        if t >= start and at_start is None:
            at_start = dict(now)  # the counters before the window's first instant
        _interval(report, now, max(since, start), t)
        for change in instant:
            now[change.tag] = change.value
        since = t
    if at_start is None:
        at_start = dict(now)
    _interval(report, now, max(since, start), end)
    pq, defective = (now[c] - at_start[c] for c in (PROCESSED, DEFECTIVE))
    report.counts = {"PQ": pq, "GQ": pq - defective, "SQ": now[SCRAP] - at_start[SCRAP],
                     "RQ": now[REWORK] - at_start[REWORK]}
    return report


def _interval(report: MachineReport, now: dict[str, Any], a: float, b: float) -> None:
    if b <= a:
        return
    state, reason, mode = int(now[STATE]), int(now[REASON]), str(now[MODE])
    booked = element(state, reason, mode)
    report.elements[booked] += b - a
    if booked != "APT":
        code = SETUP if booked == "ASUT" else reason
        report.downtime_by_reason[code] = report.downtime_by_reason.get(code, 0.0) + b - a
        key = (code, booked)
        report.downtime_by_element[key] = report.downtime_by_element.get(key, 0.0) + b - a
    minor = booked == "ADET" and reason == MINOR_STOP
    stops = report.minor_stops
    if minor and stops and stops[-1][1] == a:
        stops[-1] = (stops[-1][0], b)  # the same stop, through Holding -> Held
    elif minor:
        stops.append((a, b))
