"""A bad scenario names the file, the field path and what was expected, and exits 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

GOOD = """\
name: line
seed: 7
horizon: 8h
sources:
  - {id: arrivals, interarrival: {dist: exponential, mean: 75s}, to: cut}
stations:
  - {id: cut, servers: 1, process_time: {dist: exponential, mean: 60s}, buffer: 10, to: pack}
  - id: pack
    process_time: {dist: constant, value: 100s}
    failures: {ttf: {dist: exponential, mean: 8h}, ttr: {dist: exponential, mean: 20min}}
    to: sink
"""

# (what is wrong, text replaced, replacement, field path expected in the message, words expected)
MISTAKES = [
    ("unknown distribution", "dist: exponential, mean: 60s", "dist: expo, mean: 60s",
     "stations[0].process_time", "unknown distribution 'expo'"),
    ("negative mean", "mean: 75s", "mean: -5", "sources[0].interarrival.mean",
     "non-negative duration"),
    ("bad duration unit", "horizon: 8h", "horizon: 8 hours", "horizon", "expected a duration"),
    ("missing process time", "servers: 1, process_time: {dist: exponential, mean: 60s}, ",
     "servers: 1, ", "stations[0].process_time", "required field is missing"),
    ("misspelt field", "buffer: 10", "bufer: 10", "stations[0].bufer", "unknown field"),
    ("unknown target", "to: pack}", "to: packing}", "stations[0].to", "unknown node 'packing'"),
    ("zero servers", "servers: 1", "servers: 0", "stations[0].servers",
     "greater than or equal to 1"),
    ("negative buffer", "buffer: 10", "buffer: -1", "stations[0].buffer",
     "greater than or equal to 0"),
    ("duplicate id", "- id: pack", "- id: cut", "stations[1].id", "duplicate id 'cut'"),
    ("warm-up beyond horizon", "seed: 7", "seed: 7\nwarmup: 9h", "warmup",
     "expected less than horizon"),
    ("source with no arrivals", "{id: arrivals, interarrival: {dist: exponential, mean: 75s}, ",
     "{id: arrivals, ", "sources[0]", "exactly one of interarrival"),
    ("missing parameter", "{dist: constant, value: 100s}", "{dist: constant}",
     "stations[1].process_time.value", "required field is missing"),
    ("bad failure basis", "mean: 20min}}", "mean: 20min}, basis: weekly}",
     "stations[1].failures.basis", "'operating' or 'calendar'"),
    ("string for a number", "seed: 7", "seed: seven", "seed", "expected a whole number"),
    ("saturated source into an unlimited buffer",
     "{id: arrivals, interarrival: {dist: exponential, mean: 75s}, to: cut}",
     "{id: arrivals, saturated: true, to: pack}", "sources[0].saturated",
     "needs a finite first buffer"),
    ("wrong type for list", "stations:\n", "stations: 3\nignored:\n", "stations",
     "expected a list"),
    ("station without a destination", "buffer: 10, to: pack}", "buffer: 10}",
     "stations[0].to", "write `to: sink`"),
    ("true for a number of servers", "servers: 1", "servers: true", "stations[0].servers",
     "expected a whole number; got True"),
    ("a fraction of a buffer place", "buffer: 10", "buffer: 2.5", "stations[0].buffer",
     "expected a whole number; got 2.5"),
    ("a quoted count", "buffer: 10", "buffer: '10'", "stations[0].buffer",
     "expected a whole number; got '10'"),
    ("a whole float seed", "seed: 7", "seed: 7.0", "seed", "expected a whole number; got 7.0"),
    ("a breakdown with a planned reason", "mean: 20min}}", "mean: 20min}, reason: break}",
     "stations[1].failures.reason", "expected a breakdown reason, not 'break'"),
    ("a breakdown with a command reason", "mean: 20min}}", "mean: 20min}, reason: abort}",
     "stations[1].failures.reason", "expected a breakdown reason, not 'abort'"),
    ("a breakdown called starved", "mean: 20min}}", "mean: 20min}, reason: starved}",
     "stations[1].failures.reason", "starved/blocked"),
    ("a minor stop called setup", "    to: sink\n",
     "    microstops: {every: 10min, duration: 5s, reason: setup}\n    to: sink\n",
     "stations[1].microstops.reason", "expected a breakdown reason, not 'setup'"),
    ("planned downtime with a fault's reason", "    to: sink\n",
     "    planned_downtime: [{start: 1h, duration: 10min, reason: breakdown}]\n    to: sink\n",
     "stations[1].planned_downtime[0].reason",
     "expected one of break, shift_off, planned_maintenance, planned, cleaning"),
    ("a calendar break called operator_hold", "stations:\n",
     "calendar: {planned_downtime: [{start: 1h, duration: 5min, reason: operator_hold}]}\n"
     "stations:\n", "calendar.planned_downtime[0].reason", "got 'operator_hold'"),
]


@pytest.mark.parametrize(("what", "old", "new", "path", "words"), MISTAKES,
                         ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_named_with_file_and_field_path(
    tmp_path: Path, what: str, old: str, new: str, path: str, words: str,
) -> None:
    """Every kind of mistake gives one message: file, field path, what was expected."""
    from mestwin.sim.scenario import ScenarioError, load_scenario

    assert old in GOOD, what
    file = tmp_path / "bad.yaml"
    file.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    message = str(caught.value)
    assert message.startswith(f"{file}: {path}: "), message
    assert words in message, message


def test_the_good_scenario_loads(tmp_path: Path) -> None:
    """The base of the mistakes above is itself valid (so each mistake is the only one)."""
    from mestwin.sim.scenario import load_scenario

    file = tmp_path / "good.yaml"
    file.write_text(GOOD)
    scenario = load_scenario(file)
    assert scenario.horizon == 8 * 3600
    assert scenario.stations[1].failures is not None


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    """A YAML syntax error reports its line and column."""
    from mestwin.sim.scenario import ScenarioError, load_scenario

    file = tmp_path / "broken.yaml"
    file.write_text(GOOD.replace("to: cut}", "to: cut"))
    with pytest.raises(ScenarioError, match=r"broken\.yaml: invalid YAML: line \d+, column \d+"):
        load_scenario(file)


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    """A file that does not exist is reported like any other bad scenario."""
    from mestwin.sim.scenario import ScenarioError, load_scenario

    with pytest.raises(ScenarioError, match="cannot read the file"):
        load_scenario(tmp_path / "nope.yaml")


def test_cli_exits_2_and_prints_only_the_error(tmp_path: Path) -> None:
    """`mestwin run` on a bad file exits 2, says why on stderr, prints nothing on stdout."""
    file = tmp_path / "bad.yaml"
    file.write_text(GOOD.replace("buffer: 10", "buffer: many"))
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "run", str(file), "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"{file}: stations[0].buffer:" in done.stderr
    assert "'many'" in done.stderr


def test_cli_rejects_a_bad_override(tmp_path: Path) -> None:
    """A malformed --until is bad input too: exit 2 with the reason."""
    file = tmp_path / "good.yaml"
    file.write_text(GOOD)
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "run", str(file), "--until",
                           "soon"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "expected a duration" in done.stderr


# A plant that uses every either-or field: per-product process times, a failures list, a
# setup matrix, a conveyor, a calendar and a source of orders.
RICH = """\
name: rich
horizon: 2d
products:
  - {id: shaft, family: round}
  - {id: plate, family: flat}
sources:
  - id: po
    orders: [{id: PO-1, product: shaft, quantity: 5, release: 1h}]
    to: cut
  - {id: plates, interarrival: 10min, product_mix: {shaft: 1, plate: 2}, to: cut}
stations:
  - id: cut
    process_time: {shaft: {dist: lognormal, mean: 2min, cv: 0.5}, plate: 90s}
    ideal_cycle_time: {shaft: 2min, plate: 90s}
    failures:
      - {ttf: {dist: exponential, mean: 8h}, ttr: 20min}
      - {ttf: {dist: weibull, shape: 1.5, scale: 1d}, ttr: 1h, basis: calendar}
    setups: {matrix: {round: {flat: 5min}, flat: {round: {dist: uniform, low: 2min, high: 4min}}}}
    to: belt
  - {id: pack, process_time: {dist: constant, value: 30s}, to: sink}
conveyors:
  - {id: belt, transport_time: {dist: constant, value: 20s}, capacity: 5, to: pack}
calendar:
  planned_downtime:
    - {start: 4h, duration: 30min, every: 8h, reason: break}
"""

# (where, text replaced, replacement, field path expected, words expected)
TYPOS = [
    ("per-product distribution name", "dist: lognormal", "dist: lognorm",
     "stations[0].process_time.shaft", "unknown distribution 'lognorm'; expected one of"),
    ("per-product distribution parameter", "cv: 0.5}", "cov: 0.5}",
     "stations[0].process_time.shaft.cov", "unknown field; did you mean `cv`?"),
    ("per-product bare duration", "plate: 90s}", "plate: 90 seconds}",
     "stations[0].process_time.plate", "expected a duration such as"),
    ("per-product distribution of the wrong type", "plate: 90s}", "plate: [90s]}",
     "stations[0].process_time.plate", "expected a distribution such as"),
    ("per-product ideal cycle time", "ideal_cycle_time: {shaft: 2min", "ideal_cycle_time: "
     "{shaft: fast", "stations[0].ideal_cycle_time.shaft", "expected a duration such as"),
    ("failures list entry", "ttr: 1h, basis: calendar", "ttr: 1h, basis: weekly",
     "stations[0].failures[1].basis", "expected 'operating' or 'calendar'"),
    ("failures list unknown field", "ttr: 20min}", "ttr: 20min, mttr: 3}",
     "stations[0].failures[0].mttr", "unknown field"),
    ("failures of the wrong type", "    failures:\n", "    failures: 3\n    ignored:\n",
     "stations[0].failures", "expected a mapping"),
    ("setups matrix cell", "{round: {flat: 5min}", "{round: {flat: {dist: uniform, low: 2}}",
     "stations[0].setups.matrix.round.flat.high", "required field is missing"),
    ("setups matrix row", "{round: {flat: 5min}", "{round: 5min", "stations[0].setups.matrix.round",
     "expected a mapping"),
    ("conveyor transport time", "transport_time: {dist: constant, value: 20s}",
     "transport_time: {dist: constant, valu: 20s}", "conveyors[0].transport_time.valu",
     "unknown field; did you mean `value`?"),
    ("conveyor capacity", "capacity: 5", "capacity: five", "conveyors[0].capacity",
     "expected a whole number"),
    ("calendar entry", "duration: 30min, every: 8h", "duraton: 30min, every: 8h",
     "calendar.planned_downtime[0].duraton", "unknown field; did you mean `duration`?"),
    ("calendar of the wrong type", "calendar:\n  planned_downtime:\n",
     "calendar: [1]\nignored:\n  planned_downtime:\n", "calendar", "expected a mapping"),
    ("order quantity", "quantity: 5", "quantity: many", "sources[0].orders[0].quantity",
     "expected a whole number; got 'many'"),
    ("order release", "release: 1h", "release: soon", "sources[0].orders[0].release",
     "expected a duration such as"),
    ("orders of the wrong type", "orders: [{id: PO-1, product: shaft, quantity: 5, release: 1h}]",
     "orders: {id: PO-1}", "sources[0].orders", "expected a list"),
    ("product mix weight", "{shaft: 1, plate: 2}", "{shaft: 1, plate: lots}",
     "sources[1].product_mix.plate", "expected a number"),
    ("bare interarrival", "interarrival: 10min", "interarrival: 10 mins",
     "sources[1].interarrival", "expected a duration such as"),
    ("product field", "{id: plate, family: flat}", "{id: plate, familly: flat}",
     "products[1].familly", "unknown field"),
    ("fractional count", "{id: pack,", "{id: pack, servers: 1.5,", "stations[1].servers",
     "expected a whole number"),
]
INTERNALS = ("function-before", "function-after", "tagged-union", "dict[", "list[", "union[",
             "Spec", "instance of", "Input should", "(one)", "(per product)", "(list)",
             "model_", "Value error")


def test_the_rich_scenario_loads(tmp_path: Path) -> None:
    """The base of the typos below is valid, so each typo is the only mistake."""
    from mestwin.sim.scenario import load_scenario

    file = tmp_path / "rich.yaml"
    file.write_text(RICH)
    scenario = load_scenario(file)
    assert isinstance(scenario.stations[0].failures, list)
    assert len(scenario.stations[0].failures) == 2


@pytest.mark.parametrize(("what", "old", "new", "path", "words"), TYPOS,
                         ids=[t[0] for t in TYPOS])
def test_typos_anywhere_are_named_without_pydantic_internals(
    tmp_path: Path, what: str, old: str, new: str, path: str, words: str,
) -> None:
    """One message per typo, in the file's own terms: its field path and what was expected,
    never the validator's internal type names or union branches."""
    from mestwin.sim.scenario import ScenarioError, load_scenario

    assert old in RICH, what
    file = tmp_path / "bad.yaml"
    file.write_text(RICH.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    message = str(caught.value)
    first = message.splitlines()[0]
    assert first.startswith(f"{file}: {path}: "), message
    assert words in first, message
    for internal in INTERNALS:
        assert internal not in message, message


def test_a_misspelt_required_field_is_one_problem(tmp_path: Path) -> None:
    """`valu` for `value` is reported once, as the misspelling, not also as a missing field."""
    from mestwin.sim.scenario import ScenarioError, load_scenario

    file = tmp_path / "bad.yaml"
    file.write_text(RICH.replace("value: 20s}", "valu: 20s}"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    assert caught.value.problems == [("conveyors[0].transport_time.valu",
                                      "unknown field; did you mean `value`?")]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mestwin.cli", "run", *args],
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.timeout(120)
def test_a_station_without_destination_exits_2_and_says_how_to_reach_the_sink(
    tmp_path: Path,
) -> None:
    """Without `to:` the units used to vanish into the sink and `pack` sat idle; now the
    run refuses, names the field and says how to write the sink explicitly."""
    file = tmp_path / "line.yaml"
    file.write_text(GOOD.replace("buffer: 10, to: pack}", "buffer: 10}"))
    done = _run(str(file), "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(
        f"{file}: stations[0].to: expected a destination: units (without a routing) reach "
        "'cut' and need somewhere to go"), done.stderr
    assert "write `to: sink`" in done.stderr


@pytest.mark.timeout(120)
def test_a_conveyor_or_a_station_nobody_routes_needs_a_destination_too(tmp_path: Path) -> None:
    """A conveyor without `to`, and a station on no routing, are the same mistake."""
    file = tmp_path / "rich.yaml"
    file.write_text(RICH.replace("capacity: 5, to: pack}", "capacity: 5}"))
    done = _run(str(file))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{file}: conveyors[0].to: expected a destination"), \
        done.stderr
    file.write_text(RICH.replace("  - {id: pack,", "  - {id: spare, process_time: 1s}\n"
                                 "  - {id: pack,"))
    done = _run(str(file))
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"{file}: stations[1].to: expected a destination: 'spare' is on no product's "
        "routing"), done.stderr


ROUTED = """\
name: routed
horizon: 8h
products:
  - {id: shaft, routing: [lathe, mill]}
  - {id: plate}
sources:
  - {id: feed, interarrival: 5min, product_mix: {shaft: 1, plate: 1}, to: mill}
stations:
  - {id: lathe, process_time: 2min}
  - {id: mill, process_time: 1min, to: sink}
"""


@pytest.mark.timeout(120)
def test_a_station_reached_only_through_routings_needs_no_destination(tmp_path: Path) -> None:
    """`lathe` is on shaft's routing only: its next step comes from the routing. The
    unrouted plate goes feed -> mill -> sink by `to` links."""
    file = tmp_path / "routed.yaml"
    file.write_text(ROUTED)
    done = _run(str(file), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["stations"]["lathe"]["produced"] > 0
    assert result["warnings"] == []
    # once plate is routed into lathe, lathe is reached without a routing's next step
    file.write_text(ROUTED.replace("to: mill}", "to: lathe}"))
    done = _run(str(file))
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"{file}: stations[0].to: expected a destination: units of 'plate'"), done.stderr


def test_a_source_of_an_unrouted_product_needs_a_destination() -> None:
    """Routings elsewhere do not excuse a source whose product has none."""
    from mestwin.sim.scenario import ScenarioError, parse_scenario

    with pytest.raises(ScenarioError) as caught:
        parse_scenario(yaml.safe_load(ROUTED.replace(", to: mill}", "}")), "routed.yaml")
    assert str(caught.value).startswith(
        "routed.yaml: sources[0].to: expected a destination: units of 'plate' (a product "
        "without a routing) reach 'feed'")


ASSEMBLY = """name: kit
horizon: 8h
products:
  - {id: housing}
  - {id: pcb}
  - {id: box, routing: [pack]}
sources:
  - {id: housings, interarrival: 5min, product: housing, to: assemble}
  - {id: pcbs, interarrival: 3min, product: pcb, to: assemble}
stations:
  - {id: assemble, bom: {housing: 1, pcb: 1}, output: box, process_time: 2min}
  - {id: pack, process_time: 1min}
"""


def test_an_assembly_whose_output_is_routed_needs_no_destination() -> None:
    """The assembled box follows its routing (pack, then the sink): no `to` is needed on
    `assemble` or `pack`; once the box has no routing, `assemble` needs one."""
    from mestwin.sim.scenario import ScenarioError, build_plant, parse_scenario

    scenario = parse_scenario(yaml.safe_load(ASSEMBLY), "kit.yaml")
    plant = build_plant(scenario)
    plant.run(scenario.horizon)
    result = plant.results()
    assert result.stations["pack"].produced > 0
    assert result.throughput_by_product == {"box": result.stations["pack"].produced}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(yaml.safe_load(ASSEMBLY.replace(", routing: [pack]", "")), "kit.yaml")
    assert str(caught.value).startswith(
        "kit.yaml: stations[0].to: expected a destination: units of 'box' (a product without "
        "a routing) reach 'assemble'")


@pytest.mark.timeout(120)
def test_a_setup_family_that_no_product_has_exits_2(tmp_path: Path) -> None:
    """A misspelt family in a setup matrix would never match: refused, with the families."""
    file = tmp_path / "rich.yaml"
    file.write_text(RICH.replace("{round: {flat: 5min}", "{round: {flatt: 5min}"))
    done = _run(str(file))
    assert done.returncode == 2
    assert done.stderr == (
        f"{file}: stations[0].setups.matrix.round.flatt: unknown family 'flatt'; expected "
        "one of the products' families: flat, round\n")
    file.write_text(RICH.replace("family: round}", "}").replace("family: flat}", "}"))
    done = _run(str(file))
    assert done.returncode == 2
    assert done.stderr == (
        f"{file}: stations[0].setups.matrix.round: unknown family 'round'; no product has a "
        "family; give products a `family` (products[].family)\n")


ORDERS = """\
name: batch
horizon: 8h
products:
  - {id: shaft}
sources:
  - id: po
    orders: [{id: PO-1, product: shaft, quantity: 20}, {id: PO-2, product: shaft, quantity: 10,
              release: 2h}]
    to: cut
stations:
  - {id: cut, process_time: 60s, to: sink}
"""


@pytest.mark.timeout(120)
def test_an_order_list_that_runs_out_is_a_warning_in_json_and_summary(tmp_path: Path) -> None:
    """30 one-minute units released by 2 h leave the 8 h run idle: the run still succeeds,
    and says so on stderr, in `warnings` of --json and in the readable summary."""
    file = tmp_path / "batch.yaml"
    file.write_text(ORDERS)
    expected = ("sources[0].orders: the order list of 'po' ran out before the horizon (8h): "
                "all 2 orders (30 units) were released (the last order's release time: 2h) "
                "and nothing more entered from it")
    done = _run(str(file), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["released"] == 30
    assert len(result["warnings"]) == 1
    assert result["warnings"][0].startswith(expected)
    assert f"mestwin run: warning: {file}: {expected}" in done.stderr
    done = _run(str(file))
    assert done.returncode == 0, done.stderr
    assert f"warning: {expected}" in done.stdout


@pytest.mark.timeout(120)
def test_an_order_list_that_lasts_past_the_horizon_is_no_warning(tmp_path: Path) -> None:
    """PO-2 is released at 9 h, after the 8 h horizon: the list did not run out."""
    file = tmp_path / "batch.yaml"
    file.write_text(ORDERS.replace("release: 2h", "release: 9h"))
    done = _run(str(file), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["released"] == 20
    assert result["warnings"] == []
    assert "warning" not in done.stderr


WARM = GOOD.replace("seed: 7", "seed: 7\nwarmup: 2h")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("options", "expected"), [
    (["--until", "1h"], "mestwin run: --until 1h: the horizon must be longer than the warm-up "
     "(2h, from {file})"),
    (["--warmup", "9h"], "mestwin run: --warmup 9h: the warm-up must be shorter than the "
     "horizon (8h, from {file})"),
    (["--until", "1h", "--warmup", "90min"], "mestwin run: --warmup 90min: the warm-up must "
     "be shorter than the horizon (1h, from --until 1h)"),
    (["--seed", "-1"], "mestwin run: --seed -1: expected a value greater than or equal to 0"),
    (["--until", "soon"], "mestwin run: --until soon: expected a duration such as"),
], ids=["until", "warmup", "both", "seed", "malformed"])
def test_an_override_that_conflicts_with_the_file_is_named_as_the_command_lines(
    tmp_path: Path, options: list[str], expected: str,
) -> None:
    """The file is fine; the option is the mistake, so the message names the option as typed
    and says where the other value came from."""
    file = tmp_path / "warm.yaml"
    file.write_text(WARM)
    done = _run(str(file), *options)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(expected.format(file=file)), done.stderr
    assert str(file) + ":" not in done.stderr  # not blamed on the file


@pytest.mark.timeout(120)
def test_serve_names_its_own_option_too(tmp_path: Path) -> None:
    """`mestwin serve --seed -1` is the command line's mistake; it exits 2 before serving."""
    file = tmp_path / "warm.yaml"
    file.write_text(WARM)
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "serve", str(file), "--seed",
                           "-1"], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "mestwin serve: --seed -1: expected a value greater than or equal to 0"), done.stderr
    assert "Serving" not in done.stdout


def test_the_same_conflict_written_in_the_file_is_the_files(tmp_path: Path) -> None:
    """Without options, a warm-up beyond the horizon is the file's mistake."""
    from mestwin.sim.scenario import ScenarioError, load_scenario

    file = tmp_path / "warm.yaml"
    file.write_text(WARM.replace("warmup: 2h", "warmup: 9h"))
    with pytest.raises(ScenarioError, match=r"warm\.yaml: warmup: expected less than horizon "
                                            r"\(8h\)"):
        load_scenario(file)
