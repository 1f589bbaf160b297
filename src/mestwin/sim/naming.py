"""Names a run gives to what it serves: the line in PLC addresses and its machines."""

from __future__ import annotations

import re

from mestwin.plantmodels.plant import Plant
from mestwin.virtual_plc.port import StationPort


def line_name(scenario_name: str) -> str:
    """The OPC UA line name of a scenario: its name as a slug (``two-step line`` ->
    ``two-step-line``), without dots since dots separate the parts of a NodeId."""
    slug = re.sub(r"[^0-9A-Za-z_-]+", "-", scenario_name).strip("-").lower()
    return slug or "line"


def machine_ports(plant: Plant) -> dict[str, StationPort]:
    """Every machine a PLC controls, by machine id, in scenario order: a station with one
    server is one machine, a station with several has one machine per server."""
    return {m.id: m for station in plant.stations.values() for m in station.machines()}
