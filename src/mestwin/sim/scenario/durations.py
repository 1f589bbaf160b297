"""Durations written the way engineers write them: ``250ms``, ``90s``, ``20min``, ``8h``, ``30d``.

A bare number is seconds. :data:`Duration` is a pydantic type that accepts both and
stores seconds as a float, so scenario files read naturally and the model sees one unit.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

UNITS: dict[str, float] = {
    "ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
    "w": 604800.0,
}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*$")


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


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written as a number or a string with a unit."""
