"""Pace a SimPy environment against the wall clock inside an asyncio event loop.

``simpy.rt.RealtimeEnvironment`` sleeps with ``time.sleep`` and would block the event
loop that serves OPC UA and Modbus, so this driver steps an ordinary
``simpy.Environment`` from a coroutine instead: every iteration it computes the
simulation time the wall clock allows (``anchor_sim + (wall - anchor_wall) * speed``),
processes every event due up to that time in one batch, then awaits
``asyncio.sleep`` until the next event is due (never longer than ``max_sleep`` so that
pause, resume and speed changes take effect quickly).

Lag is the wall time by which an event was processed after its due time; it is
recorded per event and summarised by :meth:`RealtimeDriver.lag_stats`. Two policies:

* ``"warn"``: when lag exceeds ``max_lag`` a warning is logged and the clock is
  re-anchored at the late event, so the simulation slips behind the requested speed
  instead of bursting.
* ``"catch_up"``: the anchor is kept; late events run as fast as possible until the
  simulation is back on schedule.

With ``speed=None`` (or ``inf``) events run as fast as possible, but the driver still
yields to the loop after every batch (at most ``batch_budget`` seconds of wall time)
so servers stay responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import simpy
from simpy.events import URGENT

__all__ = ["LagPolicy", "LagStats", "RealtimeDriver"]

LagPolicy = Literal["warn", "catch_up"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LagStats:
    """Summary of per-event lag (seconds of wall time behind schedule)."""

    count: int
    p50: float
    p99: float
    max: float
    late_count: int  # events later than ``max_lag``


def _quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list (0.0 for an empty list)."""
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


class RealtimeDriver:
    """Run ``env`` at ``speed`` x wall time from an asyncio coroutine.

    ``speed`` is simulated seconds per wall second (``None`` or ``inf``: as fast as
    possible). The driver never touches the model: it only calls ``env.step()``.
    Listeners added with :meth:`add_listener` are called after every batch of events
    (e.g. to wake a protocol server that publishes PLC tags).
    """

    def __init__(
        self,
        env: simpy.Environment,
        speed: float | None = 1.0,
        *,
        lag_policy: LagPolicy = "warn",
        max_lag: float = 0.25,
        max_sleep: float = 0.05,
        batch_budget: float = 0.02,
        lag_window: int = 100_000,
    ) -> None:
        if lag_policy not in ("warn", "catch_up"):
            raise ValueError(f"unknown lag policy {lag_policy!r}")
        if max_sleep <= 0 or batch_budget <= 0:
            raise ValueError("max_sleep and batch_budget must be positive")
        self.env = env
        self.lag_policy: LagPolicy = lag_policy
        self.max_lag = max_lag
        self.max_sleep = max_sleep
        self.batch_budget = batch_budget
        self._speed = self._check_speed(speed)
        self._anchor_wall = time.monotonic()
        self._anchor_sim = float(env.now)
        self._paused = False
        self._paused_at = float(env.now)
        self._stop_requested = False
        self._running = False
        self._wake = asyncio.Event()
        self._lags: deque[float] = deque(maxlen=lag_window)
        self._lag_count = 0
        self._lag_max = 0.0
        self._late_count = 0
        self._last_warning = -math.inf
        self._listeners: list[Callable[[], None]] = []

    # -- configuration -------------------------------------------------------------

    @staticmethod
    def _check_speed(speed: float | None) -> float:
        value = math.inf if speed is None else float(speed)
        if not value > 0:
            raise ValueError(
                f"speed must be positive (or None for as fast as possible), got {speed}"
            )
        return value

    @property
    def speed(self) -> float | None:
        """Simulated seconds per wall second, ``None`` when running as fast as possible."""
        return None if math.isinf(self._speed) else self._speed

    @speed.setter
    def speed(self, speed: float | None) -> None:
        self.set_speed(speed)

    def set_speed(self, speed: float | None) -> None:
        """Change the speed at run time; the clock continues from the current sim time."""
        value = self._check_speed(speed)
        self._reanchor(self.sim_time)
        self._speed = value
        self._wake.set()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every batch of processed events."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` (no error if it was not registered)."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    # -- clock ---------------------------------------------------------------------

    @property
    def sim_time(self) -> float:
        """Simulation time the wall clock stands at (``env.now`` while paused or fast)."""
        now = float(self.env.now)
        if self._paused:
            return max(now, self._paused_at)
        if math.isinf(self._speed):
            return now
        target = self._anchor_sim + (time.monotonic() - self._anchor_wall) * self._speed
        return max(now, min(target, self.env.peek()))

    def _target(self, wall: float) -> float:
        return self._anchor_sim + (wall - self._anchor_wall) * self._speed

    def _reanchor(self, sim: float) -> None:
        self._anchor_sim = max(sim, float(self.env.now))
        self._anchor_wall = time.monotonic()

    # -- control -------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def running(self) -> bool:
        """True while :meth:`run_until` is executing."""
        return self._running

    def pause(self) -> None:
        """Freeze simulated time: no event is processed until :meth:`resume`."""
        if not self._paused:
            self._paused_at = self.sim_time
            self._paused = True
            self._wake.set()

    def resume(self) -> None:
        """Continue from the time at which the simulation was paused (or last stepped)."""
        if self._paused:
            self._paused = False
            self._reanchor(self._paused_at)
            self._wake.set()

    def step(self) -> bool:
        """Process exactly one event now, regardless of pacing; False if none is scheduled.

        Meant for single-stepping while paused; the clock continues from the stepped
        event's time on :meth:`resume`.
        """
        if math.isinf(self.env.peek()):
            return False
        self.env.step()
        self._paused_at = max(self._paused_at, float(self.env.now))
        if not self._paused:
            self._reanchor(float(self.env.now))
        self._notify()
        return True

    def stop(self) -> None:
        """Make a running :meth:`run_until` return after its current batch."""
        self._stop_requested = True
        self._wake.set()

    # -- statistics ----------------------------------------------------------------

    def lag_stats(self) -> LagStats:
        """Lag statistics over the last ``lag_window`` paced events (max over all)."""
        ordered = sorted(self._lags)
        return LagStats(
            count=self._lag_count,
            p50=_quantile(ordered, 0.50),
            p99=_quantile(ordered, 0.99),
            max=self._lag_max,
            late_count=self._late_count,
        )

    def _record_lag(self, lag: float) -> None:
        self._lags.append(lag)
        self._lag_count += 1
        self._lag_max = max(self._lag_max, lag)
        if lag > self.max_lag:
            self._late_count += 1

    # -- the loop ------------------------------------------------------------------

    async def run_until(self, until: float | None = None) -> None:
        """Process events, paced, until simulation time ``until`` (forever if None).

        Like ``simpy.Environment.run(until=...)``: events scheduled strictly before
        ``until`` are processed and ``env.now == until`` on return. Returns early when
        :meth:`stop` is called, or when no event is left and ``until`` is None.
        """
        if self._running:
            raise RuntimeError("run_until is already running")
        reached = [False]
        if until is not None:
            if until < self.env.now:
                raise ValueError(f"until ({until}) must not be before env.now ({self.env.now})")
            marker = self.env.event()
            marker._ok = True  # the same trick simpy.Environment.run uses for its stop event
            marker._value = None
            marker.callbacks.append(lambda _event: reached.__setitem__(0, True))
            self.env.schedule(marker, URGENT, until - self.env.now)
        self._running = True
        self._stop_requested = False
        if not self._paused:
            self._reanchor(self.sim_time)
        try:
            while not reached[0] and not self._stop_requested:
                if self._paused:
                    await self._idle(self.max_sleep)
                    continue
                if math.isinf(self.env.peek()):
                    if until is None:
                        return
                    raise RuntimeError("event queue empty before the until marker")
                if math.isinf(self._speed):
                    self._run_fast_batch(reached)
                    self._notify()
                    await asyncio.sleep(0)
                else:
                    await self._run_paced_iteration(reached)
        finally:
            self._running = False

    def _run_fast_batch(self, reached: list[bool]) -> None:
        env = self.env
        deadline = time.monotonic() + self.batch_budget
        while not reached[0]:
            for _ in range(64):  # read the clock only every 64 events
                if reached[0] or math.isinf(env.peek()):
                    return
                env.step()
            if time.monotonic() >= deadline:
                return

    async def _run_paced_iteration(self, reached: list[bool]) -> None:
        env = self.env
        wall = time.monotonic()
        next_time = env.peek()
        if next_time > self._target(wall):
            delay = (next_time - self._target(wall)) / self._speed
            await self._idle(min(delay, self.max_sleep))
            return
        deadline = wall + self.batch_budget
        processed = False
        while not reached[0] and not self._paused and not math.isinf(self._speed):
            next_time = env.peek()
            wall = time.monotonic()
            if next_time > self._target(wall):
                break
            due_wall = self._anchor_wall + (next_time - self._anchor_sim) / self._speed
            env.step()
            processed = True
            if reached[0]:
                break  # the until marker is not a model event
            lag = max(0.0, wall - due_wall)
            self._record_lag(lag)
            if lag > self.max_lag and self.lag_policy == "warn":
                self._warn_lag(lag)
                self._anchor_sim, self._anchor_wall = float(env.now), wall
            if wall >= deadline:
                break
        if processed:
            self._notify()
        await asyncio.sleep(0)

    def _warn_lag(self, lag: float) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 1.0:
            self._last_warning = now
            _log.warning(
                "simulation %.3f s behind wall clock at t=%.3f (speed %.3g); slipping",
                lag,
                self.env.now,
                self._speed,
            )

    async def _idle(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early on pause/resume/speed/stop changes."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()
