"""The plant: the graph of sources, stations, conveyors and sinks, and its run.

Build a plant with the ``add_*`` methods, link nodes with :meth:`Plant.connect` or give
products a routing with :meth:`Plant.route`, then :meth:`Plant.run`. The plant keeps the
ground-truth :class:`~mestwin.plantmodels.eventlog.EventLog` (every row, or only its count
and hash, or streamed to a file: :class:`~mestwin.plantmodels.eventlog.Retention`) and the
window statistics (everything after *warmup*) that :meth:`Plant.results` reports.

Example::

    plant = Plant(warmup=0)
    streams = RandomStreams(7, ["arrivals", "cut"])
    plant.add_source("arrivals", product="part",
                     interarrival=Exponential(75).sampler(streams.generator("arrivals")))
    plant.add_station("cut", servers=1, buffer=10,
                      process_time={"*": Exponential(60).sampler(streams.generator("cut"))},
                      ideal_cycle_time={"*": 60})
    plant.connect("arrivals", "cut")
    plant.run(until=3600)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from mestwin.plantmodels.assembly import AssemblyStation
from mestwin.plantmodels.eventlog import EventKind, EventLog
from mestwin.plantmodels.flow import Conveyor, Order, Sink, Source
from mestwin.plantmodels.results import MachineTruth, PlantResult, StationResult
from mestwin.plantmodels.server import Server
from mestwin.plantmodels.station import Node, Station
from mestwin.plantmodels.units import SerialNumbers, Unit

EXIT = int(EventKind.EXIT)


class Plant:
    """A plant model on its own SimPy environment (or *env*, to share one with PLCs)."""

    def __init__(self, name: str = "plant", seed: int = 0, warmup: float = 0.0,
                 env: simpy.Environment | None = None, log: EventLog | None = None) -> None:
        self.name = name
        self.seed = seed
        self.env = env if env is not None else simpy.Environment()
        self.warmup = warmup
        self.log = log if log is not None else EventLog()
        """Ground truth; keeps every row unless told otherwise (:meth:`EventLog.retain`,
        before :meth:`start`)."""
        self.serials = SerialNumbers()
        self.sink = Sink(self)
        self.nodes: dict[str, Any] = {"sink": self.sink}
        self.sources: dict[str, Source] = {}
        self.stations: dict[str, Station] = {}
        self._routes: dict[str, list[Node]] = {}
        # window statistics
        self.wip = 0
        self._wip_area = 0.0
        self._t_wip = 0.0
        self.departed = 0
        self.scrapped = 0
        self.exited = 0
        self.flow_time_sum = 0.0
        self.exits_by_product: dict[str, int] = {}
        self._reset_at_warmup = False
        self._window_start = 0.0
        """When the statistics window opened: 0, or the end of warm-up once it has passed."""

    # -- building ---------------------------------------------------------------------------
    def _add(self, node: Any) -> Any:
        if node.id in self.nodes:
            raise ValueError(f"duplicate node id {node.id!r}")
        self.nodes[node.id] = node
        return node

    def add_source(self, id: str, product: str | Callable[[], str], **kwargs: Any) -> Source:
        """Add a :class:`Source`; *product* is a product id or a callable choosing one."""
        chooser = (lambda: product) if isinstance(product, str) else product
        source = self._add(Source(self, id, chooser, **kwargs))
        self.sources[id] = source
        return source  # type: ignore[no-any-return]

    def add_station(self, id: str, **kwargs: Any) -> Station:
        """Add a :class:`Station` (see its parameters)."""
        station = self._add(Station(self, id, **kwargs))
        self.stations[id] = station
        return station  # type: ignore[no-any-return]

    def add_assembly(self, id: str, bom: dict[str, int], output: str,
                     **kwargs: Any) -> AssemblyStation:
        """Add an :class:`AssemblyStation` consuming *bom* to make *output*."""
        station = self._add(AssemblyStation(self, id, bom, output, **kwargs))
        self.stations[id] = station
        return station  # type: ignore[no-any-return]

    def add_conveyor(self, id: str, **kwargs: Any) -> Conveyor:
        """Add a :class:`Conveyor`."""
        return self._add(Conveyor(self, id, **kwargs))  # type: ignore[no-any-return]

    def add_sink(self, id: str) -> Sink:
        """Add another :class:`Sink` besides the default ``sink``."""
        return self._add(Sink(self, id))  # type: ignore[no-any-return]

    def connect(self, node: str, to: str) -> None:
        """Send what leaves *node* to *to* (for products without a routing)."""
        self.nodes[node].to = self.nodes[to]

    def route(self, product: str, steps: list[str]) -> None:
        """Give *product* a routing: the nodes it visits in order after its source."""
        self._routes[product] = [self.nodes[s] for s in steps]

    # -- called by nodes ----------------------------------------------------------------
    def forward(self, unit: Unit, default: Node) -> Node:
        """The next node of *unit*: its routing's next step, else *default*."""
        route = self._routes.get(unit.product)
        if route is None:
            return default
        step = unit.step
        unit.step = step + 1
        return route[step] if step < len(route) else self.sink

    def enter(self, unit: Unit) -> None:
        """*unit* is now in the plant (WIP bookkeeping)."""
        now = self.env._now
        self._wip_area += self.wip * (now - self._t_wip)
        self._t_wip = now
        self.wip += 1

    def depart(self, unit: Unit, where: str | None) -> None:
        """*unit* leaves the plant: to sink *where*, ``"scrap"``, or consumed/lost (None)."""
        now = self.env._now
        self._wip_area += self.wip * (now - self._t_wip)
        self._t_wip = now
        self.wip -= 1
        if where is None:
            return
        self.departed += 1
        if where == "scrap":
            self.scrapped += 1
        else:
            self.exited += 1
            self.flow_time_sum += now - unit.t_release
            by_product = self.exits_by_product
            by_product[unit.product] = by_product.get(unit.product, 0) + 1
        self.log.append((now, EXIT, unit.serial, where))

    # -- running ---------------------------------------------------------------------------
    def _start_window(self) -> None:
        now = self.env._now
        self._window_start = now
        self._wip_area = 0.0
        self._t_wip = now
        self.departed = self.scrapped = self.exited = 0
        self.flow_time_sum = 0.0
        self.exits_by_product = {}
        self._window_sources = {s.id: (s.released, s.dropped) for s in self.sources.values()}
        self._window_machines = {m.id: _counts(m) for s in self.stations.values()
                                 for m in s.pool}
        self._window_counts = {s.id: (s.produced, s.good, s.scrap, s.rework,
                                      sum(sum(v.failures) for v in s.pool))
                               for s in self.stations.values()}
        for station in self.stations.values():
            station.reset_statistics()

    def start(self) -> None:
        """Open the statistics window (at once, or at the end of warm-up). Called by
        :meth:`run`; call it yourself when something else drives the environment."""
        if self._reset_at_warmup:
            return
        self._reset_at_warmup = True
        self._window_counts = {s.id: (0, 0, 0, 0, 0) for s in self.stations.values()}
        self._window_sources = {s.id: (0, 0) for s in self.sources.values()}
        self._window_machines = {m.id: (0, 0, 0, 0, {}) for s in self.stations.values()
                                 for m in s.pool}
        if self.warmup > 0:
            self.env.process(self._warmup_end())
        if self.log.needs_flushing:
            self.env.process(self._flush_log())

    def run(self, until: float, progress: Callable[[float], None] | None = None) -> None:
        """Run to time *until*, reporting progress (a fraction) in about 100 steps."""
        self.start()
        if progress is None:
            self.env.run(until=until)
            return
        start = self.env.now
        for i in range(1, 101):
            self.env.run(until=start + (until - start) * i / 100)
            progress(i / 100)

    def _flush_log(self) -> Any:
        # Rows kept only until flushed (retention NONE/STREAM, listeners): hash, stream and
        # drop them every flush_interval so that memory does not grow with the horizon. The
        # timeouts touch nothing of the model, so the log is the same with or without them.
        log, timeout, interval = self.log, self.env.timeout, self.log.flush_interval
        while True:
            yield timeout(interval)
            log.flush()

    def _warmup_end(self) -> Any:
        yield self.env.timeout(self.warmup)
        self._start_window()

    def machine_truth(self) -> dict[str, MachineTruth]:
        """Ground truth per machine (each server of each station) over the window."""
        from mestwin.plantmodels.accounting import machine_truth

        return {m.id: machine_truth(m, self._window_machines[m.id])
                for s in self.stations.values() for m in s.pool}

    def results(self) -> PlantResult:
        """Statistics of the window [warmup_s, horizon_s]: from the end of warm-up to now,
        or, while the warm-up has not ended yet, every figure over [0, now]."""
        from mestwin.plantmodels.accounting import station_result

        now = self.env.now
        window = now - self._window_start
        self._wip_area += self.wip * (now - self._t_wip)
        self._t_wip = now
        stations: dict[str, StationResult] = {
            sid: station_result(s, window, self._window_counts[sid])
            for sid, s in self.stations.items()
        }
        released = sum(s.released - self._window_sources[s.id][0]
                       for s in self.sources.values())
        dropped = sum(s.dropped - self._window_sources[s.id][1] for s in self.sources.values())
        return PlantResult(
            scenario=self.name,
            seed=self.seed,
            horizon_s=now,
            warmup_s=self._window_start,
            throughput_per_hour=self.exited / window * 3600 if window > 0 else 0.0,
            mean_flow_time_s=self.flow_time_sum / self.exited if self.exited else 0.0,
            mean_wip=self._wip_area / window if window > 0 else 0.0,
            released=released,
            departed=self.departed,
            scrapped=self.scrapped,
            dropped=dropped,
            event_count=len(self.log),
            event_log_sha256=self.log.sha256(),
            stations=stations,
            throughput_by_product=dict(sorted(self.exits_by_product.items())),
        )


def _counts(server: Server) -> tuple[int, int, int, int, dict[str, int]]:
    return (server.produced, server.good, server.scrap, server.rework,
            dict(server.produced_by_product))


__all__ = ["Order", "Plant"]
