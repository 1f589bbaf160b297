"""Which tags say what state a machine is in, and which ISO 22400 element that state is.

Configuration, as in any MES: the integrator picks the state source of the machines and
maps its states to time elements (ISO 22400-2 section 5.3: APT, ASUT, ADET, ADOT, PDOT).

- :class:`MachineStateModel` (``machine_state``, the default) reads the machine's OEE state
  tag ``Status.MachineState`` with ``Status.StateReason``; the element of each code is
  :data:`~.machine_state.ELEMENT`.
- :class:`PackMLModel` (``packml``) reads the PackML state ``Status.StateCurrent``
  (ISA-TR88.00.02 numbering) with ``Admin.StopReason.ID`` and the OPC 40001-1
  ``MachineryOperationMode.CurrentState`` (Execute in mode ``Setup`` is a changeover), and
  books each state by a :class:`PackMLMapping`: Execute -> APT (ASUT in setup); any other
  state by its stop reason, from the vendor's reason-code -> element table
  (:attr:`PackMLMapping.reasons`, as real MES reason-code tables do: an operator Abort is
  a commanded stop, ADOT, though PackML shows Aborted). Only a stop without a known
  reason (0, or a code the table lacks) falls back to the PackML state: Suspended -> ADOT,
  Held -> ADET, Aborting/Aborted -> ADET, Stopping/Stopped/Clearing -> PDOT for a
  planned-downtime stop reason, ADET for a fault, else ADOT; a state on the way back to
  Execute (Resetting, Idle, Starting, Unholding, Unsuspending) is booked with the stop it
  ends.

A model classifies the collector's image of one machine's tags: ``(state, reason code,
element)``; the collector opens a new interval whenever that triple changes.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from mestwin.mes_core.collection.machine_state import ELEMENT, MachineStateCode
from mestwin.mes_core.collection.source import TagValue

STATE = "PackTags.Status.MachineState"
REASON = "PackTags.Status.StateReason"
PACKML_STATE = "PackTags.Status.StateCurrent"
STOP_REASON = "PackTags.Admin.StopReason.ID"
OPERATION_MODE = "MachineryOperationMode.CurrentState"

INHERIT = "stop"
"""Element of a state booked with the stop it belongs to (the last stop state's)."""


class PackMLCode(enum.IntEnum):
    """``Status.StateCurrent`` codes (ISA-TR88.00.02 PLC numbering)."""

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


BY_REASON = "reason"
"""Element of a state that depends on the stop reason (:attr:`PackMLMapping.by_reason`)."""

PACKML_ELEMENTS: Mapping[int, str] = MappingProxyType({
    PackMLCode.EXECUTE: "APT",
    PackMLCode.SUSPENDING: "ADOT", PackMLCode.SUSPENDED: "ADOT",
    PackMLCode.HOLDING: "ADET", PackMLCode.HELD: "ADET",
    PackMLCode.ABORTING: "ADET", PackMLCode.ABORTED: "ADET",
    PackMLCode.STOPPING: BY_REASON, PackMLCode.STOPPED: BY_REASON,
    PackMLCode.CLEARING: BY_REASON,
    PackMLCode.COMPLETING: "ADOT", PackMLCode.COMPLETE: "ADOT",
    PackMLCode.UNDEFINED: "ADOT",
    PackMLCode.RESETTING: INHERIT, PackMLCode.IDLE: INHERIT,
    PackMLCode.STARTING: INHERIT, PackMLCode.UNHOLDING: INHERIT,
    PackMLCode.UNSUSPENDING: INHERIT,
})
"""The fallback PackML-state -> element table, for a stop without a known reason
(docs/integrators.md, "Plant states, PackML states and OEE"): external conditions
(Suspended) are ADOT, internal ones (Held) and faults (Aborted) ADET; a stop's element
depends on its reason, and so does Clearing's; the states on the way back to Execute
belong to the stop they end."""


class Classified(NamedTuple):
    """A machine's state as a model reads it: the *state* code, the *reason* code and the
    ISO 22400 *element*."""

    state: int
    reason: int
    element: str


class StateModel(ABC):
    """Reads a machine's state from its tags (see the module docstring)."""

    name: str
    tags: tuple[str, ...]
    """The tags whose changes may change the state, in the PLC's write order."""

    @abstractmethod
    def classify(self, image: Mapping[str, TagValue], stop: str) -> Classified | None:
        """The state in *image* (None until its tags are known); *stop* is the element of
        the last stop state, for states booked with the stop they belong to."""


def _int(value: TagValue | None) -> int:
    return int(value) if isinstance(value, bool | int | float) else 0


@dataclass(frozen=True)
class MachineStateModel(StateModel):
    """``Status.MachineState`` and ``Status.StateReason``, elements by
    :data:`~.machine_state.ELEMENT`."""

    name: str = "machine_state"
    tags: tuple[str, ...] = (REASON, STATE)

    def classify(self, image: Mapping[str, TagValue], stop: str) -> Classified | None:
        if STATE not in image:
            return None
        state = _int(image[STATE])
        try:
            element = ELEMENT[MachineStateCode(state)]
        except ValueError:  # a code the table does not know: not producing
            element = "ADOT"
        return Classified(state, _int(image.get(REASON, 0)), element)


@dataclass(frozen=True)
class PackMLMapping:
    """How an integrator maps PackML states to ISO 22400 elements.

    *reasons*: stop-reason code -> element, the vendor's table; it decides every state but
    Execute whose ``Admin.StopReason.ID`` it has. The rest is the fallback for a stop
    without a known reason: *elements*: PackML code -> element, :data:`BY_REASON` or
    :data:`INHERIT`; *planned*: stop-reason codes of planned downtime (a stop for them is
    PDOT); *faults*: codes of faults (a stop on the way back from one is ADET); other stops
    are ADOT. *setup_mode* is the ``MachineryOperationMode`` of a changeover (Execute in it
    is ASUT, booked with reason *setup_reason*, since no stop reason is raised).
    """

    planned: frozenset[int] = frozenset()
    faults: frozenset[int] = frozenset()
    elements: Mapping[int, str] = field(default_factory=lambda: dict(PACKML_ELEMENTS))
    setup_mode: str = "Setup"
    setup_reason: int = 20
    reasons: Mapping[int, str] = field(default_factory=dict)

    def by_reason(self, reason: int) -> str:
        """Element of a stop (Stopping, Stopped) for stop reason *reason*."""
        if reason in self.planned:
            return "PDOT"
        return "ADET" if reason in self.faults else "ADOT"


@dataclass(frozen=True)
class PackMLModel(StateModel):
    """``Status.StateCurrent`` with ``Admin.StopReason.ID`` and
    ``MachineryOperationMode.CurrentState``, elements by *mapping*."""

    mapping: PackMLMapping = field(default_factory=PackMLMapping)
    name: str = "packml"
    tags: tuple[str, ...] = (STOP_REASON, PACKML_STATE, OPERATION_MODE)

    def classify(self, image: Mapping[str, TagValue], stop: str) -> Classified | None:
        if PACKML_STATE not in image:
            return None
        state = _int(image[PACKML_STATE])
        reason = _int(image.get(STOP_REASON, 0))
        mapping = self.mapping
        element = mapping.elements.get(state, "ADOT")
        if element == "APT":
            if image.get(OPERATION_MODE) == mapping.setup_mode:
                return Classified(state, mapping.setup_reason, "ASUT")
            return Classified(state, 0, "APT")  # the last stop's reason is history here
        if reason in mapping.reasons:
            return Classified(state, reason, mapping.reasons[reason])
        if element == BY_REASON:
            element = mapping.by_reason(reason)
        elif element == INHERIT:
            element = stop
        return Classified(state, reason, element)


def is_stop(element: str) -> bool:
    """Whether a state of *element* is a stop (what states booked with their stop inherit)."""
    return element not in ("APT", "ASUT")


def state_model(name: str, mapping: PackMLMapping | None = None) -> StateModel:
    """The state model called *name* (``machine_state`` or ``packml``)."""
    if name == "machine_state":
        return MachineStateModel()
    if name == "packml":
        return PackMLModel(mapping or PackMLMapping())
    raise ValueError(f"unknown state source {name!r}; expected machine_state or packml")


STATE_SOURCES: tuple[str, ...] = ("machine_state", "packml")
"""The names :func:`state_model` accepts."""
