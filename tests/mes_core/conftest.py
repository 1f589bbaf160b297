"""Shared fixtures of the MES core tests: a real store and a small plant.

The store fixtures are parametrized over the back ends of :mod:`tests.store_backends`:
a SQLite file always, and PostgreSQL too when ``MESTWIN_PG_URL`` is set, so every test that
uses them runs once per database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mestwin.mes_core.store import (
    Equipment,
    EquipmentLevel,
    Item,
    Routing,
    RoutingOperation,
    session_factory,
)
from tests.store_backends import BACKENDS, store_engine_on


@pytest.fixture(params=BACKENDS)
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh MES store on each back end: a SQLite file (WAL, foreign keys on) or a
    PostgreSQL schema of its own."""
    with store_engine_on(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def store_factory(store_engine: Engine) -> sessionmaker[Session]:
    """The session factory of :func:`store_engine`."""
    return session_factory(store_engine)


@pytest.fixture
def db(store_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the store."""
    with store_factory() as session:
        yield session


def build_plant(session: Session) -> dict[str, Equipment]:
    """Site S1 > area A1 > line L1 > work centre WC1 > work units WU1, WU2."""
    site = Equipment(code="S1", level=EquipmentLevel.SITE)
    area = Equipment(code="A1", level=EquipmentLevel.AREA, parent=site)
    line = Equipment(code="L1", level=EquipmentLevel.LINE, parent=area)
    wc = Equipment(code="WC1", level=EquipmentLevel.WORK_CENTRE, parent=line)
    wu1 = Equipment(code="WU1", level=EquipmentLevel.WORK_UNIT, parent=wc)
    wu2 = Equipment(code="WU2", level=EquipmentLevel.WORK_UNIT, parent=wc)
    session.add(site)
    session.commit()
    return {"S1": site, "A1": area, "L1": line, "WC1": wc, "WU1": wu1, "WU2": wu2}


def add_bottle_routing(session: Session, wc: Equipment) -> tuple[Item, Item, Routing]:
    """Items BOTTLE and CAP and routing R-BOTTLE of BOTTLE at *wc* (10 fill: setup 60 s,
    1.2 s/unit, family still; 20 cap: 0.5 s/unit), flushed."""
    bottle, cap = Item(code="BOTTLE"), Item(code="CAP")
    session.add_all([bottle, cap])
    session.flush()
    routing = Routing(code="R-BOTTLE", item_id=bottle.id)
    routing.operations = [
        RoutingOperation(sequence=10, work_centre_id=wc.id, setup_time=60, cycle_time=1.2,
                         family="still"),
        RoutingOperation(sequence=20, work_centre_id=wc.id, cycle_time=0.5),
    ]
    session.add(routing)
    session.flush()
    return bottle, cap, routing
