"""Genealogy trace speed on one simulated year of a bottling line (no baseline: absolute ms).

The line fills ~3,000 bottles/h, 24 to a case and 60 cases to a pallet; cases and pallets are
serialised (SSCC). Per year: 8,760 hourly bottle lots, each consuming the current syrup
batch, preform, cap, label and CO2 lots (one more link when a supply lot runs out inside the
hour); 1,095 syrup batches (one per shift) merging a sugar lot and a water lot; ~1.1 M case
serials and ~18 k pallets (each pallet links its 60 cases). About 1.1 M lots and 2.2 M links
in a SQLite file. Trace queries go through :func:`mestwin.mes_core.store.trace` (one
recursive CTE over the covering genealogy indexes); each kind is timed over many random
starts and reported as p50/p99 in milliseconds with the mean result size. One more series
times :func:`mestwin.mes_core.genealogy.trace_backward`, which also loads every node (code,
kind, item), as the API answers.

``MESTWIN_TRACE_HOURS`` shortens the simulated horizon (default 8,760 h) for a quick look.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from mestwin.mes_core.genealogy import trace_backward
from mestwin.mes_core.store import (
    GenealogyLink,
    Item,
    MaterialLot,
    create_all,
    insert_batches,
    make_engine,
    session_factory,
    trace,
)

HOURS = int(os.environ.get("MESTWIN_TRACE_HOURS", "8760"))
BOTTLES_PER_HOUR = 3_000
CASE, PALLET = 24, 60
SUPPLY_LOT = {"preform": 50_000, "cap": 50_000, "label": 20_000, "co2": 150_000}
SHIFT_HOURS = 8


class Ids:
    """Sequential ids for lots, so rows can be inserted in bulk without reading back."""

    def __init__(self) -> None:
        self.next = 0
        self.lots: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.lot_count = self.link_count = 0

    def flush(self, session: Session, at_least: int = 0) -> None:
        """Insert the buffered lots, then the links (foreign keys are enforced)."""
        if len(self.lots) + len(self.links) < at_least:
            return
        if self.lots:
            session.execute(insert(cast(Table, MaterialLot.__table__)), self.lots)
        insert_batches(session, GenealogyLink, self.links, batch_size=20_000)
        self.lot_count += len(self.lots)
        self.link_count += len(self.links)
        self.lots, self.links = [], []

    def lot(self, code: str, item: int, qty: float, kind: str = "lot",
            lot_id: int | None = None) -> int:
        self.next += 1
        self.lots.append({"id": self.next, "kind": kind, "code": code, "item_id": item,
                          "quantity": qty, "status": "", "disposition": "In-Process",
                          "lot_id": lot_id})
        return self.next


def year_of_genealogy(session: Session) -> dict[str, list[int]]:
    """Write the simulated year; return the ids of each kind of node for sampling starts."""
    items = {name: Item(code=name.upper()) for name in
             ("sugar", "water", "syrup", "preform", "cap", "label", "co2", "bottle", "case",
              "pallet")}
    session.add_all(items.values())
    session.flush()
    it = {k: v.id for k, v in items.items()}
    ids = Ids()
    links = ids.links
    kinds: dict[str, list[int]] = {k: [] for k in
                                   ("sugar", "cap", "hour", "case", "pallet", "syrup")}
    supply = {k: ids.lot(f"{k}-0", it[k], n) for k, n in SUPPLY_LOT.items()}
    kinds["cap"].append(supply["cap"])
    used = dict.fromkeys(SUPPLY_LOT, 0)
    sugar = water = syrup = 0
    case_buffer: list[int] = []
    cases = pallets = 0
    for hour in range(HOURS):
        ids.flush(session, at_least=50_000)
        links = ids.links
        if hour % (7 * 24) == 0:
            sugar = ids.lot(f"sugar-{hour}", it["sugar"], 20_000)
            kinds["sugar"].append(sugar)
        if hour % 24 == 0:
            water = ids.lot(f"water-{hour}", it["water"], 100_000)
        if hour % SHIFT_HOURS == 0:
            syrup = ids.lot(f"syrup-{hour}", it["syrup"], 8_000)
            kinds["syrup"].append(syrup)
            links += [{"parent_id": sugar, "child_id": syrup, "quantity": 1_000.0,
                       "event_id": f"mix-{hour}"},
                      {"parent_id": water, "child_id": syrup, "quantity": 7_000.0,
                       "event_id": f"mix-{hour}"}]
        lot = ids.lot(f"bottles-{hour}", it["bottle"], BOTTLES_PER_HOUR)
        kinds["hour"].append(lot)
        links.append({"parent_id": syrup, "child_id": lot, "quantity": 1_000.0,
                      "event_id": f"fill-{hour}"})
        for name, size in SUPPLY_LOT.items():
            need = BOTTLES_PER_HOUR
            while need:
                take = min(need, size - used[name])
                links.append({"parent_id": supply[name], "child_id": lot, "quantity": take,
                              "event_id": f"fill-{hour}"})
                need -= take
                used[name] += take
                if used[name] == size:
                    supply[name] = ids.lot(f"{name}-{hour}-{ids.next}", it[name], size)
                    used[name] = 0
                    if name == "cap":
                        kinds["cap"].append(supply[name])
        for _ in range(BOTTLES_PER_HOUR // CASE):
            cases += 1
            case = ids.lot(f"case-{cases:08d}", it["case"], 1, "serial", lot)
            kinds["case"].append(case)
            links.append({"parent_id": lot, "child_id": case, "quantity": float(CASE),
                          "event_id": f"pack-{cases}"})
            case_buffer.append(case)
            if len(case_buffer) == PALLET:
                pallets += 1
                pallet = ids.lot(f"pallet-{pallets:07d}", it["pallet"], 1, "serial", lot)
                kinds["pallet"].append(pallet)
                links += [{"parent_id": c, "child_id": pallet, "quantity": 1.0,
                           "event_id": f"palletise-{pallets}"} for c in case_buffer]
                case_buffer = []
    ids.flush(session)
    session.commit()
    kinds["_links"] = [ids.link_count]
    kinds["_lots"] = [ids.lot_count]
    return kinds


def timed(queries: Iterator[Callable[[], int]]) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for query in queries:
        t0 = time.perf_counter()
        sizes.append(query())
        times.append((time.perf_counter() - t0) * 1000)
    return times, sizes


def ids_only(session: Session, lot: int, direction: Any) -> int:
    """Size of a trace through the store's recursive CTE (node ids only)."""
    return len(trace(session, lot, direction))


def nodes_back(session: Session, lot: int) -> int:
    """Size of a backward trace that also loads every node, as the API does."""
    return len(trace_backward(session, lot))


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_trace_on_a_year_of_bottling(tmp_path: Path, record_ratio: Any) -> None:
    """Backward traces from cases and pallets and forward traces (recalls) from cap and sugar
    lots on a year of genealogy: p50/p99 query time in ms."""
    engine = make_engine(f"sqlite:///{tmp_path / 'year.db'}")
    create_all(engine)
    with session_factory(engine)() as session:
        t0 = time.perf_counter()
        kinds = year_of_genealogy(session)
        build_s = time.perf_counter() - t0
        rng = random.Random(22400)
        plan = {
            "backward_case": ("case", "backward", 500),
            "backward_pallet": ("pallet", "backward", 300),
            "forward_cap_lot": ("cap", "forward", 100),
            "forward_sugar_lot": ("sugar", "forward", 20),
        }
        for name, (kind, direction, n) in plan.items():
            starts = [rng.choice(kinds[kind]) for _ in range(n)]

            if name == "backward_pallet":
                times, sizes = timed(partial(nodes_back, session, lot) for lot in starts)
                record_ratio("mes_trace_backward_pallet_with_nodes",
                             p50_ms=statistics.median(times), p99_ms=p(times, 0.99),
                             mean_nodes=statistics.fmean(sizes), queries=float(n))

            times, sizes = timed(partial(ids_only, session, lot, direction) for lot in starts)
            assert min(sizes) > 0
            record_ratio(f"mes_trace_{name}", p50_ms=statistics.median(times),
                         p99_ms=p(times, 0.99), max_ms=max(times),
                         mean_nodes=statistics.fmean(sizes), queries=float(n),
                         links=float(kinds["_links"][0]), lots=float(kinds["_lots"][0]),
                         build_s=build_s, hours=float(HOURS))
    engine.dispose()
