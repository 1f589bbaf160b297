"""Where units go next: every node a unit can leave without a routing names its ``to``.

A unit of a product with a routing visits the routing's nodes and then the sink; a unit of a
product without one follows the ``to`` links from its source. So a station or conveyor needs a
``to`` when a product without a routing reaches it, and when no routing passes it at all; a
node reached only through routings gets its next step from the routing. An assembly makes a
new unit of its ``output``: a routed output follows its routing, any other the station's
``to``. ``to: sink`` sends units out of the plant; leaving ``to`` out is never taken to mean
it, because a forgotten ``to`` would starve every station downstream without a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mestwin.sim.scenario.references import ScenarioReferenceError

if TYPE_CHECKING:
    from mestwin.sim.scenario.schema import Scenario, SourceSpec

DEFAULT_PRODUCT = "part"
"""The product of a source that names none (see :mod:`mestwin.sim.scenario.build`)."""
_HOW = "name the next node, or write `to: sink` to send its units out of the plant"


def source_products(src: SourceSpec) -> list[str]:
    """The products *src* can release."""
    if src.orders is not None:
        return list(dict.fromkeys(o.product for o in src.orders))
    if src.product_mix is not None:
        return [name for name, weight in src.product_mix.items() if weight > 0]
    return [src.product or DEFAULT_PRODUCT]


def check_destinations(s: Scenario) -> None:
    """Raise :class:`ScenarioReferenceError` for a node whose units would have nowhere to go."""
    routed = {p.id for p in s.products if p.routing}
    declared = {p.id for p in s.products}
    nodes: dict[str, tuple[str, int, Any]] = {}
    groups: list[tuple[str, Sequence[Any]]] = [
        ("sources", s.sources), ("stations", s.stations), ("conveyors", s.conveyors)]
    for group, items in groups:
        for i, item in enumerate(items):
            nodes[item.id] = (group, i, item)
    reached: set[str] = set()

    def follow(node: str, product: str) -> None:
        while node in nodes and node not in reached:
            reached.add(node)
            group, i, spec = nodes[node]
            output = getattr(spec, "output", None)
            if output is not None:
                if output in routed:
                    return  # the assembled unit follows its own routing
                product = output
            if spec.to is None:
                who = (f"units of {product!r} (a product without a routing)"
                       if product in declared else "units (without a routing)")
                raise ScenarioReferenceError(
                    f"{group}[{i}].to",
                    f"expected a destination: {who} reach {node!r} and need somewhere to "
                    f"go; {_HOW}")
            node = spec.to

    for src in s.sources:
        for product in source_products(src):
            if product not in routed:
                follow(src.id, product)
    for p in s.products:
        for step in p.routing or []:
            output = getattr(nodes.get(step, (None, 0, None))[2], "output", None)
            if output is not None and output not in routed:
                follow(step, p.id)
    in_routing = {step for p in s.products for step in p.routing or []}
    for group, items in groups[1:]:
        for i, item in enumerate(items):
            assembled_and_routed = getattr(item, "output", None) in routed
            if (item.to is None and item.id not in reached and item.id not in in_routing
                    and not assembled_and_routed):
                raise ScenarioReferenceError(
                    f"{group}[{i}].to",
                    f"expected a destination: {item.id!r} is on no product's routing, so its "
                    f"units follow `to`; {_HOW}")


def check_setup_families(s: Scenario) -> None:
    """A setup matrix may only name families that some product has."""
    families = sorted({p.family for p in s.products if p.family})
    known = (f"expected one of the products' families: {', '.join(families)}" if families
             else "no product has a family; give products a `family` (products[].family)")
    for i, st in enumerate(s.stations):
        if st.setups is None:
            continue
        for a, row in st.setups.matrix.items():
            if a not in families:
                raise ScenarioReferenceError(f"stations[{i}].setups.matrix.{a}",
                                             f"unknown family {a!r}; {known}")
            for b in row:
                if b not in families:
                    raise ScenarioReferenceError(f"stations[{i}].setups.matrix.{a}.{b}",
                                                 f"unknown family {b!r}; {known}")
