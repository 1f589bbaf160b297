"""`mestwin schema` is a JSON Schema (Draft 2020-12) that editors can trust: it accepts every
scenario the project ships or documents, and rejects what the loader rejects."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    """A validator for the schema exactly as `mestwin schema` prints it."""
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "schema"], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)  # the schema itself is well-formed
    return Draft202012Validator(schema)


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"### {title}")
    end = text.find("\n#", start + 1)
    return text[start:end]


def readme_yaml_example() -> Any:
    """The YAML block of the README's "The scenario format"."""
    block = re.search(r"```yaml\n(.*?)```", _readme_section("The scenario format"), re.S)
    assert block is not None
    return yaml.safe_load(block.group(1))


def readme_line_dict() -> Any:
    """The ``LINE`` dict of the README's pytest example."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        for node in ast.parse(block).body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "LINE" for t in node.targets):
                return ast.literal_eval(node.value)
    raise AssertionError("no LINE = {...} in the README's python examples")


def _messages(validator: Draft202012Validator, data: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_scenario_is_valid_against_the_schema(
    validator: Draft202012Validator, path: Path,
) -> None:
    """Durations such as '30d', bare-duration distributions, per-product times: all valid."""
    assert _messages(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.timeout(120)
def test_the_shipped_scenarios_are_the_four_documented_ones() -> None:
    """The parametrisation above covers real files (a glob that found nothing would pass)."""
    assert [p.name for p in SHIPPED] == ["assembly_line.yaml", "bottling_line.yaml",
                                         "job_shop.yaml", "two_step_line.yaml"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("example", [readme_yaml_example, readme_line_dict],
                         ids=["scenario-format-yaml", "pytest-LINE"])
def test_every_readme_example_is_valid_against_the_schema_and_loads(
    validator: Draft202012Validator, example: Any,
) -> None:
    """What the README teaches passes the editor's check and the loader alike."""
    from mestwin.sim.scenario import parse_scenario

    data = example()
    assert data["stations"]
    assert _messages(validator, data) == []
    assert parse_scenario(data).name == data["name"]


BASE = (ROOT / "scenarios" / "two_step_line.yaml").read_text(encoding="utf-8")

# (what is wrong, text replaced, replacement, JSON path the schema must flag, words in it)
WRONG = [
    ("wrong type", "servers: 2", "servers: two", ["stations", 1, "servers"], "'two'"),
    ("unknown key", "buffer: 10", "bufer: 10", ["stations", 0], "'bufer' was unexpected"),
    ("bad duration string", "horizon: 30d", "horizon: 30 days", ["horizon"], "'30 days'"),
    ("duration with an unknown unit", "mean: 75s", "mean: 75sec2",
     ["sources", 0, "interarrival", "mean"], "'75sec2'"),
    ("negative duration", "mean: 60s", "mean: -60", ["stations", 0, "process_time", "mean"],
     "-60"),
    ("unknown distribution", "{dist: constant, value: 100s}", "{dist: fixed, value: 100s}",
     ["stations", 1, "process_time"], "fixed"),
    ("missing required field", "name: two-step line\n", "", [], "'name' is a required"),
    ("unknown failure basis", "basis: operating", "basis: weekly",
     ["stations", 1, "failures", "basis"], "'weekly'"),
]


def _all_errors(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """Errors and, for anyOf/oneOf, the errors of each alternative (where the cause is)."""
    for error in errors:
        yield error
        yield from _all_errors(error.context or [])


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("what", "old", "new", "where", "words"), WRONG,
                         ids=[w[0] for w in WRONG])
def test_the_schema_still_rejects_wrong_files_and_so_does_the_loader(
    validator: Draft202012Validator, what: str, old: str, new: str, where: list[Any],
    words: str,
) -> None:
    """Accepting every good file must not mean accepting anything: each mistake is flagged
    at its own path, and the loader (the authority) refuses the same file."""
    from mestwin.sim.scenario import ScenarioError, parse_scenario

    assert old in BASE, what
    data = yaml.safe_load(BASE.replace(old, new, 1))
    flagged = [e for e in _all_errors(validator.iter_errors(data))
               if list(e.absolute_path) == where]
    assert flagged, _messages(validator, data)
    text = " ".join(e.message for e in flagged)
    assert words in text, text
    with pytest.raises(ScenarioError):
        parse_scenario(data)


@pytest.mark.timeout(120)
def test_the_schemas_duration_pattern_accepts_exactly_what_the_loader_accepts(
    validator: Draft202012Validator,
) -> None:
    """Editor and loader agree on every duration string: the schema's pattern (as printed)
    against :func:`parse_duration`, over strings built from the characters durations use."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mestwin.sim.scenario.durations import parse_duration

    horizon = validator.schema["properties"]["horizon"]["anyOf"]
    pattern = next(branch["pattern"] for branch in horizon if branch.get("type") == "string")

    def loads(text: str) -> bool:
        try:
            parse_duration(text)
        except ValueError:
            return False
        return True

    spaces = st.sampled_from(["", " ", "  ", "\t"])
    number = st.one_of(st.from_regex(r"[0-9]{0,3}\.?[0-9]{0,3}([eE][-+]?[0-9]{0,2})?",
                                     fullmatch=True), st.text("0123456789.eE+-", max_size=5))
    unit = st.sampled_from(["", "ms", "s", "sec", "secs", "min", "mins", "m", "h", "hr", "d",
                            "D", "w", "wk", "us", "x"])
    durations = st.one_of(st.tuples(spaces, number, spaces, unit, spaces).map("".join),
                          st.text(alphabet="0123456789.eE+- msecinhdwx", max_size=9))

    @settings(max_examples=2000, deadline=None)
    @given(durations)
    def agree(text: str) -> None:
        assert (re.search(pattern, text) is not None) == loads(text), text

    agree()
    for text in ("30d", "250ms", "1.5 h", ".5min", "1e3s", "90"):  # some that must pass
        assert re.search(pattern, text), text
        assert loads(text), text
