"""Process capability indices Cp and Cpk (ISO 22400-2 list; ISO 22514 definitions).

``Cp = (USL - LSL) / 6s`` and ``Cpk = min(USL - mean, mean - LSL) / 3s`` with *s* the sample
standard deviation (n - 1). A one-sided spec has no Cp and a Cpk from its one limit. Like the
other KPIs of mestwin, an undefined index (fewer than two values, zero spread) is ``None``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Capability", "capability", "cp", "cpk"]


def cp(lsl: float | None, usl: float | None, s: float) -> float | None:
    """Cp = (USL - LSL) / 6s; ``None`` for a one-sided spec or *s* = 0."""
    if lsl is None or usl is None or s <= 0:
        return None
    return (usl - lsl) / (6 * s)


def cpk(lsl: float | None, usl: float | None, mean: float, s: float) -> float | None:
    """Cpk = min(USL - mean, mean - LSL) / 3s over the limits that exist; ``None`` if none."""
    if s <= 0:
        return None
    sides = [d for d in (None if usl is None else usl - mean,
                         None if lsl is None else mean - lsl) if d is not None]
    if not sides:
        return None
    return min(sides) / (3 * s)


@dataclass(frozen=True)
class Capability:
    """Capability of one characteristic over a window of *n* values."""

    n: int
    mean: float | None
    stdev: float | None
    cp: float | None
    cpk: float | None


def capability(values: Sequence[float], lsl: float | None, usl: float | None) -> Capability:
    """Mean, sample standard deviation, Cp and Cpk of *values* against ``[lsl, usl]``."""
    n = len(values)
    if n == 0:
        return Capability(0, None, None, None, None)
    mean = statistics.fmean(values)
    if n < 2:
        return Capability(n, mean, None, None, None)
    s = statistics.stdev(values)
    if not math.isfinite(s):
        return Capability(n, mean, None, None, None)
    return Capability(n, mean, s, cp(lsl, usl, s), cpk(lsl, usl, mean, s))
