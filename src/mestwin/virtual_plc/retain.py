"""Retentive memory of a virtual PLC: what survives a restart.

Real PLCs keep counters in retentive memory so that a power cycle does not reset AccCount;
:class:`RetainedData` is that memory, JSON-friendly so it can be saved anywhere, and
:class:`CounterBase` the offsets a PLC computes its counters from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mestwin.virtual_plc.packml import UnitMode


@dataclass(frozen=True)
class RetainedData:
    """What a PLC keeps across a restart (retentive memory), JSON-friendly."""

    acc_counts: dict[str, int]
    """Counter prefix (``PackTags.Admin.ProdProcessedCount[0]``) -> AccCount."""
    counts: dict[str, int]
    """Counter prefix -> Count."""
    station_counts: dict[str, int]
    """The station's own counters at the snapshot, to bridge the time the PLC was down."""
    acc_time_since_reset: float
    unit_mode: int = int(UnitMode.PRODUCTION)
    mach_speed: float = 0.0
    """Speed setpoint (units/min); 0 for "as the station runs"."""
    state_times: dict[str, float] = field(default_factory=dict)
    """``OEE.MachineStateTime[k]`` path -> seconds, as of *state_change_time*."""
    state_change_time: float = 0.0
    machine_state: int = 0
    """``Status.MachineState`` at the snapshot (it is credited with the time the PLC was
    down, the best a restarted PLC can know)."""

    def to_dict(self) -> dict[str, Any]:
        """The data as plain JSON types."""
        return {"acc_counts": dict(self.acc_counts), "counts": dict(self.counts),
                "station_counts": dict(self.station_counts),
                "acc_time_since_reset": self.acc_time_since_reset,
                "unit_mode": self.unit_mode, "mach_speed": self.mach_speed,
                "state_times": dict(self.state_times),
                "state_change_time": self.state_change_time,
                "machine_state": self.machine_state}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetainedData:
        """Rebuild from :meth:`to_dict` output."""
        return cls({str(k): int(v) for k, v in data["acc_counts"].items()},
                   {str(k): int(v) for k, v in data["counts"].items()},
                   {str(k): int(v) for k, v in data["station_counts"].items()},
                   float(data["acc_time_since_reset"]), int(data.get("unit_mode", 1)),
                   float(data.get("mach_speed", 0.0)),
                   {str(k): float(v) for k, v in data.get("state_times", {}).items()},
                   float(data.get("state_change_time", 0.0)),
                   int(data.get("machine_state", 0)))


@dataclass
class CounterBase:
    """Where a PLC counter starts from: bases carried over a restart or a reset."""

    acc_base: int = 0
    count_base: int = 0
    origin: int = 0
    """Station counter value that corresponds to the bases."""
