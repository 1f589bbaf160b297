"""Reading scenario files, with errors that name the file, the field and what was expected.

:func:`load_scenario` raises :class:`ScenarioError` for anything wrong with a file: a
missing file, broken YAML (with line and column), a field of the wrong type or value, an
unknown field, a broken cross-reference. ``mestwin run`` prints the error and exits 2.
Messages are in the file's terms (the field path as written, what was expected, what was
found), never the validator's type names; a value set by a command-line option is reported
as the option's (:mod:`mestwin.sim.scenario.overrides`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mestwin.sim.scenario.overrides import CommandLine, conflicts, field_of
from mestwin.sim.scenario.references import ScenarioReferenceError
from mestwin.sim.scenario.schema import Scenario


class ScenarioError(Exception):
    """A scenario file that cannot be used; :attr:`problems` lists (field path, message)."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {path}: {message}" if path else f"{file}: {message}"
                 for path, message in problems]
        super().__init__("\n".join(lines))


def _path(loc: tuple[int | str, ...], data: Any, kind: str) -> str:
    """The field path of *loc* in the file: ``stations[0].process_time.shaft``.

    pydantic puts the names of union branches into *loc* (``(per product)``, ``lognormal``);
    walking *data* alongside tells them from the file's own keys, whatever they are called.
    """
    out = ""
    for n, part in enumerate(loc):
        last = n == len(loc) - 1
        if isinstance(part, int) and isinstance(data, list) and part < len(data):
            data = data[part]
            out += f"[{part}]"
        elif (isinstance(data, dict) and part in data) or (last and kind == "missing"):
            data = data.get(part) if isinstance(data, dict) else None
            out += f".{part}" if out else str(part)
    return out


# What each kind of pydantic error expected, in the words of a scenario file.
_MAPPING = "expected a mapping of `key: value` fields"
_EXPECTED = {
    "dict_type": _MAPPING,
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "list_type": "expected a list, such as [a, b] or lines starting with '- '",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text (a name or id)",
    "missing": "required field is missing",
    "extra_forbidden": "unknown field (check the spelling; `mestwin schema` lists the fields)",
}
_COMPARISONS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _message(error: Any, data: Any) -> tuple[str, str, str]:
    ctx = error.get("ctx") or {}
    ctx_error = ctx.get("error")
    if isinstance(ctx_error, ScenarioReferenceError):
        return ctx_error.path, ctx_error.message, "reference"
    kind = error["type"]
    path = _path(tuple(error["loc"]), data, kind)
    if kind == "value_error":
        return path, str(ctx_error) if ctx_error is not None else error["msg"], kind
    message = _EXPECTED.get(kind) or error["msg"].replace(
        "Input should be ", "expected a value " if kind in _COMPARISONS else "expected ", 1)
    if kind not in ("missing", "extra_forbidden") and "input" in error:
        message = f"{message}; got {error['input']!r}"
    return path, message, kind


def _dedupe(problems: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """One problem per field; a misspelt field is one problem, not a missing plus an unknown.

    *problems* are (field path, message, pydantic error type).
    """
    missing = {path: n for n, (path, _, kind) in enumerate(problems) if kind == "missing"}
    dropped: set[int] = set()
    out: list[tuple[str, str]] = []
    for path, message, kind in problems:
        parent, _, name = path.rpartition(".")
        if kind == "extra_forbidden":
            siblings = {p.rpartition(".")[2]: n for p, n in missing.items()
                        if p.rpartition(".")[0] == parent}
            close = difflib.get_close_matches(name, siblings, n=1)
            if close:
                dropped.add(siblings[close[0]])
                message = f"unknown field; did you mean `{close[0]}`?"
        out.append((path, message))
    seen: set[str] = set()
    unique = []
    for n, (path, message) in enumerate(out):
        if n not in dropped and path not in seen:
            seen.add(path)
            unique.append((path, message))
    return unique


def parse_scenario(data: Any, file: str = "<scenario>",
                   cli: CommandLine | None = None) -> Scenario:
    """Validate already-parsed YAML *data*; raise :class:`ScenarioError` naming *file*.

    A problem in a field that an option of *cli* set is reported as the command line's.
    """
    if not isinstance(data, dict):
        raise ScenarioError(file, [("", "expected a mapping at the top level")])
    if cli is not None and (clash := conflicts(data, file, cli)):
        raise ScenarioError(cli.command, clash)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _dedupe([_message(e, data) for e in exc.errors()])
        options = cli.options if cli is not None else {}
        blamed = [(options[field_of(p)], m) for p, m in problems if field_of(p) in options]
        if cli is not None and blamed:
            raise ScenarioError(cli.command, blamed) from None
        raise ScenarioError(file, problems) from None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None,
                  cli: CommandLine | None = None) -> Scenario:
    """Read and validate the scenario at *path*, after applying top-level *overrides*.

    *cli* says which option set each override, so a conflict is blamed on the option.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(file, [("", f"cannot read the file: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(file, [("", f"invalid YAML: {where}{problem}")]) from None
    if isinstance(data, dict) and overrides:
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    return parse_scenario(data, file, cli)
