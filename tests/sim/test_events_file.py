"""``--events FILE`` on ``run``, ``serve`` and ``loop``: every event, one line each, and
the file's SHA-256 is the run's ``event_log_sha256`` (hashlib over the file's bytes here)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mestwin.plantmodels import Retention
from mestwin.plantmodels.eventlog import parse_line
from mestwin.sim.scenario import build_plant, load_scenario

UNTIL = "2d"


def _mestwin(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mestwin.cli", *args], capture_output=True,
                          text=True, check=False, timeout=timeout)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.timeout(120)
def test_run_events_file_has_event_count_lines_hashing_to_the_reported_hash(
        scenarios_dir: Path, tmp_path: Path) -> None:
    """``run --events`` writes exactly event_count lines whose SHA-256 is the reported one,
    and the lines are the rows a log that keeps everything holds."""
    scenario = scenarios_dir / "two_step_line.yaml"
    events = tmp_path / "events.tsv"
    done = _mestwin("run", str(scenario), "--json", "--until", UNTIL, "--events", str(events))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    text = events.read_text(encoding="utf-8")
    assert text.count("\n") == result["event_count"] > 1000
    assert _file_sha256(events) == result["event_log_sha256"]
    plant = build_plant(load_scenario(scenario).model_copy(update={"horizon": 2 * 86400}))
    plant.log.retain(Retention.ALL)
    plant.run(2 * 86400)
    assert [parse_line(line) for line in text.splitlines()] == plant.log.rows


@pytest.mark.timeout(120)
def test_run_without_events_reports_the_same_count_and_hash(scenarios_dir: Path,
                                                            tmp_path: Path) -> None:
    """Keeping no row changes nothing in the JSON result."""
    scenario = str(scenarios_dir / "two_step_line.yaml")
    streamed = _mestwin("run", scenario, "--json", "--until", UNTIL,
                        "--events", str(tmp_path / "e.tsv"))
    unkept = _mestwin("run", scenario, "--json", "--until", UNTIL)
    assert streamed.returncode == unkept.returncode == 0
    assert json.loads(streamed.stdout) == json.loads(unkept.stdout)


@pytest.mark.timeout(120)
def test_serve_events_file_matches_its_final_line_and_the_run(scenarios_dir: Path,
                                                              tmp_path: Path) -> None:
    """``serve --until 2d --speed max --events`` streams the same log as ``run`` (the PLCs
    only read the plant): its last line gives count and hash, and the file has both."""
    scenario = str(scenarios_dir / "two_step_line.yaml")
    events = tmp_path / "served.tsv"
    served = _mestwin("serve", scenario, "--speed", "max", "--until", UNTIL,
                      "--opcua-port", "0", "--modbus-port", "0", "--events", str(events))
    assert served.returncode == 0, served.stderr
    final = re.search(r"^Event log: (\d+) events, sha256 ([0-9a-f]{64})\.$", served.stdout,
                      re.MULTILINE)
    assert final is not None, served.stdout
    count, sha = int(final.group(1)), final.group(2)
    assert events.read_text(encoding="utf-8").count("\n") == count
    assert _file_sha256(events) == sha
    ran = json.loads(_mestwin("run", scenario, "--json", "--until", UNTIL).stdout)
    assert (ran["event_count"], ran["event_log_sha256"]) == (count, sha)


@pytest.mark.timeout(180)
def test_loop_events_file_is_the_plant_log_and_scoring_is_unchanged(
        scenarios_dir: Path, tmp_path: Path) -> None:
    """``loop --events`` (in process) writes the plant's log; the MES scores (genealogy
    included, resolved as the log goes) equal those of a loop that keeps no row."""
    scenario = str(scenarios_dir / "assembly_line.yaml")
    events = tmp_path / "loop.tsv"
    streamed = _mestwin("loop", scenario, "--until", "1d", "--json", "--events", str(events),
                        timeout=180)
    unkept = _mestwin("loop", scenario, "--until", "1d", "--json", timeout=180)
    assert streamed.returncode == unkept.returncode == 0, streamed.stderr
    assert json.loads(streamed.stdout) == json.loads(unkept.stdout)
    summary = json.loads(streamed.stdout)
    lines = events.read_text(encoding="utf-8").splitlines()
    exits = sum(1 for line in lines if line.split("\t")[1] == "5"
                and line.split("\t")[3] != "scrap")
    assert exits == summary["genealogy"]["serials"] > 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["run", "serve", "loop"])
def test_an_events_file_that_cannot_be_written_is_bad_input(
        command: str, scenarios_dir: Path, tmp_path: Path) -> None:
    """A FILE in a missing folder: exit 2, the reason on stderr, nothing run or printed."""
    target = tmp_path / "missing" / "events.tsv"
    extra = ["--until", UNTIL] + (["--opcua-port", "0", "--modbus-port", "0"]
                                 if command == "serve" else [])
    done = _mestwin(command, str(scenarios_dir / "two_step_line.yaml"), *extra,
                    "--events", str(target), timeout=60)
    assert done.returncode == 2
    assert f"mestwin {command}: --events {target}: No such file or directory" in done.stderr
    assert done.stdout == ""
    assert not target.parent.exists()
