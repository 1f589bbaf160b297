"""Scoring any MES's result file against a truth file (what ``mestwin score`` does).

The result format (:class:`MesResult`, JSON; ``mestwin score --schema`` prints its JSON
Schema) is what an outside MES writes: per machine its ISO 22400 ``elements``, ``counts``
and ``downtime_by_reason``, and optionally the backward ``trace`` of serials. The scorer
computes the KPIs itself from both sides with the ISO 22400-2 formulas (availability
APT / PBT, effectiveness PRU x PQ / APT, quality ratio GQ / PQ, OEE their product) and
reports every element and KPI separately, since errors of A and P can cancel in OEE. It
shares no code with ``mes_core``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")
COUNTS = ("PQ", "GQ", "SQ", "RQ")
KPIS = ("availability", "effectiveness", "quality_ratio", "oee")
RESULT_FORMAT, RESULT_VERSION = "mestwin-result", 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Elements(_Strict):
    """ISO 22400-2 time elements of the window, in seconds."""

    APT: float = Field(ge=0)
    ASUT: float = Field(ge=0)
    ADET: float = Field(ge=0)
    ADOT: float = Field(ge=0)
    PDOT: float = Field(ge=0)


class Counts(_Strict):
    """ISO 22400-2 quantities of the window."""

    PQ: int = Field(ge=0)
    GQ: int = Field(ge=0)
    SQ: int = Field(ge=0)
    RQ: int = Field(ge=0)


class MachineResult(_Strict):
    """What the MES measured on one machine (named as on the wire)."""

    elements: Elements
    counts: Counts
    ideal_time_s: float | None = Field(
        None, ge=0, description="sum of PRU x PQ per product; default: the truth's mean PRU "
                                "times this PQ")
    downtime_by_reason: dict[str, float] = Field(
        default_factory=dict, description="StateReason code -> seconds (every state but "
                                          "processing)")


class MesResult(_Strict):
    """A MES's result over the truth's window (format ``mestwin-result``, version 1)."""

    format: Literal["mestwin-result"]
    version: Literal[1]
    machines: dict[str, MachineResult]
    window_s: tuple[float, float] | None = Field(
        None, description="[start, end] simulated seconds the figures cover; when given it "
                          "must be the truth's window (its warmup_s and horizon_s)")
    trace: dict[str, list[str]] | None = Field(
        None, description="serial -> every lot and serial it was made from (backward trace)")


class InputError(ValueError):
    """A truth or result file that cannot be read; the message names the file and field."""


def load_result(path: str | Path) -> MesResult:
    """The result file at *path*, validated."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from None
    try:
        return MesResult.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}"
            for e in exc.errors())) from None


@dataclass
class Truth:
    """What a truth file says about the window."""

    header: dict[str, Any]
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    """Serials that left for a sink (not scrap): the ones whose trace is scored."""


def load_truth(path: str | Path) -> Truth:
    """The truth file at *path* (JSON Lines, ``mestwin-truth`` version 1)."""
    truth: Truth | None = None
    count = 0
    try:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                row = json.loads(line)
                kind = row.get("type") if isinstance(row, dict) else None
                if truth is None:
                    if kind != "header" or row.get("format") != "mestwin-truth":
                        raise InputError(f"{path}: line 1: not a mestwin-truth header")
                    if row.get("version") != 1:
                        raise InputError(f"{path}: version: {row.get('version')!r} is not 1")
                    truth = Truth(row)
                elif kind == "unit":
                    links = ([row["lot"]] if row["lot"] else []) + list(row["consumed"])
                    truth.parents[row["serial"]] = links
                    if row["exit"] not in (None, "scrap", "dropped", "consumed"):
                        truth.finished.append(row["serial"])
                elif kind == "machine":
                    truth.machines[row["machine"]] = row
                elif kind == "end":
                    if row["lines"] != number - 1:
                        raise InputError(f"{path}: end: {number - 1} lines, says "
                                         f"{row['lines']}")
                    return truth
                count = number
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: line {count + 1}: {exc}") from None
    raise InputError(f"{path}: no end line (the file is cut short)")


def kpis(e: dict[str, float], gq: int, pq: int, ideal: float) -> dict[str, float | None]:
    """Availability, effectiveness, quality ratio and OEE (ISO 22400-2); None when the
    denominator is zero."""
    pbt = e["APT"] + e["ASUT"] + e["ADET"] + e["ADOT"]
    a = e["APT"] / pbt if pbt > 0 else None
    p = ideal / e["APT"] if e["APT"] > 0 else None
    q = gq / pq if pq > 0 else None
    oee = a * p * q if a is not None and p is not None and q is not None else None
    return {"availability": a, "effectiveness": p, "quality_ratio": q, "oee": oee}


def _error_pp(truth: float | None, mes: float | None) -> float | None:
    if truth is None and mes is None:
        return 0.0
    if truth is None or mes is None:
        return None  # defined on one side only: reported, counted as unbounded
    return (mes - truth) * 100


def score_machine(name: str, truth: dict[str, Any],
                  result: MachineResult | None) -> dict[str, Any]:
    """Truth, MES and error of every element, count, KPI and downtime reason of one
    machine; element and downtime errors also in pp of the truth's PBT."""
    te = {k: float(truth["elements"][k]) for k in ELEMENTS}
    tc = {k: int(truth["counts"][k]) for k in COUNTS}
    t_ideal = float(truth["ideal_time_s"])
    if result is None:
        me, mc, m_ideal, m_down = dict.fromkeys(ELEMENTS, 0.0), dict.fromkeys(COUNTS, 0), 0.0, {}
    else:
        me, mc = result.elements.model_dump(), result.counts.model_dump()
        m_ideal = (result.ideal_time_s if result.ideal_time_s is not None
                   else t_ideal / tc["PQ"] * mc["PQ"] if tc["PQ"] else 0.0)
        m_down = result.downtime_by_reason
    pbt = sum(te[k] for k in ELEMENTS if k != "PDOT")
    scale = 100 / pbt if pbt > 0 else 0.0
    tk, mk = kpis(te, tc["GQ"], tc["PQ"], t_ideal), kpis(me, mc["GQ"], mc["PQ"], m_ideal)
    t_down = {str(k): float(v) for k, v in truth["downtime_by_reason"].items()}
    reasons = sorted(set(t_down) | set(m_down), key=lambda c: (len(c), c))
    return {
        "machine": name, "missing": result is None,
        "elements": {k: {"truth": te[k], "mes": me[k], "error_s": me[k] - te[k],
                         "error_pp_of_pbt": (me[k] - te[k]) * scale} for k in ELEMENTS},
        "counts": {k: {"truth": tc[k], "mes": mc[k], "error": mc[k] - tc[k]} for k in COUNTS},
        "kpis": {k: {"truth": tk[k], "mes": mk[k], "error_pp": _error_pp(tk[k], mk[k])}
                 for k in KPIS},
        "downtime_by_reason": {
            c: {"truth": t_down.get(c, 0.0), "mes": m_down.get(c, 0.0),
                "error_s": m_down.get(c, 0.0) - t_down.get(c, 0.0),
                "error_pp_of_pbt": (m_down.get(c, 0.0) - t_down.get(c, 0.0)) * scale}
            for c in reasons},
    }


def max_error_pp(machine: dict[str, Any]) -> float:
    """The largest error of *machine*'s score in pp: KPIs, elements and downtime as a share
    of PBT (a KPI defined on one side only counts as infinite)."""
    errors = [abs(e["error_pp_of_pbt"]) for e in machine["elements"].values()]
    errors += [abs(e["error_pp_of_pbt"]) for e in machine["downtime_by_reason"].values()]
    errors += [float("inf") if k["error_pp"] is None else abs(k["error_pp"])
               for k in machine["kpis"].values()]
    if machine["missing"]:
        errors.append(float("inf"))
    return max(errors, default=0.0)


def ancestors(parents: dict[str, list[str]], serial: str) -> set[str]:
    """Every lot and serial *serial* was made from, directly or not (own code: the truth
    side shares nothing with the MES)."""
    seen: set[str] = set()
    stack = list(parents.get(serial, ()))
    while stack:
        item = stack.pop()
        if item not in seen:
            seen.add(item)
            stack.extend(parents.get(item, ()))
    return seen


def score_trace(truth: Truth, trace: dict[str, list[str]] | None) -> dict[str, Any] | None:
    """Precision and recall of the MES's backward trace of every finished serial (worst
    and mean), or None when the result gives no trace."""
    if trace is None:
        return None
    precisions: list[float] = []
    recalls: list[float] = []
    bad: list[str] = []
    for serial in truth.finished:
        true_set, mes = ancestors(truth.parents, serial), set(trace.get(serial, ()))
        hit = len(true_set & mes)
        precisions.append(hit / len(mes) if mes else 1.0)
        recalls.append(hit / len(true_set) if true_set else 1.0)
        if (precisions[-1] < 1 or recalls[-1] < 1) and len(bad) < 10:
            bad.append(serial)
    n = len(precisions)
    return {"serials": n, "min_precision": min(precisions, default=1.0),
            "min_recall": min(recalls, default=1.0),
            "mean_precision": sum(precisions) / n if n else 1.0,
            "mean_recall": sum(recalls) / n if n else 1.0, "mismatches": bad}


def score(truth: Truth, result: MesResult) -> dict[str, Any]:
    """The whole score: per machine of the truth, the trace, and machines the truth lacks.

    A result that states another window than the truth's is refused (:class:`InputError`):
    figures of different windows differ by construction, and scoring them would only blame
    the MES for the user's mix-up."""
    start, end = truth.header.get("warmup_s"), truth.header.get("horizon_s")
    window = (float(start), float(end)) if start is not None and end is not None else None
    if result.window_s is not None and window is not None and any(
            abs(a - b) > 1e-6 for a, b in zip(result.window_s, window, strict=True)):
        raise InputError(
            f"window_s: the result covers [{result.window_s[0]:g}, {result.window_s[1]:g}] s "
            f"but the truth covers [{window[0]:g}, {window[1]:g}] s; produce both for the "
            "same window (the same --until, and the same warm-up)")
    machines = {name: score_machine(name, row, result.machines.get(name))
                for name, row in truth.machines.items()}
    for m in machines.values():
        m["max_error_pp"] = max_error_pp(m)
    return {"scenario": truth.header.get("scenario"),
            "window_s": [truth.header.get("warmup_s"), truth.header.get("horizon_s")],
            "machines": machines,
            "unknown_machines": sorted(set(result.machines) - set(truth.machines)),
            "trace": score_trace(truth, result.trace),
            "max_error_pp": max((m["max_error_pp"] for m in machines.values()), default=0.0)}
