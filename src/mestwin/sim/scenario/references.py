"""Checks across a scenario: unique ids, ``to`` targets, routings, BOMs, warm-up.

Each problem is reported as a :class:`ScenarioReferenceError` whose message
starts with the field path (``stations[2].to``), so the loader can name it exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mestwin.sim.scenario.durations import format_duration

if TYPE_CHECKING:
    from mestwin.sim.scenario.schema import Scenario


class ScenarioReferenceError(ValueError):
    """A scenario field that names something that does not exist (carries the path)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def check_references(s: Scenario) -> None:
    """Raise :class:`ScenarioReferenceError` at the first broken cross-reference of *s*."""
    if s.warmup >= s.horizon:
        raise ScenarioReferenceError(
            "warmup", f"expected less than horizon ({format_duration(s.horizon)})")
    seen: dict[str, str] = {}
    groups: list[tuple[str, list[Any]]] = [
        ("sources", s.sources), ("stations", s.stations), ("conveyors", s.conveyors),
        ("sinks", s.sinks),
    ]
    for group, items in groups:
        for i, item in enumerate(items):
            if item.id in seen or (item.id == "sink" and group != "sinks"):
                raise ScenarioReferenceError(f"{group}[{i}].id",
                                      f"duplicate id {item.id!r} (ids must be unique)")
            seen[item.id] = group
    targets = {k for k, v in seen.items() if v != "sources"} | {"sink"}
    known = ", ".join(sorted(targets))
    for group, items in groups[:3]:
        for i, item in enumerate(items):
            if item.to is not None and item.to not in targets:
                raise ScenarioReferenceError(f"{group}[{i}].to",
                                      f"unknown node {item.to!r}; expected one of: {known}")
    products = {p.id for p in s.products}
    for i, p in enumerate(s.products):
        for j, step in enumerate(p.routing or []):
            if step not in targets:
                raise ScenarioReferenceError(f"products[{i}].routing[{j}]",
                                      f"unknown node {step!r}; expected one of: {known}")
    for i, src in enumerate(s.sources):
        named = [src.product] if src.product else list(src.product_mix or {})
        named += [o.product for o in src.orders or []]
        for name in named:
            if products and name not in products:
                raise ScenarioReferenceError(f"sources[{i}]", f"unknown product {name!r}")
        if src.product_mix is not None and (
            not src.product_mix or any(w < 0 for w in src.product_mix.values())
            or sum(src.product_mix.values()) <= 0
        ):
            raise ScenarioReferenceError(f"sources[{i}].product_mix",
                                  "expected non-negative weights with a positive sum")
        if src.to is None and not any(p.routing for p in s.products):
            raise ScenarioReferenceError(f"sources[{i}].to", "expected a target node (or routings)")
        if src.saturated and src.limit is None:
            routes = {p.id: p.routing for p in s.products if p.routing}
            steps = routes.get(src.product or "") or []
            first = src.to or (steps[0] if steps else None)
            _check_saturated_target(s, i, first)
    for i, st in enumerate(s.stations):
        for component in st.bom or {}:
            if products and component not in products:
                raise ScenarioReferenceError(f"stations[{i}].bom", f"unknown product {component!r}")
        if isinstance(st.process_time, dict) and products:
            for name in st.process_time:
                if name not in products and name != "*":
                    raise ScenarioReferenceError(f"stations[{i}].process_time",
                                          f"unknown product {name!r}")


def _check_saturated_target(s: Scenario, i: int, target: str | None) -> None:
    """A saturated source without a limit fills its first buffer: it must be finite."""
    stations = {st.id: st for st in s.stations}
    conveyors = {c.id: c for c in s.conveyors}
    finite = (target in stations and stations[target].buffer is not None) or (
        target in conveyors and conveyors[target].capacity is not None)
    if not finite:
        raise ScenarioReferenceError(
            f"sources[{i}].saturated",
            f"a saturated source needs a finite first buffer; give {target!r} a `buffer` "
            "(or a conveyor `capacity`)")
