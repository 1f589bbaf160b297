"""``mestwin loop``: the whole loop on a scenario, and the MES scored against ground truth.

Plant -> virtual PLCs -> MES, in process (as fast as possible) or over OPC UA / Modbus TCP
paced at a speed factor; prints the MES's counts and ISO 22400 KPIs per machine beside the
truth, and the genealogy score. ``make demo`` runs it over OPC UA. ``--truth`` and
``--result`` write the run's ground truth and the MES's figures for the same window (the
horizon's warm-up in process, [0, --until] over the wire), so ``mestwin score`` can set one
against the other; collection gaps the MES found are warnings on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from mestwin.mes_core.collection.state_models import STATE_SOURCES
from mestwin.plantmodels import Retention
from mestwin.sim.events_file import EVENTS_HELP, OutputError, open_output
from mestwin.sim.mes_result import DowntimeByReason, mes_result
from mestwin.sim.scoring import GenealogyScore, MachineScore, score_genealogy, score_oee
from mestwin.sim.truth import TruthRecorder
from mestwin.virtual_plc.tags import STOP_REASONS


def add_commands(sub: Any) -> None:
    """Register ``loop`` on the CLI's sub-parsers."""
    loop = sub.add_parser(
        "loop", help="run plant, PLCs and MES together and score the MES against the truth",
        description="Run SCENARIO through virtual PLCs into the MES (in process, or over "
                    "OPC UA or Modbus TCP at a speed factor) and compare the MES's KPIs per "
                    "machine with the ground truth.")
    loop.add_argument("scenario", help="scenario YAML file")
    loop.add_argument("--transport", choices=["inprocess", "opcua", "modbus"],
                      default="inprocess", help="how the MES reads the PLCs")
    loop.add_argument("--speed", type=float, default=60.0,
                      help="speed factor for opcua/modbus (simulated s per wall s)")
    loop.add_argument("--until", help="simulated time to run (default: the horizon; e.g. 1h)")
    loop.add_argument("--json", action="store_true", help="one JSON object on stdout")
    loop.add_argument("--report", help="also write a Markdown report here")
    loop.add_argument("--events", metavar="FILE", help=EVENTS_HELP)
    loop.add_argument("--result", metavar="FILE",
                      help="write the MES's figures to FILE in the result format "
                           "(mestwin score TRUTH FILE)")
    loop.add_argument("--truth", metavar="FILE",
                      help="write the run's ground truth to FILE (JSON Lines, format "
                           "mestwin-truth v1), for the window of --result")
    loop.add_argument("--state-source", choices=list(STATE_SOURCES), default="machine_state",
                      help="the tags the MES times states by: Status.MachineState, or the "
                           "PackML StateCurrent with Admin.StopReason.ID")
    loop.set_defaults(func=_cmd_loop)


def _cmd_loop(args: argparse.Namespace) -> int:
    from mestwin.sim.loop import ClosedLoop
    from mestwin.sim.scenario import ScenarioError, load_scenario
    from mestwin.sim.scenario.durations import parse_duration
    from mestwin.sim.wire import run_over_wire

    logging.getLogger("asyncua").setLevel(logging.ERROR)  # session chatter, not results
    # collection gaps are reported below, once each, with the command's name
    logging.getLogger("mestwin.mes_core.collection.collector").setLevel(logging.ERROR)
    try:
        scenario = load_scenario(args.scenario)
        until = parse_duration(args.until) if args.until else scenario.horizon
        if until <= 0:
            raise ValueError(f"expected a positive duration, got {args.until!r}")
    except ScenarioError as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"mestwin loop: --until {args.until}: {error}", file=sys.stderr)
        return 2
    codes = {c.reason or "none": c.id for c in STOP_REASONS}
    with contextlib.ExitStack() as stack:
        try:
            events = open_output(stack, "--events", args.events)
            truth_file = open_output(stack, "--truth", args.truth)
        except OutputError as exc:
            print(f"mestwin loop: {exc}", file=sys.stderr)
            return 2
        retention = Retention.STREAM if events is not None else Retention.NONE
        if args.transport == "inprocess":
            scenario = scenario.model_copy(update={"horizon": until,
                                                   "warmup": min(scenario.warmup, until / 2)})
            downtime = DowntimeByReason(codes, scenario.warmup, until)
            loop = ClosedLoop.build(scenario, retention=retention, events=events,
                                    sinks=[downtime], state_source=args.state_source)
            recorder = None
            if truth_file is not None:
                recorder = TruthRecorder(loop.plant, truth_file, scenario.name, scenario.seed,
                                         scenario.warmup, until)
                recorder.attach(loop.plant)
            loop.run()
            if recorder is not None:
                recorder.finish(until)
            plant, ledger, truth = loop.plant, loop.ledger, loop.genealogy
        else:
            scenario = scenario.model_copy(update={"warmup": 0.0})
            downtime = DowntimeByReason(codes, 0.0, until)
            run = asyncio.run(run_over_wire(scenario, args.transport, args.speed, until,
                                            retention=retention, events=events,
                                            state_source=args.state_source,
                                            truth=truth_file, sinks=[downtime]))
            plant, ledger, truth = run.plant, run.ledger, run.genealogy
    for gap in ledger.gaps:
        print(f"mestwin loop: collection gap: {gap.machine} {gap.element} "
              f"[{gap.start:g}, {gap.end:g}] s: intervals {gap.intervals_s:.3f} s, PLC state "
              f"times {gap.plc_s:.3f} s", file=sys.stderr)
    scores = score_oee(plant, ledger)
    genealogy = score_genealogy(truth, ledger)
    summary = _summary(scenario.name, args.transport, until, scores, genealogy)
    summary["collection_gaps"] = [gap._asdict() for gap in ledger.gaps]
    if args.result:
        result = mes_result([s.machine for s in scores], ledger, downtime)
        try:
            Path(args.result).write_text(result.model_dump_json(indent=1), encoding="utf-8")
        except OSError as exc:
            print(f"mestwin loop: --result {args.result}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(markdown(summary), encoding="utf-8")
    print(json.dumps(summary) if args.json else markdown(summary))
    return 0


def _summary(name: str, transport: str, until: float, scores: list[MachineScore],
             genealogy: GenealogyScore) -> dict[str, Any]:
    return {
        "scenario": name, "transport": transport, "simulated_s": until,
        "machines": {s.machine: {"truth": s.truth, "mes": s.mes,
                                 "counts_equal": s.counts_equal,
                                 "max_kpi_error_pp": s.max_kpi_error_pp(),
                                 "max_element_error_s": s.max_element_error_s()}
                     for s in scores},
        "genealogy": {"serials": genealogy.serials, "min_precision": genealogy.min_precision,
                      "min_recall": genealogy.min_recall},
    }


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def markdown(summary: dict[str, Any]) -> str:
    """The MES beside the truth, one row per machine."""
    out = [f"# {summary['scenario']}: MES against ground truth",
           "",
           f"Transport `{summary['transport']}`, {summary['simulated_s']:g} simulated seconds.",
           "",
           "| machine | PQ truth | PQ MES | GQ truth | GQ MES | availability truth | MES |"
           " effectiveness truth | MES | quality truth | MES | OEE truth | OEE MES |"
           " max error (pp) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in summary["machines"].items():
        t, e = m["truth"], m["mes"]
        out.append(
            f"| {name} | {t['PQ']} | {e['PQ']} | {t['GQ']} | {e['GQ']} | "
            f"{_pct(t['availability'])} | {_pct(e['availability'])} | "
            f"{_pct(t['effectiveness'])} | {_pct(e['effectiveness'])} | "
            f"{_pct(t['quality_ratio'])} | {_pct(e['quality_ratio'])} | "
            f"{_pct(t['oee'])} | {_pct(e['oee'])} | {m['max_kpi_error_pp']:.4f} |")
    g = summary["genealogy"]
    out += ["", f"Genealogy: {g['serials']} finished serials, backward trace precision "
                f"{g['min_precision']:.3f} and recall {g['min_recall']:.3f} (worst serial).", ""]
    return "\n".join(out)
