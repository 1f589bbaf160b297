"""Reconciling the MES's state intervals with the PLC's own cumulative state times.

The collector books time from state changes only (:mod:`.collector`). The PLC also keeps
``OEE.MachineStateTime[k]``, the cumulative seconds in ``MachineState`` k up to
``Status.StateChangeTime``; a real MES rarely reads such tags, and ours uses them for one
thing: to check. Over a span [start, now] the time per ISO 22400 element from the intervals
must equal the difference of the cumulative times (plus the current state's time since its
change); an element that differs by more than a tolerance is a :class:`~.events.CollectionGap`
(a lost state change, an overflowing queue, a state source that does not follow the
machine), reported and logged, never silently corrected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mestwin.mes_core.collection.events import CollectionGap
from mestwin.mes_core.collection.machine_state import ELEMENT, MachineStateCode
from mestwin.mes_core.collection.source import TagValue

STATE = "PackTags.Status.MachineState"
CHANGE_TIME = "PackTags.Status.StateChangeTime"
STATE_TIMES: tuple[str, ...] = tuple(f"OEE.MachineStateTime[{k}]" for k in range(8))
ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")


def _real(value: TagValue | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def plc_elements(image: Mapping[str, TagValue], now: float) -> dict[str, float] | None:
    """ISO 22400 elements up to *now* from the cumulative state times in *image* (None if
    the PLC does not publish them, or *now* is before its last change)."""
    since, state = _real(image.get(CHANGE_TIME)), _real(image.get(STATE))
    times = [_real(image.get(path)) for path in STATE_TIMES]
    if since is None or state is None or now < since or any(t is None for t in times):
        return None
    out = dict.fromkeys(ELEMENTS, 0.0)
    for k, seconds in enumerate(times):
        out[ELEMENT[MachineStateCode(k)]] += seconds or 0.0
    try:
        out[ELEMENT[MachineStateCode(int(state))]] += now - since
    except ValueError:
        return None
    return out


@dataclass
class _Span:
    start: float
    base: dict[str, float]
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ELEMENTS, 0.0))


class Reconciler:
    """Per machine, interval time per element since a span's start beside the PLC's.

    *tolerance_s*: the largest difference that is not a gap (time stamps are rounded to a
    microsecond on OPC UA: a difference of many intervals' rounding is no gap).
    """

    def __init__(self, tolerance_s: float = 0.01) -> None:
        self.tolerance_s = tolerance_s
        self.spans: dict[str, _Span] = {}

    def begin(self, machine: str, image: Mapping[str, TagValue], at: float) -> None:
        """Start *machine*'s span at *at* if it has none yet and *image* allows it (*at* no
        earlier than the PLC's last state change)."""
        if machine in self.spans:
            return
        since = _real(image.get(CHANGE_TIME))
        if since is None:
            return
        start = max(at, since)
        base = plc_elements(image, start)
        if base is not None:
            self.spans[machine] = _Span(start, base)

    def add(self, machine: str, element: str, start: float, end: float) -> None:
        """Count an interval of *element*, clipped to the span."""
        span = self.spans.get(machine)
        if span is not None and end > span.start:
            span.sums[element] += end - max(start, span.start)

    def check(self, machine: str, image: Mapping[str, TagValue], now: float,
              open_interval: tuple[str, float] | None = None) -> list[CollectionGap]:
        """The gaps of *machine*'s span up to *now* (with the still *open_interval*,
        (element, since), counted up to *now*); the next span starts at *now*."""
        span = self.spans.get(machine)
        plc = plc_elements(image, now)
        if span is None or plc is None or now < span.start:
            return []
        sums = dict(span.sums)
        if open_interval is not None and now > open_interval[1]:
            element, since = open_interval
            sums[element] += now - max(since, span.start)
        gaps = []
        for element in ELEMENTS:
            truth = plc[element] - span.base[element]
            if abs(sums[element] - truth) > self.tolerance_s:
                gaps.append(CollectionGap(machine, element, span.start, now,
                                          sums[element], truth))
        self.spans[machine] = _Span(now, plc)
        return gaps

    def checkpoint(self, machine: str) -> dict[str, Any] | None:
        """What to remember of *machine*'s span (JSON)."""
        span = self.spans.get(machine)
        return None if span is None else {"start": span.start, "base": span.base,
                                          "sums": span.sums}

    def restore(self, machine: str, saved: Mapping[str, Any] | None) -> None:
        """Resume *machine*'s span from a :meth:`checkpoint`."""
        if saved:
            self.spans[machine] = _Span(float(saved["start"]), dict(saved["base"]),
                                        dict(saved["sums"]))
