"""The ``mestwin`` command line: one sub-command per job, each with ``--help``.

Exit codes: 0 success, 2 bad input (a scenario that does not validate, a bad argument).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mestwin import __version__


def _cmd_run(args: argparse.Namespace) -> int:
    from mestwin.sim.events_file import OutputError, open_output
    from mestwin.sim.report import markdown_report, summary
    from mestwin.sim.run import run_scenario, terminal_progress
    from mestwin.sim.scenario import ScenarioError, load_scenario
    from mestwin.sim.scenario.durations import parse_duration
    from mestwin.sim.scenario.overrides import CommandLine

    overrides: dict[str, object] = {"seed": args.seed}
    options = {"seed": f"--seed {args.seed}"} if args.seed is not None else {}
    for field, option, text in (("horizon", "--until", args.until),
                                ("warmup", "--warmup", args.warmup)):
        if text is not None:
            options[field] = f"{option} {text}"
            try:
                overrides[field] = parse_duration(text)
            except ValueError as exc:
                print(f"mestwin run: {option} {text}: {exc}", file=sys.stderr)
                return 2
    try:
        scenario = load_scenario(args.scenario, overrides, CommandLine("mestwin run", options))
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    show = not args.no_progress and sys.stderr.isatty() and scenario.horizon >= 86400
    progress = terminal_progress(scenario.name) if show else None
    with contextlib.ExitStack() as stack:
        try:
            events = open_output(stack, "--events", args.events)
            truth = open_output(stack, "--truth", args.truth)
        except OutputError as exc:
            print(f"mestwin run: {exc}", file=sys.stderr)
            return 2
        result = run_scenario(scenario, progress, events, truth)
    for warning in result.warnings:
        print(f"mestwin run: warning: {args.scenario}: {warning}", file=sys.stderr)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(markdown_report(result), encoding="utf-8")
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=False))
    else:
        print(summary(result))
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from mestwin.sim.scenario import Scenario

    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mestwin scenario"
    print(json.dumps(schema, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mestwin", description="Digital twin and testbed for manufacturing execution.")
    parser.add_argument("--version", action="version", version=f"mestwin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from mestwin.sim.events_file import EVENTS_HELP

    run = sub.add_parser("run", help="run a scenario as fast as possible and report KPIs",
                         description="Run SCENARIO (YAML) to its horizon and print its KPIs.")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object on stdout and nothing else there")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--until", help="override the horizon (e.g. 8h, 30d)")
    run.add_argument("--warmup", help="override the warm-up (e.g. 1d)")
    run.add_argument("--report", help="also write a Markdown report to this file")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.add_argument("--events", metavar="FILE", help=EVENTS_HELP)
    run.add_argument("--truth", metavar="FILE",
                     help="write the ground truth to FILE (JSON Lines, format mestwin-truth "
                          "v1: state intervals, elements, counts, downtime, genealogy)")
    run.set_defaults(func=_cmd_run)

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files",
                            description="Print the JSON Schema of scenario files (for editors).")
    schema.set_defaults(func=_cmd_schema)
    from mestwin.sim.serve import add_commands
    add_commands(sub)
    from mestwin.sim.jobshop_command import add_commands as add_jobshop
    from mestwin.sim.loop_command import add_commands as add_loop
    from mestwin.sim.score_command import add_commands as add_score
    add_loop(sub)
    add_jobshop(sub)
    add_score(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mestwin`` command."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader left early (`mestwin score T R | head`): no traceback, and Python's
        # own flush at exit must not fail again on the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
