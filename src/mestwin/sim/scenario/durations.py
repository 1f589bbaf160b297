"""Durations written the way engineers write them: ``250ms``, ``90s``, ``20min``, ``8h``, ``30d``.

A bare number is seconds. :data:`Duration` is a pydantic type that accepts both and
stores seconds as a float, so scenario files read naturally and the model sees one unit.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

UNITS: dict[str, float] = {
    "ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
    "w": 604800.0,
}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*$")
PATTERN = (r"^\s*[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*("
           + "|".join(sorted(UNITS, key=len, reverse=True)) + r")?\s*$")
"""What :func:`parse_duration` accepts in a string, as a JSON Schema (ECMA-262) pattern."""


def parse_duration(value: Any) -> float:
    """Seconds in *value*: a number, or a string of a number and a unit from :data:`UNITS`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None or match.group(2) not in UNITS | {"": 1.0}:
            raise ValueError(
                f"expected a duration such as 90, '250ms', '90s', '20min', '8h' or '30d', "
                f"got {value!r}")
        seconds = float(match.group(1)) * UNITS.get(match.group(2), 1.0)
    else:
        raise ValueError(f"expected a duration (seconds or a string with a unit), got {value!r}")
    if seconds < 0:
        raise ValueError(f"expected a non-negative duration, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """*seconds* the way a scenario file would write them: ``8h``, ``90s``, ``1.5s``."""
    for unit in ("w", "d", "h", "min", "s"):
        count = seconds / UNITS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{seconds:g}s"


DurationInput = (Annotated[float, Field(ge=0, description="seconds")]
                 | Annotated[str, Field(pattern=PATTERN, description="a number and a unit: "
                                        + ", ".join(UNITS) + " (e.g. 250ms, 90s, 8h, 30d)")])
"""What a file may write for a duration (the JSON Schema of :data:`Duration`)."""

Duration = Annotated[float, BeforeValidator(parse_duration, json_schema_input_type=DurationInput)]
"""Seconds, written as a number or a string with a unit."""
