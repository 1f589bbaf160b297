"""The vendor's stop-reason -> ISO 22400 element table agrees with the plant.

For every reason the plant can be in, the table's element is the ``TIME_ELEMENT`` of the
plant state that reason occurs in: the built-in starved, blocked and setup, every
breakdown and minor-stop reason a scenario may give (an unknown one too), every planned
downtime reason, and the reasons of the PLC's client commands (``STATION_ACTIONS``,
applied to a real station the way the PLC applies them). The plant's states are read from
its event log, not from the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mestwin.plantmodels import EventKind
from mestwin.plantmodels.states import TIME_ELEMENT, MachineState
from mestwin.sim.scenario import build_plant
from mestwin.sim.scenario.loader import ScenarioError, parse_scenario
from mestwin.virtual_plc.mirror import STATION_ACTIONS
from mestwin.virtual_plc.stop_elements import (
    PLANNED_DOWNTIME,
    RESERVED,
    STOP_ELEMENTS,
    stop_element,
)
from mestwin.virtual_plc.tags import STOP_REASONS, stop_reason

LOSS_REASONS = sorted({c.reason for c in STOP_REASONS if c.reason and c.reason not in RESERVED}
                      | {"gremlin"})
"""Every breakdown / minor-stop reason of the taxonomy a scenario may give, and one the
taxonomy lacks (code 99)."""


def _states(scenario: dict[str, Any], until: float) -> set[tuple[int, str]]:
    """The (plant state, reason) pairs a run of *scenario* passes through."""
    plant = build_plant(parse_scenario(scenario))
    seen: set[tuple[int, str]] = set()
    plant.log.listeners.append(lambda rows: seen.update(
        (r[4], r[5]) for r in rows if r[1] == EventKind.STATE))
    plant.run(until)
    plant.log.flush()
    return seen


def _line(**station: Any) -> dict[str, Any]:
    return {"name": "reasons", "seed": 1, "horizon": "10h",
            "products": [{"id": "a", "family": "x"}, {"id": "b", "family": "y"}],
            "sources": [{"id": "src", "interarrival": {"dist": "exponential", "mean": 40},
                         "product_mix": {"a": 1, "b": 1}, "to": "m"}],
            "stations": [{"id": "m", "buffer": 1, "to": "n",
                          "process_time": {"dist": "exponential", "mean": 30}, **station},
                         {"id": "n", "buffer": 0, "to": "sink",
                          "process_time": {"dist": "exponential", "mean": 35}}]}


def _assert_agrees(seen: set[tuple[int, str]]) -> None:
    for state, reason in seen:
        if state == MachineState.PROCESSING:
            continue
        element = TIME_ELEMENT[state].name
        assert stop_element(stop_reason(reason).id) == element, (MachineState(state), reason)


@pytest.mark.timeout(60)
def test_starved_blocked_setup_breakdowns_and_minor_stops_agree() -> None:
    """One run per breakdown reason, with setups, minor stops, starving and blocking."""
    for reason in LOSS_REASONS:
        seen = _states(_line(
            failures={"ttf": 600, "ttr": 60, "reason": reason, "basis": "calendar"},
            microstops={"every": 300, "duration": 5},
            setups={"default": 20}), 3 * 3600)
        shown = {r for _, r in seen}
        assert {reason, "minor_stop", "setup", "starved", "blocked"} <= shown, shown
        _assert_agrees(seen)


@pytest.mark.timeout(60)
def test_planned_downtimes_agree() -> None:
    """Every planned-downtime reason, on the station and in the plant calendar."""
    for reason in PLANNED_DOWNTIME:
        stop = [{"start": 600, "duration": 120, "reason": reason}]
        scenario = {**_line(planned_downtime=stop), "calendar": {"planned_downtime": [
            {"start": 1800, "duration": 60, "reason": reason}]}}
        seen = _states(scenario, 3600)
        assert (MachineState.PLANNED_DOWN, reason) in seen, seen
        _assert_agrees(seen)


def test_the_plcs_command_reasons_agree() -> None:
    """Each client command's action (method and reason) on a real machine (a station's
    server, what a PLC acts on) puts it in a state whose element is the table's for that
    reason."""
    checked = set()
    for method, reason in STATION_ACTIONS.values():
        if not reason:
            continue
        plant = build_plant(parse_scenario(_line()))
        machine = plant.stations["m"].machines()[0]
        plant.run(100.0)
        getattr(machine, method)(reason)
        plant.run(200.0)
        assert machine.reason == reason
        assert STOP_ELEMENTS[stop_reason(reason).id] == TIME_ELEMENT[machine.state].name
        checked.add(reason)
    assert checked == {"operator_stop", "abort", "complete", "operator_hold"}


def test_every_stop_code_has_an_element_and_no_stop_has_none() -> None:
    """The table covers the whole taxonomy but code 0, which falls back to PackML."""
    assert set(STOP_ELEMENTS) == {c.id for c in STOP_REASONS} - {0}
    assert stop_element(0) is None
    assert set(STOP_ELEMENTS.values()) <= {"ASUT", "ADET", "ADOT", "PDOT"}


@pytest.mark.parametrize("reason", sorted(RESERVED))
def test_a_scenario_cannot_put_a_reserved_reason_into_a_breakdown(reason: str) -> None:
    """So no breakdown can carry a reason the table books as something else."""
    with pytest.raises(ScenarioError, match=r"failures\.reason"):
        parse_scenario(_line(failures={"ttf": 600, "ttr": 60, "reason": reason}))


def doc_elements() -> dict[int, str]:
    """Code -> the column "ISO 22400 element" of docs/integrators.md's stop-reason table."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "integrators.md").read_text(
        encoding="utf-8")
    start = text.index("<!-- generated: stop_reasons -->")
    lines = text[start:text.index("<!-- end generated -->", start)].splitlines()
    header = [c.strip() for c in lines[1].strip("|").split("|")]
    column = header.index("ISO 22400 element")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[3:]]
    return {int(r[0]): r[column] for r in rows if r[column] in ("ASUT", "ADET", "ADOT", "PDOT")}


def test_the_integrators_document_shows_the_table() -> None:
    """What an integrator copies into their MES is the table, code for code."""
    assert doc_elements() == dict(STOP_ELEMENTS)
    assert doc_elements()[11] == "ADOT"  # an operator's Abort is a commanded stop
    assert doc_elements()[74] == "ADET"  # a Suspend command holds the plant
