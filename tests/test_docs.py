"""Specification of docs/integrators.md: its codes are the code's, and its example runs.

The generated tables must be what :mod:`mestwin.sim.integrator_doc` renders now; the codes
an integrator reads off the wire are also checked straight against the enums and tables
they come from, so neither the renderer nor the document can drift. The worked example
(an outside collector) runs as it stands, under pytest in a subprocess, against the
``virtual_plant`` fixture.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua.client.client import Client

from mestwin.plantmodels.eventlog import EventKind
from mestwin.plantmodels.states import TIME_ELEMENT, MachineState
from mestwin.sim.integrator_doc import BEGIN, DISCOVERY_LINE, END, render, tables
from mestwin.sim.pytest_plugin import VirtualPlant
from mestwin.sim.scenario import parse_scenario
from mestwin.virtual_plc.opcua_server import NAMESPACE_URI
from mestwin.virtual_plc.packml import Command, State
from mestwin.virtual_plc.plc import MIRROR, START_DATETIME
from mestwin.virtual_plc.tags import STOP_REASONS, LossCategory, stop_reason
from tests.sim.test_pytest_plugin import run_pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "integrators.md"


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def section(name: str) -> list[list[str]]:
    """The body rows of generated table *name*, as cells (markdown backticks removed)."""
    text = doc_text()
    start = text.index(f"<!-- generated: {name} -->")
    body = text[start:text.index(END, start)].splitlines()[3:]
    return [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in body]


def example() -> tuple[str, str]:
    """(file name, code) of the worked example, exactly as the document shows it."""
    match = re.search(r"```python\n(# (test_\w+\.py)\n.*?)```", doc_text(), re.S)
    assert match is not None, "no worked example in docs/integrators.md"
    return match.group(2), match.group(1)


def test_every_generated_table_is_the_codes_table_now() -> None:
    """Regenerating changes nothing, and every table the code has is in the document."""
    text = doc_text()
    assert render(text) == text, "run: python -m mestwin.sim.integrator_doc docs/integrators.md"
    assert {m.group(1) for m in BEGIN.finditer(text)} == set(tables())


def test_packml_state_and_command_codes_are_the_enums() -> None:
    """ISA-TR88.00.02 state codes 0-17 and command codes 0-10 as the PLC serves them."""
    states = {int(row[0]): row[1].upper() for row in section("packml_states")}
    assert states == {int(s): s.name.replace("_", "") for s in State}
    assert sorted(states) == list(range(18))
    assert states[2] == "STOPPED"
    assert states[6] == "EXECUTE"
    commands = {int(row[0]): row[1].upper() for row in section("packml_commands")}
    assert commands == {int(c): c.name for c in Command}


def test_plant_state_mapping_is_the_mirror_table() -> None:
    """MachineState code -> ISO 22400 element and PackML state, row for row; setup counts
    as Execute."""
    rows = section("machine_states")
    seen: dict[tuple[int, str | None], int] = {}
    for code, name, when, element, packml in rows:
        state = MachineState(int(code))
        assert name == state.name.lower()
        assert element == TIME_ELEMENT[state].name
        reason = None if "any" in when else when.removeprefix("reason ").strip("`")
        seen[int(code), reason] = int(packml.split()[0])
    assert seen == {key: int(value) for key, value in MIRROR.items()}
    assert seen[int(MachineState.SETUP), None] == int(State.EXECUTE)
    # the codes the prose of the rules names
    text = doc_text()
    assert f"`StateReason` is {stop_reason('setup').id} and no" in text
    assert f"a reason the taxonomy does not know is {stop_reason('no such').id})" in text
    assert f"(Stopped = {int(State.STOPPED)},\nExecute = {int(State.EXECUTE)})" in text


def test_stop_reasons_and_loss_categories_are_the_taxonomy() -> None:
    """Every stop-reason code with its plant reason and loss category; the categories are
    the six big losses plus planned and external."""
    rows = section("stop_reasons")
    assert {int(r[0]): (r[1] if r[1] != "-" else "", int(r[3].split()[0])) for r in rows} \
        == {s.id: (s.reason, int(s.category)) for s in STOP_REASONS}
    categories = {int(r[0]): r[1] for r in section("loss_categories")}
    assert categories == {int(c): c.name.title().replace("_", "") for c in LossCategory}
    assert len(categories) == 1 + 6 + 2
    # the disagreement the prose warns of: commanded stops are "planned" but not PDOT
    for reason, state in (("operator_stop", MachineState.STOPPED),
                          ("operator_hold", MachineState.HELD)):
        assert stop_reason(reason).category is LossCategory.PLANNED
        assert TIME_ELEMENT[state].name in doc_text()
        assert TIME_ELEMENT[state].name != "PDOT"
        assert f"`{reason}` ({stop_reason(reason).id})" in doc_text()


def test_event_kinds_and_constants_are_the_codes() -> None:
    """Event kind numbers of ``--events FILE``; namespace URI and the PACDateTime epoch."""
    assert {int(r[0]): r[1] for r in section("event_kinds")} == {int(k): k.name
                                                                 for k in EventKind}
    (_, namespace), (_, epoch), (_, modulus), (_, most) = section("constants")
    assert namespace == NAMESPACE_URI
    assert epoch == START_DATETIME.isoformat() == "2025-01-01T00:00:00+00:00"
    assert (int(modulus), int(most)) == (2**31, 2**32 - 1)  # Int32 wraps, UInt32 stops


def test_the_examples_own_codes_are_the_codes() -> None:
    """What the collector hard-codes (it imports nothing of mestwin) is what the code says."""
    namespace: dict[str, Any] = {}
    exec(compile(example()[1], "example", "exec"), namespace)  # defines, runs no test
    assert namespace["NAMESPACE"] == NAMESPACE_URI
    assert namespace["COMPLETE"] == EventKind.COMPLETE
    assert namespace["ELEMENT"] == {int(s): TIME_ELEMENT[s].name for s in MachineState}
    assert "import mestwin" not in example()[1]
    assert "from mestwin" not in example()[1]


@pytest.mark.timeout(60)
def test_source_timestamps_are_on_the_pacdatetime_clock() -> None:
    """The clocks section: PACDateTime - its t=0 instant is simulated time, and an OPC UA
    value's SourceTimestamp is the instant it changed on that clock (StateChangeTime only
    grows, so its every value is a change, whatever the publisher skips)."""
    doc_epoch = datetime.fromisoformat(section("constants")[1][1])

    async def read(plant: VirtualPlant) -> list[tuple[float, datetime, datetime]]:
        async with Client(str(plant.endpoints.opcua), timeout=10) as client:
            ns = await client.get_namespace_index(NAMESPACE_URI)
            out: list[tuple[float, datetime, datetime]] = []
            for machine in plant.machines:
                since, pac = [await client.get_node(
                    f"ns={ns};s={plant.node_id(machine, path)}").read_data_value()
                    for path in ("PackTags.Status.StateChangeTime", "PackTags.Admin.PACDateTime")]
                assert since.SourceTimestamp is not None
                assert since.Value is not None
                assert pac.Value is not None
                out.append((float(since.Value.Value), since.SourceTimestamp.replace(tzinfo=UTC),
                            pac.Value.Value.replace(tzinfo=UTC)))
            return out

    with VirtualPlant(parse_scenario(DISCOVERY_LINE)) as plant:
        plant.advance(3723.5)
        readings = asyncio.run(asyncio.wait_for(read(plant), 30))
    for since, stamp, pac in readings:
        assert 0 < since <= 3723.5
        assert abs((stamp - doc_epoch).total_seconds() - since) < 1e-6  # 100 ns resolution
        assert (pac - doc_epoch).total_seconds() == pytest.approx(3723.5, abs=1e-6)


@pytest.mark.timeout(300)
def test_worked_example_passes_as_an_outside_users_test(tmp_path: Path) -> None:
    """The collector example, copied verbatim into an empty folder, passes under pytest
    against the virtual_plant fixture."""
    name, code = example()
    (tmp_path / name).write_text(code, encoding="utf-8")
    done, outcomes = run_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert outcomes == {"test_collected_state_times_and_counts_are_the_ground_truth": "passed"}


def test_the_readme_points_integrators_here() -> None:
    """The README's fixture paragraph sends integrators to this document."""
    assert "docs/integrators.md" in (ROOT / "README.md").read_text(encoding="utf-8")
