"""A station (an ISO 22400 work unit): parallel servers behind one input buffer.

Build stations through :class:`mestwin.plantmodels.plant.Plant` (``plant.add_station``).
A station exposes what a PLC reads every scan (state, reason, cumulative counters, current
serial/lot/order, speed) and the commands a PLC writes (:meth:`Station.stop`,
:meth:`Station.start`, :meth:`Station.hold`, :meth:`Station.unhold`,
:meth:`Station.set_speed`). Commands, calendar failures and planned downtime are *outages*:
while one is active the buffer hands out no units and work in progress pauses, resuming
where it stopped when the last outage ends.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from mestwin.plantmodels.buffer import Buffer, DispatchedBuffer
from mestwin.plantmodels.distributions import Sampler
from mestwin.plantmodels.eventlog import EventKind
from mestwin.plantmodels.losses import (
    FailureMode,
    MaterialUse,
    PlannedDowntime,
    QualityModel,
    SetupMatrix,
)
from mestwin.plantmodels.server import Server
from mestwin.plantmodels.states import ACTIVITY_RANK, OUTAGE_PRIORITY, MachineState

if TYPE_CHECKING:
    from mestwin.plantmodels.plant import Plant
    from mestwin.plantmodels.units import Unit

COMPLETE, CONSUME = int(EventKind.COMPLETE), int(EventKind.CONSUME)


class Node(Protocol):
    """Anything a unit can be sent to: a station, a conveyor or a sink."""

    id: str

    def put(self, unit: Unit) -> simpy.Event | None:
        """Offer *unit*; ``None`` if taken at once, else an event that fires when taken."""


class Station:
    """*servers* identical parallel servers fed by a buffer of *buffer* waiting places."""

    def __init__(
        self,
        plant: Plant,
        id: str,
        servers: int,
        process_time: dict[str, Sampler],
        ideal_cycle_time: dict[str, float],
        buffer: int | None = None,
        failures: list[tuple[FailureMode, ...]] | None = None,
        calendar_failures: list[FailureMode] | None = None,
        setups: SetupMatrix | None = None,
        families: dict[str, str] | None = None,
        quality: QualityModel | None = None,
        materials: list[MaterialUse] | None = None,
        planned: list[PlannedDowntime] | None = None,
        speed: float = 1.0,
        dispatch: str = "fifo",
    ) -> None:
        self.plant = plant
        self.env = plant.env
        self.log = plant.log.append
        self.id = id
        self.servers = servers
        self._process_time = process_time
        self._any_time = process_time.get("*")
        self.ideal_cycle_time = ideal_cycle_time
        """PRU per product (ISO 22400): the design cycle time, before speed losses."""
        self.dispatch_mode = dispatch
        """``fifo``: servers take units first come first served; ``external``: only units
        whose order was released by :meth:`dispatch` (an MES through the PLC)."""
        self.buffer = self.make_buffer(buffer)
        self.setups = setups
        self.families = families or {}
        self.quality = quality
        self.materials = materials or []
        self.speed = speed
        """Speed factor: process times are divided by it (1.0 = design speed)."""
        self.to: Node = plant.sink
        """Default next node, for products without a routing."""
        self.outage: tuple[int, str] | None = None
        """The (state, reason) shown while stopped, held, down or planned down."""
        self.available: simpy.Event = self.env.event()
        self._outages: dict[str, tuple[int, str]] = {}
        self.produced = 0
        self.good = 0
        self.scrap = 0
        self.rework = 0
        self.consumed = 0
        self.current_serial: str | None = None
        self.current_lot: str | None = None
        self.current_order: str | None = None
        self.current_product: str | None = None
        self.current_consumed: tuple[tuple[str, float, str | None], ...] = ()
        """What the unit in work consumed here: (lot or serial, quantity, lot of that
        serial or None)."""
        self.produced_by_product: dict[str, int] = {}
        self.control: dict[str, Any] = {}
        """Options of the machines' control system (their PLCs: PackML acting times, reset
        mode) as the scenario gives them; the plant itself does not read them."""
        # window statistics (reset at the end of warm-up)
        self.started = 0
        self.wait_sum = 0.0
        self.queue_area = 0.0
        self.pool = [Server(self, i, list((failures or [()] * servers)[i]))
                     for i in range(servers)]
        """The servers."""
        for mode in calendar_failures or []:
            self.env.process(self._calendar_failure(mode))
        for number, stop in enumerate(planned or []):
            self.env.process(self._planned(number, stop))

    def make_buffer(self, capacity: int | None) -> Buffer:
        """Create the input buffer (assembly stations make a kit buffer instead)."""
        kind = DispatchedBuffer if self.dispatch_mode == "external" else Buffer
        return kind(self.env, self.servers, capacity, self.id, self.log)

    def dispatch(self, order: str) -> None:
        """Release *order* to this station (job download); only for ``external`` dispatch."""
        if not isinstance(self.buffer, DispatchedBuffer):
            raise ValueError(f"station {self.id!r} dispatches first come first served")
        self.buffer.authorize(order)

    # -- what a PLC reads -------------------------------------------------------------
    @property
    def state(self) -> MachineState:
        """The most active state over the servers, to show the station as one machine."""
        return MachineState(max((s.state for s in self.pool), key=ACTIVITY_RANK.__getitem__))

    @property
    def reason(self) -> str:
        """Reason code of :attr:`state`."""
        state = self.state
        return next(s.reason for s in self.pool if s.state == state)

    @property
    def design_rate_per_h(self) -> float:
        """Design speed in units per hour: servers x 3600 / mean ideal cycle time."""
        times = list(self.ideal_cycle_time.values())
        mean = sum(times) / len(times)
        return self.servers * 3600.0 / mean if mean > 0 else 0.0

    # -- what a PLC writes --------------------------------------------------------------
    def machines(self) -> list[Server]:
        """What PLCs control: each server is one machine (named like the station when it
        has only one)."""
        return list(self.pool)

    def stop(self, reason: str = "operator_stop") -> None:
        """Stop at once; work in progress pauses and resumes on :meth:`start`."""
        self.begin_outage("command", MachineState.STOPPED, reason)

    def start(self) -> None:
        """Resume after :meth:`stop`."""
        self.end_outage("command")

    def hold(self, reason: str = "operator_hold") -> None:
        """Hold at once (an unplanned interruption during an order)."""
        self.begin_outage("hold", MachineState.HELD, reason)

    def unhold(self) -> None:
        """Release a :meth:`hold`."""
        self.end_outage("hold")

    def set_speed(self, factor: float) -> None:
        """Run at *factor* x design speed from the next cycle on."""
        if factor <= 0:
            raise ValueError("speed factor must be positive")
        self.speed = factor

    @property
    def observers(self) -> list[Callable[[Server], None]]:
        """Observers of the server of a one-server station (which is one machine).

        A station with several servers has no single change stream: observe its machines
        (:meth:`machines`); asking it raises ``AttributeError``, so a PLC bound to the whole
        station falls back to its cyclic scan.
        """
        if self.servers != 1:
            raise AttributeError("a multi-server station: observe its machines() instead")
        return self.pool[0].observers

    def _only(self) -> Server:
        if self.servers != 1:
            raise AttributeError("a multi-server station: interlock its machines() instead")
        return self.pool[0]

    @property
    def interlock(self) -> bool:
        """The interlock of the server of a one-server station (see :class:`Server`)."""
        return self._only().interlock

    @interlock.setter
    def interlock(self, value: bool) -> None:
        self._only().interlock = value

    @property
    def awaiting_run(self) -> bool:
        """Whether the server of a one-server station waits for :meth:`permit_run`."""
        return self._only().awaiting_run

    def permit_run(self) -> None:
        """Let the server of a one-server station start its waiting work."""
        self._only().permit_run()

    # -- outages --------------------------------------------------------------------------
    def begin_outage(self, key: str, state: MachineState, reason: str) -> None:
        """Start outage *key*: no new work and work in progress pauses."""
        self._outages[key] = (int(state), reason)
        self._apply_outages()

    def end_outage(self, key: str) -> None:
        """End outage *key*; work resumes when no outage is left."""
        if self._outages.pop(key, None) is not None:
            self._apply_outages()

    def _apply_outages(self) -> None:
        new = None
        if self._outages:
            new = max(self._outages.values(),
                      key=lambda o: OUTAGE_PRIORITY[MachineState(o[0])])
        if new == self.outage:
            return
        was, self.outage = self.outage, new
        if was is None:
            self.buffer.paused = True
            self.available = self.env.event()
            for server in self.pool:
                server.interrupt()
        for server in self.pool:
            server.refresh()
        if new is None:
            self.available.succeed()
            self.buffer.resume()

    def _calendar_failure(self, mode: FailureMode) -> Generator[simpy.Event, Any, None]:
        key = f"failure:{id(mode)}"
        while True:
            yield self.env.timeout(mode.ttf())
            self.begin_outage(key, MachineState.DOWN, mode.reason)
            yield self.env.timeout(mode.ttr())
            self.end_outage(key)

    def _planned(self, number: int, stop: PlannedDowntime) -> Generator[simpy.Event, Any, None]:
        key = f"planned:{number}"
        yield self.env.timeout(stop.start)
        while True:
            self.begin_outage(key, MachineState.PLANNED_DOWN, stop.reason)
            yield self.env.timeout(stop.duration)
            self.end_outage(key)
            if stop.every is None:
                return
            yield self.env.timeout(stop.every - stop.duration)

    # -- called by servers --------------------------------------------------------------
    def begin(self, unit: Unit, server: Server) -> Unit:
        """*server* starts on *unit*: waiting statistics, material draws, current ids."""
        now = self.env._now
        warmup = self.plant.warmup
        if now >= warmup:
            self.started += 1
            self.wait_sum += now - unit.t_enq
            self.queue_area += now - max(unit.t_enq, warmup)
        consumed = list(server.pending_consumed)
        server.pending_consumed.clear()
        for use in self.materials:
            for lot, quantity in use.lots.take(use.per_unit):
                self.log((now, CONSUME, self.id, unit.serial, lot, quantity))
                consumed.append((lot, quantity, None))
            self.consumed += 1
            server.consumed += 1
        self.current_serial = unit.serial
        self.current_lot = server.current_lot = unit.lot
        self.current_order = server.current_order = unit.order
        self.current_product = server.current_product = unit.product
        self.current_consumed = server.current_consumed = tuple(consumed)
        return unit

    def process_time(self, unit: Unit) -> float:
        """A fresh process time for *unit*, slowed by any speed loss."""
        sampler = self._process_time.get(unit.product, self._any_time)
        if sampler is None:
            raise KeyError(f"station {self.id!r} has no process time for {unit.product!r}")
        return sampler() / self.speed

    def family_of(self, product: str) -> str:
        """The setup family of *product* (the product itself if it has none)."""
        return self.families.get(product, product)

    def judge(self, unit: Unit, server: Server) -> str:
        """Count a cycle of *server* and decide its outcome: ``good``, ``scrap`` or ``rework``."""
        self.produced += 1
        server.produced += 1
        product = unit.product
        self.produced_by_product[product] = self.produced_by_product.get(product, 0) + 1
        server.produced_by_product[product] = server.produced_by_product.get(product, 0) + 1
        outcome = "good"
        quality = self.quality
        if quality is not None:
            if quality.scrap():
                outcome = "scrap"
                self.scrap += 1
                server.scrap += 1
            elif quality.rework():
                outcome = "rework"
                self.rework += 1
                server.rework += 1
        if outcome == "good":
            self.good += 1
            server.good += 1
        self.log((self.env._now, COMPLETE, self.id, unit.serial, outcome))
        if server.observers:
            server.notify()
        return outcome

    def reset_statistics(self) -> None:
        """Start the statistics window (at the end of warm-up)."""
        self.started = 0
        self.wait_sum = 0.0
        self.queue_area = 0.0
        for server in self.pool:
            server.reset_elements()

    def put(self, unit: Unit) -> simpy.Event | None:
        """Offer *unit* to the input buffer (see :meth:`Buffer.put`)."""
        return self.buffer.put(unit)

    def withdraw(self, event: simpy.Event) -> None:
        """Withdraw a pending :meth:`put` (the arrival is lost instead)."""
        self.buffer.withdraw(event)
