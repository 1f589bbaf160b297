"""Specification of ``mestwin run`` with PackML options (mestwin.sim.run).

With acting times above 0 s or ``reset: operator`` the plant waits for its PLCs, so ``run``
runs the in-process virtual PLCs too: its truth is the truth of ``serve`` and of the closed
loop for the same scenario, seed and span. Every other scenario runs the plant alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mestwin.sim.run import needs_plcs
from mestwin.sim.scenario import build_plant
from mestwin.sim.scenario.schema import Scenario
from tests.sim.test_serve import TRUTH_LINE

ACTING = {"clearing": "20s", "resetting": "10s", "starting": "30s", "unsuspending": "5s"}
# serve's truth line (breakdowns, so PackML leaves and re-enters Execute through acting
# states) with acting times.
LINE: dict[str, Any] = {**TRUTH_LINE, "name": "acting line", "packml": {"acting_time": ACTING}}
ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")


def _with(**changes: Any) -> dict[str, Any]:
    return {**LINE, **changes}


def _mestwin(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    return done


def _write(tmp_path: Path, scenario: dict[str, Any], name: str = "line.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_only_a_plant_that_waits_for_its_plcs_runs_them() -> None:
    """Acting times above 0 s or reset: operator need the PLCs; none, or all 0 s, do not."""
    def needs(scenario: dict[str, Any]) -> bool:
        return needs_plcs(build_plant(Scenario.model_validate(scenario)))

    assert needs(LINE)
    assert needs(_with(packml={"reset": "operator"}))
    assert not needs(_with(packml={"acting_time": {"clearing": "0s", "starting": "0s"}}))
    assert not needs({k: v for k, v in LINE.items() if k != "packml"})


@pytest.mark.timeout(240)
def test_run_truth_with_acting_times_is_the_truth_of_serve(tmp_path: Path) -> None:
    """run --truth writes what serve --speed max --until 4h --truth writes for the same
    scenario and seed: the plant waits for PackML in both; without the PLCs it would not
    (the plain plant's truth of the same seed differs)."""
    scenario = _write(tmp_path, LINE)
    served, ran = tmp_path / "served.jsonl", tmp_path / "ran.jsonl"
    _mestwin("serve", str(scenario), "--speed", "max", "--until", "4h", "--opcua-port", "0",
             "--modbus-port", "0", "--truth", str(served))
    _mestwin("run", str(scenario), "--no-progress", "--truth", str(ran))
    ours, theirs = _records(served), _records(ran)
    machines = [r for r in theirs if r["type"] == "machine"]
    assert [r["machine"] for r in machines] == ["cut", "pack-1", "pack-2"]
    assert machines == [r for r in ours if r["type"] == "machine"]
    assert ran.read_bytes() == served.read_bytes()
    plain = _write(tmp_path, {k: v for k, v in LINE.items() if k != "packml"}, "plain.json")
    alone = tmp_path / "alone.jsonl"
    _mestwin("run", str(plain), "--no-progress", "--truth", str(alone))
    assert [r for r in _records(alone) if r["type"] == "machine"] != machines


@pytest.mark.timeout(120)
def test_run_kpis_with_acting_times_are_the_truth_of_loop(tmp_path: Path) -> None:
    """run --json's station figures are the sums of loop --json's truth per machine (a
    station of two servers is two machines there); a one-machine station's KPIs are the
    loop's truth KPIs."""
    scenario = _write(tmp_path, LINE)
    ran = json.loads(_mestwin("run", str(scenario), "--no-progress", "--json").stdout)
    looped = json.loads(_mestwin("loop", str(scenario), "--json").stdout)["machines"]
    assert ran["warnings"] == []
    for station, machines in (("cut", ["cut"]), ("pack", ["pack-1", "pack-2"])):
        figures = ran["stations"][station]
        truth = [looped[m]["truth"] for m in machines]
        for element in ELEMENTS:
            assert figures["time_elements_s"][element] == pytest.approx(
                sum(t[element] for t in truth), abs=1e-6), (station, element)
        assert figures["produced"] == sum(t["PQ"] for t in truth)
        assert figures["good"] == sum(t["GQ"] for t in truth)
        assert figures["rework"] == sum(t["RQ"] for t in truth)
    for kpi in ("availability", "effectiveness", "quality_ratio", "oee"):  # one machine
        assert ran["stations"]["cut"]["kpi"][kpi] == pytest.approx(looped["cut"]["truth"][kpi])
    assert ran["stations"]["pack"]["failures"] > 0  # PackML did leave Execute


@pytest.mark.timeout(120)
def test_run_with_operator_reset_leaves_aborted_machines_down_and_says_so(
        tmp_path: Path) -> None:
    """reset: operator in a run has no operator: each machine Aborted by a breakdown stays
    down to the horizon, one warning each, naming it; the machine never breaking down
    (cut) is not named."""
    scenario = _write(tmp_path, _with(packml={"reset": "operator"}))
    ran = json.loads(_mestwin("run", str(scenario), "--no-progress", "--json").stdout)
    warnings = ran["warnings"]
    named = sorted(w.split(":")[0] for w in warnings)
    assert named == ["pack-1", "pack-2"]
    assert all("reset is 'operator'" in w and "stayed down" in w for w in warnings)
    auto = json.loads(_mestwin("run", str(_write(tmp_path, _with(packml={}), "auto.json")),
                               "--no-progress", "--json").stdout)
    pack, pack_auto = ran["stations"]["pack"], auto["stations"]["pack"]
    assert pack["produced"] < pack_auto["produced"]
    assert pack["time_elements_s"]["ADET"] > pack_auto["time_elements_s"]["ADET"]
