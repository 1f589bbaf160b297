"""Loss mechanisms of a station, each its own concept.

- :class:`FailureMode`: time to failure and time to repair, counted on operating time
  (only while processing; work resumes after repair) or on calendar time. Breakdowns and
  micro-stops are both failure modes, told apart by their *reason* (ADET either way).
- :class:`SetupMatrix`: sequence-dependent setup times between product families (ASUT).
- :class:`QualityModel`: scrap and rework probabilities per cycle.
- :class:`PlannedDowntime`: breaks, shifts off and planned maintenance (PDOT).
- :class:`MaterialUse`: bulk material drawn from lots per unit (genealogy).

Speed loss is not a separate object: a station's *speed* factor divides its process times,
while its ideal cycle time (PRU in ISO 22400) stays the design value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mestwin.plantmodels.distributions import Sampler
from mestwin.plantmodels.units import LotCounter


@dataclass
class FailureMode:
    """A way a station stops unplanned: *ttf* time to failure, *ttr* time to repair."""

    ttf: Sampler
    ttr: Sampler
    reason: str = "breakdown"
    """Reason code logged with the DOWN state (``breakdown``, ``minor_stop``, ...)."""
    basis: str = "operating"
    """``operating``: ttf counts processing time only; ``calendar``: clock time."""


@dataclass
class SetupMatrix:
    """Setup times when a server changes from one product family to another.

    *times* maps ``(from_family, to_family)`` to a sampler; pairs not listed use *default*
    when the family changes, and no setup is needed when it stays the same. The first unit
    a server ever works on needs no setup unless *initial* is true.
    """

    times: dict[tuple[str, str], Sampler] = field(default_factory=dict)
    default: Sampler | None = None
    initial: bool = False

    def time(self, previous: str | None, family: str) -> Sampler | None:
        """The setup sampler for a change from *previous* to *family*, or ``None``."""
        if previous == family or (previous is None and not self.initial):
            return None
        key = (previous or "", family)
        return self.times.get(key, self.default)


@dataclass
class QualityModel:
    """Outcome of a processing cycle: scrap with one probability, rework with another."""

    scrap: Callable[[], bool]
    rework: Callable[[], bool]


@dataclass(frozen=True)
class PlannedDowntime:
    """A planned stop of *duration* seconds, first at *start*, then every *every* seconds."""

    start: float
    duration: float
    every: float | None = None
    reason: str = "planned"


@dataclass
class MaterialUse:
    """Each unit processed draws *per_unit* of *material* from lots of a given size."""

    material: str
    per_unit: float
    lots: LotCounter
