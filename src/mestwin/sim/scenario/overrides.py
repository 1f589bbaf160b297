"""Command-line overrides of a scenario's fields, and blaming the option, not the file.

``mestwin run x.yaml --until 1h`` on a file with an 8 h warm-up is a mistake on the command
line: the error names the option as typed and says where the other value came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mestwin.sim.scenario.durations import format_duration, parse_duration


@dataclass(frozen=True)
class CommandLine:
    """Where overrides came from: the command and, per field, the option as typed."""

    command: str
    """``mestwin run``: the prefix of its error messages."""
    options: Mapping[str, str]
    """Overridden field -> the option that set it, e.g. ``{"horizon": "--until 1h"}``."""


def field_of(path: str) -> str:
    """The top-level field of a field path: ``stations[0].to`` -> ``stations``."""
    return path.split(".", 1)[0].split("[", 1)[0]


def conflicts(data: Mapping[str, Any], file: str, cli: CommandLine) -> list[tuple[str, str]]:
    """A warm-up not shorter than the horizon, when an option set either: (option, message)."""
    options = cli.options
    if "horizon" not in options and "warmup" not in options:
        return []
    try:
        horizon = parse_duration(data.get("horizon"))
        warmup = parse_duration(data.get("warmup", 0.0))
    except ValueError:
        return []  # a malformed value is reported by the field's own check
    if warmup < horizon:
        return []
    if "warmup" not in options:
        return [(options["horizon"], "the horizon must be longer than the warm-up "
                 f"({format_duration(warmup)}, from {file})")]
    source = options.get("horizon", file)
    return [(options["warmup"], "the warm-up must be shorter than the horizon "
             f"({format_duration(horizon)}, from {source})")]
