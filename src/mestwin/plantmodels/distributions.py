"""Random variates for process, arrival, failure and repair times.

A :class:`Distribution` is an immutable description (mean, squared coefficient of
variation); :meth:`Distribution.sampler` binds it to one numpy stream and returns a cheap
zero-argument callable. Samplers draw in batches so that the per-event cost is a list
index, not a numpy call: the hot path stays fast and the stream stays reproducible.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Sampler = Callable[[], float]
"""A zero-argument callable returning the next variate of one stream."""

BATCH = 512
"""Variates drawn from numpy at once per sampler."""


class Distribution(ABC):
    """A non-negative random duration or quantity."""

    @property
    @abstractmethod
    def mean(self) -> float:
        """Expected value."""

    @property
    @abstractmethod
    def scv(self) -> float:
        """Squared coefficient of variation, Var / mean^2 (0 for constants)."""

    @abstractmethod
    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw *n* variates from *rng*."""

    def sampler(self, rng: np.random.Generator) -> Sampler:
        """Return a callable that yields successive variates from *rng*, batch by batch."""
        buffer: list[float] = []
        draw = self.draw

        def sample() -> float:
            if not buffer:
                buffer.extend(reversed(draw(rng, BATCH).tolist()))
            return buffer.pop()

        return sample


@dataclass(frozen=True)
class Constant(Distribution):
    """Always *value*."""

    value: float

    @property
    def mean(self) -> float:
        return self.value

    @property
    def scv(self) -> float:
        return 0.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        value = float(self.value)
        return lambda: value


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential with the given *mean* (not rate)."""

    mean_: float

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def scv(self) -> float:
        return 1.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_, n)


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal(*mean*, *sd*) truncated at zero by resampling negative draws."""

    mean_: float
    sd: float

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def scv(self) -> float:
        return (self.sd / self.mean_) ** 2 if self.mean_ else 0.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        x = rng.normal(self.mean_, self.sd, n)
        negative = x < 0
        while negative.any():
            x[negative] = rng.normal(self.mean_, self.sd, int(negative.sum()))
            negative = x < 0
        return x


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Lognormal parameterised by its own *mean* and coefficient of variation *cv*."""

    mean_: float
    cv: float

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def scv(self) -> float:
        return self.cv**2

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), n)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on [*low*, *high*]."""

    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def scv(self) -> float:
        m = self.mean
        return ((self.high - self.low) ** 2 / 12) / m**2 if m else 0.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)


@dataclass(frozen=True)
class Erlang(Distribution):
    """Erlang-*k*: the sum of *k* exponentials, total *mean* (scv = 1/k)."""

    mean_: float
    k: int

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def scv(self) -> float:
        return 1.0 / self.k

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.k, self.mean_ / self.k, n)


@dataclass(frozen=True)
class Weibull(Distribution):
    """Weibull with *shape* k and *scale* lambda."""

    shape: float
    scale: float

    @property
    def mean(self) -> float:
        return self.scale * math.gamma(1 + 1 / self.shape)

    @property
    def scv(self) -> float:
        g1 = math.gamma(1 + 1 / self.shape)
        g2 = math.gamma(1 + 2 / self.shape)
        return g2 / g1**2 - 1

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * rng.weibull(self.shape, n)


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resamples the observed *values* with equal probability."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Empirical:
        """Build from any sequence of observations."""
        return cls(tuple(float(v) for v in values))

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def scv(self) -> float:
        m = self.mean
        var = sum((v - m) ** 2 for v in self.values) / len(self.values)
        return var / m**2 if m else 0.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), n)


def bernoulli(rng: np.random.Generator, p: float) -> Callable[[], bool]:
    """Return a callable that is true with probability *p*, drawn in batches from *rng*."""
    if p <= 0.0:
        return lambda: False
    buffer: list[bool] = []

    def trial() -> bool:
        if not buffer:
            buffer.extend((rng.random(BATCH) < p).tolist())
        return buffer.pop()

    return trial
