"""Physical machine states and their ISO 22400-2 time elements.

Every second of a work unit's planned operation time is spent in exactly one
:class:`MachineState`; :data:`TIME_ELEMENT` maps each state to the one ISO 22400 time
element it is accounted to, so that PBT = APT + ASUT + ADET + ADOT holds by construction
(ISO 22400-2, "time elements"; see docs/iso22400.md).
"""

from __future__ import annotations

import enum


class MachineState(enum.IntEnum):
    """What a server of a station is physically doing."""

    IDLE = 0
    """Starved: no unit to work on (ADOT, reason ``starved``)."""
    PROCESSING = 1
    """Value-adding work on a unit (APT)."""
    SETUP = 2
    """Changeover between product families (ASUT)."""
    BLOCKED = 3
    """A finished unit cannot leave because the next buffer is full (ADOT, ``blocked``)."""
    DOWN = 4
    """Breakdown or minor stop during work (ADET)."""
    PLANNED_DOWN = 5
    """Break, shift off or planned maintenance (PDOT)."""
    STOPPED = 6
    """Stopped by a command, no planned reason (ADOT)."""
    HELD = 7
    """Held by a command: an unplanned interruption during an order (ADET)."""


class TimeElement(enum.IntEnum):
    """The ISO 22400-2 time elements a state is accounted to."""

    APT = 0
    """Actual production time: value-adding only."""
    ASUT = 1
    """Actual setup time."""
    ADET = 2
    """Actual unit delay time: breakdowns, minor stops, holds during an order."""
    ADOT = 3
    """Actual unit down time: available but not running (starved, blocked, stopped)."""
    PDOT = 4
    """Planned down time: not part of planned busy time (PBT)."""


TIME_ELEMENT: tuple[TimeElement, ...] = (
    TimeElement.ADOT,  # IDLE
    TimeElement.APT,  # PROCESSING
    TimeElement.ASUT,  # SETUP
    TimeElement.ADOT,  # BLOCKED
    TimeElement.ADET,  # DOWN
    TimeElement.PDOT,  # PLANNED_DOWN
    TimeElement.ADOT,  # STOPPED
    TimeElement.ADET,  # HELD
)
"""Time element of each :class:`MachineState`, indexed by the state's value."""

ACTIVITY_RANK: tuple[int, ...] = (0, 7, 6, 5, 4, 1, 2, 3)
"""How "active" a state is, used to show a multi-server station as one machine:
PROCESSING > SETUP > BLOCKED > DOWN > HELD > STOPPED > PLANNED_DOWN > IDLE."""

OUTAGE_PRIORITY: dict[MachineState, int] = {
    MachineState.PLANNED_DOWN: 4,
    MachineState.STOPPED: 3,
    MachineState.HELD: 2,
    MachineState.DOWN: 1,
}
"""Which outage a station shows when several overlap (a break during a repair is PDOT)."""
