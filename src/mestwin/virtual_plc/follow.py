"""Following the plant: how a virtual PLC's PackML state tracks its station at each instant.

Who owns the state. An accepted client command acts on the station
(:data:`~.mirror.STATION_ACTIONS`) and leaves PackML where the operator put it. When the
machine is in Execute, or in a state the PLC itself entered to follow the plant, the PLC
drives PackML toward the state :data:`~.mirror.MIRROR` gives for the station's physical
state, along the whole shortest route of PackML commands (:func:`~.packml.route`); such
automatic commands never act on the station. So a breakdown shows Execute -> Aborting ->
Aborted with ``StopReason`` breakdown and an alarm, and when the repair is over the PLC
clears, resets and starts again by itself (Clearing -> Stopped -> Resetting -> Idle ->
Starting -> Execute); an operator Stop stays Stopped until the operator resets and starts.
With ``reset="operator"`` an Aborted machine is never cleared by the PLC: it waits for a
client's Clear, Reset and Start.

When. The station calls the PLC's observer on every change; the PLC follows once at the end
of that simulated instant (a SimPy event of priority :data:`~.mirror.END_OF_INSTANT`,
scheduled once per instant), looking at the station's state then: a part finished and the
next one taken in one instant is no change, so no PackML blip. Every state of the route is
written to ``Status.StateCurrent`` in turn (each one change, dated that instant). An acting
state lasts its acting time (default 0 s: it appears and completes in the same instant) and
completes at its exact instant (a timer, not the next scan), whether a client command or the
PLC entered it. With any acting time above 0 (or ``reset="operator"``) the station is
interlocked (:func:`needs_interlock`): it does not start work after a stop until the PLC
permits it, which it does when PackML reaches Execute, so the plant never produces outside
Execute and waits in its stop state (booked to that stop's time element) while PackML
leaves it.

``Admin.StopReason`` is set on leaving Execute and again whenever the stopped plant's reason
changes (starved, then a breakdown), so each reason's downtime can be attributed from it.

This is a part of :class:`~.plc.VirtualPLC` (its base class :class:`PlantFollower`), kept
apart from the scan and the client requests because it runs on the plant's events, not on
the scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import simpy

from mestwin.virtual_plc.image import ProcessImage
from mestwin.virtual_plc.mirror import (
    END_OF_INSTANT,
    RUNNING,
    publish_packml,
    publish_physical,
)
from mestwin.virtual_plc.packml import (
    ACTING_STATES,
    PackMLMachine,
    State,
    StateNumbering,
    UnitMode,
    route,
)
from mestwin.virtual_plc.port import StationPort
from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import stop_reason

_MAX_STEPS = 64
"""Bound on the PackML commands of one follow (a route is at most a handful)."""


def needs_interlock(acting_time_s: float | Mapping[State, float], reset: str) -> bool:
    """Whether the station must wait for PackML's Execute before it works again: with any
    acting time above 0 s, or ``reset="operator"``."""
    timed = (acting_time_s.values() if isinstance(acting_time_s, Mapping)
             else (acting_time_s,))
    return reset == "operator" or any(t > 0 for t in timed)


class PlantFollower:
    """PackML following its station at the plant's instants (the base of ``VirtualPLC``,
    which sets every attribute below)."""

    station: StationPort
    env: simpy.Environment
    packml: PackMLMachine
    tags: TagValues
    image: ProcessImage
    mirror: Mapping[tuple[int, str | None], State]
    numbering: StateNumbering
    start_datetime: datetime
    reset: str
    frozen: bool
    _auto: bool
    """True if the PLC, not an operator, put PackML in its current state."""
    _follow_pending: bool
    _timer_for: tuple[State, float] | None
    """The acting state (and its entry time) a completion timer is set for."""
    _shown_reason: str | None
    _published: tuple[tuple[State, UnitMode], int, str, str | None, float] | None
    _followed: tuple[object, ...] | None
    """What the station showed when the PLC last followed it."""

    def _init_follow(self) -> None:
        self._follow_pending = False
        self._timer_for = None
        self._shown_reason = None
        self._published = None
        self._followed = None
        self._auto = True

    def _on_plant_change(self, _machine: object) -> None:
        """The plant changed state or counts: update the process image at once (like an
        interrupt-driven task), so state times and counts carry their exact time, and
        follow with PackML at the end of this instant if what PackML follows changed (a
        count alone does not)."""
        if self.frozen:
            self._permit()  # a PLC in STOP holds nothing back: the plant runs on
            return
        self.image.update()
        if not self._follow_pending and self._followed_key() != self._followed:
            self._schedule_follow()

    def _followed_key(self) -> tuple[object, ...]:
        st = self.station
        return (int(st.state), st.reason, st.current_order,
                getattr(st, "awaiting_run", False))

    def _schedule_follow(self) -> None:
        if not self._follow_pending:
            self._follow_pending = True
            event = simpy.Event(self.env)
            event._ok = True
            event._value = None
            event.callbacks.append(self._follow_event)
            self.env.schedule(event, END_OF_INSTANT)

    def _follow_event(self, _event: object) -> None:
        self._follow_pending = False
        if not self.frozen:
            self._advance(self.env.now)

    def _advance(self, now: float, follow: bool = True) -> None:
        """Complete acting states whose time is over (set a timer for one that is not) and,
        if *follow*, drive PackML along the route to the plant's state, writing every state
        on the way; then permit the station to work if PackML is in Execute."""
        packml = self.packml
        for _ in range(_MAX_STEPS):
            state = packml.state
            if state in ACTING_STATES:
                if packml.remaining(now) > 0:
                    self._arm_timer(now)
                    break
                packml.complete(now)
                self._publish_step(now)
                continue
            if not follow or not self._follows(state):
                break
            target = self._target()
            commands = route(state, target) if target is not state else ()
            if not commands:
                break
            if state is State.EXECUTE:
                self._set_stop_reason(self.station.reason, int(self.station.state), now)
            packml.command(commands[0], now)
            self._auto = True
            self._publish_step(now)
        if follow:
            self._permit()
            self._track_stop_reason(now)
            self._followed = self._followed_key()
        self._publish_state(now)

    def _arm_timer(self, now: float) -> None:
        """Complete the current acting state at its exact instant."""
        key = (self.packml.state, self.packml.since)
        if self._timer_for == key:
            return
        self._timer_for = key
        timer = self.env.timeout(self.packml.remaining(now))
        timer.callbacks.append(lambda _event: self._acting_over(key))

    def _acting_over(self, key: tuple[State, float]) -> None:
        packml = self.packml
        if (packml.state, packml.since) != key:
            return  # a command left the acting state before its time was over
        self._timer_for = None
        if self.frozen:
            return
        now = self.env.now
        packml.complete(now)
        self._publish_step(now)
        self._advance(now, follow=False)
        self._schedule_follow()

    def _mirrored(self) -> State:
        state, reason = int(self.station.state), self.station.reason
        target = self.mirror.get((state, reason))
        return target if target is not None else self.mirror[state, None]

    def _target(self) -> State:
        """Execute if the station waits for the PLC's permit to work, else the mirror."""
        if getattr(self.station, "awaiting_run", False):
            return State.EXECUTE
        return self._mirrored()

    def _follows(self, state: State) -> bool:
        """Whether the PLC drives PackML out of *state* to follow the plant."""
        if state is State.EXECUTE:
            return True
        return self._auto and not (self.reset == "operator" and state is State.ABORTED)

    def _permit(self) -> None:
        station = self.station
        if (getattr(station, "awaiting_run", False)
                and (self.frozen or self.packml.state is State.EXECUTE)):
            station.permit_run()  # type: ignore[attr-defined]

    def _track_stop_reason(self, now: float) -> None:
        """While stopped, ``StopReason`` follows the cause (starved, then a breakdown)."""
        station = self.station
        physical = int(station.state)
        if (physical not in RUNNING and self.packml.state is not State.EXECUTE
                and station.reason != self._shown_reason):
            self._set_stop_reason(station.reason, physical, now)

    def _set_stop_reason(self, reason: str, physical: int, now: float) -> None:
        self._shown_reason = reason
        code = stop_reason(reason)
        tags = self.tags
        tags.set("PackTags.Admin.StopReason.ID", code.id)
        tags.set("PackTags.Admin.StopReason.Value", int(physical))
        tags.set("PackTags.Admin.StopReason.Message", code.message)
        tags.set("PackTags.Admin.StopReason.Category", int(code.category))
        tags.set("PackTags.Admin.StopReason.DateTime", self._pac(now))

    def _publish_step(self, now: float) -> None:
        """Write a state PackML passes through (the rest follows at the end of the step)."""
        packml, put = self.packml, self.tags.set
        self._published = None  # the end of the step writes everything again
        put("PackTags.Admin.PACDateTime", self._pac(now))
        put("PackTags.Status.StateCurrent", self.numbering.code(packml.state))
        put("PackTags.Status.StateRequested", self.numbering.code(packml.requested))
        put("PackTags.Status.StateChangeInProcess", packml.acting)

    def _publish_state(self, now: float, force: bool = False) -> None:
        """Write the tags that depend on the PackML and physical state (at once when either
        changes, so they agree at every instant; all of them at a scan), with the
        PACDateTime of the change."""
        st, packml = self.station, self.packml
        state_key = (packml.state, packml.mode)
        key = (state_key, int(st.state), st.reason, st.current_order, st.speed)
        if key == self._published and not force:
            return
        pac = self._pac(now)
        self.tags.set("PackTags.Admin.PACDateTime", pac)
        if force or self._published is None or self._published[0] != state_key:
            publish_packml(self.tags, packml, self.numbering, now)
        publish_physical(self.tags, st, packml, pac)
        self._published = key

    def _pac(self, now: float) -> datetime:
        return self.start_datetime + timedelta(seconds=now)
