"""Scoring the MES against ground truth that only the twin knows.

Per machine: ISO 22400 time elements, counts and KPIs (availability, effectiveness,
quality ratio, OEE) from the MES's ledger against the plant's own accounting, computed with
the same formulas (:mod:`mestwin.mes_core.kpi`) so any difference is the MES's data.
Genealogy: for every serial that left the plant, the MES's backward trace set against the
true set from the event log (precision and recall).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from mestwin.mes_core.kpi import Measurements, Quantities, TimeElements, kpis
from mestwin.mes_core.ledger import ProductionLedger, ancestors
from mestwin.plantmodels import EventKind, Plant
from mestwin.plantmodels.results import MachineTruth

KPIS = ("availability", "effectiveness", "quality_ratio", "oee")


def truth_measurements(truth: MachineTruth) -> Measurements:
    """The plant's figures for one machine as ISO 22400 measurements."""
    e = truth.elements
    default = truth.ideal_cycle_time.get("*", 0.0)
    ideal = sum(truth.ideal_cycle_time.get(p, default) * n
                for p, n in truth.produced_by_product.items())
    return Measurements(
        TimeElements.from_states(apt=e["APT"], asut=e["ASUT"], adet=e["ADET"], adot=e["ADOT"],
                                 pdot=e["PDOT"]),
        Quantities(pq=truth.produced, gq=truth.good, sq=truth.scrap, rq=truth.rework,
                   ideal_time=ideal))


@dataclass(frozen=True)
class MachineScore:
    """The MES against the truth on one machine."""

    machine: str
    truth: dict[str, float | None]
    mes: dict[str, float | None]

    @property
    def counts_equal(self) -> bool:
        """PQ, GQ, SQ, RQ equal exactly."""
        return all(self.truth[k] == self.mes[k] for k in ("PQ", "GQ", "SQ", "RQ"))

    def max_element_error_s(self) -> float:
        """Largest absolute difference of a time element, in seconds."""
        return max(abs((self.truth[k] or 0.0) - (self.mes[k] or 0.0))
                   for k in ("APT", "ASUT", "ADET", "ADOT", "PDOT"))

    def max_kpi_error_pp(self) -> float:
        """Largest absolute KPI difference, in percentage points."""
        errors = [abs(t - m) * 100 for k in KPIS
                  if (t := self.truth[k]) is not None and (m := self.mes[k]) is not None]
        return max(errors, default=0.0)


def _figures(m: Measurements) -> dict[str, float | None]:
    report = kpis(m)
    t, q = m.time, m.quantities
    return {"APT": t.apt, "ASUT": t.asut, "ADET": t.adet, "ADOT": t.adot, "PDOT": t.pdot,
            "PQ": q.pq, "GQ": q.gq, "SQ": q.sq, "RQ": q.rq,
            **{k: getattr(report, k) for k in KPIS}}


def score_oee(plant: Plant, ledger: ProductionLedger) -> list[MachineScore]:
    """One :class:`MachineScore` per machine of *plant*."""
    return [MachineScore(name, _figures(truth_measurements(truth)),
                         _figures(ledger.measurements(name)))
            for name, truth in plant.machine_truth().items()]


@dataclass(frozen=True)
class GenealogyScore:
    """Trace sets of every finished serial: the worst precision and recall, and how many."""

    serials: int
    min_precision: float
    min_recall: float
    mismatches: tuple[str, ...]


def true_parents(plant: Plant) -> dict[str, set[str]]:
    """Direct genealogy links from the event log: serial -> its lot and what it consumed."""
    parents: dict[str, set[str]] = defaultdict(set)
    for row in plant.log.rows:
        if row[1] == EventKind.RELEASE and row[4]:
            parents[row[2]].add(row[4])
        elif row[1] == EventKind.CONSUME:
            parents[row[3]].add(row[4])
    return parents


def score_genealogy(plant: Plant, ledger: ProductionLedger) -> GenealogyScore:
    """Precision and recall of the MES's backward trace of every serial that left."""
    parents = true_parents(plant)
    finished = [str(row[2]) for row in plant.log.rows
                if row[1] == EventKind.EXIT and row[3] != "scrap"]
    worst_p = worst_r = 1.0
    bad: list[str] = []
    for serial in finished:
        truth, mes = ancestors(parents, serial), ledger.trace(serial)
        hit = len(truth & mes)
        precision = hit / len(mes) if mes else 1.0
        recall = hit / len(truth) if truth else 1.0
        if precision < 1 or recall < 1:
            bad.append(serial)
        worst_p, worst_r = min(worst_p, precision), min(worst_r, recall)
    return GenealogyScore(len(finished), worst_p, worst_r, tuple(bad[:10]))
