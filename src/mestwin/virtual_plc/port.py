"""What a virtual PLC needs from the plant: the structural interface of one station.

The PLC reads a station each scan and sends it commands, exactly as a real PLC reads its
sensors and drives its actuators. :class:`StationPort` is that wiring, as a
:class:`typing.Protocol`, so the PLC (ISA-95 levels 1-2) depends on no plant-model internals;
``mestwin.plantmodels.station.Station`` satisfies it structurally.

``state`` is a physical machine state code (``mestwin.plantmodels.states.MachineState``):
0 IDLE (starved), 1 PROCESSING, 2 SETUP, 3 BLOCKED, 4 DOWN, 5 PLANNED_DOWN, 6 STOPPED, 7 HELD.
The PLC only compares it with these integers, so the plant's IntEnum fits.
"""

from __future__ import annotations

from typing import Protocol


class StationPort(Protocol):
    """The attributes and commands of one plant station that a PLC uses."""

    @property
    def id(self) -> str:
        """Station id."""

    @property
    def servers(self) -> int:
        """Parallel servers (the PLC shows the station as one machine)."""

    @property
    def state(self) -> int:
        """Aggregate physical state (MachineState code), the most active over servers."""

    @property
    def reason(self) -> str:
        """Reason code of the current state (``starved``, ``breakdown``, ``minor_stop``...)."""

    @property
    def produced(self) -> int:
        """Units produced since t=0 (PQ), never reset."""

    @property
    def good(self) -> int:
        """Good units since t=0 (GQ)."""

    @property
    def scrap(self) -> int:
        """Scrapped units since t=0 (SQ)."""

    @property
    def rework(self) -> int:
        """Reworked units since t=0 (RQ)."""

    @property
    def consumed(self) -> int:
        """Units, components or lots consumed since t=0."""

    @property
    def current_serial(self) -> str | None:
        """Serial of the unit in work, if any."""

    @property
    def current_lot(self) -> str | None:
        """Lot of the unit in work, if any."""

    @property
    def current_order(self) -> str | None:
        """Production order of the unit in work, if any."""

    @property
    def speed(self) -> float:
        """Speed factor, 1.0 = design speed."""

    @property
    def design_rate_per_h(self) -> float:
        """Design rate in units per hour (3600 / ideal cycle time)."""

    def stop(self, reason: str = "operator_stop") -> None:
        """Stop at once; work in progress pauses and resumes on :meth:`start`."""

    def start(self) -> None:
        """Resume after :meth:`stop`."""

    def hold(self) -> None:
        """Like :meth:`stop`, but the station shows HELD."""

    def unhold(self) -> None:
        """Resume after :meth:`hold`."""

    def set_speed(self, factor: float) -> None:
        """Set the speed factor: process times are divided by *factor*."""
