"""Human-readable views of a :class:`PlantResult`: a terminal summary and a Markdown report."""

from __future__ import annotations

from mestwin.plantmodels.results import PlantResult


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def summary(result: PlantResult) -> str:
    """A short plain-text summary for the terminal."""
    window_h = (result.horizon_s - result.warmup_s) / 3600
    lines = [
        f"{result.scenario}  (seed {result.seed}, {window_h:.1f} h after "
        f"{result.warmup_s / 3600:.1f} h warm-up)",
        f"  throughput  {result.throughput_per_hour:10.2f} units/h",
        f"  flow time   {result.mean_flow_time_s:10.1f} s",
        f"  WIP         {result.mean_wip:10.2f} units",
        f"  released {result.released}, left {result.departed} (scrapped {result.scrapped}),"
        f" lost {result.dropped}",
        "",
        f"  {'station':<14}{'util':>7}{'OEE':>7}{'wait s':>10}{'queue':>8}{'produced':>10}"
        f"{'scrap':>7}",
    ]
    for sid, s in result.stations.items():
        lines.append(
            f"  {sid:<14}{_pct(s.utilization):>7}{_pct(s.kpi.get('oee')):>7}"
            f"{s.mean_wait_s:>10.1f}{s.mean_queue_length:>8.2f}{s.produced:>10}{s.scrap:>7}")
    lines.append(f"\n  event log: {result.event_count} events, "
                 f"sha256 {result.event_log_sha256[:16]}…")
    lines += [f"  warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def markdown_report(result: PlantResult) -> str:
    """A Markdown report of the run: plant KPIs, station KPIs, ISO 22400 time elements."""
    out = [
        f"# {result.scenario}",
        "",
        f"Seed {result.seed}; horizon {result.horizon_s:g} s; warm-up {result.warmup_s:g} s; "
        f"event log sha256 `{result.event_log_sha256}`.",
        "",
        "| plant KPI | value |",
        "|---|---|",
        f"| throughput (units/h) | {result.throughput_per_hour:.3f} |",
        f"| mean flow time (s) | {result.mean_flow_time_s:.1f} |",
        f"| mean WIP (units) | {result.mean_wip:.3f} |",
        f"| released / left / scrapped / lost | {result.released} / {result.departed} / "
        f"{result.scrapped} / {result.dropped} |",
        "",
        *[f"> **Warning:** {w}\n" for w in result.warnings],
        "## Stations (ISO 22400-2)",
        "",
        "| station | servers | utilization | availability | effectiveness | quality | OEE |"
        " mean wait (s) | mean queue | PQ | GQ | SQ | RQ |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for sid, s in result.stations.items():
        k = s.kpi
        out.append(
            f"| {sid} | {s.servers} | {_pct(s.utilization)} | {_pct(k.get('availability'))} | "
            f"{_pct(k.get('effectiveness'))} | {_pct(k.get('quality_ratio'))} | "
            f"{_pct(k.get('oee'))} | {s.mean_wait_s:.1f} | {s.mean_queue_length:.2f} | "
            f"{s.produced} | {s.good} | {s.scrap} | {s.rework} |")
    out += ["", "## Time elements (server-hours)", "",
            "| station | POT | PDOT | PBT | APT | ASUT | ADET | ADOT |",
            "|---|---|---|---|---|---|---|---|"]
    for sid, s in result.stations.items():
        e = s.time_elements_s
        cells = " | ".join(f"{e[k] / 3600:.2f}"
                           for k in ("POT", "PDOT", "PBT", "APT", "ASUT", "ADET", "ADOT"))
        out.append(f"| {sid} | {cells} |")
    out.append("")
    return "\n".join(out)
