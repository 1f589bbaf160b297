"""A bad scenario names the file, the field path and what was expected, and exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    ("string for a number", "seed: 7", "seed: seven", "seed", "valid integer"),
    ("saturated source into an unlimited buffer",
     "{id: arrivals, interarrival: {dist: exponential, mean: 75s}, to: cut}",
     "{id: arrivals, saturated: true, to: pack}", "sources[0].saturated",
     "needs a finite first buffer"),
    ("wrong type for list", "stations:\n", "stations: 3\nignored:\n", "stations",
     "valid list"),
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
