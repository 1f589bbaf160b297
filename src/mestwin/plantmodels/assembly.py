"""Assembly: a station that consumes components per a bill of materials (BOM).

Each component product has its own queue in the station's :class:`KitBuffer`; a server
starts when one full kit (``bom[product]`` units of each) is there, consumes it, and makes
one new serialised unit of the output product whose genealogy is the consumed serials and
their lots (logged as ``CONSUME`` rows).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import simpy

from mestwin.plantmodels.buffer import ENTER
from mestwin.plantmodels.eventlog import EventKind
from mestwin.plantmodels.server import Server
from mestwin.plantmodels.station import Station
from mestwin.plantmodels.units import Unit

if TYPE_CHECKING:
    from mestwin.plantmodels.plant import Plant

CONSUME = int(EventKind.CONSUME)


class KitBuffer:
    """One queue per BOM component; hands out complete kits to servers, FIFO per component.

    Each component queue admits ``capacity`` waiting units plus what the servers can hold
    (``bom[product]`` per server), like :class:`~mestwin.plantmodels.buffer.Buffer`.
    """

    def __init__(
        self, env: simpy.Environment, servers: int, capacity: int | None, bom: dict[str, int],
        node: str, log: Callable[[tuple[Any, ...]], None],
    ) -> None:
        self.env = env
        self.bom = bom
        self.node = node
        self._log = log
        self.limit = {
            p: float("inf") if capacity is None else capacity + q * servers for p, q in bom.items()
        }
        self.queues: dict[str, deque[Unit]] = {p: deque() for p in bom}
        self.held = dict.fromkeys(bom, 0)
        self.paused = False
        self._getters: deque[simpy.Event] = deque()
        self._putters: dict[str, deque[tuple[simpy.Event, Unit]]] = {p: deque() for p in bom}

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    @property
    def queue(self) -> list[Unit]:
        """All waiting components (for end-of-run statistics)."""
        return [u for q in self.queues.values() for u in q]

    def put(self, unit: Unit) -> simpy.Event | None:
        """Offer a component; refused products raise ``KeyError`` naming the station."""
        product = unit.product
        if product not in self.queues:
            raise KeyError(f"assembly {self.node!r} does not use {product!r} in its BOM")
        if self._putters[product] or len(self.queues[product]) + self.held[product] >= self.limit[
            product
        ]:
            event = self.env.event()
            self._putters[product].append((event, unit))
            return event
        self._admit(unit)
        return None

    def withdraw(self, event: simpy.Event) -> None:
        """Withdraw a pending :meth:`put`."""
        for putters in self._putters.values():
            for i, (pending, _) in enumerate(putters):
                if pending is event:
                    del putters[i]
                    return

    def _complete(self) -> bool:
        return all(len(self.queues[p]) >= q for p, q in self.bom.items())

    def _kit(self) -> list[Unit]:
        kit: list[Unit] = []
        for product, quantity in self.bom.items():
            queue = self.queues[product]
            kit.extend(queue.popleft() for _ in range(quantity))
            self.held[product] += quantity
        return kit

    def take(self) -> Any:
        """Return the components of one kit, or ``None`` if no full kit is waiting."""
        if self.paused or not self._complete():
            return None
        return self._kit()

    def wait(self) -> simpy.Event:
        """An event that fires with a kit for a server that found none."""
        event = self.env.event()
        self._getters.append(event)
        return event

    def release(self) -> None:
        """The assembled unit left: make room for blocked components."""
        for product, quantity in self.bom.items():
            self.held[product] -= quantity
            putters = self._putters[product]
            while putters and len(self.queues[product]) + self.held[product] < self.limit[product]:
                event, unit = putters.popleft()
                self._admit(unit)
                event.succeed()

    def resume(self) -> None:
        """End a pause: hand complete kits to waiting servers."""
        self.paused = False
        self._serve()

    def _admit(self, unit: Unit) -> None:
        unit.t_enq = now = self.env._now
        self._log((now, ENTER, unit.serial, self.node))
        self.queues[unit.product].append(unit)
        self._serve()

    def _serve(self) -> None:
        while self._getters and not self.paused and self._complete():
            self._getters.popleft().succeed(self._kit())


class AssemblyStation(Station):
    """A station that turns one kit of components into one unit of *output*."""

    def __init__(self, plant: Plant, id: str, bom: dict[str, int], output: str,
                 **kwargs: Any) -> None:
        self.bom = dict(bom)
        self.output = output
        super().__init__(plant, id, **kwargs)

    def make_buffer(self, capacity: int | None) -> Any:
        return KitBuffer(self.env, self.servers, capacity, self.bom, self.id, self.log)

    def begin(self, unit: Any, server: Server) -> Unit:
        """Consume the kit *unit* (a list of components) and start the output unit."""
        kit: list[Unit] = unit
        plant = self.plant
        now = self.env._now
        made = Unit(plant.serials.issue(self.output), self.output,
                    min(c.t_release for c in kit), None, kit[0].order)
        made.t_enq = max(c.t_enq for c in kit)
        plant.log.append((now, int(EventKind.RELEASE), made.serial, self.output, None,
                          made.order, self.id))
        plant.enter(made)
        for component in kit:
            self.log((now, CONSUME, self.id, made.serial, component.serial, 1.0))
            server.pending_consumed.append((component.serial, 1.0, component.lot))
            self.consumed += 1
            server.consumed += 1
            plant.depart(component, None)
        return super().begin(made, server)
