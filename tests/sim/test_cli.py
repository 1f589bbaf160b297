"""The `mestwin` command line: help everywhere, JSON that is only JSON, overrides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mestwin.cli import build_parser


def _mestwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mestwin.cli", *args], capture_output=True,
                          text=True, check=False)


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help(command: str) -> None:
    """`mestwin COMMAND --help` exits 0 and describes the command."""
    done = _mestwin(*command.split(), "--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: mestwin")


def test_run_json_is_one_object_with_the_documented_keys(scenarios_dir: Path) -> None:
    """--json prints exactly one JSON object on stdout, with the README's contract keys."""
    done = _mestwin("run", str(scenarios_dir / "two_step_line.yaml"), "--json", "--until", "3d",
                    "--warmup", "2h", "--seed", "3")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("throughput_per_hour", "mean_flow_time_s", "mean_wip", "event_log_sha256"):
        assert key in result
    assert result["seed"] == 3
    assert result["horizon_s"] == 3 * 86400
    assert result["warmup_s"] == 7200
    assert result["warnings"] == []  # random arrivals never run out
    for station in ("cut", "pack"):
        s = result["stations"][station]
        for key in ("utilization", "mean_wait_s", "mean_queue_length", "produced", "good",
                    "scrap"):
            assert key in s
        assert set(s["time_elements_s"]) >= {"PBT", "APT", "ASUT", "ADET", "ADOT", "PDOT"}


def test_run_summary_and_report(tmp_path: Path, scenarios_dir: Path) -> None:
    """Without --json a readable summary is printed; --report writes Markdown."""
    report = tmp_path / "out" / "report.md"
    done = _mestwin("run", str(scenarios_dir / "job_shop.yaml"), "--until", "2d",
                    "--warmup", "0", "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert "throughput" in done.stdout
    assert "mill" in done.stdout
    text = report.read_text()
    assert text.startswith("# job shop")
    assert "| mill |" in text


def test_schema_is_a_json_schema_of_scenarios() -> None:
    """`mestwin schema` prints a JSON Schema naming the scenario's fields."""
    done = _mestwin("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert schema["title"] == "mestwin scenario"
    assert {"name", "horizon", "sources", "stations"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"name", "horizon", "sources", "stations"}


def test_loop_scores_the_mes_in_process(scenarios_dir: Path) -> None:
    """`mestwin loop --json` reports every machine with counts equal to the truth."""
    done = _mestwin("loop", str(scenarios_dir / "assembly_line.yaml"), "--until", "12h",
                    "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary["machines"]) == {"assemble-1", "assemble-2", "test", "pack"}
    assert all(m["counts_equal"] for m in summary["machines"].values())
    assert summary["genealogy"]["min_recall"] == 1.0
    assert _mestwin("loop", str(scenarios_dir / "assembly_line.yaml"), "--transport",
                    "carrier-pigeon").returncode == 2
