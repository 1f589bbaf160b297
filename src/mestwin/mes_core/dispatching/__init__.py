"""Dispatching for the MES core: priority rules, dispatch lists and the job-shop reference.

ISA-95 Part 3 names dispatching the MES activity that releases work to work centres in a
rule-given order; :mod:`.dispatcher` does it through the machines' PLCs; :mod:`.jobshop`
holds the benchmark instances and the non-delay schedule builder that a simulated shop is
validated against.
"""

from __future__ import annotations

from mestwin.mes_core.dispatching.dispatch_list import (
    Candidate,
    DispatchContext,
    DispatchList,
    Job,
    JobProgress,
    Operation,
    candidates_at,
    dispatch_list,
    order,
)
from mestwin.mes_core.dispatching.dispatcher import (
    WORK_ORDER,
    Dispatcher,
    DispatchRecord,
    jobs_from_routings,
)
from mestwin.mes_core.dispatching.jobshop import (
    Instance,
    Schedule,
    ScheduledOperation,
    check_schedule,
    load_benchmark,
    load_instance,
    non_delay_schedule,
    parse_instance,
)
from mestwin.mes_core.dispatching.rules import (
    ATC,
    ATCS,
    CR,
    EDD,
    FIFO,
    LPT,
    LWKR,
    MOPNR,
    MWKR,
    RULES,
    SOPN,
    SPT,
    KeyRule,
    Rule,
    SetupFamily,
    SortKey,
    get_rule,
)

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
    "WORK_ORDER",
    "Candidate",
    "DispatchContext",
    "DispatchList",
    "DispatchRecord",
    "Dispatcher",
    "Instance",
    "Job",
    "JobProgress",
    "KeyRule",
    "Operation",
    "Rule",
    "Schedule",
    "ScheduledOperation",
    "SetupFamily",
    "SortKey",
    "candidates_at",
    "check_schedule",
    "dispatch_list",
    "get_rule",
    "jobs_from_routings",
    "load_benchmark",
    "load_instance",
    "non_delay_schedule",
    "order",
    "parse_instance",
]
