"""Priority rules for a dispatch list.

A rule maps one dispatch-list row (a :class:`~.dispatch_list.Candidate`) and the
:class:`~.dispatch_list.DispatchContext` to a sort key; the *smallest* key is dispatched
first, and :func:`~.dispatch_list.order` appends ``(job index, op index)`` so that ties always
go to the lowest job index. Notation (t now, d due date, p this operation's time, P remaining
work, n remaining operations; P and n COUNT the operation being dispatched):

====== ==============================================================================
FIFO   earliest arrival at this work centre (longest wait), then lowest job index
SPT    min p;  LPT max p;  EDD min d
CR     min (d - t) / P  (critical ratio)
S/OPN  min (d - t - P) / n  (slack per remaining operation)
MWKR   max P;  LWKR min P;  MOPNR max n
ATC    max (w / p) exp(-max(0, d - p - t) / (k1 pbar))
ATCS   max (w / p) exp(-max(0, d - p - t) / (k1 pbar)) exp(-s / (k2 sbar))
SETUP  same setup family as the work centre's current one first, then a secondary rule
====== ==============================================================================

A job without a due date ranks after every job with one under EDD, CR and S/OPN, and has an
ATC urgency factor of 0. ATC is Vepsalainen and Morton's (1987), ATCS Lee, Bhaskaran and
Pinedo's (1997): pbar is the mean processing time and sbar the mean setup time of the
candidates, s the setup time from the current family to the candidate's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mestwin.mes_core.dispatching.dispatch_list import Candidate, DispatchContext

__all__ = [
    "ATC",
    "ATCS",
    "CR",
    "EDD",
    "FIFO",
    "LPT",
    "LWKR",
    "MOPNR",
    "MWKR",
    "RULES",
    "SOPN",
    "SPT",
    "KeyRule",
    "Rule",
    "SetupFamily",
    "SortKey",
    "get_rule",
]

SortKey = tuple[float, ...]
INF = math.inf


class Rule(Protocol):
    """A named priority rule: ``rule(candidate, context)`` returns a sort key (min first)."""

    @property
    def name(self) -> str: ...

    def __call__(self, candidate: Candidate, context: DispatchContext) -> SortKey: ...


@dataclass(frozen=True)
class KeyRule:
    """A parameter-free rule given by its *name* and its *key* function."""

    name: str
    key: Callable[[Candidate, DispatchContext], SortKey]

    def __call__(self, candidate: Candidate, context: DispatchContext) -> SortKey:
        return self.key(candidate, context)


def _due(c: Candidate) -> float:
    return INF if c.due_date is None else c.due_date


def _cr(c: Candidate, ctx: DispatchContext) -> SortKey:
    if c.due_date is None:
        return (INF,)
    if c.remaining_work <= 0:
        return (INF,) if c.due_date >= ctx.now else (-INF,)
    return ((c.due_date - ctx.now) / c.remaining_work,)


def _sopn(c: Candidate, ctx: DispatchContext) -> SortKey:
    if c.due_date is None:
        return (INF,)
    return ((c.due_date - ctx.now - c.remaining_work) / max(c.remaining_ops, 1),)


FIFO = KeyRule("FIFO", lambda c, ctx: (c.arrival,))
SPT = KeyRule("SPT", lambda c, ctx: (c.processing_time,))
LPT = KeyRule("LPT", lambda c, ctx: (-c.processing_time,))
EDD = KeyRule("EDD", lambda c, ctx: (_due(c),))
CR = KeyRule("CR", _cr)
SOPN = KeyRule("S/OPN", _sopn)
MWKR = KeyRule("MWKR", lambda c, ctx: (-c.remaining_work,))
LWKR = KeyRule("LWKR", lambda c, ctx: (c.remaining_work,))
MOPNR = KeyRule("MOPNR", lambda c, ctx: (-float(c.remaining_ops),))


def _urgency(c: Candidate, ctx: DispatchContext, k1: float) -> float:
    """exp(-max(0, d - p - t) / (k1 pbar)); 0 without a due date."""
    if c.due_date is None:
        return 0.0
    slack = max(0.0, c.due_date - c.processing_time - ctx.now)
    scale = k1 * (ctx.mean_processing_time or 0.0)
    if slack == 0:
        return 1.0
    return 0.0 if scale <= 0 else math.exp(-slack / scale)


def _wspt(c: Candidate) -> float:
    return INF if c.processing_time <= 0 else c.weight / c.processing_time


@dataclass(frozen=True)
class ATC:
    """Apparent Tardiness Cost: max ``(w/p) exp(-max(0, d - p - t) / (k1 pbar))``.

    *k1* is the look-ahead parameter (typically 1-4; small values favour urgent jobs).
    """

    k1: float = 2.0

    @property
    def name(self) -> str:
        return f"ATC(k1={self.k1:g})"

    def __call__(self, candidate: Candidate, context: DispatchContext) -> SortKey:
        return (-_wspt(candidate) * _urgency(candidate, context, self.k1),)


@dataclass(frozen=True)
class ATCS:
    """ATC with sequence-dependent setups: ATC x ``exp(-s / (k2 sbar))``.

    *s* is ``context.setup_time(context.current_family, candidate.family)`` and sbar the mean
    setup time over the candidates; when sbar is 0 the setup factor is 1.
    """

    k1: float = 2.0
    k2: float = 1.0

    @property
    def name(self) -> str:
        return f"ATCS(k1={self.k1:g},k2={self.k2:g})"

    def __call__(self, candidate: Candidate, context: DispatchContext) -> SortKey:
        setup = context.setup_time(context.current_family, candidate.family)
        scale = self.k2 * (context.mean_setup_time or 0.0)
        factor = 1.0 if scale <= 0 else math.exp(-setup / scale)
        return (-_wspt(candidate) * _urgency(candidate, context, self.k1) * factor,)


@dataclass(frozen=True)
class SetupFamily:
    """Prefer candidates of the work centre's current setup family, then *secondary*."""

    secondary: Rule = SPT

    @property
    def name(self) -> str:
        return f"SETUP+{self.secondary.name}"

    def __call__(self, candidate: Candidate, context: DispatchContext) -> SortKey:
        same = context.current_family is not None and candidate.family == context.current_family
        return (0.0 if same else 1.0, *self.secondary(candidate, context))


def _setup_family(secondary: str | Rule = "SPT") -> Rule:
    return SetupFamily(get_rule(secondary) if isinstance(secondary, str) else secondary)


RULES: MappingProxyType[str, Callable[..., Rule]] = MappingProxyType(
    {
        "FIFO": lambda: FIFO,
        "SPT": lambda: SPT,
        "LPT": lambda: LPT,
        "EDD": lambda: EDD,
        "CR": lambda: CR,
        "S/OPN": lambda: SOPN,
        "SOPN": lambda: SOPN,
        "MWKR": lambda: MWKR,
        "LWKR": lambda: LWKR,
        "MOPNR": lambda: MOPNR,
        "ATC": ATC,
        "ATCS": ATCS,
        "SETUP": _setup_family,
    }
)
"""Rule factories by (upper-case) name; parameters go to the factory, see :func:`get_rule`."""


def get_rule(name: str | Rule, /, **params: object) -> Rule:
    """The rule registered as *name* (case-insensitive), built with *params*.

    ``get_rule("SPT")``, ``get_rule("ATC", k1=1.5)``, ``get_rule("SETUP", secondary="EDD")``.
    A rule object passes through unchanged.
    """
    if not isinstance(name, str):
        return name
    try:
        factory = RULES[name.upper()]
    except KeyError:
        raise KeyError(f"unknown dispatching rule {name!r}; known: {sorted(RULES)}") from None
    return factory(**params)
