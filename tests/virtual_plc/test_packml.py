"""The PackML state machine (ISA-TR88.00.02), checked against the reference's table."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from mestwin.virtual_plc.packml import (
    ACTING_STATES,
    PACKML_NUMBERING,
    Command,
    PackMLMachine,
    State,
    StateNumbering,
    UnitMode,
    route,
)

S, C = State, Command

# Written from the reference (docs: PackML state model), independently of packml.py.
_EXPLICIT = {
    (S.STOPPED, C.RESET): S.RESETTING,
    (S.IDLE, C.START): S.STARTING,
    (S.EXECUTE, C.COMPLETE): S.COMPLETING,
    (S.COMPLETE, C.RESET): S.RESETTING,
    (S.EXECUTE, C.HOLD): S.HOLDING,
    (S.HELD, C.UNHOLD): S.UNHOLDING,
    (S.EXECUTE, C.SUSPEND): S.SUSPENDING,
    (S.SUSPENDED, C.UNSUSPEND): S.UNSUSPENDING,
    (S.ABORTED, C.CLEAR): S.CLEARING,
}
_NO_STOP = {S.STOPPED, S.STOPPING, S.CLEARING, S.ABORTING, S.ABORTED}
_NO_ABORT = {S.ABORTING, S.ABORTED}
_COMPLETES_TO = {
    S.RESETTING: S.IDLE, S.STARTING: S.EXECUTE, S.COMPLETING: S.COMPLETE,
    S.HOLDING: S.HELD, S.UNHOLDING: S.EXECUTE, S.SUSPENDING: S.SUSPENDED,
    S.UNSUSPENDING: S.EXECUTE, S.ABORTING: S.ABORTED, S.CLEARING: S.STOPPED,
    S.STOPPING: S.STOPPED,
}
_REFERENCE_CODES = {
    "UNDEFINED": 0, "CLEARING": 1, "STOPPED": 2, "STARTING": 3, "IDLE": 4, "SUSPENDED": 5,
    "EXECUTE": 6, "STOPPING": 7, "ABORTING": 8, "ABORTED": 9, "HOLDING": 10, "HELD": 11,
    "UNHOLDING": 12, "SUSPENDING": 13, "UNSUSPENDING": 14, "RESETTING": 15, "COMPLETING": 16,
    "COMPLETE": 17,
}


def _expected(state: State, command: Command) -> State | None:
    if command is C.STOP:
        return None if state in _NO_STOP else S.STOPPING
    if command is C.ABORT:
        return None if state in _NO_ABORT else S.ABORTING
    return _EXPLICIT.get((state, command))


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("command", list(Command))
def test_every_state_and_command_is_accepted_or_refused_as_the_reference_says(
        state: State, command: Command) -> None:
    """Each of the 18 x 11 (state, command) pairs either moves the machine to the state the
    reference gives, or is refused with a reason and leaves the state as it was."""
    machine = PackMLMachine(0.0, state)
    result = machine.command(command, 1.0)
    expected = _expected(state, command)
    if expected is None:
        assert not result.accepted
        assert result.reason
        assert machine.state is state
        assert result.after is state
    else:
        assert result.accepted, result.reason
        assert machine.state is expected
        assert (result.before, result.after) == (state, expected)


def test_refused_commands_are_not_queued() -> None:
    """A refused Start in Stopped does not fire later when the machine reaches Idle."""
    machine = PackMLMachine(0.0, S.STOPPED)
    assert not machine.command(C.START, 0.0).accepted
    machine.command(C.RESET, 1.0)
    machine.tick(2.0)
    assert machine.state is S.IDLE
    machine.tick(3.0)
    assert machine.state is S.IDLE


def test_unknown_command_codes_are_refused() -> None:
    """Codes outside 1-10 (0 included) are refused in every state."""
    for state in State:
        machine = PackMLMachine(0.0, state)
        for code in (0, 11, -1, 42):
            assert not machine.command(code, 1.0).accepted
            assert machine.state is state


@pytest.mark.parametrize("state", sorted(ACTING_STATES))
def test_acting_states_complete_by_themselves(state: State) -> None:
    """An acting state ends in the reference's next state at the first tick after its acting
    time, and not before."""
    machine = PackMLMachine(0.0, state, acting_time_s=2.0)
    assert machine.acting
    assert machine.requested is _COMPLETES_TO[state]
    assert machine.tick(1.0) is None
    assert machine.state is state
    assert machine.tick(2.0) is _COMPLETES_TO[state]
    assert machine.state is _COMPLETES_TO[state]


def test_acting_states_are_exactly_the_reference_ones() -> None:
    """The ten acting states of the reference table, no more."""
    assert set(_COMPLETES_TO) == ACTING_STATES


@pytest.mark.parametrize("state", [s for s in State if s not in ACTING_STATES])
def test_wait_states_never_change_by_themselves(state: State) -> None:
    """Ticking a wait state (or Execute) changes nothing however long it lasts."""
    machine = PackMLMachine(0.0, state)
    assert machine.tick(1e6) is None
    assert machine.state is state


def test_acting_time_per_state() -> None:
    """A mapping gives each acting state its own duration; states left out take one tick."""
    machine = PackMLMachine(0.0, S.STOPPED, acting_time_s={S.RESETTING: 5.0})
    machine.command(C.RESET, 0.0)
    assert machine.tick(4.9) is None
    assert machine.tick(5.0) is S.IDLE
    machine.command(C.START, 5.0)
    assert machine.tick(5.0) is S.EXECUTE


def test_a_full_production_cycle() -> None:
    """Stopped -Reset-> Idle -Start-> Execute -Hold-> Held -Unhold-> Execute -Complete->
    Complete -Reset-> Idle, each acting state lasting one tick."""
    machine = PackMLMachine(0.0)
    path = [(C.RESET, S.IDLE), (C.START, S.EXECUTE), (C.HOLD, S.HELD), (C.UNHOLD, S.EXECUTE),
            (C.SUSPEND, S.SUSPENDED), (C.UNSUSPEND, S.EXECUTE), (C.COMPLETE, S.COMPLETE),
            (C.RESET, S.IDLE), (C.ABORT, S.ABORTED), (C.CLEAR, S.STOPPED)]
    now = 0.0
    for command, reached in path:
        assert machine.command(command, now).accepted
        now += 1.0
        machine.tick(now)
        assert machine.state is reached


def test_default_numbering_is_the_reference_table() -> None:
    """StateCurrent codes are those most PLCs use (Stopped = 2, Execute = 6...)."""
    assert {s.name: PACKML_NUMBERING.code(s) for s in State} == _REFERENCE_CODES
    assert all(PACKML_NUMBERING.state(PACKML_NUMBERING.code(s)) is s for s in State)


def test_numbering_is_a_per_protocol_bijection() -> None:
    """Another protocol may number the states differently (Stopped = 0); codes must be
    distinct and cover every state."""
    order = [S.STOPPED, *[s for s in State if s is not S.STOPPED]]
    other = StateNumbering("stopped-first", MappingProxyType({s: i for i, s in enumerate(order)}))
    assert other.code(S.STOPPED) == 0
    assert other.state(0) is S.STOPPED
    with pytest.raises(KeyError):
        other.state(99)
    with pytest.raises(ValueError, match="distinct"):
        StateNumbering("broken", dict.fromkeys(State, 0))


def test_state_and_mode_times() -> None:
    """StateCurrentTime counts from entry; StateCumulativeTime adds up every visit of the
    state in the current mode; ModeCumulativeTime adds up time in the mode."""
    machine = PackMLMachine(0.0, S.STOPPED)
    machine.command(C.RESET, 10.0)
    machine.tick(11.0)
    assert machine.state is S.IDLE
    assert machine.state_current_time(15.0) == pytest.approx(4.0)
    machine.command(C.STOP, 15.0)
    machine.tick(16.0)
    assert machine.state_cumulative_time(20.0) == pytest.approx(10.0 + 4.0)
    assert machine.state_cumulative_time(20.0, S.IDLE) == pytest.approx(4.0)
    assert machine.mode_cumulative_time(20.0) == pytest.approx(20.0)
    assert machine.change_mode(UnitMode.MAINTENANCE, 20.0)
    assert machine.mode_cumulative_time(25.0) == pytest.approx(5.0)
    assert machine.mode_cumulative_time(25.0, UnitMode.PRODUCTION) == pytest.approx(20.0)
    assert machine.state_cumulative_time(25.0) == pytest.approx(5.0)
    assert machine.mode_current_time(26.0) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="backwards"):
        machine.tick(1.0)


def test_unit_mode_changes_only_in_wait_states() -> None:
    """Mode changes are refused in Execute and in acting states, and Invalid or unknown
    modes are refused everywhere."""
    machine = PackMLMachine(0.0, S.EXECUTE)
    assert not machine.change_mode(UnitMode.MANUAL, 1.0)
    machine.command(C.HOLD, 1.0)
    assert not machine.change_mode(UnitMode.MANUAL, 1.0)
    machine.tick(2.0)
    assert machine.change_mode(UnitMode.MANUAL, 2.0)
    assert machine.mode is UnitMode.MANUAL
    assert not machine.change_mode(UnitMode.INVALID, 3.0)
    assert not machine.change_mode(17, 3.0)
    assert machine.mode is UnitMode.MANUAL


@pytest.mark.parametrize("start", [s for s in State if s not in ACTING_STATES])
@pytest.mark.parametrize("target", [S.EXECUTE, S.STOPPED, S.HELD, S.SUSPENDED, S.ABORTED])
def test_route_reaches_the_target(start: State, target: State) -> None:
    """Issuing route()'s commands, ticking after each, takes any wait state to the target."""
    machine = PackMLMachine(0.0, start)
    now = 0.0
    for command in route(start, target):
        assert machine.command(command, now).accepted
        while machine.acting and machine.state is not target:
            now += 1.0
            machine.tick(now)
    assert machine.state is target
