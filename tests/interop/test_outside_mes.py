"""Acceptance of issue 9: an outside MES, timing PackML alone, gets the twin's ground truth.

The collector (``outside_mes.py``: asyncua and the standard library, written from the
README and docs/integrators.md) watches every shipped scenario and a line with micro-stops
of 2-5 s, paced at 60x (~10 simulated minutes) and 600x (~1.5 simulated hours), through
the ``virtual_plant`` fixture as a user's CI would. After a pause it drains its
subscription and is compared with the fixture's ``truth()``, machine by machine:

* counts (PQ, GQ, SQ, RQ) exact;
* availability APT / PBT within 0.2 percentage points;
* downtime of every reason code within 1 % of that reason's true total, at least 1 ms:
  a reason with a few milliseconds in the window must still be right to a millisecond,
  far above the rounding of one SourceTimestamp (100 ns on the wire, 1 us in Python);
* every micro-stop seen: as many minor-stop intervals as the truth has.

``job_shop.yaml`` is a plant scenario like the others (routings over machine groups, the
dispatching of ``mestwin jobshop`` is another command), so it is served as it is.
"""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, ua

from mestwin.sim.pytest_plugin import VirtualPlant
from tests.interop import outside_mes
from tests.interop.outside_mes import MINOR_STOP, MachineReport, OeeCollector
from tests.virtual_plc.test_stop_elements import doc_elements

HERE = Path(__file__).resolve().parent
SCENARIOS = [*sorted((HERE.parents[1] / "scenarios").glob("*.yaml")), HERE / "microstops.yaml"]
WALL_S = {60: 10.0, 600: 9.0}  # paced wall seconds: ~10 simulated min at 60x, 1.5 h at 600x
AVAILABILITY_PP = 0.2
DOWNTIME_REL, DOWNTIME_FLOOR_S = 0.01, 1e-3

pytestmark = [pytest.mark.interop, pytest.mark.slow]


async def _watch(plant: VirtualPlant, speed: int) -> tuple[dict[str, MachineReport],
                                                          list[dict[str, Any]]]:
    """Subscribe, pace, pause, drain; the collector's reports over the truth's window."""
    collector = OeeCollector(str(plant.endpoints.opcua))
    await asyncio.wait_for(collector.start(), 30)
    try:
        await asyncio.wait_for(asyncio.to_thread(plant.pace, speed), 30)
        await asyncio.sleep(WALL_S[speed])
        await asyncio.wait_for(asyncio.to_thread(plant.pause), 30)
        await asyncio.wait_for(collector.settle(), 30)
        truth = await asyncio.wait_for(asyncio.to_thread(plant.truth), 30)
    finally:
        await asyncio.wait_for(collector.stop(), 10)
    header = truth[0]
    return collector.report(header["warmup_s"], header["horizon_s"]), truth


def _true_minor_stops(truth: list[dict[str, Any]], machine: str) -> int:
    """Minor-stop intervals of *machine* that overlap the window (back-to-back ones are
    one stop, as PackML shows them)."""
    start, end = truth[0]["warmup_s"], truth[0]["horizon_s"]
    stops: list[tuple[float, float]] = []
    for r in truth:
        if r["type"] == "interval" and r["machine"] == machine \
                and r["reason_code"] == MINOR_STOP and r["end"] > start and r["start"] < end:
            if stops and stops[-1][1] == r["start"]:
                stops[-1] = (stops[-1][0], r["end"])
            else:
                stops.append((r["start"], r["end"]))
    return len(stops)


def _compare(reports: dict[str, MachineReport],
             truth: list[dict[str, Any]]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """What is out of tolerance (one line each), and the errors of every machine."""
    failures: list[str] = []
    errors: dict[str, dict[str, Any]] = {}
    machines = {r["machine"]: r for r in truth if r["type"] == "machine"}
    assert sorted(reports) == sorted(machines)
    for name, true in machines.items():
        seen, e = reports[name], true["elements"]
        if seen.counts != true["counts"]:
            failures.append(f"{name}: counts {seen.counts} != {true['counts']}")
        a_true = e["APT"] / e["PBT"] if e["PBT"] > 0 else None
        a_pp = abs((seen.availability or 0.0) - (a_true or 0.0)) * 100
        if (seen.availability is None) != (a_true is None) or a_pp > AVAILABILITY_PP:
            failures.append(f"{name}: availability {seen.availability} != {a_true}")
        worst, worst_s, spurious = (0.0, ""), 0.0, 0.0
        true_reasons = {int(k): v for k, v in true["downtime_by_reason"].items()}
        for code in sorted(set(true_reasons) | set(seen.downtime_by_reason)):
            t, s = true_reasons.get(code, 0.0), seen.downtime_by_reason.get(code, 0.0)
            if abs(s - t) > max(DOWNTIME_REL * t, DOWNTIME_FLOOR_S):
                failures.append(f"{name}: reason {code}: {s:.3f} s seen, {t:.3f} s true")
            worst_s = max(worst_s, abs(s - t))
            if t > 0:
                worst = max(worst, (abs(s - t) / t * 100, f"{code}: {s:.1f}/{t:.1f} s"))
            else:
                spurious += s
        minor = (len(seen.minor_stops), _true_minor_stops(truth, name))
        if minor[0] != minor[1]:
            failures.append(f"{name}: {minor[0]} minor stops seen, {minor[1]} true")
        errors[name] = {"availability_pp": a_pp, "worst_reason_pct": worst,
                        "worst_reason_s": worst_s,
                        "spurious_s": spurious, "minor_stops": minor,
                        "counts_exact": seen.counts == true["counts"]}
    return failures, errors


@pytest.mark.timeout(90)
@pytest.mark.parametrize("speed", sorted(WALL_S))
@pytest.mark.parametrize("scenario", [
    pytest.param(path, id=path.stem, marks=pytest.mark.virtual_plant(scenario=str(path)))
    for path in SCENARIOS])
def test_an_outside_mes_timing_packml_gets_the_ground_truth(
        virtual_plant: VirtualPlant, scenario: Path, speed: int) -> None:
    """Counts exact, availability within 0.2 pp, each reason's downtime within 1 %, every
    micro-stop seen, on every machine."""
    reports, truth = asyncio.run(asyncio.wait_for(_watch(virtual_plant, speed), 75))
    failures, errors = _compare(reports, truth)
    window = (truth[0]["warmup_s"], truth[0]["horizon_s"])
    print(f"\n{scenario.stem} {speed}x window {window} (paced {window[1] / WALL_S[speed]:.0f}x)")
    for name, e in errors.items():
        print(f"  {name}: counts exact {e['counts_exact']}, availability "
              f"{e['availability_pp']:.2e} pp, worst reason {e['worst_reason_pct'][0]:.2e} % "
              f"({e['worst_reason_pct'][1]}), largest reason error {e['worst_reason_s']:.2e} s, "
              f"reasons the truth lacks {e['spurious_s']:.1f} s, "
              f"minor stops seen/true {e['minor_stops'][0]}/{e['minor_stops'][1]}")
    assert window[1] > speed * WALL_S[speed] / 4  # really paced, if slower on a busy machine
    assert not failures, "\n".join(failures)


@pytest.mark.timeout(10)
def test_the_outside_mes_imports_asyncua_and_the_standard_library_only() -> None:
    """Nothing of mestwin: the collector knows the twin from its documents alone; and it
    subscribes to PackML and OPC 40001 tags, none of the twin's conveniences."""
    tree = ast.parse(Path(outside_mes.__file__).read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)}
    roots = {m.split(".")[0] for m in modules}
    assert "asyncua" in roots
    assert roots - {"asyncua", "__future__"} <= set(sys.stdlib_module_names), roots
    for tag in outside_mes.TAGS:
        assert tag.startswith(("PackTags.", "MachineryOperationMode.")), tag
        assert tag != "PackTags.Status.MachineState"


COMMANDED: dict[str, Any] = {
    "name": "commanded line", "seed": 5, "horizon": "1d",
    "packml": {"acting_time": {"aborting": "1s", "clearing": 2, "resetting": "1.5s",
                               "starting": 3, "holding": 0.5, "unholding": 0.25,
                               "suspending": 0.75, "unsuspending": 1.25, "stopping": 2.5}},
    "sources": [{"id": "feed", "saturated": True, "to": "m"}],
    "stations": [{"id": "m", "buffer": 2, "to": "sink",
                  "process_time": {"dist": "exponential", "mean": 7}}],
}
"""One machine a client commands; every PackML acting state takes time."""
SCRIPT = ((1.0, 8), (1.5, 9), (1.0, 1), (1.0, 2), (1.0, 6), (2.0, 7), (1.0, 4), (1.0, 5),
          (1.0, 3), (1.0, 1), (1.0, 2))
"""(wall seconds to wait, CntrlCmd value) a client sends (ISA-TR88.00.02): Abort, Clear,
Reset, Start; Suspend, Unsuspend; Hold, Unhold; Stop, Reset, Start."""
COMMAND_REASONS = {11: "ADOT", 74: "ADET", 73: "ADOT"}
"""The stop reasons of the commands (abort, operator_hold, operator_stop) and the element
of the plant state each leaves the machine in (stopped, held, stopped)."""


async def _command(plant: VirtualPlant) -> None:
    """As an operator: write each command of :data:`SCRIPT` and its change request."""
    client = Client(str(plant.endpoints.opcua), timeout=10)
    client.set_user("operator")
    client.set_password("operator")
    await asyncio.wait_for(client.connect(), 30)
    try:
        ns = await client.get_namespace_index(outside_mes.NAMESPACE)
        cmd, request = (client.get_node(f"ns={ns};s={plant.node_id('m', path)}")
                        for path in ("PackTags.Command.CntrlCmd",
                                     "PackTags.Command.CmdChangeRequest"))
        for wait, command in SCRIPT:
            await asyncio.sleep(wait)
            await cmd.write_value(ua.Variant(command, ua.VariantType.Int32))
            await request.write_value(ua.Variant(True, ua.VariantType.Boolean))
        await asyncio.sleep(1.0)
    finally:
        await asyncio.wait_for(client.disconnect(), 10)


@pytest.mark.timeout(90)
@pytest.mark.virtual_plant(scenario=COMMANDED)
def test_an_outside_mes_books_commanded_stops_as_the_truth_does(
        virtual_plant: VirtualPlant) -> None:
    """A client sends Abort, then Clear/Reset/Start; Suspend, Unsuspend; Hold, Unhold; Stop,
    Reset, Start at 60x. Booked by their stop reasons, every element and every reason's
    downtime equal the truth's to a millisecond (by PackML state alone the Abort would be
    ADET and the Suspend ADOT)."""
    async def run() -> tuple[dict[str, MachineReport], list[dict[str, Any]]]:
        collector = OeeCollector(str(virtual_plant.endpoints.opcua))
        await asyncio.wait_for(collector.start(), 30)
        try:
            await asyncio.wait_for(asyncio.to_thread(virtual_plant.pace, 60), 30)
            await _command(virtual_plant)
            await asyncio.wait_for(asyncio.to_thread(virtual_plant.pause), 30)
            await asyncio.wait_for(collector.settle(), 30)
            truth = await asyncio.wait_for(asyncio.to_thread(virtual_plant.truth), 30)
        finally:
            await asyncio.wait_for(collector.stop(), 10)
        states = {c.value for c in collector.changes if c.tag == outside_mes.STATE}
        assert {9, 5, 11, 2} <= states, states  # Aborted, Suspended, Held, Stopped seen
        header = truth[0]
        return collector.report(header["warmup_s"], header["horizon_s"]), truth

    reports, truth = asyncio.run(asyncio.wait_for(run(), 75))
    true = next(r for r in truth if r["type"] == "machine")
    booked = {(r["reason_code"], r["element"]) for r in truth if r["type"] == "interval"}
    for code, element in COMMAND_REASONS.items():
        assert (code, element) in booked, booked
        assert true["downtime_by_reason"][str(code)] > 30.0, true  # the command took
    failures, errors = _compare(reports, truth)
    seen = reports["m"]
    start, end = truth[0]["warmup_s"], truth[0]["horizon_s"]
    by_element: dict[tuple[int, str], float] = {}
    for r in truth:
        span = min(r.get("end", 0.0), end) - max(r.get("start", 0.0), start)
        if r["type"] == "interval" and r["element"] != "APT" and span > 0:
            key = (r["reason_code"], r["element"])
            by_element[key] = by_element.get(key, 0.0) + span
    for key in sorted(set(by_element) | set(seen.downtime_by_element)):
        t, s = by_element.get(key, 0.0), seen.downtime_by_element.get(key, 0.0)
        if abs(s - t) > DOWNTIME_FLOOR_S:
            failures.append(f"m: reason {key[0]} as {key[1]}: {s:.3f} s seen, {t:.3f} s true")
    print(f"\ncommanded: elements seen {seen.elements}, true {true['elements']}, {errors}")
    for name in outside_mes.ELEMENTS:
        if abs(seen.elements[name] - true["elements"][name]) > DOWNTIME_FLOOR_S:
            failures.append(f"m: {name} {seen.elements[name]:.6f} s seen, "
                            f"{true['elements'][name]:.6f} s true")
    assert not failures, "\n".join(failures)


@pytest.mark.timeout(10)
def test_the_outside_mes_copied_the_documents_stop_reason_table() -> None:
    """Its literal reason -> element dict is the column of docs/integrators.md, code for
    code (as an integrator would copy it; the document is generated from the code)."""
    assert doc_elements() == outside_mes.STOP_ELEMENTS
