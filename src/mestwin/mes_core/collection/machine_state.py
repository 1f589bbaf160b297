"""Machine states as the MES reads them, and the ISO 22400 element each counts toward.

The PLC publishes ``PackTags.Status.MachineState`` (the physical state, updated at the
instant it changes) beside the PackML state. ISO 22400-2 and the PackML mapping of the
reference ("Counts from PackML") put each state in one time element: producing -> APT,
setup -> ASUT, breakdowns, minor stops and holds during an order -> ADET, starved, blocked
and stopped with no planned reason -> ADOT, planned stops -> PDOT.

Stop-reason codes are configuration, as in any MES: :class:`ReasonCodes` maps the PLC's
``StateReason`` codes to names and six-big-loss categories; it is built from the machine
vendor's table by whoever integrates the MES (``mestwin.sim`` does it from the virtual PLC's).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mestwin.mes_core.losses import SixBigLoss


class MachineStateCode(enum.IntEnum):
    """Values of ``PackTags.Status.MachineState``."""

    STARVED = 0
    PROCESSING = 1
    SETUP = 2
    BLOCKED = 3
    DOWN = 4
    PLANNED_DOWN = 5
    STOPPED = 6
    HELD = 7


ELEMENT: Mapping[MachineStateCode, str] = MappingProxyType({
    MachineStateCode.STARVED: "ADOT",
    MachineStateCode.PROCESSING: "APT",
    MachineStateCode.SETUP: "ASUT",
    MachineStateCode.BLOCKED: "ADOT",
    MachineStateCode.DOWN: "ADET",
    MachineStateCode.PLANNED_DOWN: "PDOT",
    MachineStateCode.STOPPED: "ADOT",
    MachineStateCode.HELD: "ADET",
})
"""ISO 22400-2 time element of each machine state."""


@dataclass(frozen=True)
class ReasonCode:
    """One stop-reason code of a machine vendor's table."""

    id: int
    name: str
    loss: SixBigLoss | None = None
    """Six-big-loss category, None for planned or external (starved/blocked) stops."""


@dataclass(frozen=True)
class ReasonCodes:
    """The stop-reason table the MES is configured with."""

    codes: Mapping[int, ReasonCode] = field(default_factory=dict)

    def get(self, code: int) -> ReasonCode:
        """The code *code*, or an ``unknown-<code>`` entry if it is not configured."""
        found = self.codes.get(code)
        return found if found is not None else ReasonCode(code, f"unknown-{code}")
