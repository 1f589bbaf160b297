"""Job order download to a virtual machine (OPC 40001-3 Machinery Job Management on ISA-95
Job Control, OPC 10031-4), as plain Python plus its OPC UA methods.

A :class:`JobOrderList` is the job receiver of one machine. An MES downloads orders with
``Store`` (state 1 NotAllowedToStart) or ``StoreAndStart`` (state 2 AllowedToStart), releases a
stored order with ``Start``, and ends it with ``Stop`` (Ended) or ``Abort`` (Aborted);
``Pause``/``Resume`` interrupt a running order; ``Cancel`` removes an order that has not run,
``Clear`` one that is finished. Job states (OPC 10031-4 ISA95JobOrderStateMachine, top level):

====  ====================
1     NotAllowedToStart
2     AllowedToStart
3     Running
4     Interrupted
5     Ended
6     Aborted
====  ====================

The list follows the machine in :meth:`JobOrderList.update` (called by the server on every
publish): the oldest AllowedToStart order runs when PackML is in Execute, a running order is
Interrupted while the machine is not producing and Running again when it is, and it is Ended
once the machine has processed the ordered quantity (``Admin.ProdProcessedCount[0].AccCount``
delta). The job response of each order carries its actual processed / defective quantities and
start and end times (``PACDateTime``). Job control does not command the machine: the MES still
sends PackML commands.

Every method answers a ``ReturnStatus`` (UInt64): :class:`ReturnStatus`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from asyncua import ua

from mestwin.virtual_plc.tags import MESSAGE, TAG_BY_PATH

ID_LENGTH = TAG_BY_PATH["JobManagement.JobOrderID"].length
"""Maximum characters of a JobOrderID and a MaterialDefinitionID (the JobOrderID tag's)."""
DESCRIPTION_LENGTH = MESSAGE
"""Maximum characters of a job order's Description."""

__all__ = [
    "DESCRIPTION_LENGTH",
    "ID_LENGTH",
    "JobOrder",
    "JobOrderList",
    "JobState",
    "MachineSample",
    "ReturnStatus",
    "UaArgument",
    "UaMethod",
    "job_methods",
]


class JobState(enum.IntEnum):
    """OPC 10031-4 job order states (top level)."""

    NOT_ALLOWED_TO_START = 1
    ALLOWED_TO_START = 2
    RUNNING = 3
    INTERRUPTED = 4
    ENDED = 5
    ABORTED = 6


class ReturnStatus(enum.IntEnum):
    """Result of a job method (the ``ReturnStatus`` output argument)."""

    OK = 0
    UNKNOWN_JOB_ORDER = 1
    INVALID_STATE = 2
    INVALID_REQUEST = 3  # duplicate id, empty id, zero quantity


_FINAL = frozenset({JobState.ENDED, JobState.ABORTED})
_WAITING = frozenset({JobState.NOT_ALLOWED_TO_START, JobState.ALLOWED_TO_START})
_ACTIVE = frozenset({JobState.RUNNING, JobState.INTERRUPTED})


@dataclass
class JobOrder:
    """One downloaded job order and its response (actuals)."""

    job_order_id: str
    material_id: str  # product (ISA-95 MaterialDefinitionID)
    quantity: int
    description: str = ""
    state: JobState = JobState.NOT_ALLOWED_TO_START
    processed: int = 0  # actual quantity processed while this order was active
    defective: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    paused: bool = False
    _processed_origin: int | None = field(default=None, repr=False)
    _defective_origin: int | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The order as JSON types (what ``JobOrderList`` shows over OPC UA)."""
        data = asdict(self)
        for key in [k for k in data if k.startswith("_")]:
            del data[key]
        data["state"] = int(self.state)
        data["state_name"] = self.state.name
        for key in ("start_time", "end_time"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data


@dataclass(frozen=True)
class MachineSample:
    """What :meth:`JobOrderList.update` reads from the machine."""

    executing: bool  # PackML Execute
    processed: int  # ProdProcessedCount[0].AccCount
    defective: int  # ProdDefectiveCount[0].AccCount
    clock: datetime  # PACDateTime


class JobOrderList:
    """The job orders of one machine, in download order."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._orders: dict[str, JobOrder] = {}
        self._on_change = on_change
        self._clock: datetime | None = None  # PACDateTime of the last update
        self.version = 0  # bumped on every change, so servers know when to republish

    def __iter__(self) -> Any:
        return iter(list(self._orders.values()))

    def __len__(self) -> int:
        return len(self._orders)

    def get(self, job_order_id: str) -> JobOrder | None:
        return self._orders.get(job_order_id)

    def _changed(self) -> ReturnStatus:
        self.version += 1
        if self._on_change is not None:
            self._on_change()
        return ReturnStatus.OK

    # -- methods (OPC 40001-3 names) -------------------------------------------------

    def store(
        self, job_order_id: str, material_id: str, quantity: int, description: str = ""
    ) -> ReturnStatus:
        """Download an order in state NotAllowedToStart.

        Refused (INVALID_REQUEST, nothing stored): an empty or duplicate id, a quantity
        that is not positive, and strings longer than their limits (:data:`ID_LENGTH`
        characters for the ids, :data:`DESCRIPTION_LENGTH` for the description)."""
        too_long = (len(job_order_id) > ID_LENGTH or len(material_id) > ID_LENGTH
                    or len(description) > DESCRIPTION_LENGTH)
        if not job_order_id or quantity <= 0 or job_order_id in self._orders or too_long:
            return ReturnStatus.INVALID_REQUEST
        self._orders[job_order_id] = JobOrder(job_order_id, material_id, quantity, description)
        return self._changed()

    def store_and_start(
        self, job_order_id: str, material_id: str, quantity: int, description: str = ""
    ) -> ReturnStatus:
        """Download an order already released (AllowedToStart)."""
        status = self.store(job_order_id, material_id, quantity, description)
        if status is not ReturnStatus.OK:
            return status
        return self.start(job_order_id)

    def _transition(
        self, job_order_id: str, allowed: frozenset[JobState], target: JobState
    ) -> ReturnStatus:
        order = self._orders.get(job_order_id)
        if order is None:
            return ReturnStatus.UNKNOWN_JOB_ORDER
        if order.state not in allowed:
            return ReturnStatus.INVALID_STATE
        order.state = target
        if target in _FINAL:
            order.end_time = self._clock
        return self._changed()

    def start(self, job_order_id: str) -> ReturnStatus:
        """Release a stored order: NotAllowedToStart -> AllowedToStart."""
        return self._transition(
            job_order_id, frozenset({JobState.NOT_ALLOWED_TO_START}), JobState.ALLOWED_TO_START
        )

    def revoke_start(self, job_order_id: str) -> ReturnStatus:
        """Take a release back: AllowedToStart -> NotAllowedToStart."""
        return self._transition(
            job_order_id, frozenset({JobState.ALLOWED_TO_START}), JobState.NOT_ALLOWED_TO_START
        )

    def pause(self, job_order_id: str) -> ReturnStatus:
        """Interrupt a running order until :meth:`resume`."""
        order = self._orders.get(job_order_id)
        if order is not None and order.state in _ACTIVE:
            order.paused = True
        return self._transition(job_order_id, _ACTIVE, JobState.INTERRUPTED)

    def resume(self, job_order_id: str) -> ReturnStatus:
        """Let a paused order run again (it runs when the machine executes)."""
        order = self._orders.get(job_order_id)
        if order is None:
            return ReturnStatus.UNKNOWN_JOB_ORDER
        if order.state is not JobState.INTERRUPTED or not order.paused:
            return ReturnStatus.INVALID_STATE
        order.paused = False
        return self._changed()

    def stop(self, job_order_id: str) -> ReturnStatus:
        """End an order early (Ended, with the actuals so far)."""
        return self._transition(job_order_id, _ACTIVE | _WAITING, JobState.ENDED)

    def abort(self, job_order_id: str) -> ReturnStatus:
        """Abort an order that is not finished."""
        return self._transition(job_order_id, _ACTIVE | _WAITING, JobState.ABORTED)

    def cancel(self, job_order_id: str) -> ReturnStatus:
        """Remove an order that never ran."""
        return self._remove(job_order_id, _WAITING)

    def clear(self, job_order_id: str) -> ReturnStatus:
        """Remove a finished order (Ended or Aborted) from the list."""
        return self._remove(job_order_id, _FINAL)

    def _remove(self, job_order_id: str, allowed: frozenset[JobState]) -> ReturnStatus:
        order = self._orders.get(job_order_id)
        if order is None:
            return ReturnStatus.UNKNOWN_JOB_ORDER
        if order.state not in allowed:
            return ReturnStatus.INVALID_STATE
        del self._orders[job_order_id]
        return self._changed()

    # -- following the machine ------------------------------------------------------------

    def active(self) -> JobOrder | None:
        """The order the machine is working on (Running or Interrupted), if any."""
        return next((o for o in self._orders.values() if o.state in _ACTIVE), None)

    def update(self, sample: MachineSample) -> None:
        """Advance the orders with the machine's state and counters."""
        self._clock = sample.clock
        changed = False
        order = self.active()
        if order is None:
            order = next(
                (o for o in self._orders.values() if o.state is JobState.ALLOWED_TO_START), None
            )
            if order is None or not sample.executing:
                return
            order.state = JobState.RUNNING
            order.start_time = sample.clock
            order._processed_origin = sample.processed
            order._defective_origin = sample.defective
            changed = True
        processed = sample.processed - (order._processed_origin or 0)
        defective = sample.defective - (order._defective_origin or 0)
        if (processed, defective) != (order.processed, order.defective):
            order.processed, order.defective = processed, defective
            changed = True
        wanted = JobState.RUNNING if sample.executing and not order.paused else JobState.INTERRUPTED
        if order.processed >= order.quantity:
            wanted = JobState.ENDED
            order.end_time = sample.clock
        if wanted is not order.state:
            order.state = wanted
            changed = True
        if changed:
            self._changed()

    def to_json(self) -> str:
        """The list as a JSON array (the value of the ``JobOrderList`` variable)."""
        return json.dumps([o.to_json() for o in self._orders.values()])


# -- OPC UA binding -------------------------------------------------------------------------


@dataclass(frozen=True)
class UaArgument:
    """One input or output argument of an OPC UA method."""

    name: str
    variant_type: ua.VariantType
    description: str = ""
    max_length: int = 0
    """Maximum characters of a String argument (0: no limit); longer is Bad_OutOfRange."""


@dataclass(frozen=True)
class UaMethod:
    """An OPC UA method: its arguments and the handler the server calls.

    ``handler`` takes the input values (already of the declared types) and returns the
    output values, or a ``ua.StatusCode`` to fail the call.
    """

    name: str
    inputs: tuple[UaArgument, ...]
    outputs: tuple[UaArgument, ...]
    handler: Callable[[list[Any]], list[Any] | ua.StatusCode]
    description: str = ""


_ID = UaArgument(
    "JobOrderID", ua.VariantType.String, f"Id of the job order (at most {ID_LENGTH} characters)",
    ID_LENGTH,
)
_STORE_ARGS = (
    _ID,
    UaArgument("MaterialDefinitionID", ua.VariantType.String,
               f"Product to make (at most {ID_LENGTH} characters)", ID_LENGTH),
    UaArgument("Quantity", ua.VariantType.UInt32, "Units to process"),
    UaArgument("Description", ua.VariantType.String,
               f"Free text (at most {DESCRIPTION_LENGTH} characters)", DESCRIPTION_LENGTH),
)
_STATUS = (UaArgument("ReturnStatus", ua.VariantType.UInt64, "0 OK, 1 unknown, 2 state, 3 bad"),)


def job_methods(jobs: JobOrderList) -> list[UaMethod]:
    """The JobManagement methods of one machine, bound to *jobs*."""

    def by_id(action: Callable[[str], ReturnStatus]) -> Callable[[list[Any]], list[Any]]:
        return lambda args: [int(action(str(args[0])))]

    def storing(
        action: Callable[[str, str, int, str], ReturnStatus],
    ) -> Callable[[list[Any]], list[Any]]:
        return lambda args: [int(action(str(args[0]), str(args[1]), int(args[2]), str(args[3])))]

    simple = {
        "Start": (jobs.start, "Release a stored job order"),
        "RevokeStart": (jobs.revoke_start, "Take a release back"),
        "Pause": (jobs.pause, "Interrupt the running job order"),
        "Resume": (jobs.resume, "Resume a paused job order"),
        "Stop": (jobs.stop, "End a job order early"),
        "Abort": (jobs.abort, "Abort a job order"),
        "Cancel": (jobs.cancel, "Remove a job order that never ran"),
        "Clear": (jobs.clear, "Remove an ended or aborted job order"),
    }
    methods = [
        UaMethod("Store", _STORE_ARGS, _STATUS, storing(jobs.store), "Download a job order"),
        UaMethod(
            "StoreAndStart",
            _STORE_ARGS,
            _STATUS,
            storing(jobs.store_and_start),
            "Download and release a job order",
        ),
    ]
    methods += [
        UaMethod(name, (_ID,), _STATUS, by_id(action), text)
        for name, (action, text) in simple.items()
    ]
    return methods
