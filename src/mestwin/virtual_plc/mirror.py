"""What the PLC shows for the plant: the physical-to-PackML mirror, what client commands do
to the station, and the tags tied to the state.

:data:`MIRROR` is PackML's own rule, in one place: starved or blocked is an external
condition -> Suspended; a minor stop is an internal condition the machine recovers from ->
Held; a breakdown (any other DOWN reason) is a fault -> Aborted; planned downtime and
commanded stops -> Stopped; processing and setup -> Execute. :func:`publish_packml` and
:func:`publish_physical` write every tag that depends on the PackML or the physical state
(StateCurrent, StateRequested, StateChangeInProcess, state times, MachineryItemState,
interlocks, the alarm, JobState, Signals), so they agree at every instant the PLC changes
state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from simpy.events import EventPriority

from mestwin.virtual_plc.machinery import item_state, job_state, operation_mode
from mestwin.virtual_plc.packml import Command, PackMLMachine, State, StateNumbering
from mestwin.virtual_plc.port import StationPort
from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import stop_reason

# Physical machine states (mestwin.plantmodels.states.MachineState codes, see port.py).
IDLE, PROCESSING, SETUP, BLOCKED, DOWN, PLANNED_DOWN, STOPPED, HELD = range(8)

MIRROR: Mapping[tuple[int, str | None], State] = MappingProxyType({
    (IDLE, None): State.SUSPENDED,
    (PROCESSING, None): State.EXECUTE,
    (SETUP, None): State.EXECUTE,
    (BLOCKED, None): State.SUSPENDED,
    (DOWN, "minor_stop"): State.HELD,
    (DOWN, None): State.ABORTED,
    (PLANNED_DOWN, None): State.STOPPED,
    (STOPPED, None): State.STOPPED,
    (HELD, None): State.HELD,
})
"""(physical state, reason or None for any) -> the PackML state the PLC shows for it."""

STATION_ACTIONS: Mapping[Command, tuple[str, str]] = MappingProxyType({
    Command.START: ("start", ""),
    Command.STOP: ("stop", "operator_stop"),
    Command.RESET: ("stop", "operator_stop"),
    Command.CLEAR: ("stop", "operator_stop"),
    Command.ABORT: ("stop", "abort"),
    Command.COMPLETE: ("stop", "complete"),
    Command.HOLD: ("hold", "operator_hold"),
    Command.SUSPEND: ("hold", "operator_hold"),
    Command.UNHOLD: ("unhold", ""),
    Command.UNSUSPEND: ("unhold", ""),
})
"""What an accepted client command does to the station: (method, stop reason shown).

Start also releases a hold, so Start always means "run". Reset and Clear keep the station
stopped, so a station repaired under an operator's Clear does not restart on its own."""

RESET_MODES = ("auto", "operator")
"""``reset``: how an Aborted machine comes back: the PLC clears it by itself, or it waits
for an operator's Clear, Reset and Start."""
END_OF_INSTANT = EventPriority(2)
"""After URGENT (0) and NORMAL (1): the PLC follows the plant once its instant is over."""
RUNNING = frozenset({PROCESSING, SETUP})
"""Physical states that are production (PackML Execute)."""


def publish_packml(tags: TagValues, packml: PackMLMachine, numbering: StateNumbering,
                   now: float) -> None:
    """Write the tags that depend on the PackML state alone, at *now*."""
    put = tags.set
    state = packml.state
    put("PackTags.Status.StateCurrent", numbering.code(state))
    put("PackTags.Status.StateRequested", numbering.code(packml.requested))
    put("PackTags.Status.StateChangeInProcess", packml.acting)
    put("PackTags.Admin.StateCurrentTime", packml.state_current_time(now))
    put("PackTags.Admin.StateCumulativeTime", packml.state_cumulative_time(now))
    put("MachineryItemState.CurrentState", item_state(state))
    put("Signals.Running", state is State.EXECUTE)
    put("Signals.Held", state in (State.HOLDING, State.HELD))


def publish_physical(tags: TagValues, st: StationPort, packml: PackMLMachine,
                     pac: datetime) -> None:
    """Write the tags that depend on the physical state (interlocks, the alarm, speed,
    operation mode, job, Faulted); *pac* dates a new alarm."""
    put = tags.set
    physical = int(st.state)
    state = packml.state
    order = (st.current_order or "")[:32]
    design = st.design_rate_per_h / 60.0
    starved, blocked = physical == IDLE, physical == BLOCKED
    put("PackTags.Status.CurMachSpeed", float(design * st.speed) if physical == PROCESSING
        else 0.0)
    put("PackTags.Status.EquipmentInterlock.Blocked", blocked)
    put("PackTags.Status.EquipmentInterlock.Starved", starved)
    alarm = physical == DOWN
    code = stop_reason(st.reason) if alarm else stop_reason("")
    if alarm and tags["PackTags.Admin.Alarm[0].ID"] != code.id:
        put("PackTags.Admin.Alarm[0].DateTime", pac)
    put("PackTags.Admin.AlarmExtent", int(alarm))
    put("PackTags.Admin.Alarm[0].ID", code.id)
    put("PackTags.Admin.Alarm[0].Value", physical if alarm else 0)
    put("PackTags.Admin.Alarm[0].Message", code.message if alarm else "")
    put("MachineryOperationMode.CurrentState", operation_mode(packml.mode, physical))
    put("JobManagement.JobOrderID", order)
    put("JobManagement.JobState", job_state(state, bool(order)))
    put("Signals.Faulted", state in (State.ABORTING, State.ABORTED) or alarm)
    put("Signals.Blocked", blocked)
    put("Signals.Starved", starved)
