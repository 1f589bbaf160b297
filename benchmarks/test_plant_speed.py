"""Plant model speed against a bare hand-written SimPy model of the same line.

The line: a saturated source, 5 single-server stations with exponential process times
(mean 1) and input buffers of 5, blocking after service. The bare model is what an
engineer would write by hand: simpy.Store buffers and stdlib ``random`` variates, no log,
no accounting. The acceptance target is ours / bare >= 0.7 in parts per second.
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator
from typing import Any

import simpy

from mestwin.sim.scenario import build_plant, parse_scenario

STATIONS = 5
BUFFER = 5
HORIZON = 60_000.0
TARGET = 0.7


def bare_line(seed: int, horizon: float) -> int:
    """Parts finished by the bare SimPy line by *horizon*."""
    env = simpy.Environment()
    rngs = [random.Random(seed * 100 + i) for i in range(STATIONS)]
    buffers = [simpy.Store(env, capacity=BUFFER + 1) for _ in range(STATIONS)]
    done = [0]

    def source() -> Generator[Any, Any, None]:
        n = 0
        while True:
            n += 1
            yield buffers[0].put(n)

    def station(i: int) -> Generator[Any, Any, None]:
        rng = rngs[i]
        while True:
            part = yield buffers[i].get()
            yield env.timeout(rng.expovariate(1.0))
            if i + 1 < STATIONS:
                yield buffers[i + 1].put(part)
            else:
                done[0] += 1

    env.process(source())
    for i in range(STATIONS):
        env.process(station(i))
    env.run(until=horizon)
    return done[0]


def mestwin_line(seed: int, horizon: float) -> int:
    """Parts finished by the same line built from a scenario (event log and accounting on)."""
    stations: list[dict[str, Any]] = [
        {"id": f"s{i}", "process_time": {"dist": "exponential", "mean": 1.0}, "buffer": BUFFER,
         "to": f"s{i + 1}" if i + 1 < STATIONS else "sink"}
        for i in range(STATIONS)
    ]
    scenario = parse_scenario({"name": "bench line", "seed": seed, "horizon": horizon,
                               "sources": [{"id": "feed", "saturated": True, "to": "s0"}],
                               "stations": stations})
    plant = build_plant(scenario)
    plant.run(horizon)
    return plant.exited


def _rate(model: Any, seed: int) -> float:
    start = time.perf_counter()
    parts = model(seed, HORIZON)
    return parts / (time.perf_counter() - start)


def test_plant_model_parts_per_second_against_bare_simpy(benchmark: Any,
                                                         record_ratio: Any) -> None:
    """Best of 5 interleaved runs each; ratio of parts/s must be at least 0.7."""
    ours, bare = [], []
    for seed in range(5):
        bare.append(_rate(bare_line, seed))
        ours.append(_rate(mestwin_line, seed))
    benchmark.pedantic(mestwin_line, args=(0, HORIZON), rounds=3, iterations=1)
    ratio = max(ours) / max(bare)
    record_ratio("plant_parts_per_s", mestwin=max(ours), bare_simpy=max(bare), ratio=ratio,
                 target=TARGET)
    assert ratio >= TARGET
