"""Replications, Student-t intervals and the closed-form queueing results the twin must meet.

The statistical recipe (see docs/validation.md): R independent replications whose seeds come
from one fixed :class:`numpy.random.SeedSequence` spawned R times, the warm-up deleted by the
scenario's ``warmup``, one estimate per replication, and a Student-t interval at
alpha = 0.001 around their mean. A check passes when the exact value lies inside the interval
AND the half-width is below a target, so that a passing check also proves it could have
failed.

The closed forms are textbook results (Kleinrock, *Queueing Systems* vol. 1; Gross & Harris,
*Fundamentals of Queueing Theory*; Hopp & Spearman, *Factory Physics*, ch. 8) and are written
here from their formulas, never from simulation output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from mestwin.sim.run import run_scenario
from mestwin.sim.scenario import parse_scenario

ALPHA = 0.001
"""Two-sided error probability of every interval: a true value is missed once in 1000."""

ScenarioFactory = Callable[[int], dict[str, Any]]
"""Builds a scenario dict (the YAML file as Python) for one replication seed."""


# -- replications and intervals -------------------------------------------------------------
def replication_seeds(root: int, replications: int) -> list[int]:
    """Scenario seeds of *replications* independent runs, spawned from one fixed *root*."""
    children = np.random.SeedSequence(root).spawn(replications)
    return [int(child.generate_state(1)[0]) for child in children]


def replicate(scenario: ScenarioFactory, replications: int, root: int) -> list[dict[str, Any]]:
    """Validate and run one scenario per seed; return each run's JSON result dict."""
    results = []
    for seed in replication_seeds(root, replications):
        spec = parse_scenario(scenario(seed), file=f"<validation seed {seed}>")
        results.append(run_scenario(spec).to_dict())
    return results


@dataclass(frozen=True)
class Interval:
    """A Student-t confidence interval for a mean over independent replications."""

    mean: float
    half_width: float
    replications: int
    alpha: float = ALPHA

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        """Whether *value* lies inside the closed interval."""
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return (f"{self.mean:.6g} ± {self.half_width:.4g} "
                f"[{self.low:.6g}, {self.high:.6g}] (R={self.replications}, "
                f"alpha={self.alpha:g})")


def t_interval(values: Sequence[float], alpha: float = ALPHA) -> Interval:
    """The two-sided Student-t interval at level 1 - *alpha* for the mean of *values*."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        raise ValueError("need at least two replications")
    quantile = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1))
    half_width = quantile * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(float(x.mean()), half_width, n, alpha)


def check_estimate(label: str, values: Sequence[float], exact: float,
                   max_relative_half_width: float) -> Interval:
    """Assert that the interval of *values* contains *exact* and is tight enough.

    The half-width target is relative to *exact*; the line printed (visible with
    ``pytest -s``) is what docs/validation.md records.
    """
    interval = t_interval(values)
    target = max_relative_half_width * abs(exact)
    print(f"VALIDATION | {label} | exact {exact:.6g} | mean {interval.mean:.6g} | "
          f"half-width {interval.half_width:.4g} ({interval.half_width / abs(exact):.2%}) | "
          f"CI [{interval.low:.6g}, {interval.high:.6g}] | "
          f"target {target:.4g} ({max_relative_half_width:.1%}) | R {interval.replications}")
    assert interval.contains(exact), (
        f"{label}: exact value {exact:.6g} lies outside the 99.9% interval {interval}")
    assert interval.half_width <= target, (
        f"{label}: half-width {interval.half_width:.4g} above target {target:.4g} "
        f"({max_relative_half_width:.1%} of {exact:.6g}): the check has too little power")
    return interval


# -- closed forms ---------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueMeasures:
    """Steady-state measures of a single queue: waits in seconds, numbers in units."""

    wq: float
    """Mean wait in queue."""
    w: float
    """Mean time in system (wait plus service)."""
    lq: float
    """Time-average number waiting."""
    l: float  # noqa: E741 - L is the standard name
    """Time-average number in system."""


def mm1(arrival_rate: float, service_rate: float) -> QueueMeasures:
    """M/M/1: Wq = rho/(mu - lambda), W = 1/(mu - lambda), L = rho/(1 - rho)."""
    rho = arrival_rate / service_rate
    wq = rho / (service_rate - arrival_rate)
    w = 1.0 / (service_rate - arrival_rate)
    return QueueMeasures(wq, w, arrival_rate * wq, rho / (1.0 - rho))


def mm1_wait_variance(arrival_rate: float, service_rate: float) -> float:
    """M/M/1 FIFO: Var(Wq) = rho (2 - rho) / (mu - lambda)^2."""
    rho = arrival_rate / service_rate
    return rho * (2.0 - rho) / (service_rate - arrival_rate) ** 2


def mg1_wait_variance(arrival_rate: float, m1: float, m2: float, m3: float) -> float:
    """M/G/1 FIFO (Takacs): Var(Wq) = Wq^2 + lambda E[S^3] / (3 (1 - rho)).

    *m1*, *m2*, *m3* are the first three raw moments of the service time.
    """
    rho = arrival_rate * m1
    wq = arrival_rate * m2 / (2.0 * (1.0 - rho))
    return wq**2 + arrival_rate * m3 / (3.0 * (1.0 - rho))


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float]:
    """M/M/c: (C, Wq) with a = lambda/mu, rho = a/c,
    P0 = [sum_{k<c} a^k/k! + a^c/(c!(1-rho))]^-1, C = a^c P0/(c!(1-rho)), Wq = C/(c mu - lambda).
    """
    a = arrival_rate / service_rate
    rho = a / servers
    tail = a**servers / (math.factorial(servers) * (1.0 - rho))
    p0 = 1.0 / (sum(a**k / math.factorial(k) for k in range(servers)) + tail)
    c = tail * p0
    return c, c / (servers * service_rate - arrival_rate)


def mmc(arrival_rate: float, service_rate: float, servers: int) -> QueueMeasures:
    """M/M/c measures from :func:`erlang_c`; L = Lq + a by Little's law."""
    _, wq = erlang_c(arrival_rate, service_rate, servers)
    w = wq + 1.0 / service_rate
    return QueueMeasures(wq, w, arrival_rate * wq, arrival_rate * w)


def pollaczek_khinchine(arrival_rate: float, mean_service: float, scv: float) -> QueueMeasures:
    """M/G/1: Wq = rho (1 + cs^2) E[S] / (2 (1 - rho)), the rest by Little's law."""
    rho = arrival_rate * mean_service
    wq = rho * (1.0 + scv) * mean_service / (2.0 * (1.0 - rho))
    w = wq + mean_service
    return QueueMeasures(wq, w, arrival_rate * wq, arrival_rate * w)


def mm1k_probabilities(arrival_rate: float, service_rate: float, capacity: int) -> list[float]:
    """M/M/1/K: P_n = (1 - rho) rho^n / (1 - rho^(K+1)), n = 0..K (K units in the system)."""
    rho = arrival_rate / service_rate
    norm = (1.0 - rho) / (1.0 - rho ** (capacity + 1))
    return [norm * rho**n for n in range(capacity + 1)]


def two_station_throughput(r1: float, r2: float, buffer: int) -> float:
    """Saturated exponential station (rate r1) feeding one (rate r2) through *buffer*
    places, blocking after service: TH = r1 (1 - u^(B+2)) / (1 - u^(B+3)), u = r1/r2;
    r (B+2)/(B+3) when balanced."""
    if math.isclose(r1, r2):
        return r1 * (buffer + 2) / (buffer + 3)
    u = r1 / r2
    return r1 * (1.0 - u ** (buffer + 2)) / (1.0 - u ** (buffer + 3))


@dataclass(frozen=True)
class EffectiveProcess:
    """Effective process time of a machine with preemptive breakdowns (Factory Physics 8.4)."""

    availability: float
    """A = mf / (mf + mr)."""
    te: float
    """Mean effective process time t0 / A."""
    ce2: float
    """Squared coefficient of variation c0^2 + (1 + cr^2) A (1 - A) mr / t0."""


def effective_process(t0: float, c0_sq: float, mf: float, mr: float,
                      cr_sq: float) -> EffectiveProcess:
    """Breakdowns counted in busy time, work resumes after repair, exponential time to failure."""
    availability = mf / (mf + mr)
    ce2 = c0_sq + (1.0 + cr_sq) * availability * (1.0 - availability) * mr / t0
    return EffectiveProcess(availability, t0 / availability, ce2)
