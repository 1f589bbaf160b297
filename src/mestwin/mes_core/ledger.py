"""The MES's live production ledger: time elements, quantities and lineage per work unit.

An in-memory sink for the collector's events (:mod:`.collection.events`), cheap enough to
keep up with a fast simulated run; the store keeps the same events durably. Time elements
are summed from state intervals clipped to a reporting window, and from nothing else;
quantities are the counter deltas inside it; effectiveness uses sum(PRU_i x PQ_i) with the
ideal cycle times the MES is configured with (ISO 22400-2). Collection gaps are recorded,
not applied (:attr:`ProductionLedger.gaps`): a report can say its time is incomplete
rather than look right. Lineage links each serial to the lots and serials it consumed, for
trace sets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mestwin.mes_core.collection.events import (
    CollectionGap,
    Counted,
    Event,
    StateInterval,
    UnitStarted,
)
from mestwin.mes_core.kpi import KpiReport, Measurements, Quantities, TimeElements, kpis

ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")


@dataclass
class WorkUnitLedger:
    """Elements and quantities of one work unit inside the window."""

    elements: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ELEMENTS, 0.0))
    produced: int = 0
    defective: int = 0
    scrap: int = 0
    rework: int = 0
    by_product: dict[str, int] = field(default_factory=dict)

    @property
    def good(self) -> int:
        """GQ = PQ - units not good."""
        return self.produced - self.defective


class ProductionLedger:
    """Sums collector events per work unit over the window [*start*, *end*).

    *ideal_cycle_time* maps (work unit, product) to PRU in seconds; ``(work unit, "*")`` is
    the default for a work unit.
    """

    def __init__(self, start: float = 0.0, end: float = float("inf"),
                 ideal_cycle_time: Mapping[tuple[str, str], float] | None = None) -> None:
        self.start = start
        self.end = end
        self.ideal_cycle_time = dict(ideal_cycle_time or {})
        self.units: dict[str, WorkUnitLedger] = defaultdict(WorkUnitLedger)
        self.parents: dict[str, set[str]] = defaultdict(set)
        """Serial -> the lots and serials it was made from (direct links)."""
        self.gaps: list[CollectionGap] = []
        """Collection gaps the collector reported (its intervals disagree with the PLC)."""

    def __call__(self, events: Iterable[Event]) -> None:
        """Take a list of events (the collector's sink signature)."""
        start, end, parents = self.start, self.end, self.parents
        for event in events:
            # Most frequent first: a unit start and a count per cycle, a state change less.
            if isinstance(event, UnitStarted):
                if not (event.lot or event.consumed):
                    continue  # no lineage: no entry (memory follows links, not units)
                links = parents[event.serial]
                if event.lot:
                    links.add(event.lot)
                for item, _, lot in event.consumed:
                    links.add(item)
                    if lot:
                        parents[item].add(lot)
            elif isinstance(event, Counted):
                if start <= event.time < end:
                    unit = self.units[event.machine]
                    unit.produced += event.produced
                    unit.defective += event.defective
                    unit.scrap += event.scrap
                    unit.rework += event.rework
                    if event.produced:
                        unit.by_product[event.product] = (
                            unit.by_product.get(event.product, 0) + event.produced)
            elif isinstance(event, StateInterval):
                overlap = min(event.end, end) - max(event.start, start)
                if overlap > 0:
                    self.units[event.machine].elements[event.element] += overlap
            elif isinstance(event, CollectionGap):
                self.gaps.append(event)

    def measurements(self, machine: str) -> Measurements:
        """ISO 22400 elements and quantities of *machine* in the window."""
        unit = self.units[machine]
        e = unit.elements
        default = self.ideal_cycle_time.get((machine, "*"), 0.0)
        ideal = sum(self.ideal_cycle_time.get((machine, p), default) * n
                    for p, n in unit.by_product.items())
        return Measurements(
            TimeElements.from_states(apt=e["APT"], asut=e["ASUT"], adet=e["ADET"],
                                     adot=e["ADOT"], pdot=e["PDOT"]),
            Quantities(pq=unit.produced, gq=unit.good, sq=unit.scrap, rq=unit.rework,
                       ideal_time=ideal))

    def kpis(self, machine: str) -> KpiReport:
        """ISO 22400 KPIs of *machine* in the window."""
        return kpis(self.measurements(machine))

    def trace(self, serial: str) -> set[str]:
        """Every lot and serial *serial* was made from, directly or not (backward trace)."""
        return ancestors(self.parents, serial)


def ancestors(parents: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Everything reachable from *start* through *parents* links (*start* excluded)."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen
