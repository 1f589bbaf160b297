"""Specification of ``mestwin serve`` and ``mestwin plc map`` (mestwin.sim.serve).

``serve`` runs in its own process on free ports; the test process is the independent client
(asyncua for OPC UA, pyModbusTCP for Modbus TCP), exactly as an MES on another host would be.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import BadUserAccessDenied
from pyModbusTCP.client import ModbusClient

from mestwin.sim.scenario import build_plant, load_scenario

ACC = "PackTags.Admin.ProdProcessedCount[0].AccCount"
ACC_REGISTER = 104  # input register of ACC in the standard map
NAMESPACE = "urn:mestwin:virtual-plc"


@dataclass
class Served:
    process: subprocess.Popen[str]
    opcua: str
    line: str
    modbus: dict[str, tuple[str, int, int]]  # machine -> host, port, unit id
    banner: list[str]


def serve(*args: str) -> Served:
    """Start ``mestwin serve`` and parse the endpoints it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mestwin.cli", "serve", *args, "--opcua-port", "0",
         "--modbus-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line.rstrip("\n"))
        if line.startswith("Serving;"):
            break
    else:
        process.kill()
    text = "\n".join(banner)
    opcua = re.search(r"^OPC UA endpoint: (opc\.tcp://\S+)$", text, re.M)
    ids = re.search(r"^OPC UA node ids: ns=<index of \S+>;s=([^.]+)\.<machine>", text, re.M)
    if opcua is None or ids is None:
        process.kill()
        raise AssertionError(f"no endpoints in {text!r}; stderr: {process.communicate()[1]}")
    modbus = {m[0]: (m[1], int(m[2]), int(m[3])) for m in re.findall(
        r"^Modbus TCP: (\S+) ([\d.]+):(\d+) unit (\d+)$", text, re.M)}
    return Served(process, opcua.group(1), ids.group(1), modbus, banner)


def terminate(served: Served) -> tuple[int, str]:
    """SIGTERM, then the exit code and the rest of stdout."""
    served.process.send_signal(signal.SIGTERM)
    out, _ = served.process.communicate(timeout=30)
    return served.process.returncode, out


@pytest.fixture(scope="module")
def two_step(scenarios_dir_module: Path) -> Iterator[Served]:
    served = serve(str(scenarios_dir_module / "two_step_line.yaml"), "--speed", "600",
                   "--until", "30d", "--user", "op:secret")
    yield served
    if served.process.poll() is None:
        served.process.kill()
        served.process.communicate()


@pytest.fixture(scope="module")
def scenarios_dir_module() -> Path:
    return Path(__file__).resolve().parents[2] / "scenarios"


async def read_opcua(endpoint: str, ident: str) -> int:
    async with Client(endpoint, timeout=10) as client:
        ns = await client.get_namespace_index(NAMESPACE)
        value = await client.get_node(f"ns={ns};s={ident}").read_value()
        return int(value)


def read_modbus(host: str, port: int, unit: int) -> int:
    client = ModbusClient(host=host, port=port, unit_id=unit, timeout=5)
    try:
        registers = client.read_input_registers(ACC_REGISTER, 2)
        assert registers is not None, client.last_error_as_txt
        return int(registers[0] << 16 | registers[1])
    finally:
        client.close()


def test_serve_prints_one_endpoint_per_protocol_and_machine_on_localhost(
        two_step: Served) -> None:
    """The banner names the OPC UA endpoint, the NodeId pattern with the line name, and a
    Modbus host:port and unit id for each machine (a 2-server station is two machines);
    everything is on 127.0.0.1 by default."""
    assert two_step.opcua.startswith("opc.tcp://127.0.0.1:")
    assert two_step.line == "two-step-line"
    assert sorted(two_step.modbus) == ["cut", "pack-1", "pack-2"]
    assert {host for host, _, _ in two_step.modbus.values()} == {"127.0.0.1"}
    assert sorted(unit for _, _, unit in two_step.modbus.values()) == [1, 2, 3]
    assert any("op (operator)" in line for line in two_step.banner)


def test_counters_are_served_over_opcua_and_modbus_and_grow(two_step: Served) -> None:
    """An independent client reads a machine's AccCount over both protocols while the
    plant runs at 600x: it grows and never goes back, whichever protocol reads it."""
    ident = f"{two_step.line}.cut.{ACC}"
    host, port, unit = two_step.modbus["cut"]
    first = asyncio.run(read_opcua(two_step.opcua, ident))
    deadline = time.monotonic() + 30
    over_modbus = read_modbus(host, port, unit)
    while over_modbus <= first and time.monotonic() < deadline:
        time.sleep(0.2)
        over_modbus = read_modbus(host, port, unit)
    assert over_modbus > first
    deadline = time.monotonic() + 30
    later = asyncio.run(read_opcua(two_step.opcua, ident))
    while later < over_modbus and time.monotonic() < deadline:
        time.sleep(0.2)
        later = asyncio.run(read_opcua(two_step.opcua, ident))
    assert later >= over_modbus


def test_anonymous_is_read_only_and_the_operator_user_may_command(two_step: Served) -> None:
    """An anonymous session cannot write a command tag; the --user account can."""
    ident = f"{two_step.line}.cut.PackTags.Command.MachSpeed"

    async def main() -> None:
        async with Client(two_step.opcua, timeout=10) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            node = client.get_node(f"ns={ns};s={ident}")
            with pytest.raises(BadUserAccessDenied):
                await node.write_value(ua.Variant(1.0, ua.VariantType.Float))
        operator = Client(two_step.opcua, timeout=10)
        operator.set_user("op")
        operator.set_password("secret")
        async with operator:
            ns = await operator.get_namespace_index(NAMESPACE)
            node = operator.get_node(f"ns={ns};s={ident}")
            await node.write_value(ua.Variant(0.5, ua.VariantType.Float))
            assert await node.read_value() == pytest.approx(0.5)

    asyncio.run(main())


def test_sigterm_stops_cleanly_with_exit_0(two_step: Served) -> None:
    """SIGTERM stops the servers and the process exits 0 after saying where it stopped."""
    code, out = terminate(two_step)
    assert code == 0
    assert re.search(r"Stopped at simulated time [\d.]+ s\.", out)


def test_until_ends_serve_by_itself_with_exit_0(scenarios_dir_module: Path) -> None:
    """--until stops after that much simulated time; Modbus-only serving is possible."""
    process = subprocess.run(
        [sys.executable, "-m", "mestwin.cli", "serve",
         str(scenarios_dir_module / "two_step_line.yaml"), "--speed", "max", "--until", "2h",
         "--no-opcua", "--modbus-port", "0"], capture_output=True, text=True, timeout=120,
        check=False)
    assert process.returncode == 0, process.stderr
    assert "OPC UA endpoint" not in process.stdout
    assert process.stdout.count("Modbus TCP: ") == 3
    assert "Stopped at simulated time 7200.000 s." in process.stdout


@pytest.mark.parametrize("args", [
    ["missing.yaml"],
    ["{scenarios}/two_step_line.yaml", "--speed", "-3"],
    ["{scenarios}/two_step_line.yaml", "--security", "sign-encrypt"],
    ["{scenarios}/two_step_line.yaml", "--user", "nopassword"],
    ["{scenarios}/two_step_line.yaml", "--until", "soon"],
])
def test_bad_input_exits_2_with_a_message(args: list[str], scenarios_dir_module: Path) -> None:
    """A scenario that cannot be read or a bad option value exits 2 before serving."""
    argv = [a.format(scenarios=scenarios_dir_module) for a in args]
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "serve", *argv],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip()
    assert "Serving" not in done.stdout


def test_plc_map_prints_a_markdown_table_with_every_machine(
        scenarios_dir_module: Path) -> None:
    """`plc map` lists every machine of the scenario (port, unit id) and the register map
    tables, in markdown; options change the addressing and the profile."""
    path = scenarios_dir_module / "bottling_line.yaml"
    plant = build_plant(load_scenario(path))
    machines = [m.id for s in plant.stations.values() for m in s.machines()]
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "plc", "map", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("# Modbus TCP register map")
    assert "| Machine | Port | Unit id |" in out
    for unit, machine in enumerate(machines, start=1):
        assert f"| {machine} | 5020 | {unit} |" in out
    assert "`PackTags.Admin.ProdProcessedCount[0].AccCount`" in out
    assert "### Input registers (3x)" in out
    holding = subprocess.run(
        [sys.executable, "-m", "mestwin.cli", "plc", "map", str(path), "--modbus-profile",
         "holding-only", "--modbus-addressing", "port", "--port", "1502"],
        capture_output=True, text=True, timeout=60, check=False)
    assert holding.returncode == 0
    assert "### Input registers" not in holding.stdout
    assert f"| {machines[-1]} | {1502 + len(machines) - 1} | any |" in holding.stdout
    bad = subprocess.run([sys.executable, "-m", "mestwin.cli", "plc", "map", "missing.yaml"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert "missing.yaml" in bad.stderr


# A small line with a warm-up, scrap, rework and breakdowns: what a truth file can get wrong.
TRUTH_LINE = {
    "name": "truth line", "seed": 4, "horizon": "4h", "warmup": "30min",
    "sources": [{"id": "arrivals", "interarrival": {"dist": "exponential", "mean": "40s"},
                 "to": "cut"}],
    "stations": [
        {"id": "cut", "process_time": {"dist": "exponential", "mean": "30s"}, "buffer": 5,
         "scrap": 0.05, "to": "pack"},
        {"id": "pack", "servers": 2, "process_time": {"dist": "constant", "value": "70s"},
         "rework": 0.05, "failures": {"ttf": {"dist": "exponential", "mean": "1h"},
                                      "ttr": {"dist": "exponential", "mean": "5min"}},
         "to": "sink"},
    ],
}


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.timeout(180)
def test_truth_of_serve_until_is_the_truth_of_run_for_the_same_span(tmp_path: Path) -> None:
    """serve --until 4h --truth writes the header, machine sums and end line that
    ``mestwin run --truth`` writes for the same scenario, seed and span: the PLCs and
    servers change nothing in the plant, so the whole file is the same."""
    scenario = tmp_path / "line.json"
    scenario.write_text(json.dumps(TRUTH_LINE), encoding="utf-8")
    served, ran = tmp_path / "served.jsonl", tmp_path / "ran.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "mestwin.cli", "serve", str(scenario), "--speed", "max",
         "--until", "4h", "--opcua-port", "0", "--modbus-port", "0", "--truth", str(served)],
        capture_output=True, text=True, timeout=150, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "mestwin.cli", "run", str(scenario), "--no-progress",
         "--truth", str(ran)], capture_output=True, text=True, timeout=150, check=False)
    assert done.returncode == 0, done.stderr
    ours, theirs = _records(served), _records(ran)
    assert ours[0] == theirs[0]
    assert ours[0]["horizon_s"] == 4 * 3600.0
    assert ours[-1] == {"type": "end", "lines": len(ours) - 1}
    machines = [r for r in ours if r["type"] == "machine"]
    assert [r["machine"] for r in machines] == ["cut", "pack-1", "pack-2"]
    assert machines == [r for r in theirs if r["type"] == "machine"]
    assert served.read_bytes() == ran.read_bytes()  # intervals and units too, byte for byte


@pytest.mark.timeout(120)
def test_truth_of_serve_stopped_by_sigterm_is_finished_where_it_stopped(
        tmp_path: Path) -> None:
    """Stopped by a signal, serve still ends the file: every machine's intervals tile
    [0, the stop time it prints], its sums cover [warm-up, stop] and the end line counts
    the lines; the header's horizon_s is null, the end being unknown when it was written."""
    scenario = tmp_path / "line.json"
    scenario.write_text(json.dumps(TRUTH_LINE), encoding="utf-8")
    path = tmp_path / "truth.jsonl"
    served = serve(str(scenario), "--speed", "3600", "--truth", str(path))
    time.sleep(2)
    code, out = terminate(served)
    assert code == 0
    stopped = re.search(r"Stopped at simulated time ([\d.]+) s\.", out)
    assert stopped is not None
    records = _records(path)
    assert records[0]["horizon_s"] is None
    assert records[-1] == {"type": "end", "lines": len(records) - 1}
    stop = float(stopped.group(1))
    assert stop > 3600.0
    for machine in ("cut", "pack-1", "pack-2"):
        intervals = [r for r in records if r["type"] == "interval" and r["machine"] == machine]
        assert intervals[0]["start"] == 0.0
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(intervals))
        assert intervals[-1]["end"] == pytest.approx(stop, abs=5e-4)
    for r in records:
        if r["type"] == "machine":
            assert r["elements"]["POT"] == pytest.approx(stop - 1800.0, abs=5e-4)


def test_a_truth_file_that_cannot_be_written_exits_2_naming_the_option(
        tmp_path: Path, scenarios_dir_module: Path) -> None:
    """--truth into a folder that does not exist: exit 2 before serving, naming --truth."""
    done = subprocess.run(
        [sys.executable, "-m", "mestwin.cli", "serve",
         str(scenarios_dir_module / "two_step_line.yaml"), "--opcua-port", "0",
         "--modbus-port", "0", "--truth", str(tmp_path / "no" / "truth.jsonl")],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--truth" in done.stderr
    assert "Serving" not in done.stdout
