"""Genealogy: production and consumption links, splits and merges, traces, where-used, and
holds that propagate to every descendant of the held lot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from mestwin.mes_core.errors import HeldLotError, NotFoundError, StateConflictError
from mestwin.mes_core.genealogy import (
    consume,
    create_lot,
    lot_by_code,
    merge,
    produce,
    remaining,
    split,
    trace_backward,
    trace_forward,
    where_used,
)
from mestwin.mes_core.quality import (
    blocking_holds,
    can_consume,
    held_consumptions,
    place_hold,
    release_hold,
)
from mestwin.mes_core.store import (
    AuditRecord,
    GenealogyLink,
    Item,
    LotDisposition,
    MaterialLot,
    trace,
)

T0 = datetime(2024, 5, 6, 6, tzinfo=UTC)


def codes(nodes: Any) -> set[str]:
    return {n.code for n in nodes}


def bottling(db: Session) -> dict[str, int]:
    """Syrup lots S1 + S2 merged into tank T, T split into T-a and T-b, bottles B1, B2 from
    T-a and B3 from T-b, every bottle capped from cap lot C."""
    syrup, cap, bottle = Item(code="SYRUP"), Item(code="CAP"), Item(code="BOTTLE")
    db.add_all([syrup, cap, bottle])
    db.flush()
    s1 = create_lot(db, code="S1", item_id=syrup.id, quantity=1000)
    s2 = create_lot(db, code="S2", item_id=syrup.id, quantity=1000)
    c = create_lot(db, code="C", item_id=cap.id, quantity=1000)
    t = merge(db, [(s1.id, 300), (s2.id, 200)], code="T", event_id="mix-1", at=T0)
    ta, tb = split(db, t.id, [("T-a", 200), ("T-b", 250)], event_id="split-1", at=T0)
    ids = {"S1": s1.id, "S2": s2.id, "C": c.id, "T": t.id, "T-a": ta.id, "T-b": tb.id,
           "SYRUP": syrup.id, "CAP": cap.id, "BOTTLE": bottle.id}
    for n, src in (("B1", ta), ("B2", ta), ("B3", tb)):
        b = produce(db, code=n, item_id=bottle.id, quantity=1, event_id=f"fill-{n}",
                    consumed=[(src.id, 0.5), (c.id, 1)], at=T0 + timedelta(minutes=1))
        ids[n] = b.id
    db.commit()
    return ids


def test_merge_and_split_link_quantities_and_keep_mass_balance(db: Session) -> None:
    """A merge makes one lot of the parents' total; a split makes sublots of the parent's
    lot; what is left of a lot is its quantity minus what went out, and over-drawing a
    split or merge is refused."""
    ids = bottling(db)
    t = lot_by_code(db, "T")
    assert t.quantity == 500
    links = {(p, c): q for p, c, q in db.execute(
        select(GenealogyLink.parent_id, GenealogyLink.child_id, GenealogyLink.quantity))}
    assert links[(ids["S1"], ids["T"])] == 300
    assert links[(ids["T"], ids["T-b"])] == 250
    assert lot_by_code(db, "T-a").kind == "sublot"
    assert lot_by_code(db, "T-a").lot_id == ids["T"]
    assert remaining(db, ids["T"]) == 50
    assert remaining(db, ids["S2"]) == 800
    assert remaining(db, ids["C"]) == 997
    with pytest.raises(ValueError, match="exceeds"):
        split(db, ids["T"], [("T-c", 60)], event_id="split-2")
    with pytest.raises(ValueError, match="one item"):
        merge(db, [(ids["S1"], 1), (ids["C"], 1)], code="X", event_id="bad")
    with pytest.raises(NotFoundError):
        lot_by_code(db, "nope")


def test_backward_forward_trace_and_where_used(db: Session) -> None:
    """Backward from a bottle reaches its sublot, the tank, both syrup lots and the caps;
    forward from a syrup lot reaches everything made from it; where-used lists the end
    products (or the nodes of a given item)."""
    ids = bottling(db)
    assert codes(trace_backward(db, ids["B3"])) == {"T-b", "T", "S1", "S2", "C"}
    assert codes(trace_forward(db, ids["S1"])) == {"T", "T-a", "T-b", "B1", "B2", "B3"}
    assert codes(trace_forward(db, ids["C"])) == {"B1", "B2", "B3"}
    assert codes(where_used(db, ids["S2"])) == {"B1", "B2", "B3"}
    assert codes(where_used(db, ids["S1"], item_id=ids["SYRUP"])) == {"T", "T-a", "T-b"}
    assert codes(trace_backward(db, ids["S1"])) == set()
    node = next(n for n in trace_backward(db, ids["B1"]) if n.code == "C")
    assert (node.item, node.kind) == ("CAP", "lot")


def test_hold_propagates_to_descendants_and_blocks_consumption(db: Session) -> None:
    """Holding T-a makes T-a, B1 and B2 non-consumable but not B3, T or the caps; consuming
    a descendant raises and writes nothing; the release is audited and lifts the block."""
    ids = bottling(db)
    case = create_lot(db, code="CASE-1", item_id=ids["BOTTLE"], quantity=12)
    place_hold(db, ids["T-a"], who="qa-anna", why="brix out of spec", at=T0 + timedelta(hours=1))
    db.commit()
    assert lot_by_code(db, "T-a").disposition is LotDisposition.RESTRICTED
    blocked = {c for c in ("T-a", "B1", "B2", "B3", "T", "C") if not can_consume(db, ids[c])}
    assert blocked == {"T-a", "B1", "B2"}
    with pytest.raises(HeldLotError) as refused:
        consume(db, parent_id=ids["B1"], child_id=case.id, quantity=1, event_id="pack-1")
    assert refused.value.lot_id == ids["B1"]
    assert [h.material_lot_id for h in blocking_holds(db, ids["B1"])] == [ids["T-a"]]
    with pytest.raises(HeldLotError):
        produce(db, code="B4", item_id=ids["BOTTLE"], quantity=1, event_id="fill-B4",
                consumed=[(ids["C"], 1), (ids["T-a"], 0.5)])
    db.rollback()
    assert db.scalar(select(func.count()).where(MaterialLot.code == "B4")) == 0
    assert trace_forward(db, ids["B1"]) == []
    with pytest.raises(StateConflictError, match="already"):
        place_hold(db, ids["T-a"], who="qa-anna", why="again")
    release_hold(db, ids["T-a"], who="qa-ben", why="retest passed", at=T0 + timedelta(hours=2))
    db.commit()
    assert can_consume(db, ids["B1"])
    with pytest.raises(StateConflictError, match="not on hold"):
        release_hold(db, ids["T-a"], who="qa-ben", why="twice")
    trail = db.scalars(select(AuditRecord).where(AuditRecord.entity_id == "T-a")
                       .order_by(AuditRecord.id)).all()
    assert [(r.field, r.old_value, r.new_value, r.who, r.why) for r in trail] == [
        ("hold", "released", "held", "qa-anna", "brix out of spec"),
        ("disposition", "In-Process", "Restricted", "qa-anna", "brix out of spec"),
        ("hold", "held", "released", "qa-ben", "retest passed"),
        ("disposition", "Restricted", "UnRestricted", "qa-ben", "retest passed"),
    ]


def test_a_hold_on_a_lot_blocks_its_serials_and_flags_held_consumptions(db: Session) -> None:
    """A serial inside a held lot is blocked; a consumption the plant made anyway during a
    hold is recorded (enforce_holds=False) and flagged, one after the release is not."""
    ids = bottling(db)
    serial = create_lot(db, code="SN-1", item_id=ids["CAP"], quantity=1, kind="serial",
                        lot_id=ids["C"])
    hold_at = T0 + timedelta(hours=1)
    place_hold(db, ids["C"], who="qa", why="supplier recall", at=hold_at)
    assert not can_consume(db, serial.id)
    late = consume(db, parent_id=ids["B1"], child_id=ids["B3"], quantity=0, event_id="odd",
                   at=hold_at + timedelta(minutes=5), enforce_holds=False)
    release_hold(db, ids["C"], who="qa", why="recall cancelled", at=hold_at + timedelta(hours=1))
    consume(db, parent_id=ids["B2"], child_id=ids["B3"], quantity=0, event_id="fine",
            at=hold_at + timedelta(hours=2))
    db.commit()
    flagged = held_consumptions(db)
    assert [(f.link_id, f.parent_id) for f in flagged] == [(late.id, ids["B1"])]


def _sqlite_scans(db: Session, statement: str, params: Any) -> list[str]:
    """How SQLite reads genealogy_link: its EXPLAIN QUERY PLAN lines naming the table."""
    plan = db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
    return [str(row[-1]) for row in plan if "genealogy_link" in str(row[-1])]


def _postgresql_scans(db: Session, statement: str, params: Any) -> list[str]:
    """How PostgreSQL reads genealogy_link, as "<node type> <index>" per plan node.

    Sequential and bitmap scans are switched off for the plan: on a tiny table the planner
    prefers a full scan, so this asks whether the indexes *can* serve every read.
    """
    conn = db.connection()
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar_one()
    found: list[str] = []
    nodes = [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", []))
        if node.get("Relation Name") == "genealogy_link":
            found.append(f"{node['Node Type']} {node.get('Index Name', '')}")
    return found


def test_trace_searches_the_genealogy_indexes(db: Session) -> None:
    """The recursive CTE of a trace reads genealogy_link only through its covering indexes
    (no full scan), which keeps a trace fast on a year of links: on SQLite as a covering
    index search, on PostgreSQL as (index-only) scans of the ix_genealogy indexes."""
    ids = bottling(db)
    captured: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if "WITH RECURSIVE" in statement:
            captured.append((statement, params))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", grab)
    try:
        for direction in ("backward", "forward"):
            trace(db, ids["T"], direction)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert len(captured) == 2
    postgresql = engine.dialect.name == "postgresql"
    for statement, params in captured:
        if postgresql:
            uses = _postgresql_scans(db, statement, params)
            assert uses, statement
            assert all(u.split(" ix_")[0] in ("Index Scan", "Index Only Scan")
                       and " ix_genealogy_" in u for u in uses), uses
        else:
            uses = _sqlite_scans(db, statement, params)
            assert uses, statement
            assert all("USING COVERING INDEX ix_genealogy" in d for d in uses), uses
