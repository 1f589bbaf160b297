"""Assembly consumes components per its BOM and gives the plant its true genealogy."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from mestwin.plantmodels import EventKind
from mestwin.sim.scenario import build_plant, load_scenario


def test_every_assembled_unit_consumes_exactly_its_bom(scenarios_dir: Path) -> None:
    """Each controller consumes 1 housing and 2 PCBs (distinct serials, each used once)
    and 4 screws from bulk lots; every component's lot is known from its release."""
    scenario = load_scenario(scenarios_dir / "assembly_line.yaml")
    plant = build_plant(scenario.model_copy(update={"horizon": 2 * 86400}))
    plant.run(2 * 86400)
    lots = {r.serial: r.lot for r in plant.log.records(EventKind.RELEASE)}
    consumed: dict[str, list[str]] = defaultdict(list)
    screws: Counter[str] = Counter()
    for r in plant.log.records(EventKind.CONSUME):
        if r.consumed.startswith("screws"):
            screws[r.serial] += r.quantity
        else:
            consumed[r.serial].append(r.consumed)
    assert consumed
    used = [c for parts in consumed.values() for c in parts]
    assert len(used) == len(set(used))  # no component is consumed twice
    for serial, parts in consumed.items():
        assert serial.startswith("controller-")
        kinds = Counter(p.split("-")[0] for p in parts)
        assert kinds == {"housing": 1, "pcb": 2}
        assert all(lots[p] is not None for p in parts)
        assert screws[serial] == 4.0
    exits = {r.serial for r in plant.log.records(EventKind.EXIT) if r.sink == "sink"}
    assert exits
    assert exits <= set(consumed)
