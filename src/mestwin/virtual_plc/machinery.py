"""The machine's nameplate and the OPC 40001 (Machinery) views of its PackML state.

OPC 40001-1 MachineryItemState and MachineryOperationMode, and OPC 40001-3 job states, as
functions of the PackML state (ISA-TR88.00.02) and the physical state; plus the text
format of ``Status.Consumed`` (genealogy of the unit in work).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mestwin.virtual_plc.packml import State, UnitMode
from mestwin.virtual_plc.tags import CONSUMED_LENGTH

SETUP = 2
"""Physical machine state code of a setup (mestwin.plantmodels MachineState.SETUP)."""


@dataclass(frozen=True)
class Identification:
    """Nameplate of the virtual machine (OPC 40001-1 Identification)."""

    manufacturer: str = "mestwin"
    model: str = "Virtual PackML machine"
    software_revision: str = "0.1.0"
    year_of_construction: int = 2025


def consumed_text(consumed: Any) -> str:
    """``item=qty`` or ``serial@lot=qty`` items, comma separated (``Status.Consumed``)."""
    parts = []
    for entry in consumed:
        item, quantity = entry[0], entry[1]
        lot = entry[2] if len(entry) > 2 else None
        parts.append(f"{item}@{lot}={quantity:g}" if lot else f"{item}={quantity:g}")
    return ",".join(parts)[:CONSUMED_LENGTH]


def item_state(state: State) -> str:
    """PackML to OPC 40001-1 MachineryItemState."""
    if state is State.EXECUTE:
        return "Executing"
    if state in (State.ABORTING, State.ABORTED):
        return "OutOfService"
    return "NotExecuting"


def operation_mode(mode: UnitMode, physical: int) -> str:
    """Unit mode and physical setup to OPC 40001-1 MachineryOperationMode."""
    if mode is UnitMode.MAINTENANCE:
        return "Maintenance"
    if physical == SETUP:
        return "Setup"
    return "Processing" if mode is UnitMode.PRODUCTION else "None"


def job_state(state: State, has_order: bool) -> int:
    """OPC 40001-3 job state of the current order: 0 none, 3 Running, 4 Interrupted,
    6 Aborted."""
    if not has_order:
        return 0
    if state is State.EXECUTE:
        return 3
    if state in (State.ABORTING, State.ABORTED):
        return 6
    return 4
