"""One server of a station: the SimPy process that works units, and its time accounting.

A server takes a unit from its station's buffer, sets up if the product family changes,
processes it (in segments cut by operating-time failures), decides its quality, and passes
it on, blocking while the next buffer is full. Every state change is logged and the time
spent in the previous state is added to that state's ISO 22400 time element, so the
elements always add up to the planned operation time (see :mod:`.states`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from mestwin.plantmodels.eventlog import EventKind
from mestwin.plantmodels.states import TIME_ELEMENT, MachineState

if TYPE_CHECKING:
    from mestwin.plantmodels.losses import FailureMode
    from mestwin.plantmodels.station import Station
    from mestwin.plantmodels.units import Unit

EPS = 1e-9
IDLE, PROCESSING = int(MachineState.IDLE), int(MachineState.PROCESSING)
SETUP = int(MachineState.SETUP)
BLOCKED, DOWN = int(MachineState.BLOCKED), int(MachineState.DOWN)
STATE, COMPLETE = int(EventKind.STATE), int(EventKind.COMPLETE)
_ELEMENT = [int(e) for e in TIME_ELEMENT]


class Server:
    """Server number *index* of *station*, with its own operating-time failure *modes*."""

    def __init__(self, station: Station, index: int, modes: list[FailureMode]) -> None:
        self.station = station
        self.index = index
        self.modes = modes
        self.ttf_left = [m.ttf() for m in modes]
        """Operating time left until each mode's next failure."""
        self.failures = [0] * len(modes)
        """Failures so far, per mode."""
        self.state = IDLE
        """Effective state: the station's outage if it has one, else the activity."""
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
        self.interruptible = False
        self.process = station.env.process(self.run())

    def set(self, activity: int, reason: str, serial: str | None) -> None:
        """Record that the server now does *activity*; log it if the effective state changes."""
        self.activity = activity
        self.activity_reason = reason
        outage = self.station.outage
        if outage is None:
            state = activity
        else:
            state, reason = outage
        if state != self.state or reason != self.reason or serial != self.serial:
            now = self.station.env._now
            self.elements[_ELEMENT[self.state]] += now - self.t_state
            self.t_state = now
            self.state = state
            self.reason = reason
            self.serial = serial
            self.station.log((now, STATE, self.station.id, self.index, state, reason, serial))

    def refresh(self) -> None:
        """Re-evaluate the effective state after the station's outage changed."""
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

    def run(self) -> Generator[simpy.Event, Any, None]:
        """The server's life: take, set up, process, judge, pass on; forever."""
        st = self.station
        env = st.env
        buffer = st.buffer
        timeout = env.timeout
        modes = self.modes
        while True:
            unit = buffer.take()
            if unit is None:
                self.set(IDLE, "starved", None)
                unit = yield buffer.wait()
            unit = st.begin(unit)
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
                duration = st.process_time(unit)
                if modes or st.outage is not None:
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
                outcome = st.judge(unit)
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
        st = self.station
        env = st.env
        modes = self.modes if losses else []
        ttf_left = self.ttf_left
        remaining = duration
        while remaining > EPS:
            if st.outage is not None:
                yield st.available
                self.set(state, reason, unit.serial)
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
