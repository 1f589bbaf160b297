"""Specification of the ``virtual_plant`` pytest plugin (mestwin.sim.pytest_plugin).

The handle the fixture yields (:class:`VirtualPlant`) is driven here from plain synchronous
code, as a user's test would. The fixture itself, its marker and its option are exercised
the way an outside user meets them: pytest in a subprocess on a temporary folder, including
the example test of the README, word for word.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.client.client import Client
from pyModbusTCP.client import ModbusClient

from mestwin.plantmodels.eventlog import Complete, EventKind, Exit, StateChange
from mestwin.sim.pytest_plugin import VirtualPlant
from mestwin.sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "mestwin.sim.pytest_plugin"
ACC = "PackTags.Admin.ProdProcessedCount[0].AccCount"

LINE: dict[str, Any] = {
    "name": "plugin line",
    "seed": 2,
    "horizon": "1d",
    "warmup": 0,
    "sources": [{"id": "feed", "saturated": True, "to": "press"}],
    "stations": [
        {"id": "press", "process_time": {"dist": "exponential", "mean": "20s"}, "buffer": 3,
         "to": "pack"},
        {"id": "pack", "process_time": {"dist": "constant", "value": "15s"}, "scrap": 0.1,
         "to": "sink"},
    ],
}


# Two stations, the second with two servers (machines pack-1, pack-2), a warm-up, all four
# outcomes and breakdowns: what a window or a per-server count can get wrong.
WINDOW_LINE: dict[str, Any] = {
    "name": "window line",
    "seed": 5,
    "horizon": "4h",
    "warmup": "1h",
    "sources": [{"id": "arrivals", "interarrival": {"dist": "exponential", "mean": "40s"},
                 "to": "cut"}],
    "stations": [
        {"id": "cut", "process_time": {"dist": "exponential", "mean": "30s"}, "buffer": 5,
         "scrap": 0.05, "to": "pack"},
        {"id": "pack", "servers": 2, "process_time": {"dist": "constant", "value": "70s"},
         "scrap": 0.03, "rework": 0.05,
         "failures": {"ttf": {"dist": "exponential", "mean": "1h"},
                      "ttr": {"dist": "exponential", "mean": "5min"}, "basis": "operating"},
         "to": "sink"},
    ],
}
PROCESSING = 1  # MachineState code of a server at work (mestwin.virtual_plc.port)


def completes_by_machine(events: list[Any]) -> dict[str, dict[str, int]]:
    """Outcome counts per machine, from the event log alone: a COMPLETE row names only the
    station and serial, so it belongs to the server whose last PROCESSING state row at that
    station carried the serial (machine ``<station>-<n>`` for server n-1 of a station with
    several, else the station id)."""
    servers: dict[str, set[int]] = {}
    working: dict[tuple[str, str | None], int] = {}
    counts: dict[tuple[str, int], dict[str, int]] = {}
    for event in events:
        if isinstance(event, StateChange):
            servers.setdefault(event.station, set()).add(event.server)
            if event.state == PROCESSING:
                working[event.station, event.serial] = event.server
        elif isinstance(event, Complete):
            key = (event.station, working[event.station, event.serial])
            tally = counts.setdefault(key, {"good": 0, "scrap": 0, "rework": 0})
            tally[event.outcome] += 1
    return {(station if len(servers[station]) == 1 else f"{station}-{index + 1}"): tally
            for (station, index), tally in counts.items()}


def plugin_args() -> list[str]:
    """``-p`` the plugin unless mestwin's pytest11 entry point already loads it (loading it
    twice under two names is an error)."""
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]


def run_pytest(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                     dict[str, str]]:
    """pytest in a subprocess on *folder*, with each test's outcome from its JUnit XML."""
    report = folder / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers",
         f"--junitxml={report}", *plugin_args(), *args],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.attrib["name"]] = kinds[0] if kinds else "passed"
    return done, outcomes


def readme_example() -> tuple[str, str]:
    """(file name, code) of the README's example test, exactly as the README shows it."""
    pattern = re.compile(r"```python\n(# (test_\w+\.py)\n.*?)```", re.S)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = pattern.search(text)
    assert match is not None, "no virtual_plant example test in the README"
    assert "virtual_plant" in match.group(1)
    return match.group(2), match.group(1)


# -- the handle, from synchronous code ---------------------------------------------------------

def test_handle_advances_time_and_serves_tags_equal_to_the_ground_truth() -> None:
    """Time stands still until advance(); then the OPC UA and Modbus counters equal the
    plant's own counters, and the event log and KPIs cover the advanced time."""
    with VirtualPlant(parse_scenario(LINE)) as plant:
        assert plant.machines == ("press", "pack")
        time.sleep(0.2)
        assert plant.now == 0.0
        plant.advance(3600)
        assert plant.now == 3600.0
        truth = plant.counters("pack")
        assert truth.produced > 100
        assert truth.scrap > 0
        assert truth.produced == truth.good + truth.scrap + truth.rework

        async def read() -> int:
            async with Client(str(plant.endpoints.opcua), timeout=10) as client:
                ns = await client.get_namespace_index(plant.endpoints.namespace_uri)
                node = client.get_node(f"ns={ns};s={plant.node_id('pack', ACC)}")
                return int(await node.read_value())

        assert asyncio.run(read()) == truth.produced
        where = plant.endpoints.modbus_endpoint("pack")
        client = ModbusClient(host=where.host, port=where.port, unit_id=where.unit_id,
                              timeout=5)
        high, low = client.read_input_registers(104, 2)
        client.close()
        assert (high << 16) + low == truth.produced
        completes = plant.events(EventKind.COMPLETE)
        assert sum(1 for e in completes if getattr(e, "station", "") == "pack") \
            == truth.produced
        result = plant.results()
        assert result["horizon_s"] == 3600.0
        assert result["stations"]["pack"]["produced"] == truth.produced
        assert len(plant.event_log_sha256()) == 64


def test_counters_of_each_machine_and_of_a_station_equal_the_logged_cycles() -> None:
    """counters() takes every machine name and every station id: pack-1 and pack-2 count
    the COMPLETE rows of their own server, pack their sum; PQ = GQ + SQ + RQ each."""
    with VirtualPlant(parse_scenario(WINDOW_LINE)) as plant:
        assert plant.machines == ("cut", "pack-1", "pack-2")
        plant.advance(3 * 3600)
        logged = completes_by_machine(plant.events())
        assert set(logged) == {"cut", "pack-1", "pack-2"}
        for machine in ("cut", "pack-1", "pack-2"):
            c = plant.counters(machine)
            assert (c.good, c.scrap, c.rework) == (
                logged[machine]["good"], logged[machine]["scrap"], logged[machine]["rework"])
            assert c.produced == c.good + c.scrap + c.rework > 50
        pack = plant.counters("pack")
        for field in ("produced", "good", "scrap", "rework", "consumed"):
            assert getattr(pack, field) == getattr(plant.counters("pack-1"), field) \
                + getattr(plant.counters("pack-2"), field)
        assert pack.produced == sum(1 for e in plant.events(EventKind.COMPLETE)
                                    if isinstance(e, Complete) and e.station == "pack")
        assert pack.scrap > 0
        assert pack.rework > 0
        with pytest.raises(KeyError, match=r"no machine or station 'packer'.*pack-1.*pack"):
            plant.counters("packer")


def assert_same_json(ours: Any, theirs: Any, path: str = "") -> None:
    """Key for key and in the same types; numbers exactly or within 1e-9."""
    assert type(ours) is type(theirs), path
    if isinstance(ours, dict):
        assert list(ours) == list(theirs), path
        for key in ours:
            assert_same_json(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same_json(a, b, f"{path}[{i}]")
    elif isinstance(ours, float):
        assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9), (path, ours, theirs)
    else:
        assert ours == theirs, path


@pytest.mark.timeout(300)
def test_results_at_the_horizon_are_the_json_of_mestwin_run(tmp_path: Path) -> None:
    """results() is the object ``mestwin run --json`` prints for the same scenario, seed
    and horizon (run in its own process): same keys in the same order, same values."""
    scenario = tmp_path / "line.json"  # JSON is YAML
    scenario.write_text(json.dumps(WINDOW_LINE), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mestwin.cli", "run", str(scenario), "--json", "--seed", "9"],
        capture_output=True, text=True, timeout=240, check=True)
    theirs = json.loads(done.stdout)
    with VirtualPlant(parse_scenario({**WINDOW_LINE, "seed": 9})) as plant:
        plant.advance(4 * 3600)
        ours = plant.results()
    assert theirs["seed"] == 9
    assert theirs["stations"]["pack"]["servers"] == 2
    assert_same_json(ours, theirs)
    assert ours["stations"]["cut"]["kpi"]["oee"] is not None


@pytest.mark.timeout(300)
def test_truth_at_the_horizon_is_the_file_of_mestwin_run_truth(tmp_path: Path) -> None:
    """truth() at the horizon is, record for record, the ``--truth`` file ``mestwin run``
    writes for the same scenario and seed in its own process."""
    scenario = tmp_path / "line.json"
    scenario.write_text(json.dumps(WINDOW_LINE), encoding="utf-8")
    theirs_path = tmp_path / "truth.jsonl"
    subprocess.run([sys.executable, "-m", "mestwin.cli", "run", str(scenario), "--seed", "9",
                    "--no-progress", "--truth", str(theirs_path)],
                   capture_output=True, text=True, timeout=240, check=True)
    theirs = [json.loads(line) for line in theirs_path.read_text("utf-8").splitlines()]
    with VirtualPlant(parse_scenario({**WINDOW_LINE, "seed": 9})) as plant:
        plant.advance(4 * 3600)
        ours = plant.truth()
    assert theirs[-1] == {"type": "end", "lines": len(theirs) - 1}
    assert sum(1 for r in theirs if r["type"] == "machine") == 3
    assert ours == theirs


def test_truth_so_far_closes_the_open_intervals_now_in_the_window_of_results() -> None:
    """Before the warm-up ends the machine records cover [0, now], after it [warm-up, now],
    like results(): each machine's POT is the window, its elements are the station's
    time elements of results() summed over its servers, and its intervals tile [0, now]
    ending in the state the event log says the machine is in now. Reading the truth
    changes nothing: a later truth() still agrees with the log."""
    with VirtualPlant(parse_scenario(WINDOW_LINE)) as plant:
        for now, start in ((1800.0, 0.0), (2.5 * 3600, 3600.0)):
            plant.advance(now - plant.now)
            records = plant.truth()
            header, end = records[0], records[-1]
            assert (header["warmup_s"], header["horizon_s"]) == (start, now)
            assert end == {"type": "end", "lines": len(records) - 1}
            machines = {r["machine"]: r for r in records if r["type"] == "machine"}
            assert sorted(machines) == ["cut", "pack-1", "pack-2"]
            stations = plant.results()["stations"]
            for element in ("APT", "ADET", "ADOT", "POT"):
                packs = machines["pack-1"]["elements"][element] + \
                    machines["pack-2"]["elements"][element]
                assert packs == pytest.approx(
                    stations["pack"]["time_elements_s"][element], abs=1e-6)
            for m in machines.values():
                assert m["elements"]["POT"] == pytest.approx(now - start, abs=1e-6)
            last: dict[tuple[str, int], int] = {}
            for e in plant.events(EventKind.STATE):
                last[(e.station, e.server)] = e.state
            intervals = [r for r in records if r["type"] == "interval"
                         and r["machine"] == "pack-2"]
            assert intervals[0]["start"] == 0.0
            assert intervals[-1]["end"] == now
            assert all(a["end"] == b["start"] for a, b in itertools.pairwise(intervals))
            assert intervals[-1]["machine_state"] == last[("pack", 1)]


def test_results_cover_one_window_before_and_after_the_warm_up() -> None:
    """Before the warm-up ends every figure covers [0, now] (warmup_s is 0); after it,
    every figure covers [warm-up, now]: throughput, station counts and time elements
    against the event log's EXIT and COMPLETE rows of that window."""
    with VirtualPlant(parse_scenario(WINDOW_LINE)) as plant:
        for now, start in ((1800.0, 0.0), (3 * 3600.0, 3600.0)):
            plant.advance(now - plant.now)
            result = plant.results()
            assert (result["warmup_s"], result["horizon_s"]) == (start, now)
            events = plant.events()
            exits = sum(1 for e in events if isinstance(e, Exit) and e.t >= start
                        and e.sink == "sink")
            assert exits > 0
            assert result["throughput_per_hour"] == pytest.approx(
                exits * 3600 / (now - start), rel=1e-12)
            for sid, station in result["stations"].items():
                cycles = sum(1 for e in events if isinstance(e, Complete)
                             and e.station == sid and e.t >= start)
                assert station["produced"] == cycles > 0
                assert station["time_elements_s"]["POT"] == pytest.approx(
                    station["servers"] * (now - start), rel=1e-12)


def test_handle_paces_and_pauses_in_the_background() -> None:
    """pace(speed) lets simulated time run while the test thread does other things;
    pause() freezes it."""
    with VirtualPlant(parse_scenario(LINE)) as plant:
        plant.pace(5000)
        deadline = time.monotonic() + 30
        while plant.now < 600 and time.monotonic() < deadline:
            time.sleep(0.05)
        plant.pause()
        frozen = plant.now
        assert frozen >= 600
        time.sleep(0.2)
        assert plant.now == frozen
        assert plant.lag_stats().count > 0


def test_handle_restarts_servers_and_operator_commands_work() -> None:
    """After restart_servers() the endpoints are unchanged and the default operator account
    (operator / operator) can write commands; anonymous sessions are read-only."""
    with VirtualPlant(parse_scenario(LINE)) as plant:
        plant.advance(300)
        before = plant.endpoints
        assert plant.restart_servers() == before
        ident = plant.node_id("press", "PackTags.Command.MachSpeed")

        async def write(user: str | None) -> None:
            client = Client(str(before.opcua), timeout=10)
            if user is not None:
                client.set_user(user)
                client.set_password(user)
            async with client:
                ns = await client.get_namespace_index(before.namespace_uri)
                node = client.get_node(f"ns={ns};s={ident}")
                await node.write_value(ua.Variant(1.5, ua.VariantType.Float))

        with pytest.raises(ua.uaerrors.BadUserAccessDenied):
            asyncio.run(write(None))
        asyncio.run(write("operator"))
        assert plant.call(lambda rt: rt.plc("press").tags["PackTags.Command.MachSpeed"]) \
            == pytest.approx(1.5)
    plant.close()  # idempotent


# -- the fixture, as an outside user meets it ------------------------------------------------

def test_readme_example_passes_as_an_outside_users_test(tmp_path: Path) -> None:
    """The README's example test, copied verbatim into an empty folder, passes under pytest
    with only mestwin installed (no conftest, no project configuration)."""
    name, code = readme_example()
    (tmp_path / name).write_text(code, encoding="utf-8")
    done, outcomes = run_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert outcomes
    assert set(outcomes.values()) == {"passed"}


MARKER_TESTS = '''
import time

import pytest

LINE = {line!r}


@pytest.mark.virtual_plant(scenario="line.yaml")
def test_yaml_next_to_the_test_file(virtual_plant):
    assert virtual_plant.machines == ("cut", "pack-1", "pack-2")
    assert virtual_plant.now == 0.0


@pytest.mark.virtual_plant(scenario=LINE, seed=11, modbus=False)
def test_dict_seed_and_no_modbus(virtual_plant):
    assert virtual_plant.results()["seed"] == 11
    assert virtual_plant.endpoints.modbus == ()
    assert virtual_plant.endpoints.opcua.startswith("opc.tcp://127.0.0.1:")


@pytest.mark.virtual_plant(scenario=LINE, speed=5000)
def test_speed_starts_pacing(virtual_plant):
    deadline = time.monotonic() + 30
    while virtual_plant.now == 0.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert virtual_plant.now > 0.0


def test_option_gives_the_default_scenario(virtual_plant):
    assert virtual_plant.machines == ("cut", "pack-1", "pack-2")


@pytest.mark.virtual_plant(scenario=LINE, colour="red")
def test_unknown_marker_argument(virtual_plant):
    pass
'''


def test_marker_and_option_choose_the_scenario(tmp_path: Path) -> None:
    """The marker takes a YAML path relative to the test file, a dict, a seed, a speed and
    server switches; --virtual-plant-scenario serves tests without a marker; the marker is
    registered (--strict-markers) and an unknown marker argument is a usage error."""
    sub = tmp_path / "tests"
    sub.mkdir()
    (sub / "line.yaml").write_text((ROOT / "scenarios" / "two_step_line.yaml").read_text())
    (sub / "test_marker.py").write_text(MARKER_TESTS.format(line=LINE), encoding="utf-8")
    done, outcomes = run_pytest(tmp_path, "--virtual-plant-scenario", "tests/line.yaml")
    assert outcomes == {
        "test_yaml_next_to_the_test_file": "passed",
        "test_dict_seed_and_no_modbus": "passed",
        "test_speed_starts_pacing": "passed",
        "test_option_gives_the_default_scenario": "passed",
        "test_unknown_marker_argument": "error",
    }, done.stdout + done.stderr
    assert "unknown arguments ['colour']" in done.stdout
