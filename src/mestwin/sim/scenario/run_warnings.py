"""What a finished run tells the scenario's author that the file alone could not.

A source with an order list stops when its last order is released; if that happens before
the horizon, the rest of the run has no new work from it and its figures describe a plant
running dry. That is not an error (a finite batch may be the point) but it must be said.
"""

from __future__ import annotations

from mestwin.plantmodels import Plant
from mestwin.sim.scenario.durations import format_duration
from mestwin.sim.scenario.schema import Scenario


def run_warnings(scenario: Scenario, plant: Plant) -> list[str]:
    """One sentence per source whose order list ran out before *plant* reached its end."""
    out = []
    for i, src in enumerate(scenario.sources):
        if src.orders is None:
            continue
        units = sum(o.quantity for o in src.orders)
        if plant.sources[src.id].released < units:
            continue
        last = max(o.release for o in src.orders)
        n = len(src.orders)
        released = (f"all {n} orders ({units} units) were" if n > 1
                    else f"its one order ({units} {'unit' if units == 1 else 'units'}) was")
        out.append(
            f"sources[{i}].orders: the order list of {src.id!r} ran out before the horizon "
            f"({format_duration(plant.env.now)}): {released} released (the last order's "
            f"release time: {format_duration(last)}) and "
            "nothing more entered from it; add orders or shorten the horizon if that was "
            "not meant")
    return out
