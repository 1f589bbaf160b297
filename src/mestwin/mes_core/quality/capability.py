"""Process capability indices Cp and Cpk (ISO 22400-2 list; ISO 22514 definitions).

``Cp = (USL - LSL) / 6s`` and ``Cpk = min(USL - mean, mean - LSL) / 3s`` with *s* the sample
standard deviation (n - 1). A one-sided spec has no Cp and a Cpk from its one limit. Like the
other KPIs of mestwin, an undefined index (fewer than two values, zero spread) is ``None``;
so is one that no float can hold, and every statistic of a window holding a value that is not
finite (only rows written before the store refused such values can).

The statistics are taken of the values scaled by a power of two (exact in binary floating
point) so that their magnitude is below one: sums of values near the float limit then do not
overflow, and Cp and Cpk, being ratios, need no scaling back.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Capability", "capability", "cp", "cpk"]


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def cp(lsl: float | None, usl: float | None, s: float) -> float | None:
    """Cp = (USL - LSL) / 6s; ``None`` for a one-sided spec, *s* = 0 or no finite result."""
    if lsl is None or usl is None or not s > 0:
        return None
    return _finite((usl - lsl) / (6 * s))


def cpk(lsl: float | None, usl: float | None, mean: float, s: float) -> float | None:
    """Cpk = min(USL - mean, mean - LSL) / 3s over the limits that exist; ``None`` if none
    (or *s* = 0, or no finite result)."""
    if not s > 0:
        return None
    sides = [d for d in (None if usl is None else usl - mean,
                         None if lsl is None else mean - lsl) if d is not None]
    if not sides:
        return None
    return _finite(min(sides) / (3 * s))


@dataclass(frozen=True)
class Capability:
    """Capability of one characteristic over a window of *n* values."""

    n: int
    mean: float | None
    stdev: float | None
    cp: float | None
    cpk: float | None


def _scale(x: float | None, exponent: int) -> float | None:
    """*x* times 2**-*exponent* (infinite with its sign when that overflows)."""
    if x is None:
        return None
    try:
        return math.ldexp(x, -exponent)
    except OverflowError:
        return math.copysign(math.inf, x)


def capability(values: Sequence[float], lsl: float | None, usl: float | None) -> Capability:
    """Mean, sample standard deviation, Cp and Cpk of *values* against ``[lsl, usl]``."""
    n = len(values)
    if n == 0 or not all(math.isfinite(v) for v in values):
        return Capability(n, None, None, None, None)
    exponent = math.frexp(max(abs(v) for v in values))[1]
    scaled = [math.ldexp(v, -exponent) for v in values]
    mean_s = statistics.fmean(scaled)
    mean = math.ldexp(mean_s, exponent)
    if n < 2:
        return Capability(n, mean, None, None, None)
    s_s = statistics.stdev(scaled, mean_s)
    s = _finite(_scale(s_s, -exponent))
    lsl_s, usl_s = _scale(lsl, exponent), _scale(usl, exponent)
    return Capability(n, mean, s, cp(lsl_s, usl_s, s_s), cpk(lsl_s, usl_s, mean_s, s_s))
