"""Units flow from sources through buffers, conveyors and stations to sinks."""

from __future__ import annotations

import pytest

from mestwin.plantmodels import EventKind, MachineState
from tests.plantmodels.helpers import run

CONST = {"dist": "constant", "value": 1.0}


def test_blocking_after_service_with_a_zero_buffer() -> None:
    """A fast station in front of a slow one with no buffer between them is blocked
    holding its finished unit, and only ever one unit at a time waits for the slow one."""
    plant = run({
        "sources": [{"id": "feed", "saturated": True, "to": "fast", "limit": 10}],
        "stations": [
            {"id": "fast", "process_time": {"dist": "constant", "value": 1}, "buffer": 0,
             "to": "slow"},
            {"id": "slow", "process_time": {"dist": "constant", "value": 3}, "buffer": 0,
             "to": "sink"},
        ],
    }, 100)
    states = [(r.t, r.state) for r in plant.log.records(EventKind.STATE) if r.station == "fast"]
    # unit 1 passes to slow at t=1; unit 2 is done at t=2 and blocks until slow is free at 4
    assert (2.0, MachineState.BLOCKED) in states
    assert (4.0, MachineState.PROCESSING) in states
    exits = [r.t for r in plant.log.records(EventKind.EXIT)]
    # slow is the bottleneck: first exit at 1 + 3, then every 3 s
    assert exits == [4.0 + 3 * i for i in range(10)]
    result = plant.results()
    blocked = result.stations["fast"].time_elements_s["ADOT"]
    assert blocked > 0


def test_source_drops_arrivals_when_full() -> None:
    """With when_full: drop, an arrival that finds no place is lost and counted."""
    plant = run({
        "sources": [{"id": "a", "interarrival": CONST, "to": "s", "when_full": "drop"}],
        "stations": [{"id": "s", "to": "sink", "process_time": {"dist": "constant", "value": 2.5},
                      "buffer": 1}],
    }, 100.5)
    result = plant.results()
    assert result.dropped > 0
    assert result.released == 100
    assert result.dropped + result.departed + plant.wip == result.released


def test_conveyor_transport_time_and_capacity() -> None:
    """A unit spends its transport time on the conveyor; no more than capacity are aboard,
    and units leave in the order they were loaded."""
    plant = run({
        "sources": [{"id": "a", "interarrival": CONST, "to": "belt", "limit": 20}],
        "stations": [{"id": "s", "to": "sink", "process_time": {"dist": "constant", "value": 2}}],
        "conveyors": [{"id": "belt", "transport_time": {"dist": "constant", "value": 5},
                       "capacity": 3, "to": "s"}],
    }, 1000)
    enters = [(r.t, r.serial, r.node) for r in plant.log.records(EventKind.ENTER)]
    on_belt = {s: t for t, s, n in enters if n == "belt"}
    at_station = {s: t for t, s, n in enters if n == "s"}
    assert all(at_station[s] - on_belt[s] >= 5.0 for s in on_belt)
    assert [s for _, s, n in enters if n == "s"] == [s for _, s, n in enters if n == "belt"]
    events = sorted([(t, 1) for t in on_belt.values()] + [(t, -1) for t in at_station.values()],
                    key=lambda e: (e[0], e[1]))
    aboard = peak = 0
    for _, delta in events:
        aboard += delta
        peak = max(peak, aboard)
    assert peak == 3
    assert plant.results().departed == 20


def test_products_follow_their_routing() -> None:
    """Each product visits the nodes of its routing in order, then leaves."""
    plant = run({
        "products": [{"id": "x", "routing": ["m2", "m1"]}, {"id": "y", "routing": ["m1"]}],
        "sources": [{"id": "src", "interarrival": {"dist": "exponential", "mean": 10},
                     "product_mix": {"x": 1, "y": 1}, "limit": 50}],
        "stations": [{"id": "m1", "process_time": {"x": CONST, "y": CONST}},
                     {"id": "m2", "process_time": {"x": CONST}}],
    }, 10000)
    paths: dict[str, list[str]] = {}
    for rec in plant.log.records(EventKind.ENTER):
        paths.setdefault(rec.serial, []).append(rec.node)
    assert paths
    for serial, path in paths.items():
        assert path == (["m2", "m1"] if serial.startswith("x-") else ["m1"])
    assert plant.results().departed == 50


def test_units_carry_lots_of_their_source() -> None:
    """A source with lot_size stamps consecutive units with the same lot id."""
    plant = run({
        "sources": [{"id": "raw", "interarrival": CONST, "lot_size": 4, "to": "s",
                     "limit": 10}],
        "stations": [{"id": "s", "to": "sink", "process_time": {"dist": "constant", "value": 0.5}}],
    }, 100)
    lots = [r.lot for r in plant.log.records(EventKind.RELEASE)]
    assert lots == ["raw-L00001"] * 4 + ["raw-L00002"] * 4 + ["raw-L00003"] * 2


@pytest.mark.parametrize("servers", [1, 3])
def test_parallel_servers_share_one_buffer(servers: int) -> None:
    """c servers working constant times clear a saturated queue c times as fast."""
    plant = run({
        "sources": [{"id": "f", "saturated": True, "to": "s"}],
        "stations": [{"id": "s", "to": "sink", "servers": servers,
                      "process_time": {"dist": "constant", "value": 2}, "buffer": 5}],
    }, 1001)
    # completions at 2, 4, ..., 1000 on each server; the run window is 1001 s
    assert plant.results().throughput_per_hour == pytest.approx(servers * 500 / 1001 * 3600)
