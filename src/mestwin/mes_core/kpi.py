"""Manufacturing KPIs from time and quantity elements, after ISO 22400-2.

ISO 22400-2 defines every KPI of a work unit from a small set of *time elements*
(:class:`TimeElements`) and *quantity elements* (:class:`Quantities`). Roll-ups over work
units, lines or shifts add the elements first and compute the KPI once
(sum APT / sum PBT); averaging percentages is wrong whenever the bases differ, so this
module offers no way to do it.

Undefined ratios: every KPI whose denominator is zero returns ``None`` (not NaN and not an
exception). ``None`` survives JSON and SQL as null and cannot be mistaken for a number in
arithmetic, which is the point: "no planned busy time" is not "0 % availability".

Time-accounting invariant (ISO 22400-2 time model as used by mestwin)::

    PBT  = POT  - PDOT
    PBT  = AUBT + ADOT
    AUBT = AUPT + ADET
    AUPT = APT  + ASUT
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

__all__ = [
    "KpiReport",
    "Measurements",
    "Quantities",
    "TimeElements",
    "allocation_efficiency",
    "availability",
    "check_time_elements",
    "effectiveness",
    "first_pass_yield",
    "kpis",
    "nee",
    "oee",
    "quality_ratio",
    "ratio",
    "rework_ratio",
    "roll_up",
    "scrap_ratio",
    "setup_rate",
    "technical_efficiency",
    "teep",
    "throughput_rate",
    "utilization_efficiency",
]


def ratio(numerator: float, denominator: float) -> float | None:
    """Return ``numerator / denominator``, or ``None`` when *denominator* is zero."""
    if denominator == 0:
        return None
    return numerator / denominator


def _product(*factors: float | None) -> float | None:
    result = 1.0
    for factor in factors:
        if factor is None:
            return None
        result *= factor
    return result


@dataclass(frozen=True)
class TimeElements:
    """ISO 22400-2 time elements of one work unit over one period, in seconds.

    Adding two instances adds every element, which is how roll-ups over work units, lines
    and shifts are built (see :func:`roll_up`).
    """

    pot: float = 0.0
    """Planned operation time: the scheduled time the work unit can be used."""
    pdot: float = 0.0
    """Planned down time: planned maintenance, breaks with no production."""
    pbt: float = 0.0
    """Planned busy time, ``POT - PDOT``."""
    aubt: float = 0.0
    """Actual unit busy time: the unit is used to execute an order."""
    adot: float = 0.0
    """Actual unit down time: not running orders although available."""
    adet: float = 0.0
    """Actual unit delay time: breakdowns, minor stops and other delays during an order."""
    aupt: float = 0.0
    """Actual unit processing time, ``APT + ASUT``."""
    asut: float = 0.0
    """Actual setup time."""
    apt: float = 0.0
    """Actual production time: value-adding time only."""

    def __add__(self, other: TimeElements) -> TimeElements:
        if not isinstance(other, TimeElements):
            return NotImplemented
        return TimeElements(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @classmethod
    def from_states(
        cls, *, apt: float, asut: float, adet: float, adot: float, pdot: float
    ) -> TimeElements:
        """Build consistent elements from the durations booked to the five leaf states.

        The composite elements follow from the invariant: ``AUPT = APT + ASUT``,
        ``AUBT = AUPT + ADET``, ``PBT = AUBT + ADOT``, ``POT = PBT + PDOT``.
        """
        aupt = apt + asut
        aubt = aupt + adet
        pbt = aubt + adot
        return cls(
            pot=pbt + pdot, pdot=pdot, pbt=pbt, aubt=aubt, adot=adot, adet=adet,
            aupt=aupt, asut=asut, apt=apt,
        )


@dataclass(frozen=True)
class Quantities:
    """ISO 22400-2 quantity elements of one work unit over one period.

    *pq*, *gq*, *sq* and *rq* are the produced, good, scrap and rework quantities. *pru* is
    the planned run time per unit (ideal cycle time, seconds) when one product was made.
    *ideal_time* is ``sum(PRU_i x PQ_i)`` over the products made; it is derived from *pru*
    when omitted, and it is what effectiveness uses, so a mix of products with different
    ideal cycle times is handled exactly. After adding quantities of products with
    different *pru* the sum's *pru* is ``None`` while *ideal_time* stays exact.
    """

    pq: float = 0.0
    gq: float = 0.0
    sq: float = 0.0
    rq: float = 0.0
    pru: float | None = None
    ideal_time: float | None = None

    def __post_init__(self) -> None:
        if self.ideal_time is None:
            if self.pru is not None:
                object.__setattr__(self, "ideal_time", self.pru * self.pq)
            elif self.pq == 0:
                object.__setattr__(self, "ideal_time", 0.0)

    def __add__(self, other: Quantities) -> Quantities:
        if not isinstance(other, Quantities):
            return NotImplemented
        if self.pq == 0 and self.ideal_time == 0:
            pru = other.pru
        elif other.pq == 0 and other.ideal_time == 0:
            pru = self.pru
        else:
            pru = self.pru if self.pru == other.pru else None
        ideal = (
            None
            if self.ideal_time is None or other.ideal_time is None
            else self.ideal_time + other.ideal_time
        )
        return Quantities(
            pq=self.pq + other.pq, gq=self.gq + other.gq, sq=self.sq + other.sq,
            rq=self.rq + other.rq, pru=pru, ideal_time=ideal,
        )


@dataclass(frozen=True)
class Measurements:
    """The time and quantity elements of one work unit (or a roll-up) over one period."""

    time: TimeElements = TimeElements()
    quantities: Quantities = Quantities()

    def __add__(self, other: Measurements) -> Measurements:
        if not isinstance(other, Measurements):
            return NotImplemented
        return Measurements(self.time + other.time, self.quantities + other.quantities)


def roll_up(parts: Iterable[Measurements]) -> Measurements:
    """Add the elements of work units, lines or shifts (ISO 22400-2: sum, never average)."""
    total = Measurements()
    for part in parts:
        total = total + part
    return total


def check_time_elements(te: TimeElements, tol: float = 1e-6) -> list[str]:
    """Return the violated identities of the ISO 22400-2 time model (empty when consistent).

    Checked: ``PBT = POT - PDOT``, ``PBT = AUBT + ADOT``, ``AUBT = AUPT + ADET``,
    ``AUPT = APT + ASUT`` and that no element is negative; *tol* is the absolute tolerance
    in seconds for floating-point sums.
    """
    problems = [
        f"{f.name.upper()} = {getattr(te, f.name)} is negative"
        for f in fields(te)
        if getattr(te, f.name) < -tol
    ]
    identities = (
        ("PBT = POT - PDOT", te.pbt, te.pot - te.pdot),
        ("PBT = AUBT + ADOT", te.pbt, te.aubt + te.adot),
        ("AUBT = AUPT + ADET", te.aubt, te.aupt + te.adet),
        ("AUPT = APT + ASUT", te.aupt, te.apt + te.asut),
    )
    for name, left, right in identities:
        if abs(left - right) > tol:
            problems.append(f"{name} violated: {left} != {right}")
    return problems


def availability(te: TimeElements) -> float | None:
    """Availability = APT / PBT (ISO 22400-2)."""
    return ratio(te.apt, te.pbt)


def effectiveness(te: TimeElements, q: Quantities) -> float | None:
    """Effectiveness = PRU x PQ / APT (ISO 22400-2), with ``sum(PRU_i x PQ_i)`` for a mix."""
    if q.ideal_time is None:
        return None
    return ratio(q.ideal_time, te.apt)


def quality_ratio(q: Quantities) -> float | None:
    """Quality ratio = GQ / PQ (ISO 22400-2)."""
    return ratio(q.gq, q.pq)


def oee(te: TimeElements, q: Quantities) -> float | None:
    """OEE index = availability x effectiveness x quality ratio (ISO 22400-2).

    For a single product this equals ``PRU x GQ / PBT``; setup time counts as a loss.
    """
    return _product(availability(te), effectiveness(te, q), quality_ratio(q))


def nee(te: TimeElements, q: Quantities) -> float | None:
    """Net equipment effectiveness = AUPT / PBT x effectiveness x quality ratio (ISO 22400-2).

    Unlike OEE, setup time is not counted as a loss.
    """
    return _product(ratio(te.aupt, te.pbt), effectiveness(te, q), quality_ratio(q))


def technical_efficiency(te: TimeElements) -> float | None:
    """Technical efficiency = APT / (APT + ADET) (ISO 22400-2)."""
    return ratio(te.apt, te.apt + te.adet)


def setup_rate(te: TimeElements) -> float | None:
    """Setup rate = ASUT / AUPT (ISO 22400-2)."""
    return ratio(te.asut, te.aupt)


def allocation_efficiency(te: TimeElements) -> float | None:
    """Allocation efficiency = AUBT / PBT (ISO 22400-2)."""
    return ratio(te.aubt, te.pbt)


def utilization_efficiency(te: TimeElements) -> float | None:
    """Utilization efficiency = APT / AUBT (ISO 22400-2)."""
    return ratio(te.apt, te.aubt)


def throughput_rate(q: Quantities, aoet: float) -> float | None:
    """Throughput rate = PQ / AOET (ISO 22400-2), AOET the actual order execution time."""
    return ratio(q.pq, aoet)


def scrap_ratio(q: Quantities) -> float | None:
    """Scrap ratio = SQ / PQ (ISO 22400-2)."""
    return ratio(q.sq, q.pq)


def rework_ratio(q: Quantities) -> float | None:
    """Rework ratio = RQ / PQ (ISO 22400-2)."""
    return ratio(q.rq, q.pq)


def first_pass_yield(good_first_time: float, inspected: float) -> float | None:
    """First pass yield = parts good the first time / inspected parts (ISO 22400-2)."""
    return ratio(good_first_time, inspected)


def teep(te: TimeElements, q: Quantities, calendar_time: float) -> float | None:
    """Total effective equipment performance = OEE x PBT / calendar time."""
    return _product(oee(te, q), ratio(te.pbt, calendar_time))


@dataclass(frozen=True)
class KpiReport:
    """All work-unit KPIs of one :class:`Measurements`; ``None`` marks an undefined ratio."""

    availability: float | None
    effectiveness: float | None
    quality_ratio: float | None
    oee: float | None
    nee: float | None
    technical_efficiency: float | None
    setup_rate: float | None
    allocation_efficiency: float | None
    utilization_efficiency: float | None
    scrap_ratio: float | None
    rework_ratio: float | None
    teep: float | None
    throughput_rate: float | None


def kpis(
    m: Measurements, *, calendar_time: float | None = None, aoet: float | None = None
) -> KpiReport:
    """Compute every KPI of *m*; TEEP needs *calendar_time*, throughput rate *aoet*."""
    te, q = m.time, m.quantities
    return KpiReport(
        availability=availability(te),
        effectiveness=effectiveness(te, q),
        quality_ratio=quality_ratio(q),
        oee=oee(te, q),
        nee=nee(te, q),
        technical_efficiency=technical_efficiency(te),
        setup_rate=setup_rate(te),
        allocation_efficiency=allocation_efficiency(te),
        utilization_efficiency=utilization_efficiency(te),
        scrap_ratio=scrap_ratio(q),
        rework_ratio=rework_ratio(q),
        teep=None if calendar_time is None else teep(te, q, calendar_time),
        throughput_rate=None if aoet is None else throughput_rate(q, aoet),
    )
