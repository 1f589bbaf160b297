"""Quality operations of the MES core (ISA-95 Part 3): specs, inspections, gates, holds, NCRs.

Re-exports :mod:`.capability` (Cp, Cpk), :mod:`.inspections` (specs, inspection results,
quality gates with a stop callback), :mod:`.holds` (holds propagated through genealogy) and
:mod:`.ncr` (nonconformance records). Every function takes the store session and leaves the
commit to the caller.
"""

from __future__ import annotations

from mestwin.mes_core.quality.capability import Capability, capability, cp, cpk
from mestwin.mes_core.quality.holds import (
    HeldConsumption,
    active_hold,
    active_holds,
    blocking_holds,
    can_consume,
    check_consumption,
    held_consumptions,
    place_hold,
    release_hold,
)
from mestwin.mes_core.quality.inspections import (
    GATE_ACTOR,
    InspectionOutcome,
    StopHook,
    StopRequest,
    add_gate,
    add_spec,
    check_sampling,
    record_inspection,
    routing_operation_of,
    spec_capability,
)
from mestwin.mes_core.quality.ncr import close_ncr, disposition_ncr, get_ncr, list_ncrs, open_ncr

__all__ = [
    "GATE_ACTOR",
    "Capability",
    "HeldConsumption",
    "InspectionOutcome",
    "StopHook",
    "StopRequest",
    "active_hold",
    "active_holds",
    "add_gate",
    "add_spec",
    "blocking_holds",
    "can_consume",
    "capability",
    "check_consumption",
    "check_sampling",
    "close_ncr",
    "cp",
    "cpk",
    "disposition_ncr",
    "get_ncr",
    "held_consumptions",
    "list_ncrs",
    "open_ncr",
    "place_hold",
    "record_inspection",
    "release_hold",
    "routing_operation_of",
    "spec_capability",
]
