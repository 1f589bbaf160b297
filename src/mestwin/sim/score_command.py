"""``mestwin score TRUTH RESULT``: an MES's result file scored against a truth file.

Exit codes: 0 scored (within ``--max-error`` if given), 1 some error exceeds
``--max-error`` pp, 2 a file that cannot be read or does not validate (the message names
the field).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from mestwin.sim.score import InputError, MesResult, load_result, load_truth, score


def add_commands(sub: Any) -> None:
    """Register ``score`` on the CLI's sub-parsers."""
    cmd = sub.add_parser(
        "score", help="score an MES's result file against a truth file",
        description="Compare RESULT (format mestwin-result, see --schema) with TRUTH "
                    "(mestwin run --truth): every ISO 22400 element, count, availability, "
                    "effectiveness, quality ratio and OEE per machine, downtime by reason "
                    "and trace precision / recall.")
    cmd.add_argument("truth", nargs="?", help="truth file (JSON Lines)")
    cmd.add_argument("result", nargs="?", help="result file (JSON)")
    cmd.add_argument("--json", action="store_true", help="one JSON object on stdout")
    cmd.add_argument("--max-error", type=float, metavar="PP",
                     help="exit 1 if any KPI error, or element / downtime error as a share "
                          "of PBT, exceeds PP percentage points")
    cmd.add_argument("--schema", action="store_true",
                     help="print the JSON Schema of result files and exit")
    cmd.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    if args.schema:
        schema = MesResult.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "mestwin MES result"
        print(json.dumps(schema, indent=2))
        return 0
    if args.truth is None or args.result is None:
        print("mestwin score: TRUTH and RESULT are required", file=sys.stderr)
        return 2
    try:
        report = score(load_truth(args.truth), load_result(args.result))
    except InputError as exc:
        print(f"mestwin score: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_finite(report)) if args.json else markdown(report))
    if args.max_error is not None and report["max_error_pp"] > args.max_error:
        for m in report["machines"].values():
            if m["max_error_pp"] > args.max_error:
                print(f"mestwin score: {m['machine']}: error above {args.max_error} pp: "
                      f"{_over(m, args.max_error)}", file=sys.stderr)
        return 1
    return 0


def _finite(value: Any) -> Any:
    """*value* with infinite errors (a machine or KPI one side lacks) as null: strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and math.isinf(value) else value


def _over(m: dict[str, Any], limit: float) -> str:
    """Every figure of machine score *m* whose error exceeds *limit* pp, with its error."""
    if m["missing"]:
        return "(missing from the result)"
    items = [(k, e["error_pp_of_pbt"]) for k, e in m["elements"].items()]
    items += [(n, math.inf if k["error_pp"] is None else k["error_pp"])
              for n, k in m["kpis"].items()]
    items += [(f"downtime {c}", e["error_pp_of_pbt"])
              for c, e in m["downtime_by_reason"].items()]
    return ", ".join(f"{name} {error:+.3f} pp" for name, error in items if abs(error) > limit)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3f}%"


def _pp(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def markdown(report: dict[str, Any]) -> str:
    """Every machine's elements, KPIs and downtime, truth beside MES, with the errors."""
    out = [f"# {report['scenario']}: MES result against ground truth", ""]
    for name, m in report["machines"].items():
        out += [f"## {name}" + (" (missing from the result)" if m["missing"] else ""), "",
                "| figure | truth | MES | error |", "|---|---:|---:|---:|"]
        for k, e in m["elements"].items():
            out.append(f"| {k} (s) | {e['truth']:.3f} | {e['mes']:.3f} | "
                       f"{e['error_s']:+.3f} s = {e['error_pp_of_pbt']:+.3f} pp of PBT |")
        for k, c in m["counts"].items():
            out.append(f"| {k} | {c['truth']} | {c['mes']} | {c['error']:+d} |")
        for k, e in m["kpis"].items():
            out.append(f"| {k} | {_pct(e['truth'])} | {_pct(e['mes'])} | "
                       f"{_pp(e['error_pp'])} pp |")
        for c, e in m["downtime_by_reason"].items():
            out.append(f"| downtime reason {c} (s) | {e['truth']:.3f} | {e['mes']:.3f} | "
                       f"{e['error_s']:+.3f} s |")
        out += ["", f"Max error: {m['max_error_pp']:.4f} pp.", ""]
    if report["unknown_machines"]:
        out += [f"Machines not in the truth: {', '.join(report['unknown_machines'])}.", ""]
    t = report["trace"]
    out.append("Trace: not given." if t is None else
               f"Trace: {t['serials']} finished serials, precision min {t['min_precision']:.4f}"
               f" mean {t['mean_precision']:.4f}, recall min {t['min_recall']:.4f} mean "
               f"{t['mean_recall']:.4f}.")
    out += ["", f"Max error over all machines: {report['max_error_pp']:.4f} pp.", ""]
    return "\n".join(out)
