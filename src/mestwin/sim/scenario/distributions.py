"""Distribution specs as written in scenario files: ``{dist: exponential, mean: 60s}``.

Each spec is a pydantic model tagged by ``dist`` and turns into a
:class:`mestwin.plantmodels.distributions.Distribution` with :meth:`build`. A bare duration
(``100s``) is shorthand for ``{dist: constant, value: 100s}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from mestwin.plantmodels import distributions as d
from mestwin.sim.scenario.durations import Duration, parse_duration


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConstantSpec(_Spec):
    dist: Literal["constant"]
    value: Duration

    def build(self) -> d.Distribution:
        return d.Constant(self.value)


class ExponentialSpec(_Spec):
    dist: Literal["exponential"]
    mean: Duration = Field(gt=0)

    def build(self) -> d.Distribution:
        return d.Exponential(self.mean)


class NormalSpec(_Spec):
    dist: Literal["normal"]
    mean: Duration = Field(gt=0)
    sd: Duration

    def build(self) -> d.Distribution:
        return d.Normal(self.mean, self.sd)


class LogNormalSpec(_Spec):
    dist: Literal["lognormal"]
    mean: Duration = Field(gt=0)
    cv: float = Field(gt=0)

    def build(self) -> d.Distribution:
        return d.LogNormal(self.mean, self.cv)


class UniformSpec(_Spec):
    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> UniformSpec:
        if self.high < self.low:
            raise ValueError("expected low <= high")
        return self

    def build(self) -> d.Distribution:
        return d.Uniform(self.low, self.high)


class ErlangSpec(_Spec):
    dist: Literal["erlang"]
    mean: Duration = Field(gt=0)
    k: int = Field(ge=1)

    def build(self) -> d.Distribution:
        return d.Erlang(self.mean, self.k)


class WeibullSpec(_Spec):
    dist: Literal["weibull"]
    shape: float = Field(gt=0)
    scale: Duration = Field(gt=0)

    def build(self) -> d.Distribution:
        return d.Weibull(self.shape, self.scale)


class EmpiricalSpec(_Spec):
    dist: Literal["empirical"]
    values: list[Duration] = Field(min_length=1)

    def build(self) -> d.Distribution:
        return d.Empirical.of(self.values)


def _shorthand(value: Any) -> Any:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"dist": "constant", "value": parse_duration(value)}
    return value


DistributionSpec = Annotated[
    ConstantSpec | ExponentialSpec | NormalSpec | LogNormalSpec | UniformSpec | ErlangSpec
    | WeibullSpec | EmpiricalSpec,
    Field(discriminator="dist"),
    BeforeValidator(_shorthand),
]
"""Any distribution spec, chosen by its ``dist`` field."""
