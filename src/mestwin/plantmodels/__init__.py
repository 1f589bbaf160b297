"""Level 0: SimPy models of the physical process and the ground-truth event log.

Nothing here knows about PLCs, the MES or the ERP; :mod:`mestwin.sim` builds plants from
scenarios and scores the upper levels against :class:`EventLog`.
"""

from mestwin.plantmodels.distributions import (
    Constant,
    Distribution,
    Empirical,
    Erlang,
    Exponential,
    LogNormal,
    Normal,
    Uniform,
    Weibull,
)
from mestwin.plantmodels.eventlog import EventKind, EventLog, Retention
from mestwin.plantmodels.flow import Order
from mestwin.plantmodels.losses import (
    FailureMode,
    MaterialUse,
    PlannedDowntime,
    QualityModel,
    SetupMatrix,
)
from mestwin.plantmodels.plant import Plant
from mestwin.plantmodels.results import PlantResult, StationResult
from mestwin.plantmodels.states import MachineState, TimeElement
from mestwin.plantmodels.station import Station
from mestwin.plantmodels.streams import RandomStreams

__all__ = [
    "Constant", "Distribution", "Empirical", "Erlang", "EventKind", "EventLog", "Exponential",
    "FailureMode", "LogNormal", "MachineState", "MaterialUse", "Normal", "Order",
    "PlannedDowntime", "Plant", "PlantResult", "QualityModel", "RandomStreams", "Retention",
    "SetupMatrix",
    "Station", "StationResult", "TimeElement", "Uniform", "Weibull",
]
