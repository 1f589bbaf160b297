"""A shift calendar as data: named shifts repeating every day of simulated time.

Times are simulated seconds from the calendar's *origin* (a datetime: the simulation's
``t = 0``). A :class:`ShiftPattern` gives a shift's start and end as seconds after the start
of each day; an end at or before the start means the shift runs past midnight (a night shift
22:00-06:00 is ``ShiftPattern("night", 79200, 21600)``). Patterns may leave gaps (time in no
shift) but may not overlap. :meth:`ShiftCalendar.shifts` yields concrete
:class:`~mestwin.mes_core.losses.Shift` instances, named ``"<name>@<day>"``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from mestwin.mes_core.audit import utc
from mestwin.mes_core.losses import Shift

__all__ = ["DAY", "ShiftCalendar", "ShiftInstance", "ShiftPattern"]

DAY = 86_400.0
"""Seconds in a day, the default repeat period of a calendar."""


@dataclass(frozen=True)
class ShiftPattern:
    """Shift *name* from *start* to *end*, seconds after the start of each day."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class ShiftInstance:
    """One occurrence of a shift: pattern *name* on *day* (0 = the origin's day)."""

    name: str
    day: int
    start: datetime
    end: datetime

    def as_shift(self, origin: datetime) -> Shift:
        """This instance as a :class:`~mestwin.mes_core.losses.Shift` in simulated seconds."""
        return Shift(f"{self.name}@{self.day}", (self.start - origin).total_seconds(),
                     (self.end - origin).total_seconds())


@dataclass(frozen=True)
class ShiftCalendar:
    """Shifts *patterns* repeating every *period* seconds from *origin*."""

    origin: datetime
    patterns: tuple[ShiftPattern, ...]
    period: float = DAY

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", utc(self.origin))
        object.__setattr__(self, "patterns", tuple(self.patterns))
        if self.period <= 0:
            raise ValueError("a calendar period must be positive")
        names = [p.name for p in self.patterns]
        if len(set(names)) != len(names) or not all(n.strip() for n in names):
            raise ValueError(f"shift names must be unique and non-empty: {names}")
        spans: list[tuple[float, float, str]] = []
        for p in self.patterns:
            if not (0 <= p.start < self.period and 0 <= p.end <= self.period):
                raise ValueError(f"shift {p.name}: start and end must lie in [0, {self.period:g}]")
            if p.start == p.end:
                raise ValueError(f"shift {p.name} has zero length")
            end = p.end if p.end > p.start else p.end + self.period
            spans += [(p.start, end, p.name), (p.start + self.period, end + self.period, p.name)]
        spans.sort()
        for (_, a_end, a), (b_start, _, b) in itertools.pairwise(spans):
            if b_start < a_end:
                raise ValueError(f"shifts {a} and {b} overlap")

    def at(self, seconds: float) -> datetime:
        """The datetime of simulated time *seconds*."""
        return self.origin + timedelta(seconds=seconds)

    def seconds(self, moment: datetime) -> float:
        """Simulated seconds of *moment* from the origin."""
        return (utc(moment) - self.origin).total_seconds()

    def shifts(self, start: datetime, end: datetime) -> list[ShiftInstance]:
        """Shift instances overlapping ``[start, end)``, in time order (not clipped)."""
        a, b = self.seconds(start), self.seconds(end)
        found: list[ShiftInstance] = []
        for day in range(math.floor(a / self.period) - 1, math.ceil(b / self.period) + 1):
            base = day * self.period
            for p in self.patterns:
                s = base + p.start
                e = base + (p.end if p.end > p.start else p.end + self.period)
                if s < b and e > a:
                    found.append(ShiftInstance(p.name, day, self.at(s), self.at(e)))
        return sorted(found, key=lambda i: i.start)
