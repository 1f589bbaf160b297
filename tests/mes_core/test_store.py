"""The MES store on a real database (a SQLite file, and PostgreSQL when MESTWIN_PG_URL is
set): pragmas, constraints, value checks, time zones, audit trail, genealogy."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from mestwin.mes_core.audit import utc
from mestwin.mes_core.errors import NotFoundError
from mestwin.mes_core.store import (
    AuditRecord,
    AuditTrailError,
    BomLine,
    Equipment,
    EquipmentLevel,
    EquipmentStateEvent,
    GenealogyLink,
    Item,
    MaterialLot,
    MaterialSublot,
    OrderOperation,
    OrderState,
    ProductionCount,
    ProductionOrder,
    Routing,
    RoutingOperation,
    SerialNumber,
    StoreValueError,
    by_code,
    by_id,
    create_all,
    insert_batches,
    make_engine,
    session_factory,
    trace,
)

T0 = datetime(2024, 5, 6, 6, 0, tzinfo=UTC)


@pytest.fixture
def session(store_engine: Engine) -> Iterator[Session]:
    """A session on a fresh store of each back end (see tests/mes_core/conftest.py)."""
    with session_factory(store_engine)() as s:
        yield s


def test_sqlite_file_runs_in_wal_with_normal_sync_and_foreign_keys(tmp_path: Path) -> None:
    """Every connection gets journal_mode=WAL, synchronous=NORMAL (1), foreign_keys=ON."""
    engine = make_engine(f"sqlite:///{tmp_path / 'mes.db'}")
    create_all(engine)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_lookups_find_rows_by_id_and_code_and_name_what_is_missing(session: Session) -> None:
    """by_id and by_code return the row; a missing one raises NotFoundError (404 in the API)
    with what was asked for and the reference given."""
    item = Item(code="cap", name="Cap", uom="ea")
    session.add(item)
    session.flush()
    assert by_id(session, Item, item.id, "item") is item
    assert by_code(session, Item, "cap", "item") is item
    with pytest.raises(NotFoundError, match=r"^item 999 does not exist$"):
        by_id(session, Item, 999, "item")
    with pytest.raises(NotFoundError, match=r"^work centre 'WC9' does not exist$"):
        by_code(session, Equipment, "WC9", "work centre")


def test_foreign_keys_are_enforced(session: Session) -> None:
    """A genealogy link to a lot that does not exist is refused by the database."""
    session.add(GenealogyLink(parent_id=998, child_id=999, quantity=1, event_id="e"))
    with pytest.raises(IntegrityError):
        session.commit()


def plant(session: Session) -> dict[str, Equipment]:
    site = Equipment(code="S1", level=EquipmentLevel.SITE)
    area = Equipment(code="A1", level=EquipmentLevel.AREA, parent=site)
    line = Equipment(code="L1", level=EquipmentLevel.LINE, parent=area)
    wc = Equipment(code="WC1", level=EquipmentLevel.WORK_CENTRE, parent=line)
    wu = Equipment(code="WU1", level="work_unit", parent=wc)
    session.add(site)
    session.commit()
    return {"site": site, "line": line, "wc": wc, "wu": wu}


def test_equipment_hierarchy_round_trip_and_level_order(session: Session) -> None:
    """Site > area > line > work centre > work unit; a parent must sit at a higher level."""
    eq = plant(session)
    session.expunge_all()
    wu = session.scalars(select(Equipment).where(Equipment.code == "WU1")).one()
    chain = []
    node: Equipment | None = wu
    while node is not None:
        chain.append(node.level)
        node = node.parent
    assert chain == list(reversed(EquipmentLevel))
    with pytest.raises(ValueError, match="cannot be a child"):
        Equipment(code="bad", level=EquipmentLevel.LINE, parent=session.get(Equipment, eq["wu"].id))


def test_master_data_and_orders_round_trip(session: Session) -> None:
    """Items, BOM, routing and an order with operations persist and load back in order."""
    eq = plant(session)
    bike, frame = Item(code="BIKE"), Item(code="FRAME")
    session.add_all([bike, frame])
    session.flush()
    session.add(BomLine(item_id=bike.id, component_id=frame.id, quantity=1))
    routing = Routing(code="R-BIKE", item_id=bike.id)
    routing.operations = [
        RoutingOperation(sequence=20, work_centre_id=eq["wc"].id, cycle_time=45.0),
        RoutingOperation(sequence=10, work_centre_id=eq["wc"].id, cycle_time=30.0, family="F"),
    ]
    session.add(routing)
    session.flush()
    order = ProductionOrder(code="PO-1", item_id=bike.id, routing_id=routing.id, quantity=5,
                            due_date=T0 + timedelta(days=1))
    order.operations = [
        OrderOperation(sequence=s, work_centre_id=eq["wc"].id) for s in (20, 10)
    ]
    session.add(order)
    session.commit()
    session.expunge_all()
    loaded = session.scalars(select(ProductionOrder)).one()
    assert loaded.state is OrderState.PLANNED
    assert [o.sequence for o in loaded.operations] == [10, 20]
    assert [o.state.value for o in loaded.operations] == ["waiting", "waiting"]
    assert loaded.routing_id is not None
    r = session.scalars(select(Routing)).one()
    assert [(o.sequence, o.cycle_time) for o in r.operations] == [(10, 30.0), (20, 45.0)]
    session.add(BomLine(item_id=bike.id, component_id=bike.id, quantity=1))
    with pytest.raises(IntegrityError):
        session.commit()


def audit(session: Session, new: str, corrects: int | None = None) -> AuditRecord:
    rec = AuditRecord(entity="production_order", entity_id="PO-1", field="quantity",
                      old_value="5", new_value=new, who="alice", why="typo",
                      corrects_id=corrects)
    session.add(rec)
    session.commit()
    return rec


def test_audit_trail_is_append_only_in_the_orm(session: Session) -> None:
    """Changing or deleting an audit record through the ORM raises AuditTrailError."""
    rec = audit(session, "6")
    rec.new_value = "7"
    with pytest.raises(AuditTrailError):
        session.commit()
    session.rollback()
    session.delete(rec)
    with pytest.raises(AuditTrailError):
        session.commit()
    session.rollback()
    assert session.scalars(select(AuditRecord.new_value)).all() == ["6"]


def test_audit_trail_is_append_only_in_the_database(session: Session) -> None:
    """Bulk UPDATE and raw DELETE bypass the ORM but are stopped by the database's triggers
    (and on PostgreSQL, which has it, so is TRUNCATE)."""
    audit(session, "6")
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(update(AuditRecord).values(why="rewritten"))
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM audit_record"))
    session.rollback()
    if session.get_bind().dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("TRUNCATE audit_record"))
        session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == 1
    assert session.scalars(select(AuditRecord.why)).all() == ["typo"]


def test_corrections_are_new_records(session: Session) -> None:
    """A correction is a second record pointing at the first; both stay readable in order."""
    first = audit(session, "60")
    audit(session, "6", corrects=first.id)
    rows = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
    assert [(r.new_value, r.corrects_id) for r in rows] == [("60", None), ("6", first.id)]
    assert all(r.at is not None and r.who == "alice" for r in rows)


def test_genealogy_backward_and_forward_trace(session: Session) -> None:
    """Raw lots R1..R3 -> sublots I1 (R1, R2), I2 (R3) -> serials S1 (I1), S2 (I1 + I2, a
    diamond back to nothing shared), S3 (I2); R2 also feeds S3 directly. Traces return exactly
    the reachable set, without the start node."""
    item = Item(code="X")
    session.add(item)
    session.flush()
    lots = {c: MaterialLot(code=c, item_id=item.id, quantity=100) for c in ("R1", "R2", "R3")}
    session.add_all(lots.values())
    session.flush()
    nodes: dict[str, MaterialLot] = dict(lots)
    nodes["I1"] = MaterialSublot(code="I1", item_id=item.id, quantity=10, lot_id=lots["R1"].id)
    nodes["I2"] = MaterialSublot(code="I2", item_id=item.id, quantity=10, lot_id=lots["R3"].id)
    for c in ("S1", "S2", "S3"):
        nodes[c] = SerialNumber(code=c, item_id=item.id, lot_id=lots["R1"].id)
    session.add_all(nodes.values())
    session.flush()
    edges = [("R1", "I1"), ("R2", "I1"), ("R3", "I2"), ("I1", "S1"), ("I1", "S2"),
             ("I2", "S2"), ("I2", "S3"), ("R2", "S3")]
    insert_batches(session, GenealogyLink, [
        {"parent_id": nodes[p].id, "child_id": nodes[c].id, "quantity": 1.0,
         "event_id": f"ev-{p}-{c}"} for p, c in edges
    ], batch_size=3)
    session.commit()
    ids = {n.id: code for code, n in nodes.items()}

    def back(code: str) -> set[str]:
        return {ids[i] for i in trace(session, nodes[code].id, "backward")}

    def fwd(code: str) -> set[str]:
        return {ids[i] for i in trace(session, nodes[code].id, "forward")}

    assert back("S2") == {"I1", "I2", "R1", "R2", "R3"}
    assert back("S1") == {"I1", "R1", "R2"}
    assert back("S3") == {"I2", "R3", "R2"}
    assert back("R1") == set()
    assert fwd("R2") == {"I1", "S1", "S2", "S3"}
    assert fwd("R3") == {"I2", "S2", "S3"}
    assert fwd("S1") == set()
    with pytest.raises(ValueError, match="direction"):
        trace(session, 1, "sideways")  # type: ignore[arg-type]


def test_lot_kinds_load_polymorphically_and_serials_have_quantity_one(session: Session) -> None:
    """Serials and sublots come back as their own classes; a serial of quantity 2 is refused."""
    item = Item(code="Y")
    session.add(item)
    session.flush()
    lot = MaterialLot(code="L", item_id=item.id, quantity=3)
    session.add(lot)
    session.flush()
    session.add_all([SerialNumber(code="SN1", item_id=item.id, lot_id=lot.id),
                     MaterialSublot(code="SL1", item_id=item.id, quantity=2, lot_id=lot.id)])
    session.commit()
    session.expunge_all()
    kinds = {m.code: type(m) for m in session.scalars(select(MaterialLot))}
    assert kinds == {"L": MaterialLot, "SN1": SerialNumber, "SL1": MaterialSublot}
    session.add(SerialNumber(code="SN2", item_id=item.id, lot_id=lot.id, quantity=2))
    with pytest.raises(IntegrityError):
        session.commit()


def test_insert_batches_writes_every_row(session: Session) -> None:
    """2,500 state events in batches of 1,000 are all stored; the count is returned."""
    wu = plant(session)["wu"]
    rows = ({"work_unit_id": wu.id, "start": T0 + timedelta(seconds=i),
             "end": T0 + timedelta(seconds=i + 1), "state": "Execute", "reason": ""}
            for i in range(2500))
    assert insert_batches(session, EquipmentStateEvent, rows) == 2500
    session.commit()
    assert session.scalar(select(func.count()).select_from(EquipmentStateEvent)) == 2500
    with pytest.raises(ValueError, match="batch_size"):
        insert_batches(session, EquipmentStateEvent, [], batch_size=0)


def test_values_that_do_not_fit_are_refused_alike_on_every_back_end(session: Session) -> None:
    """A string longer than its column, a NUL character and an integer beyond 32 bits raise
    StoreValueError (a ValueError) before anything is written, on SQLite as on PostgreSQL;
    values that just fit are stored."""
    item = Item(code="I")
    session.add(item)
    session.commit()
    misfits = [
        (AuditRecord(entity="e", entity_id="1", field="f", old_value=None, new_value="x",
                     who="w" * 65, why="y"), "audit_record.who is 65 characters long"),
        (Item(code="bad\x00code"), "item.code contains a NUL character"),
        (ProductionOrder(code="PO-X", item_id=item.id, quantity=1, priority=2**31),
         "production_order.priority is 2147483648, outside"),
    ]
    for row, reason in misfits:
        session.add(row)
        with pytest.raises(StoreValueError, match=re.escape(reason)):
            session.commit()
        session.rollback()
    item.name = "n" * 201
    with pytest.raises(ValueError, match=r"item\.name is 201 characters long; at most 200"):
        session.commit()
    session.rollback()
    session.add_all([ProductionOrder(code="P" * 64, item_id=item.id, quantity=1,
                                     priority=-(2**31)),
                     AuditRecord(entity="e", entity_id="1", field="f", old_value=None,
                                 new_value="x", who="w" * 64, why="y" * 1000)])
    session.commit()
    assert session.scalar(select(func.count()).select_from(ProductionOrder)) == 1
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == 1
    assert session.scalars(select(Item.code)).all() == ["I"]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_numbers_that_are_not_finite_never_reach_the_database(session: Session,
                                                              bad: float) -> None:
    """Infinity and NaN in a float column raise StoreValueError naming the column, through
    the ORM and through insert_batches, and nothing is written (SQLite would keep infinity
    and turn NaN into NULL, PostgreSQL keeps both); so does an integer too large for a float;
    the largest finite float is stored."""
    wu = plant(session)["wu"]
    item = Item(code="I")
    session.add(item)
    session.commit()
    for quantity in (bad, 10**400):
        session.add(MaterialLot(code="L", item_id=item.id, quantity=quantity))
        with pytest.raises(StoreValueError, match=r"material_lot\.quantity is "):
            session.commit()
        session.rollback()
    with pytest.raises(StoreValueError, match=r"production_count\.good is .*only finite"):
        insert_batches(session, ProductionCount, [
            {"work_unit_id": wu.id, "at": T0, "produced": 1.0, "good": 1.0},
            {"work_unit_id": wu.id, "at": T0, "produced": 1.0, "good": bad},
        ])
    session.rollback()
    assert session.scalar(select(func.count()).select_from(MaterialLot)) == 0
    assert session.scalar(select(func.count()).select_from(ProductionCount)) == 0
    session.add(MaterialLot(code="L", item_id=item.id, quantity=1.7976931348623157e308))
    session.commit()
    assert session.scalars(select(MaterialLot.quantity)).one() == 1.7976931348623157e308


def test_date_times_keep_their_instant_on_every_back_end(session: Session) -> None:
    """A date-time in another zone is stored as its UTC instant, a naive one (even written
    with Core, past the ORM) is taken as UTC although the test PostgreSQL server's own zone
    is not UTC; both read back, and are found by range queries, as the same instants."""
    wu = plant(session)["wu"]
    kolkata = timezone(timedelta(hours=5, minutes=30))
    session.add(ProductionCount(work_unit_id=wu.id, at=T0.astimezone(kolkata), produced=1))
    session.execute(insert(ProductionCount).values(
        work_unit_id=wu.id, at=(T0 + timedelta(hours=1)).replace(tzinfo=None), produced=2))
    session.commit()
    session.expunge_all()
    stored = dict(session.execute(select(ProductionCount.produced, ProductionCount.at)).all())
    assert {p: utc(at) for p, at in stored.items()} == {1: T0, 2: T0 + timedelta(hours=1)}
    later = select(ProductionCount.produced).where(ProductionCount.at > T0)
    assert session.scalars(later).all() == [2]


def test_schema_compiles_for_postgresql() -> None:
    """Every table's DDL compiles on the PostgreSQL dialect (portable types and checks)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    from mestwin.mes_core.store import Base

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    ddl = [str(CreateTable(t).compile(dialect=dialect)) for t in Base.metadata.sorted_tables]
    assert len(ddl) == len(Base.metadata.tables) == 18
    assert any("CHECK (kind <> 'serial' OR quantity = 1)" in d for d in ddl)
