"""Scoring the MES against ground truth that only the twin knows.

Per machine: ISO 22400 time elements, counts and KPIs (availability, effectiveness,
quality ratio, OEE) from the MES's ledger against the plant's own accounting, computed with
the same formulas (:mod:`mestwin.mes_core.kpi`) so any difference is the MES's data.
Genealogy: for every serial that left the plant, the MES's backward trace set against the
true set from the event log (precision and recall), resolved as the log goes by
:class:`GenealogyTruth` so that the log need not be kept.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mestwin.mes_core.kpi import Measurements, Quantities, TimeElements, kpis
from mestwin.mes_core.ledger import ProductionLedger, ancestors
from mestwin.plantmodels import EventKind, Plant
from mestwin.plantmodels.results import MachineTruth

KPIS = ("availability", "effectiveness", "quality_ratio", "oee")
RELEASE, CONSUME = int(EventKind.RELEASE), int(EventKind.CONSUME)
EXIT, DROP = int(EventKind.EXIT), int(EventKind.DROP)


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


class GenealogyTruth:
    """The true backward trace of every serial that left the plant, built from the event log
    as it goes (a :attr:`~mestwin.plantmodels.EventLog.listeners` entry), so the log need
    not be kept: direct links (a unit's lot, what it consumed) are held only while the unit
    is in the plant; when it leaves for a sink its whole ancestry is resolved and its links
    dropped (a component is consumed once), when it is scrapped or lost they are dropped.

    A finished serial waits in :attr:`finished` until it is scored against the MES's trace:
    by :meth:`settle` during the run once the MES has seen everything up to its exit (the
    in-process loop does this, so nothing grows with the horizon), else at the end by
    :meth:`score`."""

    def __init__(self) -> None:
        self.parents: dict[str, set[str]] = {}
        """serial -> its lot and what it consumed, for the units still in the plant."""
        self.finished: deque[tuple[float, str, frozenset[str]]] = deque()
        """(exit time, serial, its true ancestors) of the serials that left for a sink and
        are not scored yet, in order."""
        self._serials = 0
        self._worst = [1.0, 1.0]
        self._bad: list[str] = []

    @classmethod
    def of_rows(cls, rows: Iterable[tuple[Any, ...]]) -> GenealogyTruth:
        """The truth of a whole log's *rows*."""
        truth = cls()
        truth.feed(rows)
        return truth

    def feed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Take the next *rows* of the log, in order."""
        parents = self.parents
        for row in rows:
            kind = row[1]
            if kind == RELEASE:
                if row[4]:
                    parents.setdefault(row[2], set()).add(row[4])
            elif kind == CONSUME:
                parents.setdefault(row[3], set()).add(row[4])
            elif kind == EXIT:
                serial = row[2]
                if row[3] != "scrap":
                    self.finished.append((row[0], serial,
                                          frozenset(ancestors(parents, serial))))
                self._forget(serial)
            elif kind == DROP:
                self._forget(row[2])

    def _forget(self, serial: str) -> None:
        stack = [serial]
        while stack:
            stack.extend(self.parents.pop(stack.pop(), ()))

    def settle(self, trace: Callable[[str], set[str]], until: float) -> None:
        """Score the finished serials that left before *until* against *trace* (the MES's
        backward trace, complete for everything that happened before *until*) and forget
        them."""
        finished, worst = self.finished, self._worst
        while finished and finished[0][0] < until:
            _, serial, true_set = finished.popleft()
            mes = trace(serial)
            hit = len(true_set & mes)
            precision = hit / len(mes) if mes else 1.0
            recall = hit / len(true_set) if true_set else 1.0
            if (precision < 1 or recall < 1) and len(self._bad) < 10:
                self._bad.append(serial)
            worst[0], worst[1] = min(worst[0], precision), min(worst[1], recall)
            self._serials += 1

    def score(self, trace: Callable[[str], set[str]]) -> GenealogyScore:
        """Score what is left against *trace*, and return the score of every serial."""
        self.settle(trace, math.inf)
        return GenealogyScore(self._serials, self._worst[0], self._worst[1],
                              tuple(self._bad))


def score_genealogy(truth: Plant | GenealogyTruth,
                    ledger: ProductionLedger) -> GenealogyScore:
    """Precision and recall of the MES's backward trace of every serial that left: *truth*
    is a :class:`GenealogyTruth` fed by the log, or a plant whose log keeps every row."""
    if isinstance(truth, Plant):
        if not truth.log.keeps_rows:
            raise ValueError("the plant's event log keeps no rows: score the GenealogyTruth "
                             "that listened to it (ClosedLoop.genealogy, WireRun.genealogy)")
        truth = GenealogyTruth.of_rows(truth.log.rows)
    return truth.score(ledger.trace)
