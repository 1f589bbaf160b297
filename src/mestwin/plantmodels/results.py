"""What a run produces: one stable record type that serialises to JSON.

The field names are the public contract of ``mestwin run --json`` (see README). Station
time elements are in server-seconds: a station with *c* servers has *c* seconds of planned
operation time per second of the window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StationResult:
    """KPIs and ISO 22400 time elements of one station over the statistics window."""

    servers: int
    utilization: float
    """APT / PBT: share of planned busy time spent producing."""
    mean_wait_s: float
    """Mean time a unit waited in the input buffer before a server took it."""
    mean_queue_length: float
    """Time-average number of units waiting in the input buffer."""
    produced: int
    """PQ: processing cycles completed (a reworked unit counts each cycle)."""
    good: int
    """GQ: cycles whose outcome was good."""
    scrap: int
    """SQ: cycles whose unit was scrapped."""
    rework: int
    """RQ: cycles whose unit had to be processed again."""
    ideal_cycle_time_s: float
    """PRU, weighted by the products made."""
    time_elements_s: dict[str, float]
    """POT, PDOT, PBT, APT, ASUT, ADET, ADOT in server-seconds."""
    failures: int
    """Operating-time failures (breakdowns and minor stops)."""
    kpi: dict[str, float | None] = field(default_factory=dict)
    """ISO 22400 KPIs of the station computed from the elements (availability, OEE ...)."""


@dataclass
class MachineTruth:
    """What really happened on one machine (one server) over the window: the figures an
    MES must reproduce from PLC tags alone."""

    elements: dict[str, float]
    """APT, ASUT, ADET, ADOT, PDOT in seconds."""
    produced: int
    good: int
    scrap: int
    rework: int
    produced_by_product: dict[str, int]
    ideal_cycle_time: dict[str, float]


@dataclass
class PlantResult:
    """Everything ``mestwin run`` reports about one run."""

    scenario: str
    seed: int
    horizon_s: float
    warmup_s: float
    throughput_per_hour: float
    """Units that reached a sink during the window, per hour."""
    mean_flow_time_s: float
    """Mean time from release to sink of the units that left during the window."""
    mean_wip: float
    """Time-average number of units in the plant during the window."""
    released: int
    departed: int
    scrapped: int
    dropped: int
    event_count: int
    event_log_sha256: str
    stations: dict[str, StationResult]
    throughput_by_product: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """Things about the run the scenario's author should know (an order list ran out ...)."""

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, ready for ``json.dumps``."""
        return asdict(self)
