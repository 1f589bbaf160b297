"""One command gives both files: ``mestwin loop --transport opcua --truth T --result R``,
and ``mestwin score T R`` finds our MES within 0.1 pp; a result with one machine's
availability shifted by 2 pp is named by machine and element, and exits 1 (score's
documented code for ``--max-error`` exceeded)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "two_step_line.yaml"


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mestwin.cli", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_loop_over_opcua_writes_truth_and_result_that_score_within_a_tenth(
        tmp_path: Path) -> None:
    truth, result = tmp_path / "t.jsonl", tmp_path / "r.json"
    loop = _cli("loop", str(SCENARIO), "--transport", "opcua", "--speed", "600", "--until",
                "30min", "--truth", str(truth), "--result", str(result), "--json", timeout=90)
    assert loop.returncode == 0, loop.stderr
    assert "collection gap" not in loop.stderr
    assert json.loads(loop.stdout)["collection_gaps"] == []
    header = json.loads(truth.read_text(encoding="utf-8").splitlines()[0])
    written = json.loads(result.read_text(encoding="utf-8"))
    assert written["window_s"] == [header["warmup_s"], header["horizon_s"]] == [0.0, 1800.0]

    scored = _cli("score", str(truth), str(result), "--json", "--max-error", "0.1")
    assert scored.returncode == 0, scored.stderr
    report = json.loads(scored.stdout)
    assert sorted(report["machines"]) == ["cut", "pack-1", "pack-2"]
    for name, machine in report["machines"].items():
        assert machine["max_error_pp"] <= 0.1, (name, machine)
        assert all(c["error"] == 0 for c in machine["counts"].values()), name
    assert report["trace"]["serials"] > 0
    assert (report["trace"]["min_precision"], report["trace"]["min_recall"]) == (1.0, 1.0)

    # Move 2 % of cut's planned busy time from APT to ADOT: availability -2 pp.
    elements = written["machines"]["cut"]["elements"]
    moved = 0.02 * sum(elements[k] for k in ("APT", "ASUT", "ADET", "ADOT"))
    elements["APT"] -= moved
    elements["ADOT"] += moved
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(written), encoding="utf-8")
    rescored = _cli("score", str(truth), str(broken), "--json", "--max-error", "0.1")
    assert rescored.returncode == 1
    lines = rescored.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mestwin score: cut: error above 0.1 pp: ")
    for figure in ("APT -2.0", "ADOT +2.0", "availability -2.0"):
        assert figure in lines[0]
    report = json.loads(rescored.stdout)
    cut = report["machines"]["cut"]
    assert cut["kpis"]["availability"]["error_pp"] == pytest.approx(-2.0, abs=0.1)
    assert cut["elements"]["APT"]["error_s"] == pytest.approx(-moved, abs=2.0)
    assert all(report["machines"][m]["max_error_pp"] <= 0.1 for m in ("pack-1", "pack-2"))
