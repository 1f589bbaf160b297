"""Ground truth an outside MES is scored against: ``run --truth``, ``loop --result``, ``score``.

The truth file is checked against an independent recount of the event log (``--events``)
written here from the event kinds' documented fields and the ISO 22400-2 state-to-element
table; our own MES, in process, scores 0 pp; a result with one error is named by machine and
element; a result with a bad field is refused naming the field.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

# ISO 22400-2 (docs, reference iso22400-oee.md "Counts from PackML"): idle / blocked /
# stopped -> ADOT, processing -> APT, setup -> ASUT, down / held -> ADET, planned -> PDOT
ELEMENT_OF_STATE = ("ADOT", "APT", "ASUT", "ADOT", "ADET", "PDOT", "ADOT", "ADET")
ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")
SCENARIOS = Path(__file__).parents[2] / "scenarios"
LINES = {"two_step_line": "2d", "bottling_line": "3h"}


def _mestwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mestwin.cli", *args], capture_output=True,
                          text=True, check=False, timeout=240)


@pytest.fixture(scope="module", params=sorted(LINES))
def files(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Truth and events of one run, and our MES's result of the same run, in process."""
    name, until = request.param, LINES[request.param]
    out = tmp_path_factory.mktemp(name)
    scenario = str(SCENARIOS / f"{name}.yaml")
    paths = {"truth": out / "truth.jsonl", "events": out / "events.tsv",
             "result": out / "result.json"}
    done = _mestwin("run", scenario, "--until", until, "--truth", str(paths["truth"]),
                    "--events", str(paths["events"]), "--json")
    assert done.returncode == 0, done.stderr
    done = _mestwin("loop", scenario, "--until", until, "--result", str(paths["result"]))
    assert done.returncode == 0, done.stderr
    return paths


def _truth_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _recount(events: Path, machines: list[str], warmup: float,
             horizon: float) -> dict[str, dict[str, Any]]:
    """Elements and counts per machine from the raw event lines (tab-separated, fields as
    the EventKind docstrings give them): STATE = 2, COMPLETE = 4, RELEASE = 0."""
    servers: dict[str, int] = defaultdict(int)
    for m in machines:
        station, _, n = m.rpartition("-")
        servers[station if n.isdigit() and station else m] += 1

    def machine_id(station: str, index: int) -> str:
        return station if servers.get(station, 1) == 1 else f"{station}-{index + 1}"

    out: dict[str, dict[str, Any]] = {
        m: {"elements": dict.fromkeys(ELEMENTS, 0.0), "counts": [0, 0, 0, 0]}
        for m in machines}
    current: dict[str, tuple[float, int]] = dict.fromkeys(machines, (0.0, 0))  # all start idle
    serial_at: dict[tuple[str, str], str] = {}
    for line in events.read_text(encoding="utf-8").splitlines():
        f = line.split("\t")
        t, kind = float(f[0]), int(f[1])
        if kind == 2:
            m = machine_id(f[2], int(f[3]))
            since, state = current[m]
            if t > warmup:
                out[m]["elements"][ELEMENT_OF_STATE[state]] += t - max(since, warmup)
            current[m] = (t, int(f[4]))
            if f[6] != "None":
                serial_at[(f[2], f[6])] = m
        elif kind == 4 and t >= warmup:
            counts = out[serial_at[(f[2], f[3])]]["counts"]
            counts[0] += 1
            counts[{"good": 1, "scrap": 2, "rework": 3}[f[4]]] += 1
    for m, (since, state) in current.items():
        out[m]["elements"][ELEMENT_OF_STATE[state]] += horizon - max(since, warmup)
    return out


@pytest.mark.timeout(300)
def test_truth_equals_an_independent_recount_of_the_event_log(files: dict[str, Path]) -> None:
    """Every machine's elements and PQ, GQ, SQ, RQ in the truth file equal the recount; its
    intervals tile the run; PBT = APT + ASUT + ADET + ADOT; the format is versioned."""
    lines = _truth_lines(files["truth"])
    header, end = lines[0], lines[-1]
    assert (header["type"], header["format"], header["version"]) == ("header",
                                                                     "mestwin-truth", 1)
    assert end == {"type": "end", "lines": len(lines) - 1}
    recount = _recount(files["events"], header["machines"], header["warmup_s"],
                       header["horizon_s"])
    machines = {r["machine"]: r for r in lines if r["type"] == "machine"}
    assert set(machines) == set(recount)
    assert machines
    for name, row in machines.items():
        e = row["elements"]
        for k in ELEMENTS:
            assert e[k] == pytest.approx(recount[name]["elements"][k], abs=1e-6), (name, k)
        assert e["PBT"] == pytest.approx(e["APT"] + e["ASUT"] + e["ADET"] + e["ADOT"])
        assert [row["counts"][k] for k in ("PQ", "GQ", "SQ", "RQ")] == recount[name]["counts"]
        assert sum(row["downtime_by_reason"].values()) == pytest.approx(
            e["POT"] - e["APT"], abs=1e-6)
    intervals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in lines:
        if r["type"] == "interval":
            intervals[r["machine"]].append(r)
    for name, rows in intervals.items():
        assert rows[0]["start"] == 0.0
        assert rows[-1]["end"] == header["horizon_s"]
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(rows)), name
        for r in rows:
            assert r["element"] == ELEMENT_OF_STATE[r["machine_state"]]
            assert (r["reason_code"] == 0) == (r["state"] == "processing")


@pytest.mark.timeout(60)
def test_genealogy_lists_every_units_direct_parents(files: dict[str, Path]) -> None:
    """Each unit line holds the release lot and the consumed ids the event log gives it."""
    expected: dict[str, set[str]] = defaultdict(set)
    for line in files["events"].read_text(encoding="utf-8").splitlines():
        f = line.split("\t")
        if f[1] == "0":
            expected[f[2]] |= {f[4]} if f[4] != "None" else set()
        elif f[1] == "3":
            expected[f[3]].add(f[4])
    units = {r["serial"]: r for r in _truth_lines(files["truth"]) if r["type"] == "unit"}
    assert set(units) == set(expected)
    for serial, row in units.items():
        assert set(row["consumed"]) | ({row["lot"]} if row["lot"] else set()) == \
            expected[serial]


@pytest.mark.timeout(60)
def test_our_mes_in_process_scores_zero(files: dict[str, Path]) -> None:
    """In process our MES is exact: every element, KPI and downtime reason within
    floating-point rounding, counts equal, trace precision and recall 1."""
    done = _mestwin("score", str(files["truth"]), str(files["result"]), "--json",
                    "--max-error", "1e-6")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["max_error_pp"] < 1e-6
    for m in report["machines"].values():
        assert all(c["error"] == 0 for c in m["counts"].values())
        assert m["kpis"]["oee"]["truth"] is not None
    trace = report["trace"]
    assert trace["serials"] > 0
    assert (trace["min_precision"], trace["min_recall"]) == (1.0, 1.0)
    text = _mestwin("score", str(files["truth"]), str(files["result"]))
    assert text.returncode == 0
    assert "Max error over all machines: 0.0000 pp." in text.stdout


def _broken(files: dict[str, Path], tmp_path: Path, share: float) -> tuple[Path, str]:
    """The result with *share* of the first busy machine's PBT moved from APT to ADET."""
    truth = {r["machine"]: r for r in _truth_lines(files["truth"]) if r["type"] == "machine"}
    name = next(n for n, r in truth.items() if r["elements"]["APT"] > 0)
    result = json.loads(files["result"].read_text(encoding="utf-8"))
    e = result["machines"][name]["elements"]
    moved = share * truth[name]["elements"]["PBT"]
    e["APT"] -= moved
    e["ADET"] += moved
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    return path, name


@pytest.mark.timeout(60)
def test_an_availability_error_is_named_by_machine_and_element(
        files: dict[str, Path], tmp_path: Path) -> None:
    """2 % of PBT booked to ADET instead of APT: A is off by -2 pp, APT by -2 pp of PBT and
    ADET by +2, though PBT is right; ``--max-error 0.5`` exits 1 naming the machine."""
    path, name = _broken(files, tmp_path, 0.02)
    done = _mestwin("score", str(files["truth"]), str(path), "--json")
    assert done.returncode == 0
    m = json.loads(done.stdout)["machines"][name]
    assert m["kpis"]["availability"]["error_pp"] == pytest.approx(-2.0, abs=1e-6)
    assert m["elements"]["APT"]["error_pp_of_pbt"] == pytest.approx(-2.0, abs=1e-6)
    assert m["elements"]["ADET"]["error_pp_of_pbt"] == pytest.approx(2.0, abs=1e-6)
    assert m["kpis"]["effectiveness"]["error_pp"] > 0  # the same PQ over less APT
    failed = _mestwin("score", str(files["truth"]), str(path), "--max-error", "0.5")
    assert failed.returncode == 1
    line = next(x for x in failed.stderr.splitlines() if x.startswith(f"mestwin score: {name}:"))
    for figure in ("APT -2.000 pp", "ADET +2.000 pp", "availability -2.000 pp"):
        assert figure in line
    assert f"## {name}" in failed.stdout


@pytest.mark.timeout(60)
def test_a_wrong_trace_lowers_precision_and_recall(
        files: dict[str, Path], tmp_path: Path) -> None:
    """One finished serial's trace with a made-up ancestor (and without its first true
    one, if it has any): precision < 1, recall < 1 when it had ancestors, serial named."""
    result = json.loads(files["result"].read_text(encoding="utf-8"))
    units = [r for r in _truth_lines(files["truth"]) if r["type"] == "unit"
             and r["exit"] not in (None, "scrap", "dropped", "consumed")]
    unit = max(units, key=lambda r: bool(r["lot"] or r["consumed"]))
    serial, has_lineage = unit["serial"], bool(unit["lot"] or unit["consumed"])
    result["trace"][serial] = [*result["trace"].get(serial, [])[1:], "no-such-lot"]
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    done = _mestwin("score", str(files["truth"]), str(path), "--json")
    trace = json.loads(done.stdout)["trace"]
    assert trace["min_precision"] < 1.0
    assert (trace["min_recall"] < 1.0) == has_lineage
    assert trace["mismatches"] == [serial]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("edit", "field"), [
    (lambda r, m: r["machines"][m]["counts"].__setitem__("PQ", "many"), "counts.PQ"),
    (lambda r, m: r["machines"][m]["elements"].__setitem__("ADET", -1.0), "elements.ADET"),
    (lambda r, m: r["machines"][m]["elements"].pop("APT"), "elements.APT"),
    (lambda r, m: r.__setitem__("version", 2), "version"),
])
def test_a_result_with_a_bad_field_exits_2_naming_it(
        files: dict[str, Path], tmp_path: Path, edit: Any, field: str) -> None:
    """A bad result file is refused with exit 2 and the field's path, no pydantic noise."""
    result = json.loads(files["result"].read_text(encoding="utf-8"))
    name = next(iter(result["machines"]))
    edit(result, name)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    done = _mestwin("score", str(files["truth"]), str(path))
    assert done.returncode == 2
    assert field in done.stderr
    assert "pydantic" not in done.stderr.lower()
    assert done.stdout == ""


@pytest.mark.timeout(60)
def test_a_result_of_another_window_exits_2_and_says_so(
        files: dict[str, Path], tmp_path: Path) -> None:
    """Our MES writes the window its figures cover; a result of another window than the
    truth's (a warm-up forgotten on one side) is refused, not scored as a huge error."""
    result = json.loads(files["result"].read_text(encoding="utf-8"))
    header = _truth_lines(files["truth"])[0]
    assert result["window_s"] == [header["warmup_s"], header["horizon_s"]]
    result["window_s"] = [0.0, header["horizon_s"]]
    if header["warmup_s"] == 0.0:
        result["window_s"] = [60.0, header["horizon_s"]]
    path = tmp_path / "other_window.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    done = _mestwin("score", str(files["truth"]), str(path))
    assert done.returncode == 2
    assert "window_s: the result covers" in done.stderr
    assert f"but the truth covers [{header['warmup_s']:g}, {header['horizon_s']:g}] s" in (
        done.stderr)
    assert done.stdout == ""


@pytest.mark.timeout(60)
def test_a_cut_truth_file_exits_2(files: dict[str, Path], tmp_path: Path) -> None:
    """A truth file without its end line (a run cut short) is refused, not scored."""
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(files["truth"].read_text(encoding="utf-8")
                           .splitlines(keepends=True)[:-1]), encoding="utf-8")
    done = _mestwin("score", str(cut), str(files["result"]))
    assert done.returncode == 2
    assert "end line" in done.stderr


@pytest.mark.timeout(60)
def test_the_result_schema_is_json_schema(files: dict[str, Path]) -> None:
    """``score --schema`` prints a JSON Schema that our MES's result validates against and
    a result without elements does not."""
    import jsonschema

    done = _mestwin("score", "--schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(files["result"].read_text(encoding="utf-8")), schema)
    bad = {"format": "mestwin-result", "version": 1, "machines": {"m": {"counts": {}}}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))


@pytest.mark.timeout(60)
def test_a_machine_missing_from_the_result_is_an_unbounded_error(
        files: dict[str, Path], tmp_path: Path) -> None:
    """A result without one of the truth's machines: JSON says null (unbounded), and any
    ``--max-error`` exits 1 naming it."""
    result = json.loads(files["result"].read_text(encoding="utf-8"))
    name = next(iter(result["machines"]))
    del result["machines"][name]
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    done = _mestwin("score", str(files["truth"]), str(path), "--json")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["machines"][name]["missing"] is True
    assert report["machines"][name]["max_error_pp"] is None
    failed = _mestwin("score", str(files["truth"]), str(path), "--max-error", "100")
    assert failed.returncode == 1
    assert f"{name}: error above 100.0 pp: (missing from the result)" in failed.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["bottling_line", "assembly_line"])
def test_the_recorder_holds_only_what_is_still_open(name: str) -> None:
    """Memory stays bounded: after a run the recorder holds the links of no more units than
    the plant holds (plus components inside them) and one serial per machine at most."""
    import os

    from mestwin.plantmodels import Retention
    from mestwin.sim.scenario import build_plant, load_scenario
    from mestwin.sim.truth import TruthRecorder

    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    plant = build_plant(scenario)
    plant.log.retain(Retention.NONE)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        recorder = TruthRecorder(plant, sink, scenario.name, scenario.seed, 0.0, 6 * 3600.0)
        recorder.attach(plant)
        plant.run(6 * 3600.0)
        plant.log.flush()
        assert recorder.lines > 500
        assert len(recorder.holder) <= len(recorder.machines)
        released = sum(s.released for s in plant.sources.values())
        assert len(recorder.parents) <= plant.wip + 2 * len(recorder.machines) < released / 10
