"""Distribution specs as written in scenario files: ``{dist: exponential, mean: 60s}``.

Each spec is a pydantic model tagged by ``dist`` and turns into a
:class:`mestwin.plantmodels.distributions.Distribution` with :meth:`build`. A bare duration
(``100s``) is shorthand for ``{dist: constant, value: 100s}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, model_validator

from mestwin.plantmodels import distributions as d
from mestwin.sim.scenario.durations import Duration, DurationInput, parse_duration


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
    k: StrictInt = Field(ge=1)

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


_SPECS = (ConstantSpec, ExponentialSpec, NormalSpec, LogNormalSpec, UniformSpec, ErlangSpec,
          WeibullSpec, EmpiricalSpec)
NAMES: tuple[str, ...] = tuple(get_args(spec.model_fields["dist"].annotation)[0]
                               for spec in _SPECS)
"""The ``dist`` names a scenario may use."""
EXAMPLE = "{dist: exponential, mean: 60s} or a duration such as 90s"


def _shorthand(value: Any) -> Any:
    """A bare duration is a constant; a mapping must name a known ``dist``.

    Checked here, before the union, so a mistake gives one message about this field rather
    than one per kind of distribution.
    """
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"dist": "constant", "value": parse_duration(value)}
    if not isinstance(value, dict):
        raise ValueError(f"expected a distribution such as {EXAMPLE}; got {value!r}")
    if "dist" not in value:
        raise ValueError(f"expected a distribution such as {EXAMPLE} (`dist` is missing)")
    if value["dist"] not in NAMES:
        raise ValueError(f"unknown distribution {value['dist']!r}; expected one of "
                         + ", ".join(NAMES))
    return value


_Specs = Annotated[
    ConstantSpec | ExponentialSpec | NormalSpec | LogNormalSpec | UniformSpec | ErlangSpec
    | WeibullSpec | EmpiricalSpec,
    Field(discriminator="dist"),
]

DistributionSpec = Annotated[
    _Specs, BeforeValidator(_shorthand, json_schema_input_type=DurationInput | _Specs)]
"""Any distribution spec, chosen by its ``dist`` field, or a bare duration (a constant)."""
