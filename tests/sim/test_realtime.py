"""Specification of the real-time driver (mestwin.sim.realtime)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator

import pytest
import simpy

from mestwin.sim.realtime import RealtimeDriver


def ticker(
    env: simpy.Environment, period: float, log: list[float]
) -> Generator[simpy.Event, None, None]:
    """A process that records env.now every ``period`` simulated seconds."""
    while True:
        log.append(env.now)
        yield env.timeout(period)


def make_env(period: float = 1.0) -> tuple[simpy.Environment, list[float]]:
    env = simpy.Environment()
    log: list[float] = []
    env.process(ticker(env, period, log))
    return env, log


def test_paced_run_takes_at_least_the_scaled_wall_time_and_processes_every_tick() -> None:
    """At 100x, 100 simulated seconds never finish before 1 s of wall time has passed.

    Only the lower bound is asserted: it is the pacing guarantee itself (the driver must
    not run ahead of the wall clock) and load can only make a run slower, never faster.
    How close to 1 s it stays is measured by `make bench`, not asserted here.
    """
    env, log = make_env(period=1.0)
    driver = RealtimeDriver(env, speed=100.0)
    start = time.monotonic()
    asyncio.run(driver.run_until(100.0))
    elapsed = time.monotonic() - start
    assert env.now == 100.0
    assert log == [float(t) for t in range(100)]
    assert elapsed >= 0.98
    stats = driver.lag_stats()
    assert stats.count == 100
    assert 0.0 <= stats.p50 <= stats.p99 <= stats.max


def test_run_until_stops_exactly_at_the_requested_time() -> None:
    """run_until(t) leaves env.now == t and does not process events scheduled after t."""
    env, log = make_env(period=0.3)
    driver = RealtimeDriver(env, speed=None)
    asyncio.run(driver.run_until(1.0))
    assert env.now == 1.0
    assert log == pytest.approx([0.0, 0.3, 0.6, 0.9])
    assert env.peek() == pytest.approx(1.2)


def test_as_fast_as_possible_completes_a_long_horizon_quickly() -> None:
    """speed=None runs one simulated week of one-second ticks without pacing."""
    env, log = make_env(period=1.0)
    driver = RealtimeDriver(env, speed=None)
    asyncio.run(driver.run_until(7 * 24 * 3600.0))
    assert env.now == 7 * 24 * 3600.0
    assert len(log) == 7 * 24 * 3600


def test_as_fast_as_possible_keeps_the_event_loop_responsive() -> None:
    """Other coroutines run while a long fast simulation is in progress."""
    env, _ = make_env(period=1.0)
    driver = RealtimeDriver(env, speed=None, batch_budget=0.005)
    sim_times_seen: list[float] = []

    async def observer() -> None:
        while driver.running or not sim_times_seen:
            sim_times_seen.append(env.now)
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(driver.run_until(200_000.0), observer())

    asyncio.run(main())
    assert len(set(sim_times_seen)) > 3  # the observer ran between batches, not only at the end


def test_pause_freezes_simulated_time_and_resume_continues() -> None:
    """While paused env.now does not move; after resume the run completes normally."""
    env, log = make_env(period=0.5)
    driver = RealtimeDriver(env, speed=50.0)

    async def main() -> tuple[float, float]:
        task = asyncio.create_task(driver.run_until(20.0))
        await asyncio.sleep(0.1)
        driver.pause()
        await asyncio.sleep(0.02)  # let an in-flight batch finish
        frozen = env.now
        await asyncio.sleep(0.3)  # at 50x this would be 15 simulated seconds
        still = env.now
        assert driver.paused
        driver.resume()
        await task
        return frozen, still

    frozen, still = asyncio.run(main())
    assert frozen == still
    assert frozen < 20.0
    assert env.now == 20.0
    assert log == pytest.approx([0.5 * i for i in range(40)])


def test_step_processes_exactly_one_event() -> None:
    """step() while paused advances the schedule by exactly one event."""
    env, log = make_env(period=2.0)
    driver = RealtimeDriver(env, speed=1.0)
    driver.pause()
    assert driver.step()  # the process initialisation event
    assert log == [0.0]
    assert driver.step()  # the first timeout fires, the process logs t=2
    assert log == [0.0, 2.0]
    assert env.now == 2.0
    assert driver.step()
    assert log == [0.0, 2.0, 4.0]


def test_step_on_an_empty_schedule_reports_false() -> None:
    """Nothing scheduled: step() returns False and time stays put."""
    env = simpy.Environment()
    driver = RealtimeDriver(env, speed=1.0)
    assert not driver.step()
    assert env.now == 0


def test_speed_change_at_run_time_takes_effect() -> None:
    """Switching from a slow pace to as-fast-as-possible finishes a long horizon at once."""
    env, _ = make_env(period=1.0)
    driver = RealtimeDriver(env, speed=1.0)

    async def main() -> float:
        task = asyncio.create_task(driver.run_until(10_000.0))
        await asyncio.sleep(0.2)
        before = env.now
        assert before < 10.0  # 1x: only a fraction of a second has been simulated
        driver.set_speed(None)
        await asyncio.wait_for(task, timeout=20.0)
        return before

    asyncio.run(main())
    assert env.now == 10_000.0
    assert driver.speed is None


def test_warn_policy_slips_instead_of_bursting_and_catch_up_keeps_the_schedule() -> None:
    """A model event that blocks the loop makes later events late.

    With "warn" the clock re-anchors, so events after the stall are not late any more;
    with "catch_up" the backlog is processed late, as fast as possible.
    """

    def stalling(env: simpy.Environment, log: list[float]) -> Generator[simpy.Event, None, None]:
        for i in range(40):
            log.append(env.now)
            if i == 5:
                time.sleep(0.3)  # the model itself stalls the loop for 0.3 s of wall time
            yield env.timeout(0.1)

    results = {}
    for policy in ("warn", "catch_up"):
        env = simpy.Environment()
        log: list[float] = []
        env.process(stalling(env, log))
        driver = RealtimeDriver(env, speed=10.0, lag_policy=policy, max_lag=0.1)
        asyncio.run(driver.run_until(4.0))
        assert log == pytest.approx([0.1 * i for i in range(40)])
        results[policy] = driver.lag_stats()
    assert results["warn"].late_count == 1  # only the event right after the stall
    assert results["catch_up"].late_count >= 2  # the backlog is late until caught up
    assert results["catch_up"].max >= 0.2


def test_stop_makes_run_until_return_early() -> None:
    """stop() ends an unbounded paced run; the environment keeps its state."""
    env, _ = make_env(period=1.0)
    driver = RealtimeDriver(env, speed=100.0)

    async def main() -> None:
        task = asyncio.create_task(driver.run_until(None))
        await asyncio.sleep(0.1)
        driver.stop()
        await asyncio.wait_for(task, timeout=5.0)

    asyncio.run(main())
    assert 0 < env.now < 1000
    assert not driver.running


def test_listeners_are_called_after_batches() -> None:
    """A listener sees every batch; removing it stops the calls."""
    env, _ = make_env(period=1.0)
    driver = RealtimeDriver(env, speed=None)
    calls: list[float] = []

    def listener() -> None:
        calls.append(env.now)

    driver.add_listener(listener)
    asyncio.run(driver.run_until(50.0))
    assert calls
    assert calls[-1] == 50.0
    driver.remove_listener(listener)
    n = len(calls)
    asyncio.run(driver.run_until(60.0))
    assert len(calls) == n


def test_invalid_arguments_are_refused() -> None:
    """Non-positive speeds, unknown lag policies and until in the past raise."""
    env = simpy.Environment()
    with pytest.raises(ValueError, match="speed"):
        RealtimeDriver(env, speed=0.0)
    with pytest.raises(ValueError, match="lag policy"):
        RealtimeDriver(env, speed=1.0, lag_policy="drop")  # type: ignore[arg-type]
    env.run(until=5)
    driver = RealtimeDriver(env, speed=None)
    with pytest.raises(ValueError, match="until"):
        asyncio.run(driver.run_until(1.0))
