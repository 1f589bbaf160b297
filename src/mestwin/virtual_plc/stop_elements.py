"""The ISO 22400-2 time element of each stop reason: the PLC vendor's reason-code table.

A real MES books a stop by its reason code, not by the PackML state it shows (an operator
Abort sits in Aborted with reason ``abort`` but is a commanded stop, ADOT; a Suspend
command shows Suspended with ``operator_hold`` but is a hold during the order, ADET). This
table is the one place that says which element each :data:`~.tags.STOP_REASONS` code is
booked to, as the plant books the state that reason occurs in (plantmodels ``states``
``TIME_ELEMENT``):

* planned downtime (:data:`PLANNED_DOWNTIME`: the only reasons a scenario's
  ``planned_downtime`` may give) -> PDOT;
* external conditions (starved, blocked) and the commanded stops (:data:`STOP_COMMANDS`:
  operator stop, abort, order complete; the plant is stopped) -> ADOT;
* the commanded hold (``operator_hold``; the plant is held) -> ADET;
* setup -> ASUT (Execute in a changeover, booked with this reason);
* every other code: a breakdown or minor stop of the scenario, whatever the reason (an
  unknown one is code 99) -> ADET.

Code 0 (no stop) has no element: an MES falls back to its PackML-state rule. The table is
generated into the stop-reason table of docs/integrators.md (column "ISO 22400 element");
the reason sets below are what scenario validation checks breakdowns and planned
downtimes against, so no scenario can put a reason into a state the table disagrees with.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mestwin.virtual_plc.tags import STOP_REASONS

PLANNED_DOWNTIME: tuple[str, ...] = (
    "break", "shift_off", "planned_maintenance", "planned", "cleaning")
"""Reasons of planned downtime (PDOT): a scenario's ``planned_downtime`` reasons."""
EXTERNAL: tuple[str, ...] = ("starved", "blocked")
"""Reasons the plant itself gives to waiting for a neighbour (ADOT)."""
SETUP: tuple[str, ...] = ("setup",)
"""The changeover reason (ASUT)."""
STOP_COMMANDS: tuple[str, ...] = ("operator_stop", "abort", "complete")
"""Reasons of client commands that stop the plant (Stop, Reset, Clear, Abort, Complete:
virtual_plc mirror ``STATION_ACTIONS``): a commanded stop, ADOT."""
HOLD_COMMANDS: tuple[str, ...] = ("operator_hold",)
"""Reasons of client commands that hold the plant (Hold, Suspend): ADET."""
RESERVED: frozenset[str] = frozenset(
    (*PLANNED_DOWNTIME, *EXTERNAL, *SETUP, *STOP_COMMANDS, *HOLD_COMMANDS))
"""Reasons a scenario's breakdown or minor stop may not give (they mean another state)."""

_ELEMENT_OF: Mapping[str, str] = MappingProxyType({
    **dict.fromkeys(PLANNED_DOWNTIME, "PDOT"), **dict.fromkeys(EXTERNAL, "ADOT"),
    **dict.fromkeys(SETUP, "ASUT"), **dict.fromkeys(STOP_COMMANDS, "ADOT"),
    **dict.fromkeys(HOLD_COMMANDS, "ADET")})

STOP_ELEMENTS: Mapping[int, str] = MappingProxyType({
    code.id: _ELEMENT_OF.get(code.reason, "ADET") for code in STOP_REASONS if code.id != 0})
"""``Admin.StopReason.ID`` -> the ISO 22400-2 element a stop with that reason is booked to
(every code but 0)."""


def stop_element(code: int) -> str | None:
    """The element of stop reason *code*; None for 0 (no stop) or a code not in the table."""
    return STOP_ELEMENTS.get(code)
