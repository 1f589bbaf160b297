"""Where units come from, how they travel and where they leave: sources, conveyors, sinks.

A :class:`Source` releases serialised units, either at random inter-arrival times, as
released production orders, or *saturated* (a unit always ready). When the first buffer is
full an arrival either waits (``block``) or is lost (``drop``, as in M/M/1/K). A
:class:`Conveyor` carries units for a transport time with a limited number of places; a
:class:`Sink` takes everything.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from mestwin.plantmodels.distributions import Sampler
from mestwin.plantmodels.eventlog import EventKind
from mestwin.plantmodels.units import LotCounter, Unit

if TYPE_CHECKING:
    from mestwin.plantmodels.plant import Plant
    from mestwin.plantmodels.station import Node

RELEASE, DROP = int(EventKind.RELEASE), int(EventKind.DROP)


@dataclass(frozen=True)
class Order:
    """A production order released into the plant: *quantity* units of *product*."""

    id: str
    product: str
    quantity: int
    release: float = 0.0
    due: float | None = None


class Source:
    """Releases units of a product into the plant."""

    def __init__(
        self,
        plant: Plant,
        id: str,
        product: Callable[[], str],
        interarrival: Sampler | None = None,
        orders: list[Order] | None = None,
        saturated: bool = False,
        lot_size: int | None = None,
        when_full: str = "block",
        limit: int | None = None,
    ) -> None:
        self.plant = plant
        self.id = id
        self.to: Node = plant.sink
        self.released = 0
        self.dropped = 0
        self._product = product
        self._lots = LotCounter(id, lot_size) if lot_size else None
        self._when_full = when_full
        self._limit = limit
        if orders is not None:
            plant.env.process(self._release_orders(orders))
        elif saturated:
            plant.env.process(self._saturate())
        elif interarrival is not None:
            plant.env.process(self._arrive(interarrival))
        else:
            raise ValueError(f"source {id!r} needs an interarrival time, orders or saturated")

    def _new(self, product: str, order: str | None = None) -> Unit:
        plant = self.plant
        now = plant.env._now
        lot = self._lots.take(1)[0][0] if self._lots is not None else None
        unit = Unit(plant.serials.issue(product), product, now, lot, order)
        self.released += 1
        plant.log.append((now, RELEASE, unit.serial, product, lot, order, self.id))
        plant.enter(unit)
        return unit

    def _arrive(self, interarrival: Sampler) -> Generator[simpy.Event, Any, None]:
        env = self.plant.env
        forward = self.plant.forward
        while self._limit is None or self.released < self._limit:
            yield env.timeout(interarrival())
            unit = self._new(self._product())
            destination = forward(unit, self.to)
            event = destination.put(unit)
            if event is not None:
                if self._when_full == "drop":
                    self._drop(unit, destination, event)
                else:
                    yield event

    def _drop(self, unit: Unit, destination: Node, event: simpy.Event) -> None:
        # The unit did not fit: withdraw the offer and count it lost.
        withdraw = getattr(destination, "withdraw", None)
        if withdraw is None:
            raise TypeError(f"{destination.id!r} cannot refuse units")
        withdraw(event)
        self.dropped += 1
        plant = self.plant
        plant.log.append((plant.env._now, DROP, unit.serial, self.id))
        plant.depart(unit, None)

    def _saturate(self) -> Generator[simpy.Event, Any, None]:
        forward = self.plant.forward
        while self._limit is None or self.released < self._limit:
            unit = self._new(self._product())
            event = forward(unit, self.to).put(unit)
            if event is not None:
                yield event

    def _release_orders(self, orders: list[Order]) -> Generator[simpy.Event, Any, None]:
        env = self.plant.env
        forward = self.plant.forward
        for order in sorted(orders, key=lambda o: (o.release, o.id)):
            if order.release > env.now:
                yield env.timeout(order.release - env.now)
            for _ in range(order.quantity):
                unit = self._new(order.product, order.id)
                event = forward(unit, self.to).put(unit)
                if event is not None:
                    yield event


class Sink:
    """Where finished units leave the plant."""

    def __init__(self, plant: Plant, id: str = "sink") -> None:
        self.plant = plant
        self.id = id

    def put(self, unit: Unit) -> None:
        """Take *unit* at once."""
        self.plant.depart(unit, self.id)


class Conveyor:
    """Carries units to its next node in *transport_time*, with at most *capacity* aboard.

    An accumulating conveyor: when the next node is full the front unit waits at the end
    and the ones behind queue up; units never overtake.
    """

    def __init__(
        self, plant: Plant, id: str, transport_time: Sampler, capacity: int | None = None,
    ) -> None:
        self.plant = plant
        self.id = id
        self.to: Node = plant.sink
        self.transport_time = transport_time
        self.capacity = capacity
        self.aboard = 0
        self._waiting: list[tuple[simpy.Event, Unit]] = []
        self._last_arrival = 0.0

    def put(self, unit: Unit) -> simpy.Event | None:
        """Load *unit* if there is a place, else return an event for when it is loaded."""
        if self.capacity is not None and self.aboard >= self.capacity:
            event = self.plant.env.event()
            self._waiting.append((event, unit))
            return event
        self._load(unit)
        return None

    def _load(self, unit: Unit) -> None:
        env = self.plant.env
        self.aboard += 1
        unit.t_enq = env._now
        self.plant.log.append((env._now, int(EventKind.ENTER), unit.serial, self.id))
        # FIFO: a unit cannot reach the end before the one ahead of it.
        arrival = max(env._now + self.transport_time(), self._last_arrival)
        self._last_arrival = arrival
        env.process(self._carry(unit, arrival))

    def _carry(self, unit: Unit, arrival: float) -> Generator[simpy.Event, Any, None]:
        env = self.plant.env
        yield env.timeout(arrival - env._now)
        event = self.plant.forward(unit, self.to).put(unit)
        if event is not None:
            yield event
        self.aboard -= 1
        if self._waiting:
            event, waiting = self._waiting.pop(0)
            self._load(waiting)
            event.succeed()
