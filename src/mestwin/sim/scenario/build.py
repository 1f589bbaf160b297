"""Turning a validated :class:`Scenario` into a runnable :class:`Plant`.

Random streams are spawned in a fixed order (sources, stations, conveyors, as declared),
one per entity, and split by purpose within an entity (process times, setups, quality,
each server's failures), so the same seed always gives the same event log and changing one
entity's randomness leaves the others' alone.

Each station's ``packml`` options (over the plant-wide ones) are kept on the station
(``Station.control``) for its PLCs: :func:`plc_options` turns them into
:class:`~mestwin.virtual_plc.plc.VirtualPLC` arguments.
"""

from __future__ import annotations

import bisect
import itertools
from typing import Any

import simpy

from mestwin.plantmodels import (
    FailureMode,
    MaterialUse,
    Order,
    PlannedDowntime,
    Plant,
    QualityModel,
    RandomStreams,
    SetupMatrix,
)
from mestwin.plantmodels.distributions import Sampler, bernoulli
from mestwin.plantmodels.units import LotCounter
from mestwin.sim.scenario.destinations import DEFAULT_PRODUCT
from mestwin.sim.scenario.schema import (
    ConveyorSpec,
    PackMLSpec,
    PlannedDowntimeSpec,
    Scenario,
    SourceSpec,
    StationSpec,
)
from mestwin.virtual_plc.packml import State

PROCESS, SETUP, SCRAP, REWORK, MIX, CALENDAR, FAILURES = 0, 1, 2, 3, 4, 900, 1000


def build_plant(scenario: Scenario, env: simpy.Environment | None = None) -> Plant:
    """A fresh :class:`Plant` for *scenario* (on *env* if given, e.g. to add PLCs)."""
    plant = Plant(scenario.name, scenario.seed, scenario.warmup, env)
    entities = ([s.id for s in scenario.sources] + [s.id for s in scenario.stations]
                + [c.id for c in scenario.conveyors])
    streams = RandomStreams(scenario.seed, entities)
    for sink in scenario.sinks:
        plant.add_sink(sink.id)
    for src in scenario.sources:
        _add_source(plant, streams, src)
    families = {p.id: p.family for p in scenario.products if p.family}
    calendar = scenario.calendar.planned_downtime if scenario.calendar else []
    for st in scenario.stations:
        _add_station(plant, streams, st, families, calendar)
        plant.stations[st.id].control = _control(scenario.packml, st.packml)
    for conv in scenario.conveyors:
        plant.add_conveyor(conv.id, transport_time=conv.transport_time.build().sampler(
            streams.generator(conv.id)), capacity=conv.capacity)
    nodes: list[SourceSpec | StationSpec | ConveyorSpec] = [
        *scenario.sources, *scenario.stations, *scenario.conveyors]
    for node in nodes:
        if node.to is not None:
            plant.connect(node.id, node.to)
    for product in scenario.products:
        if product.routing:
            plant.route(product.id, product.routing)
    return plant


def _control(plant_wide: PackMLSpec | None, own: PackMLSpec | None) -> dict[str, Any]:
    """The PackML options of one station: its own fields over the plant-wide ones."""
    acting: dict[str, float] = {}
    reset = "auto"
    for spec in (plant_wide, own):
        if spec is None:
            continue
        if spec.acting_time is not None:
            acting.update(spec.acting_time.model_dump(exclude_none=True))
        if spec.reset is not None:
            reset = spec.reset
    return {"acting_time": acting, "reset": reset}


def plc_options(machine: Any) -> dict[str, Any]:
    """``VirtualPLC`` keyword arguments for *machine* (a station's server, or a station)
    from its station's ``packml`` options: ``acting_time_s`` per PackML state and
    ``reset``. Empty for a machine built without options."""
    station = getattr(machine, "station", machine)
    control = getattr(station, "control", None) or {}
    if not control:
        return {}
    acting = {State[name.upper()]: float(seconds)
              for name, seconds in control.get("acting_time", {}).items()}
    return {"acting_time_s": acting, "reset": control.get("reset", "auto")}


def _add_source(plant: Plant, streams: RandomStreams, src: SourceSpec) -> None:
    if src.product_mix:
        names = list(src.product_mix)
        total = sum(src.product_mix.values())
        cumulative = list(itertools.accumulate(src.product_mix[n] / total for n in names))
        uniform = streams.generator(src.id, MIX)
        draws: list[float] = []

        def product() -> str:
            if not draws:
                draws.extend(uniform.random(512).tolist())
            return names[min(bisect.bisect_right(cumulative, draws.pop()), len(names) - 1)]

        chooser: str | object = product
    else:
        chooser = src.product or DEFAULT_PRODUCT
    orders = None
    if src.orders is not None:
        orders = [Order(o.id, o.product, o.quantity, o.release, o.due) for o in src.orders]
    interarrival = (src.interarrival.build().sampler(streams.generator(src.id, PROCESS))
                    if src.interarrival is not None else None)
    plant.add_source(src.id, product=chooser,  # type: ignore[arg-type]
                     interarrival=interarrival, orders=orders, saturated=src.saturated,
                     lot_size=src.lot_size, when_full=src.when_full, limit=src.limit)


def _planned(specs: list[PlannedDowntimeSpec]) -> list[PlannedDowntime]:
    return [PlannedDowntime(p.start, p.duration, p.every, p.reason) for p in specs]


def _add_station(plant: Plant, streams: RandomStreams, st: StationSpec,
                 families: dict[str, str], calendar: list[PlannedDowntimeSpec]) -> None:
    gen = streams.generator
    specs = st.process_time if isinstance(st.process_time, dict) else {"*": st.process_time}
    process_time: dict[str, Sampler] = {
        name: spec.build().sampler(gen(st.id, PROCESS + 10 * (k + 1)) if k else gen(st.id))
        for k, (name, spec) in enumerate(specs.items())
    }
    if st.ideal_cycle_time is None:
        ideal = {name: spec.build().mean for name, spec in specs.items()}
    elif isinstance(st.ideal_cycle_time, dict):
        ideal = dict(st.ideal_cycle_time)
    else:
        ideal = dict.fromkeys(specs, st.ideal_cycle_time)
    failure_specs = (st.failures if isinstance(st.failures, list)
                     else [st.failures] if st.failures else [])
    per_server: list[tuple[FailureMode, ...]] = []
    for server in range(st.servers):
        modes = []
        for m, f in enumerate(failure_specs):
            if f.basis == "operating":
                base = FAILURES + 100 * server + 2 * m
                modes.append(FailureMode(f.ttf.build().sampler(gen(st.id, base)),
                                         f.ttr.build().sampler(gen(st.id, base + 1)),
                                         f.reason, f.basis))
        if st.microstops is not None:
            base = FAILURES + 100 * server + 90
            ms = st.microstops
            modes.append(FailureMode(ms.every.build().sampler(gen(st.id, base)),
                                     ms.duration.build().sampler(gen(st.id, base + 1)),
                                     ms.reason))
        per_server.append(tuple(modes))
    calendar_failures = [
        FailureMode(f.ttf.build().sampler(gen(st.id, CALENDAR + 2 * m)),
                    f.ttr.build().sampler(gen(st.id, CALENDAR + 2 * m + 1)), f.reason, f.basis)
        for m, f in enumerate(failure_specs) if f.basis == "calendar"
    ]
    setups = None
    if st.setups is not None:
        setup_rng = gen(st.id, SETUP)
        setups = SetupMatrix(
            {(a, b): spec.build().sampler(setup_rng)
             for a, row in st.setups.matrix.items() for b, spec in row.items()},
            st.setups.default.build().sampler(setup_rng) if st.setups.default else None,
            st.setups.initial)
    quality = None
    if st.scrap or st.rework:
        quality = QualityModel(bernoulli(gen(st.id, SCRAP), st.scrap),
                               bernoulli(gen(st.id, REWORK), st.rework))
    materials = [MaterialUse(m.material, m.per_unit, LotCounter(m.material, m.lot_size))
                 for m in st.materials]
    common: dict[str, Any] = {
        "servers": st.servers, "process_time": process_time, "ideal_cycle_time": ideal,
        "buffer": st.buffer, "failures": per_server, "calendar_failures": calendar_failures,
        "setups": setups, "families": families, "quality": quality, "materials": materials,
        "planned": _planned(calendar + st.planned_downtime), "speed": st.speed,
        "dispatch": st.dispatch,
    }
    if st.bom is not None and st.output is not None:
        plant.add_assembly(st.id, bom=st.bom, output=st.output, **common)
    else:
        plant.add_station(st.id, **common)
