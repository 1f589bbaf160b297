"""Persisting collected events: the store side of data collection.

:class:`StoreWriter` is a collector sink that buffers events and writes them in batches
(one ``INSERT`` per table per flush, never an ORM object per event) into the MES store:
state intervals as ``EquipmentStateEvent`` rows (with their ISO 22400 element and loss),
counts as ``ProductionCount`` rows, and unit starts as material lots and serials with
``GenealogyLink`` rows, so the reporting services, the trace queries and the API see what
the MES collected. Plant-clock seconds become UTC date-times from *epoch*.

An ISA-95 serial is a sublot of a lot; a unit that came without a lot of its own is stored
as a lot of quantity one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from mestwin.mes_core.collection.events import Counted, Event, StateInterval, UnitStarted
from mestwin.mes_core.store.checkpoint import CollectorCheckpoint, save_checkpoint
from mestwin.mes_core.store.models import (
    Equipment,
    EquipmentLevel,
    EquipmentStateEvent,
    GenealogyLink,
    Item,
    MaterialLot,
    ProductionCount,
)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _item_of(code: str) -> str:
    """The item a lot or serial code names: ``caps-L00001`` -> ``caps``, ``pcb-000002`` ->
    ``pcb`` (the plant's naming convention for lots and serials)."""
    return code.rsplit("-", 1)[0] if "-" in code else code


class StoreWriter:
    """Writes collector events for the work units of line *line* into the store."""

    def __init__(self, sessions: sessionmaker[Session], epoch: datetime, line: str,
                 machines: Sequence[str], batch_size: int = 5000,
                 ideal_cycle_time: Mapping[tuple[str, str], float] | None = None,
                 checkpoint: Callable[[], dict[str, Any]] | None = None) -> None:
        self.sessions = sessions
        self.checkpoint = checkpoint
        """The collector's :meth:`~.collector.Collector.checkpoint`, saved with each flush
        (in the same transaction) under the line's name."""
        self.line = line
        self.ideal_cycle_time = dict(ideal_cycle_time or {})
        """PRU per (work unit, product), ``(work unit, "*")`` the default: master data."""
        self.epoch = epoch
        self.batch_size = batch_size
        self._buffer: list[Event] = []
        self._units: dict[str, int] = {}
        self._items: dict[str, int] = {}
        self._lots: dict[str, int] = {}
        self._linked: set[str] = set()
        self.written = 0
        """Events written so far."""
        CollectorCheckpoint.metadata.create_all(
            sessions.kw["bind"], tables=[CollectorCheckpoint.__table__],  # type: ignore[list-item]
            checkfirst=True)
        with sessions.begin() as session:
            self._units = self._equipment(session, line, machines)

    def _equipment(self, session: Session, line: str, machines: Sequence[str]) -> dict[str, int]:
        chain = [("site", EquipmentLevel.SITE), ("area", EquipmentLevel.AREA),
                 (line, EquipmentLevel.LINE)]
        parent: Equipment | None = None
        for code, level in chain:
            found = session.scalar(select(Equipment).where(Equipment.code == code))
            if found is None:
                found = Equipment(code=code, name=code, level=level, parent=parent)
                session.add(found)
            parent = found
        units = {}
        for machine in machines:
            found = session.scalar(select(Equipment).where(Equipment.code == machine))
            if found is None:
                found = Equipment(code=machine, name=machine, level=EquipmentLevel.WORK_UNIT,
                                  parent=parent)
                session.add(found)
            session.flush()
            units[machine] = found.id
        return units

    def __call__(self, events: Iterable[Event]) -> None:
        """Buffer *events*; write when the buffer is full."""
        self._buffer.extend(events)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def at(self, seconds: float) -> datetime:
        """The UTC date-time of plant time *seconds*."""
        return self.epoch + timedelta(seconds=seconds)

    def flush(self) -> None:
        """Write everything buffered, in one transaction."""
        events, self._buffer = self._buffer, []
        if not events:
            return
        states: list[dict[str, Any]] = []
        counts: list[dict[str, Any]] = []
        starts: list[UnitStarted] = []
        at, units = self.at, self._units
        for e in events:
            if isinstance(e, StateInterval):
                states.append({"work_unit_id": units[e.machine], "start": at(e.start),
                               "end": at(e.end), "state": str(e.state), "reason": e.reason,
                               "element": e.element, "loss": e.loss})
            elif isinstance(e, Counted):
                pru = self.ideal_cycle_time.get(
                    (e.machine, e.product), self.ideal_cycle_time.get((e.machine, "*")))
                counts.append({"work_unit_id": units[e.machine], "at": at(e.time),
                               "produced": e.produced, "good": e.produced - e.defective,
                               "scrap": e.scrap, "rework": e.rework,
                               "ideal_cycle_time": pru})
            elif isinstance(e, UnitStarted):
                starts.append(e)
        with self.sessions.begin() as session:
            if states:
                session.execute(insert(EquipmentStateEvent), states)
            if counts:
                session.execute(insert(ProductionCount), counts)
            if starts:
                self._genealogy(session, starts)
            if self.checkpoint is not None:
                save_checkpoint(session, self.line, self.checkpoint())
        self.written += len(events)

    @staticmethod
    def _known(session: Session, model: Any, codes: set[str], cache: dict[str, int]) -> None:
        """Fill *cache* with the ids of *codes* already in the store (written before a
        restart, or by another writer)."""
        for chunk in _chunks(sorted(codes), 500):
            for id_, code in session.execute(select(model.id, model.code)
                                             .where(model.code.in_(chunk))):
                cache[code] = id_

    def _genealogy(self, session: Session, starts: list[UnitStarted]) -> None:
        codes: dict[str, str] = {}  # lot or serial code -> item code
        for s in starts:
            codes[s.serial] = s.product or _item_of(s.serial)
            if s.lot:
                codes[s.lot] = _item_of(s.lot)
            for item, _, lot in s.consumed:
                codes.setdefault(item, _item_of(item))
                if lot:
                    codes[lot] = _item_of(lot)
        self._known(session, Item, set(codes.values()) - set(self._items), self._items)
        self._known(session, MaterialLot, set(codes) - set(self._lots), self._lots)
        items = set(codes.values()) - set(self._items)
        if items:
            rows = session.execute(insert(Item).returning(Item.id, Item.code),
                                   [{"code": c, "name": c} for c in sorted(items)])
            self._items.update({code: id_ for id_, code in rows})
        new = [c for c in codes if c not in self._lots]
        if new:
            rows = session.execute(
                insert(MaterialLot).returning(MaterialLot.id, MaterialLot.code),
                [{"kind": "lot", "code": c, "item_id": self._items[codes[c]], "quantity": 1.0}
                 for c in new])
            self._lots.update({code: id_ for id_, code in rows})
        links = []
        lots = self._lots
        for s in starts:
            event = f"{s.machine}@{s.time:.6f}"
            child = lots[s.serial]
            if s.lot and s.serial not in self._linked:
                self._linked.add(s.serial)
                links.append({"parent_id": lots[s.lot], "child_id": child, "quantity": 1.0,
                              "event_id": event})
            for item, quantity, lot in s.consumed:
                links.append({"parent_id": lots[item], "child_id": child,
                              "quantity": quantity, "event_id": event})
                if lot:
                    links.append({"parent_id": lots[lot], "child_id": lots[item],
                                  "quantity": 1.0, "event_id": event})
        if links:
            session.execute(insert(GenealogyLink), links)
