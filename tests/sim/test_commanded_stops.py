"""Client commands, in process: the MES's ``packml`` state source books every stop to the
element the ground truth books it to (issue 9, points 5 and 8).

A client sends Abort, then Clear, Reset, Start; Suspend then Unsuspend; Hold then Unhold;
Stop then Reset, Start (the PLC's ``CntrlCmd`` and ``CmdChangeRequest``, as an MES writes
them). PackML shows Aborted and Suspended, but the plant is stopped (``abort``: ADOT) and
held (``operator_hold``: ADET): booked by the PackML state alone (Aborted -> ADET,
Suspended -> ADOT) they would be wrong; booked by their stop reason they are right. The
truth is the truth file (sim/truth.py) of the same run, never the MES's code.
"""

from __future__ import annotations

import io
import json
from collections.abc import Generator
from typing import Any

import pytest
import simpy

from mestwin.mes_core.collection.events import Event, StateInterval
from mestwin.sim.loop import ClosedLoop
from mestwin.sim.scenario.loader import parse_scenario
from mestwin.sim.truth import TruthRecorder
from mestwin.virtual_plc.packml import Command
from mestwin.virtual_plc.tags import stop_reason

ACTING = {"aborting": "1s", "clearing": 2, "resetting": "1.5s", "starting": 3,
          "holding": 0.5, "unholding": 0.25, "suspending": 0.75, "unsuspending": 1.25,
          "stopping": 2.5}
SCRIPT: tuple[tuple[float, Command], ...] = (
    (300.0, Command.ABORT), (400.0, Command.CLEAR), (460.0, Command.RESET),
    (520.0, Command.START),
    (900.0, Command.SUSPEND), (1000.0, Command.UNSUSPEND),
    (1500.0, Command.HOLD), (1600.0, Command.UNHOLD),
    (2100.0, Command.STOP), (2200.0, Command.RESET), (2260.0, Command.START),
)
"""(simulated second, command) a client sends, in order."""
EXPECTED = {11: "ADOT", 74: "ADET", 73: "ADOT"}
"""What the plant is in for each command's stop reason (plantmodels states: abort and
operator_stop stop it, ADOT; operator_hold holds it, ADET)."""


def _scenario(acting: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": "commanded", "seed": 3, "horizon": "1h", "warmup": "60s",
        **({"packml": {"acting_time": acting}} if acting else {}),
        "sources": [{"id": "feed", "saturated": True, "to": "m"}],
        "stations": [{"id": "m", "buffer": 2, "process_time": {"dist": "exponential", "mean": 7},
                      "to": "sink"}],
    }


def _client(env: simpy.Environment, loop: ClosedLoop) -> Generator[simpy.Event, Any, None]:
    plc = loop.plcs["m"]
    for at, command in SCRIPT:
        yield env.timeout(at - env.now)
        assert plc.write("PackTags.Command.CntrlCmd", int(command)).accepted
        assert plc.write("PackTags.Command.CmdChangeRequest", True).accepted


def _by_reason(items: list[tuple[int, str, float]]) -> dict[tuple[int, str], float]:
    out: dict[tuple[int, str], float] = {}
    for code, element, seconds in items:
        if element != "APT" and seconds > 0:
            out[(code, element)] = out.get((code, element), 0.0) + seconds
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("acting", [None, ACTING], ids=["instant", "acting-times"])
def test_each_commanded_stop_is_booked_as_the_truth_books_it(
        acting: dict[str, Any] | None) -> None:
    """Per (stop reason, element), the MES's seconds in the window equal the truth's to
    1e-6 s, and so do its elements; abort and operator stop are ADOT, the hold ADET."""
    scenario = parse_scenario(_scenario(acting))
    intervals: list[StateInterval] = []

    def sink(events: list[Event]) -> None:
        intervals.extend(e for e in events if isinstance(e, StateInterval))

    loop = ClosedLoop.build(scenario, sinks=[sink], state_source="packml")
    stream = io.StringIO()
    recorder = TruthRecorder(loop.plant, stream, scenario.name, scenario.seed,
                             scenario.warmup, scenario.horizon)
    recorder.attach(loop.plant)
    loop.env.process(_client(loop.env, loop))
    loop.run()
    recorder.finish(scenario.horizon)
    rows = [json.loads(line) for line in stream.getvalue().splitlines()]
    start, end = scenario.warmup, scenario.horizon

    def clip(a: float, b: float) -> float:
        return max(0.0, min(b, end) - max(a, start))

    true = _by_reason([(r["reason_code"], r["element"], clip(r["start"], r["end"]))
                       for r in rows if r["type"] == "interval"])
    seen = _by_reason([(0 if i.element == "APT" else stop_reason(i.reason).id, i.element,
                        clip(i.start, i.end)) for i in intervals])
    for code, element in EXPECTED.items():
        assert true.get((code, element), 0.0) > 50.0, (code, true)  # each stop happened
    assert set(seen) == set(true), (seen, true)
    for key, seconds in true.items():
        assert seen[key] == pytest.approx(seconds, abs=1e-6), key
    machine = next(r for r in rows if r["type"] == "machine")
    mes = loop.ledger.measurements("m").time
    for name in ("APT", "ASUT", "ADET", "ADOT", "PDOT"):
        assert getattr(mes, name.lower()) == pytest.approx(machine["elements"][name],
                                                           abs=1e-6), name
