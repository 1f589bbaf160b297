"""ISO 22400-2 time elements and KPIs of a station, from its servers' accounting.

The elements are summed over servers (server-seconds). PBT = APT + ASUT + ADET + ADOT and
POT = PBT + PDOT hold by construction, since each server is in exactly one state at a time
(:mod:`.states`). KPIs follow ISO 22400-2: availability APT/PBT, effectiveness
PRU x PQ / APT, quality ratio GQ/PQ, OEE their product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mestwin.plantmodels.results import MachineTruth, StationResult
from mestwin.plantmodels.states import TimeElement

if TYPE_CHECKING:
    from mestwin.plantmodels.server import Server
    from mestwin.plantmodels.station import Station


def time_elements(station: Station) -> dict[str, float]:
    """POT, PDOT, PBT, APT, ASUT, ADET, ADOT of *station* up to now, in server-seconds."""
    sums = [0.0] * len(TimeElement)
    for server in station.pool:
        for i, value in enumerate(server.close_elements()):
            sums[i] += value
    apt, asut, adet, adot, pdot = sums
    pbt = apt + asut + adet + adot
    return {"POT": pbt + pdot, "PDOT": pdot, "PBT": pbt, "APT": apt, "ASUT": asut,
            "ADET": adet, "ADOT": adot}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def station_result(
    station: Station, window: float, at_start: tuple[int, int, int, int, int],
) -> StationResult:
    """The :class:`StationResult` of *station* over a window of *window* seconds.

    *at_start* holds the cumulative (produced, good, scrap, rework, failures) counters at
    the start of the window.
    """
    elements = time_elements(station)
    produced = station.produced - at_start[0]
    good = station.good - at_start[1]
    scrap = station.scrap - at_start[2]
    rework = station.rework - at_start[3]
    failures = sum(sum(s.failures) for s in station.pool) - at_start[4]
    # units still waiting at the end count in the queue-length integral
    now = station.env.now
    start = now - window
    queue_area = station.queue_area + sum(now - max(u.t_enq, start)
                                          for u in station.buffer.queue)
    counts = station.produced_by_product
    total = sum(counts.values())
    if total:
        pru = sum(station.ideal_cycle_time.get(p, station.ideal_cycle_time.get("*", 0.0)) * n
                  for p, n in counts.items()) / total
    else:
        pru = sum(station.ideal_cycle_time.values()) / max(len(station.ideal_cycle_time), 1)
    apt, pbt = elements["APT"], elements["PBT"]
    availability = _ratio(apt, pbt)
    effectiveness = _ratio(pru * produced, apt)
    quality = _ratio(good, produced)
    oee = None
    if availability is not None and effectiveness is not None and quality is not None:
        oee = availability * effectiveness * quality
    kpi = {"availability": availability, "effectiveness": effectiveness,
           "quality_ratio": quality, "oee": oee,
           "setup_rate": _ratio(elements["ASUT"], elements["ASUT"] + apt),
           "technical_efficiency": _ratio(apt, apt + elements["ADET"])}
    return StationResult(
        servers=station.servers,
        utilization=availability or 0.0,
        mean_wait_s=station.wait_sum / station.started if station.started else 0.0,
        mean_queue_length=queue_area / window if window > 0 else 0.0,
        produced=produced,
        good=good,
        scrap=scrap,
        rework=rework,
        ideal_cycle_time_s=pru,
        time_elements_s=elements,
        failures=failures,
        kpi=kpi,
    )


def machine_truth(server: Server,
                  at_start: tuple[int, int, int, int, dict[str, int]]) -> MachineTruth:
    """Ground truth of *server* since the window opened (*at_start*: counters then)."""
    apt, asut, adet, adot, pdot = server.close_elements()
    by_product = {p: n - at_start[4].get(p, 0) for p, n in server.produced_by_product.items()}
    return MachineTruth(
        elements={"APT": apt, "ASUT": asut, "ADET": adet, "ADOT": adot, "PDOT": pdot},
        produced=server.produced - at_start[0], good=server.good - at_start[1],
        scrap=server.scrap - at_start[2], rework=server.rework - at_start[3],
        produced_by_product={p: n for p, n in by_product.items() if n},
        ideal_cycle_time=dict(server.station.ideal_cycle_time))
