"""One server of a station: a physical machine, the SimPy process that works units, and its
time accounting.

A server takes a unit from its station's buffer, sets up if the product family changes,
processes it (in segments cut by operating-time failures), decides its quality, and passes
it on, blocking while the next buffer is full. Every state change is logged and the time
spent in the previous state is added to that state's ISO 22400 time element, so the
elements always add up to the planned operation time (see :mod:`.states`).

A server is also what a PLC controls: it has its own cumulative counters, current ids and
commands (:meth:`Server.stop` ...), and *observers* called on every change of state or
count, so a PLC can publish changes at the exact simulated time they happen. With its
:attr:`~Server.interlock` set (by a PLC whose PackML acting states take time), a server
does not start work after a stop until the PLC calls :meth:`~Server.permit_run`: it stays
in the stop's state meanwhile, so that wait is booked to that stop's time element.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from mestwin.plantmodels.eventlog import EventKind
from mestwin.plantmodels.states import OUTAGE_PRIORITY, TIME_ELEMENT, MachineState

if TYPE_CHECKING:
    from mestwin.plantmodels.losses import FailureMode
    from mestwin.plantmodels.station import Station
    from mestwin.plantmodels.units import Unit

EPS = 1e-9
IDLE, PROCESSING = int(MachineState.IDLE), int(MachineState.PROCESSING)
SETUP, BLOCKED, DOWN = int(MachineState.SETUP), int(MachineState.BLOCKED), int(MachineState.DOWN)
_RUNNING = (PROCESSING, SETUP)
STATE, COMPLETE = int(EventKind.STATE), int(EventKind.COMPLETE)
_ELEMENT = [int(e) for e in TIME_ELEMENT]
_PRIORITY = {int(k): v for k, v in OUTAGE_PRIORITY.items()}

Observer = Callable[["Server"], None]
"""Called with the server after any change of its state or counters."""


class Server:
    """Server number *index* of *station*, with its own operating-time failure *modes*."""

    def __init__(self, station: Station, index: int, modes: list[FailureMode]) -> None:
        self.station = station
        self.index = index
        self.id = station.id if station.servers == 1 else f"{station.id}-{index + 1}"
        """Machine id: the station id, or ``<station>-<n>`` when the station has several."""
        self.modes = modes
        self.ttf_left = [m.ttf() for m in modes]
        """Operating time left until each mode's next failure."""
        self.failures = [0] * len(modes)
        """Failures so far, per mode."""
        self.state = IDLE
        """Effective state: an outage if there is one, else the activity."""
        self.reason = "starved"
        self.serial: str | None = None
        self.activity = IDLE
        """What the server itself is doing, outages aside."""
        self.activity_reason = "starved"
        self.family: str | None = None
        """Product family of the last unit worked (for setups)."""
        self.t_state = station.env.now
        self.elements = [0.0] * 5
        """Seconds accounted to APT, ASUT, ADET, ADOT, PDOT since the last reset."""
        self.produced = self.good = self.scrap = self.rework = self.consumed = 0
        """Cumulative counters since t=0, never reset (PQ, GQ, SQ, RQ, consumed)."""
        self.produced_by_product: dict[str, int] = {}
        self.current_lot: str | None = None
        self.current_order: str | None = None
        self.current_product: str | None = None
        self.current_consumed: tuple[tuple[str, float, str | None], ...] = ()
        """What the unit in work consumed on this machine: (lot or serial, quantity, lot of
        that serial or None)."""
        self.pending_consumed: list[tuple[str, float, str | None]] = []
        """Consumption recorded before :meth:`Station.begin` (assembly components)."""
        self.speed = 1.0
        """This machine's own speed factor (times the station's)."""
        self.observers: list[Observer] = []
        self.outage: tuple[int, str] | None = None
        """This server's own outage (a command to this machine), if any."""
        self._outages: dict[str, tuple[int, str]] = {}
        self._available: simpy.Event = station.env.event()
        self.interruptible = False
        self.interlock = False
        """True if work after a stop waits for :meth:`permit_run` (the machine's control
        system must be running first)."""
        self._permit: simpy.Event | None = None
        self._open = False
        """The permit work waits for, while :attr:`awaiting_run`."""
        self._gated: tuple[int, str, str | None] = (IDLE, "starved", None)
        """The state set() was asked for while the permit was pending."""
        self.process = station.env.process(self.run())

    # -- what a PLC reads (see mestwin.virtual_plc.port.StationPort) ----------------------
    @property
    def servers(self) -> int:
        """A server is one machine."""
        return 1

    @property
    def current_serial(self) -> str | None:
        """Serial of the unit on the machine, if any."""
        return self.serial

    @property
    def design_rate_per_h(self) -> float:
        """Design speed of this machine in units per hour."""
        return self.station.design_rate_per_h / self.station.servers

    @property
    def awaiting_run(self) -> bool:
        """True while work is ready to start but waits for :meth:`permit_run` (no outage)."""
        return (self._permit is not None and self.outage is None
                and self.station.outage is None)

    def permit_run(self) -> None:
        """The control system runs (PackML Execute): start the work that waits, now."""
        permit = self._permit
        if permit is None or not self.awaiting_run:
            return
        self._permit = None
        self._open = True
        self.set(*self._gated)
        self._open = False
        permit.succeed()

    def notify(self) -> None:
        """Tell the observers something changed."""
        for observer in self.observers:
            observer(self)

    # -- what a PLC writes --------------------------------------------------------------
    def stop(self, reason: str = "operator_stop") -> None:
        """Stop this machine at once; work in progress resumes on :meth:`start`."""
        self._begin("command", MachineState.STOPPED, reason)

    def start(self) -> None:
        """Resume after :meth:`stop`."""
        self._end("command")

    def hold(self, reason: str = "operator_hold") -> None:
        """Hold this machine at once."""
        self._begin("hold", MachineState.HELD, reason)

    def unhold(self) -> None:
        """Release a :meth:`hold`."""
        self._end("hold")

    def set_speed(self, factor: float) -> None:
        """Run at *factor* x design speed from the next cycle on."""
        if factor <= 0:
            raise ValueError("speed factor must be positive")
        self.speed = factor

    def dispatch(self, order: str) -> None:
        """Release *order* to this machine's station (job download)."""
        self.station.dispatch(order)

    def _begin(self, key: str, state: MachineState, reason: str) -> None:
        self._outages[key] = (int(state), reason)
        self._apply()

    def _end(self, key: str) -> None:
        if self._outages.pop(key, None) is not None:
            self._apply()

    def _apply(self) -> None:
        new = max(self._outages.values(), key=lambda o: _PRIORITY[o[0]]) if self._outages else None
        if new == self.outage:
            return
        was, self.outage = self.outage, new
        if was is None:
            self._available = self.station.env.event()
            self.interrupt()
        self.refresh()
        if new is None:
            self._available.succeed()

    def interrupt(self) -> None:
        """Pause work in progress (an outage began)."""
        if self.interruptible:
            self.interruptible = False
            self.process.interrupt("outage")

    def blocked_by_outage(self) -> simpy.Event | None:
        """An event to wait for if an outage (own or the station's) stops work, else None."""
        if self.outage is not None:
            return self._available
        if self.station.outage is not None:
            return self.station.available
        return None

    # -- accounting ----------------------------------------------------------------------
    def set(self, activity: int, reason: str, serial: str | None) -> None:
        """Record that the server now does *activity*; log it if the effective state changes."""
        self.activity = activity
        self.activity_reason = reason
        own, shared = self.outage, self.station.outage
        if own is None and shared is None:
            state = activity
        else:
            outage = own if shared is None or (
                own is not None and _PRIORITY[own[0]] >= _PRIORITY[shared[0]]) else shared
            state, reason = outage  # type: ignore[misc]
        if (self.interlock and state in _RUNNING and self.state not in _RUNNING
                and not self._open):
            # work after a stop waits for the permit, still in the stop's state
            self._gated = (activity, self.activity_reason, serial)
            if self._permit is None:
                self._permit = self.station.env.event()
                if self.observers:
                    self.notify()
            return
        if state != self.state or reason != self.reason or serial != self.serial:
            now = self.station.env._now
            self.elements[_ELEMENT[self.state]] += now - self.t_state
            self.t_state = now
            self.state = state
            self.reason = reason
            self.serial = serial
            self.station.log((now, STATE, self.station.id, self.index, state, reason, serial))
            if self.observers:
                self.notify()

    def refresh(self) -> None:
        """Re-evaluate the effective state after an outage changed."""
        self.set(self.activity, self.activity_reason, self.serial)

    def reset_elements(self) -> None:
        """Start time accounting afresh (at the end of warm-up)."""
        self.elements = [0.0] * 5
        self.t_state = self.station.env._now

    def close_elements(self) -> list[float]:
        """Account the current state up to now and return the elements."""
        now = self.station.env._now
        self.elements[_ELEMENT[self.state]] += now - self.t_state
        self.t_state = now
        return self.elements

    # -- the process ---------------------------------------------------------------------
    def run(self) -> Generator[simpy.Event, Any, None]:
        """The server's life: take, set up, process, judge, pass on; forever."""
        st = self.station
        env = st.env
        buffer = st.buffer
        timeout = env.timeout
        modes = self.modes
        while True:
            while self.outage is not None:
                yield self._available
            unit = buffer.take()
            if unit is None:
                self.set(IDLE, "starved", None)
                unit = yield buffer.wait()
            unit = st.begin(unit, self)
            serial = unit.serial
            if st.setups is not None:
                family = st.family_of(unit.product)
                setup = st.setups.time(self.family, family)
                self.family = family
                if setup is not None:
                    self.set(SETUP, "setup", serial)
                    yield from self.work(setup(), SETUP, "setup", unit, False)
            while True:  # rework repeats the cycle on the same server
                self.set(PROCESSING, "processing", serial)
                duration = st.process_time(unit) / self.speed
                if modes or self.blocked_by_outage() is not None or self._permit is not None:
                    yield from self.work(duration, PROCESSING, "processing", unit, True)
                else:
                    start = env._now
                    self.interruptible = True
                    try:
                        yield timeout(duration)
                        self.interruptible = False
                    except simpy.Interrupt:
                        self.interruptible = False
                        left = duration - (env._now - start)
                        yield from self.work(left, PROCESSING, "processing", unit, True)
                outcome = st.judge(unit, self)
                if outcome != "rework":
                    break
            if outcome == "scrap":
                st.plant.depart(unit, "scrap")
                buffer.release()
                continue
            destination = st.plant.forward(unit, st.to)
            event = destination.put(unit)
            if event is not None:
                self.set(BLOCKED, "blocked", serial)
                yield event
            buffer.release()

    def work(
        self, duration: float, state: int, reason: str, unit: Unit, losses: bool,
    ) -> Generator[simpy.Event, Any, None]:
        """Spend *duration* of work in *state*, pausing for outages and, if *losses*,
        cut by operating-time failures (work resumes where it stopped after repair)."""
        env = self.station.env
        modes = self.modes if losses else []
        ttf_left = self.ttf_left
        remaining = duration
        while remaining > EPS:
            wait = self.blocked_by_outage()
            if wait is not None:
                yield wait
                self.set(state, reason, unit.serial)
                continue
            if self._permit is not None:
                yield self._permit
                continue
            segment = remaining
            hit = -1
            for i in range(len(modes)):
                if ttf_left[i] < segment:
                    segment = max(ttf_left[i], 0.0)
                    hit = i
            start = env._now
            self.interruptible = True
            try:
                yield env.timeout(segment)
                interrupted = False
            except simpy.Interrupt:
                interrupted = True
            self.interruptible = False
            elapsed = env._now - start
            remaining -= elapsed
            for i in range(len(modes)):
                ttf_left[i] -= elapsed
            if interrupted or hit < 0:
                continue
            mode = modes[hit]
            self.failures[hit] += 1
            self.set(DOWN, mode.reason, unit.serial)
            yield env.timeout(mode.ttr())
            ttf_left[hit] = mode.ttf()
            self.set(state, reason, unit.serial)
