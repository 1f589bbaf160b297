"""A scenario's ``packml`` options, end to end: the closed loop's PLCs take the acting
times the scenario gives, and per machine the time in PackML Execute, summed from the
PLC's dated ``StateCurrent`` changes, equals the truth file's APT + ASUT (``mestwin truth``
format, sim/truth.py) to 1e-6 s, with breakdowns, minor stops, starvation and blocking."""

from __future__ import annotations

import io
import itertools
import json
from typing import Any

import pytest

from mestwin.plantmodels import Retention
from mestwin.sim.loop import ClosedLoop
from mestwin.sim.scenario import build_plant
from mestwin.sim.scenario.loader import parse_scenario
from mestwin.sim.truth import TruthRecorder
from mestwin.virtual_plc.packml import ACTING_STATES, State

STATE = "PackTags.Status.StateCurrent"
PLANT_WIDE = {"aborting": "1s", "clearing": 2, "resetting": "1.5s", "starting": 3,
              "holding": 0.5, "unholding": 0.25, "suspending": 0.75, "unsuspending": 1.25,
              "stopping": 2.5}
OWN = {"clearing": 4, "unsuspending": "500ms"}
"""Station ``b`` overrides two of them."""

SCENARIO: dict[str, Any] = {
    "name": "acting_line", "seed": 7, "horizon": "6h", "warmup": 0,
    "packml": {"acting_time": PLANT_WIDE},
    "sources": [{"id": "src", "interarrival": {"dist": "exponential", "mean": 11}, "to": "a"}],
    "stations": [
        {"id": "a", "buffer": 4, "process_time": {"dist": "exponential", "mean": 6},
         "to": "b",
         "failures": {"ttf": {"dist": "exponential", "mean": 900},
                      "ttr": {"dist": "exponential", "mean": 60}},
         "microstops": {"every": {"dist": "exponential", "mean": 80},
                        "duration": {"dist": "exponential", "mean": 0.6}}},
        {"id": "b", "buffer": 2, "process_time": {"dist": "exponential", "mean": 10},
         "to": "sink", "packml": {"acting_time": OWN},
         "failures": {"ttf": {"dist": "exponential", "mean": 1200},
                      "ttr": {"dist": "exponential", "mean": 40}}},
    ],
}


def _changes(loop: ClosedLoop, machine: str) -> list[tuple[float, State]]:
    plc = loop.plcs[machine]
    changes = [(float(loop.env.now), State(plc.tags.integer(STATE)))]
    def record(_path: str, value: object) -> None:
        assert isinstance(value, int)
        changes.append((float(loop.env.now), State(value)))

    plc.tags.watch(record, [STATE])
    return changes


@pytest.mark.timeout(120)
def test_execute_time_equals_the_truths_producing_time_per_machine() -> None:
    scenario = parse_scenario(SCENARIO)
    loop = ClosedLoop.build(scenario, scan_time_s=10.0)
    truth = io.StringIO()
    recorder = TruthRecorder(loop.plant, truth, scenario.name, scenario.seed, 0.0,
                             scenario.horizon)
    recorder.attach(loop.plant)
    changes = {m: _changes(loop, m) for m in ("a", "b")}
    loop.run()
    recorder.finish(scenario.horizon)
    rows = [json.loads(line) for line in truth.getvalue().splitlines()]
    machines = {r["machine"]: r for r in rows if r["type"] == "machine"}
    end = scenario.horizon
    for machine, seen in changes.items():
        elements = machines[machine]["elements"]
        assert elements["ADET"] > 300, machine  # breakdowns and minor stops happened
        assert elements["ADOT"] > 300, machine  # starved or blocked too
        intervals = sum(r["end"] - r["start"] for r in rows
                        if r["type"] == "interval" and r["machine"] == machine
                        and r["element"] in ("APT", "ASUT"))
        execute = sum(t1 - t0 for (t0, s), (t1, _) in zip(
            seen, [*seen[1:], (end, State.UNDEFINED)], strict=True) if s is State.EXECUTE)
        assert execute == pytest.approx(elements["APT"] + elements["ASUT"], abs=1e-6), machine
        assert execute == pytest.approx(intervals, abs=1e-6), machine
        acting = {**{State[k.upper()]: float(str(v).rstrip("s")) for k, v in PLANT_WIDE.items()},
                  **({State.CLEARING: 4.0, State.UNSUSPENDING: 0.5} if machine == "b" else {})}
        durations: dict[State, set[float]] = {}
        for (t0, state), (t1, _) in itertools.pairwise(seen):
            if state in ACTING_STATES:
                durations.setdefault(state, set()).add(round(t1 - t0, 9))
        assert {State.ABORTING, State.CLEARING, State.SUSPENDING, State.UNSUSPENDING,
                State.RESETTING, State.STARTING} <= set(durations), machine
        for state, lengths in durations.items():
            assert lengths == {acting[state]}, (machine, state)


@pytest.mark.timeout(120)
def test_with_acting_time_zero_the_plcs_leave_the_plants_event_log_untouched() -> None:
    """The plant alone and the plant under its PLCs (all acting times 0, the default)
    write the same event log byte for byte: following at the instant changes no plant
    event. Non-zero acting times do change it (the plant waits for them)."""
    quick = {**SCENARIO, "horizon": "2h", "packml": None}
    quick["stations"] = [{k: v for k, v in s.items() if k != "packml"}
                         for s in SCENARIO["stations"]]
    scenario = parse_scenario(quick)
    alone = build_plant(scenario)
    alone.log.retain(Retention.ALL)
    alone.run(scenario.horizon)
    loop = ClosedLoop.build(scenario, scan_time_s=10.0)
    loop.run()
    assert loop.plant.log.sha256() == alone.log.sha256()
    acting = ClosedLoop.build(parse_scenario({**quick, "horizon": "2h",
                                              "packml": {"acting_time": PLANT_WIDE}}))
    acting.run()
    assert acting.plant.log.sha256() != alone.log.sha256()
