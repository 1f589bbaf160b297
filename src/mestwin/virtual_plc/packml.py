"""The PackML state machine of ISA-TR88.00.02 (OMAC PackML), pure Python and clock-agnostic.

:class:`PackMLMachine` holds the current :class:`State` and :class:`UnitMode` and takes
:class:`Command` values: a command not allowed in the current state is refused (never
queued); an acting state (Resetting, Starting, ...) completes by itself after its acting time
(default 0 s): :meth:`~PackMLMachine.tick` completes it once the time is over and
:meth:`~PackMLMachine.complete` at the instant its timer fires (the PLC schedules one, see
:meth:`~PackMLMachine.remaining`). It also accounts the time spent in each state and mode (PackTags
``Admin.StateCurrentTime``, ``StateCumulativeTime``, ``ModeCumulativeTime``).

Transitions (:data:`TRANSITIONS`): Stopped -Reset-> Resetting -> Idle -Start-> Starting ->
Execute; Execute -Complete-> Completing -> Complete -Reset-> Resetting; Execute -Hold->
Holding -> Held -Unhold-> Unholding -> Execute; Execute -Suspend-> Suspending -> Suspended
-Unsuspend-> Unsuspending -> Execute; every state but Aborting/Aborted -Abort-> Aborting ->
Aborted -Clear-> Clearing -> Stopped; Stop is taken everywhere except Stopped, Stopping,
Clearing, Aborting and Aborted.

The integer a protocol shows for a state is a per-protocol :class:`StateNumbering`
(:data:`PACKML_NUMBERING` is the common PLC one, Stopped = 2, Execute = 6).
"""

from __future__ import annotations

import enum
import functools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class State(enum.IntEnum):
    """PackML states; values are the common PLC codes of ``Status.StateCurrent``."""

    UNDEFINED = 0
    CLEARING = 1
    STOPPED = 2
    STARTING = 3
    IDLE = 4
    SUSPENDED = 5
    EXECUTE = 6
    STOPPING = 7
    ABORTING = 8
    ABORTED = 9
    HOLDING = 10
    HELD = 11
    UNHOLDING = 12
    SUSPENDING = 13
    UNSUSPENDING = 14
    RESETTING = 15
    COMPLETING = 16
    COMPLETE = 17


class Command(enum.IntEnum):
    """PackML commands, the values of ``Command.CntrlCmd``."""

    UNDEFINED = 0
    RESET = 1
    START = 2
    STOP = 3
    HOLD = 4
    UNHOLD = 5
    SUSPEND = 6
    UNSUSPEND = 7
    ABORT = 8
    CLEAR = 9
    COMPLETE = 10


class UnitMode(enum.IntEnum):
    """PackML unit modes (4-31 are user defined and not used here)."""

    INVALID = 0
    PRODUCTION = 1
    MAINTENANCE = 2
    MANUAL = 3


STATE_COMPLETE: Mapping[State, State] = MappingProxyType({
    State.CLEARING: State.STOPPED,
    State.STARTING: State.EXECUTE,
    State.STOPPING: State.STOPPED,
    State.ABORTING: State.ABORTED,
    State.HOLDING: State.HELD,
    State.UNHOLDING: State.EXECUTE,
    State.SUSPENDING: State.SUSPENDED,
    State.UNSUSPENDING: State.EXECUTE,
    State.RESETTING: State.IDLE,
    State.COMPLETING: State.COMPLETE,
})
"""Acting states and the state each one ends in by itself ("state complete")."""

ACTING_STATES: frozenset[State] = frozenset(STATE_COMPLETE)
"""States that complete by themselves; all other states wait for a command."""

_NO_STOP = frozenset({State.STOPPED, State.STOPPING, State.CLEARING, State.ABORTING,
                      State.ABORTED})
_NO_ABORT = frozenset({State.ABORTING, State.ABORTED})


def _table() -> dict[tuple[State, Command], State]:
    table = {
        (State.STOPPED, Command.RESET): State.RESETTING,
        (State.IDLE, Command.START): State.STARTING,
        (State.EXECUTE, Command.COMPLETE): State.COMPLETING,
        (State.COMPLETE, Command.RESET): State.RESETTING,
        (State.EXECUTE, Command.HOLD): State.HOLDING,
        (State.HELD, Command.UNHOLD): State.UNHOLDING,
        (State.EXECUTE, Command.SUSPEND): State.SUSPENDING,
        (State.SUSPENDED, Command.UNSUSPEND): State.UNSUSPENDING,
        (State.ABORTED, Command.CLEAR): State.CLEARING,
    }
    for state in State:
        if state not in _NO_STOP:
            table[state, Command.STOP] = State.STOPPING
        if state not in _NO_ABORT:
            table[state, Command.ABORT] = State.ABORTING
    return table


TRANSITIONS: Mapping[tuple[State, Command], State] = MappingProxyType(_table())
"""(state, command) -> next state for every accepted command; any pair not here is refused."""


def transition(state: State, command: Command) -> State | None:
    """The state *command* leads to from *state*, or None if it is refused there."""
    return TRANSITIONS.get((state, command))


@functools.cache
def route(start: State, target: State) -> tuple[Command, ...]:
    """The shortest sequence of commands that drives the machine from *start* to *target*.

    Acting states are passed through as they complete by themselves; ties are broken by the
    lowest command code, so the route is deterministic. Empty if *start* is *target* or if
    *target* cannot be reached. The PLC uses it to follow the physical machine (cached: the
    table is fixed).
    """
    if start is target:
        return ()
    seen = {start}
    queue: deque[tuple[State, tuple[Command, ...]]] = deque([(start, ())])
    while queue:
        state, path = queue.popleft()
        for command in Command:
            nxt = TRANSITIONS.get((state, command))
            while nxt is not None and nxt in STATE_COMPLETE and nxt is not target:
                nxt = STATE_COMPLETE[nxt]
            if nxt is None or nxt in seen:
                continue
            if nxt is target:
                return (*path, command)
            seen.add(nxt)
            queue.append((nxt, (*path, command)))
    return ()


@dataclass(frozen=True)
class StateNumbering:
    """How one protocol numbers the PackML states (a bijection State <-> int)."""

    name: str
    codes: Mapping[State, int]

    def __post_init__(self) -> None:
        if set(self.codes) != set(State) or len(set(self.codes.values())) != len(State):
            raise ValueError(f"numbering {self.name!r} must give every state a distinct code")

    def code(self, state: State) -> int:
        """The integer this protocol shows for *state*."""
        return self.codes[state]

    def state(self, code: int) -> State:
        """The state this protocol means by *code*; raises :class:`KeyError` if none."""
        for state, value in self.codes.items():
            if value == code:
                return state
        raise KeyError(code)


PACKML_NUMBERING = StateNumbering("PackML", MappingProxyType({s: int(s) for s in State}))
"""The numbering most PLC implementations use (ISA-TR88.00.02 table, Stopped = 2)."""


@dataclass(frozen=True)
class CommandResult:
    """What became of a command given to a :class:`PackMLMachine`."""

    command: Command
    accepted: bool
    before: State
    after: State
    """The state after the command (``before`` when refused)."""
    reason: str = ""
    """Why a command was refused; empty when accepted."""


class PackMLMachine:
    """One PackML unit: current state, unit mode and the time spent in each.

    *now* is the time (seconds, any clock) the machine starts at, in *state* and *mode*.
    *acting_time_s* is how long an acting state lasts, either one value for all or a mapping
    per state (missing states: 0). Pass the current time to every call; it must not
    decrease.
    """

    def __init__(self, now: float = 0.0, state: State = State.STOPPED,
                 mode: UnitMode = UnitMode.PRODUCTION,
                 acting_time_s: float | Mapping[State, float] = 0.0) -> None:
        self._state = state
        self._mode = mode
        self._acting = acting_time_s
        self._since = now
        """When the current state was entered."""
        self._mode_since = now
        self._last = now
        self._state_time: dict[tuple[UnitMode, State], float] = {}
        self._mode_time: dict[UnitMode, float] = {}

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def mode(self) -> UnitMode:
        """The current unit mode (``Status.UnitModeCurrent``)."""
        return self._mode

    @property
    def acting(self) -> bool:
        """True in an acting state (``Status.StateChangeInProcess``)."""
        return self._state in ACTING_STATES

    @property
    def requested(self) -> State:
        """The state an acting state leads to, else the current state (``StateRequested``)."""
        return STATE_COMPLETE.get(self._state, self._state)

    @property
    def since(self) -> float:
        """When the current state was entered."""
        return self._since

    def acting_time(self, state: State) -> float:
        """How long the acting *state* lasts."""
        if isinstance(self._acting, Mapping):
            return float(self._acting.get(state, 0.0))
        return float(self._acting)

    def command(self, command: Command | int, now: float) -> CommandResult:
        """Take *command* if the current state allows it, else refuse it (nothing is queued)."""
        before = self._state
        try:
            cmd = Command(command)
        except ValueError:
            return CommandResult(Command.UNDEFINED, False, before, before,
                                 f"{command} is not a PackML command")
        nxt = TRANSITIONS.get((before, cmd))
        if nxt is None:
            return CommandResult(cmd, False, before, before,
                                 f"{cmd.name} is not allowed in {before.name}")
        self._enter(nxt, now)
        return CommandResult(cmd, True, before, nxt)

    def tick(self, now: float) -> State | None:
        """Complete an acting state whose acting time is over; return the new state if so."""
        self._account(now)
        nxt = STATE_COMPLETE.get(self._state)
        if nxt is None or now - self._since < self.acting_time(self._state):
            return None
        self._enter(nxt, now)
        return nxt

    def remaining(self, now: float) -> float:
        """Seconds left in the current acting state at *now* (0 if over or not acting)."""
        if self._state not in STATE_COMPLETE:
            return 0.0
        return max(0.0, self.acting_time(self._state) - (now - self._since))

    def complete(self, now: float) -> State | None:
        """Complete the current acting state at *now* whatever is left of its time (the
        instant its timer fires: no rounding of ``since + time - since``); return the new
        state, or None if not in an acting state."""
        nxt = STATE_COMPLETE.get(self._state)
        if nxt is None:
            return None
        self._enter(nxt, now)
        return nxt

    def change_mode(self, mode: UnitMode | int, now: float) -> bool:
        """Switch to unit *mode* if the machine is in a wait state other than Execute.

        Returns False (and changes nothing) in Execute, in an acting state, or for
        ``INVALID`` or an unknown mode.
        """
        try:
            new = UnitMode(mode)
        except ValueError:
            return False
        if new is UnitMode.INVALID or self.acting or self._state is State.EXECUTE:
            return False
        self._account(now)
        if new is not self._mode:
            self._mode = new
            self._mode_since = now
        return True

    def state_current_time(self, now: float) -> float:
        """Seconds since the current state was entered."""
        return now - self._since

    def state_cumulative_time(self, now: float, state: State | None = None,
                              mode: UnitMode | None = None) -> float:
        """Seconds spent in *state* (default: current) in *mode* (default: current), all visits."""
        self._account(now)
        return self._state_time.get((mode or self._mode, self._state if state is None else state),
                                    0.0)

    def mode_current_time(self, now: float) -> float:
        """Seconds since the current unit mode was entered."""
        return now - self._mode_since

    def mode_cumulative_time(self, now: float, mode: UnitMode | None = None) -> float:
        """Seconds spent in *mode* (default: current), all visits."""
        self._account(now)
        return self._mode_time.get(mode or self._mode, 0.0)

    def _account(self, now: float) -> None:
        dt = now - self._last
        if dt < 0:
            raise ValueError(f"time went backwards: {now} < {self._last}")
        if dt:
            key = (self._mode, self._state)
            self._state_time[key] = self._state_time.get(key, 0.0) + dt
            self._mode_time[self._mode] = self._mode_time.get(self._mode, 0.0) + dt
            self._last = now

    def _enter(self, state: State, now: float) -> None:
        self._account(now)
        self._state = state
        self._since = now
