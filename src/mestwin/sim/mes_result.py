"""Our own MES's figures in the result format any MES can write (``loop --result FILE``).

The ledger gives the elements, counts, PRU x PQ and backward trace; :class:`DowntimeByReason`
is one more collector sink that sums the MES's state intervals per stop-reason code over
the window. Written as a :class:`~mestwin.sim.score.MesResult` so ``mestwin score`` can set
it against the truth of the same run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mestwin.mes_core.collection.events import Event, StateInterval
from mestwin.mes_core.ledger import ProductionLedger
from mestwin.sim.score import RESULT_FORMAT, RESULT_VERSION, MesResult


class DowntimeByReason:
    """A collector sink: seconds of every state but processing, per reason code, in the
    window [*start*, *end*) (*codes*: the MES's reason name -> code)."""

    def __init__(self, codes: dict[str, int], start: float, end: float) -> None:
        self.codes, self.start, self.end = codes, start, end
        self.seconds: dict[str, dict[int, float]] = {}

    def __call__(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, StateInterval) and event.element != "APT":
                overlap = min(event.end, self.end) - max(event.start, self.start)
                if overlap > 0:
                    by = self.seconds.setdefault(event.machine, {})
                    code = self.codes.get(event.reason, 99)
                    by[code] = by.get(code, 0.0) + overlap


def mes_result(machines: Iterable[str], ledger: ProductionLedger,
               downtime: DowntimeByReason) -> MesResult:
    """The MES's result for *machines* over the ledger's window, with the trace of every
    serial it has links for."""
    out: dict[str, Any] = {}
    for name in machines:
        m = ledger.measurements(name)
        t, q = m.time, m.quantities
        out[name] = {
            "elements": {"APT": t.apt, "ASUT": t.asut, "ADET": t.adet, "ADOT": t.adot,
                         "PDOT": t.pdot},
            "counts": {"PQ": q.pq, "GQ": q.gq, "SQ": q.sq, "RQ": q.rq},
            "ideal_time_s": q.ideal_time,
            "downtime_by_reason": {str(k): v for k, v in
                                   sorted(downtime.seconds.get(name, {}).items())}}
    trace = {serial: sorted(ledger.trace(serial)) for serial in ledger.parents}
    return MesResult.model_validate({"format": RESULT_FORMAT, "version": RESULT_VERSION,
                                     "machines": out, "window_s": [ledger.start, ledger.end],
                                     "trace": trace})
