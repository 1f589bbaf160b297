"""Reading scenario files, with errors that name the file, the field and what was expected.

:func:`load_scenario` raises :class:`ScenarioError` for anything wrong with a file: a
missing file, broken YAML (with line and column), a field of the wrong type or value, an
unknown field, a broken cross-reference. ``mestwin run`` prints the error and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

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


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS or part.startswith(("function-", "constrained-")):
            continue  # union branch names pydantic adds; not a field of the file
        else:
            out += f".{part}" if out else str(part)
    return out


_TAGS = {"constant", "exponential", "normal", "lognormal", "uniform", "erlang", "weibull",
         "empirical", "DistributionSpec", "float", "int", "str", "dict[str,float]",
         "list[FailureSpec]", "FailureSpec"}


def _message(error: Any) -> tuple[str, str]:
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, ScenarioReferenceError):
        return ctx_error.path, ctx_error.message
    message = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    if kind == "extra_forbidden":
        message = "unknown field (check the spelling; `mestwin schema` lists the fields)"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "union_tag_invalid":
        message = (f"unknown distribution {error['input'].get('dist')!r}; expected one of "
                   "constant, exponential, normal, lognormal, uniform, erlang, weibull, "
                   "empirical")
    elif kind == "union_tag_not_found":
        message = "expected a distribution such as {dist: exponential, mean: 60s}"
    elif "input" in error and kind not in ("value_error",):
        message = f"{message}; got {error['input']!r}"
    return _path(tuple(error["loc"])), message


def _dedupe(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Keep the most specific problem per field: drop union alternatives of one field."""
    out: list[tuple[str, str]] = []
    for path, message in problems:
        if any(p == path for p, _ in out):
            continue
        out.append((path, message))
    return out


def parse_scenario(data: Any, file: str = "<scenario>") -> Scenario:
    """Validate already-parsed YAML *data*; raise :class:`ScenarioError` naming *file*."""
    if not isinstance(data, dict):
        raise ScenarioError(file, [("", "expected a mapping at the top level")])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _dedupe([_message(e) for e in exc.errors()])
        raise ScenarioError(file, problems) from None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and validate the scenario at *path*, after applying top-level *overrides*."""
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
    return parse_scenario(data, file)
