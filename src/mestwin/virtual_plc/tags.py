"""The tag table of a virtual PLC: PackTags (OMAC PackML, ISA-TR88.00.02) as data.

This module is the single source of truth for what a virtual machine exposes. Both protocol
servers (OPC UA and Modbus TCP) are generated from :data:`TAGS`; neither may invent a tag.

* :class:`TagSpec` describes one tag: its dotted ``path`` (``"PackTags.Status.StateCurrent"``,
  ``"PackTags.Admin.ProdProcessedCount[0].AccCount"``, ``"Diagnostics.Heartbeat"``), its
  :class:`DataType` (named after the OPC UA built-in types), its :class:`Access`, its
  :class:`Group`, unit and description. The OPC UA NodeId of a tag is
  ``ns=<idx>;s=<Line>.<Machine>.<path>``; the Modbus address comes from
  :mod:`mestwin.virtual_plc.regmap`.
* :class:`~.tag_values.TagValues` (its own module) holds the current value of every tag of
  one machine. The PLC scan is its only writer (external writes go through
  ``VirtualPLC.write``, which enforces :class:`Access` and types); servers read it and push
  only what changed since the version they last saw
  (:meth:`~.tag_values.TagValues.changed_since`).
* :data:`STOP_REASONS` is the stop-reason taxonomy: integer codes with message and a
  :class:`LossCategory`, one of Nakajima's six big losses plus ``PLANNED`` and ``EXTERNAL``
  (starved / blocked), so an MES can compute OEE loss trees from ``Admin.StopReason``.

Value conventions: Boolean -> ``bool``; integer types -> ``int`` (range-checked, and
within ``TagSpec.values`` where set: ``Command.CntrlCmd`` 0..10, ``Command.UnitMode`` 1..3);
Float/Double -> ``float``; String -> ``str`` (at most ``TagSpec.length`` characters, ASCII on
Modbus); DateTime -> timezone-aware ``datetime`` in UTC. Times are seconds of simulated time,
speeds are units per minute (PackML's primary packages per minute).

Counters (PackTags Admin): ``Count`` is an Int32 that rolls over to 0 after 2**31 - 1;
``AccCount`` is a non-resetting UInt32 that never decreases (it saturates at 2**32 - 1 rather
than wrapping). ``ProdProcessedCount[0]`` is PQ, ``ProdDefectiveCount[0]`` is every unit that
is not good (PQ - GQ, so GQ = PQ - Defective[0]), ``[1]`` scrap (SQ), ``[2]`` rework (RQ),
``ProdConsumedCount[0]`` the units / components consumed (ISO 22400-2 quantities).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

TagValue = bool | int | float | str | datetime
"""The Python value of a tag (see the module docstring for the type of each :class:`DataType`)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Default of DateTime tags before the PLC's first scan."""


class DataType(enum.StrEnum):
    """Data type of a tag, named as the OPC UA built-in type it is served as."""

    BOOLEAN = "Boolean"
    INT16 = "Int16"
    UINT16 = "UInt16"
    INT32 = "Int32"
    UINT32 = "UInt32"
    FLOAT = "Float"
    DOUBLE = "Double"
    STRING = "String"
    DATETIME = "DateTime"


class Access(enum.StrEnum):
    """Whether clients may write a tag."""

    READ = "r"
    READ_WRITE = "rw"


class Group(enum.StrEnum):
    """The folder a tag lives in (PackTags groups plus OPC 40001 Machinery folders)."""

    COMMAND = "Command"
    STATUS = "Status"
    ADMIN = "Admin"
    IDENTIFICATION = "Identification"
    DIAGNOSTICS = "Diagnostics"
    MACHINERY_ITEM_STATE = "MachineryItemState"
    MACHINERY_OPERATION_MODE = "MachineryOperationMode"
    JOB_MANAGEMENT = "JobManagement"
    SIGNALS = "Signals"
    OEE = "OEE"
    GENEALOGY = "Genealogy"
    STATE_LOG = "StateLog"


INT_RANGES: Mapping[DataType, tuple[int, int]] = MappingProxyType({
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
})
"""Inclusive value range of each integer :class:`DataType`."""

COUNT_MODULUS = 2**31
"""``Admin.*Count[n].Count`` rolls over to 0 when it reaches this (largest Int32 + 1)."""
ACC_COUNT_MAX = 2**32 - 1
"""``Admin.*Count[n].AccCount`` saturates here (largest UInt32): it never decreases."""


@dataclass(frozen=True)
class TagSpec:
    """One tag of the table: what it is, not what it holds."""

    path: str
    """Dotted path, unique in the table, e.g. ``PackTags.Status.StateCurrent``."""
    data_type: DataType
    access: Access
    group: Group
    unit: str = ""
    """Engineering unit (``s``, ``1/min``, ``units``), empty if dimensionless."""
    description: str = ""
    length: int = 0
    """Maximum number of characters of a String tag (sizes its Modbus registers)."""
    modbus: bool = True
    """Whether the tag appears in the Modbus register map (long texts are OPC UA only)."""
    values: tuple[int, int] | None = None
    """Inclusive range of the values a client may write to an integer tag, when narrower
    than its data type (``CntrlCmd``: the PackML commands, ``UnitMode``: the modes)."""

    @property
    def opcua(self) -> bool:
        """Whether OPC UA serves the tag: every tag but the state log, an event buffer for
        clients that poll registers (OPC UA delivers each change with its own time stamp,
        and 257 variables per machine would slow a server's start-up by half)."""
        return self.group is not Group.STATE_LOG

    @property
    def writable(self) -> bool:
        """True if clients may write the tag."""
        return self.access is Access.READ_WRITE

    @property
    def default(self) -> TagValue:
        """The value the tag holds before the PLC's first scan (the lowest of ``values``
        when the type's zero is not one of them: ``UnitMode`` starts as 1 Production)."""
        if self.values is not None and not self.values[0] <= 0 <= self.values[1]:
            return self.values[0]
        return _DEFAULTS[self.data_type]


_DEFAULTS: Mapping[DataType, TagValue] = MappingProxyType({
    DataType.BOOLEAN: False, DataType.INT16: 0, DataType.UINT16: 0, DataType.INT32: 0,
    DataType.UINT32: 0, DataType.FLOAT: 0.0, DataType.DOUBLE: 0.0, DataType.STRING: "",
    DataType.DATETIME: EPOCH,
})


def check_value(spec: TagSpec, value: object) -> TagValue:
    """Return *value* converted to the Python type of *spec*, or raise.

    Raises :class:`TypeError` for a value of the wrong kind (a string for an Int32, a float
    for a Boolean) and :class:`ValueError` for one out of range (a negative UInt16, a value
    outside ``spec.values``, a string longer than ``spec.length``). ints are accepted for
    Float/Double; bools are not ints. Both protocol servers rely on this one rule set,
    through ``VirtualPLC.write``.
    """
    dt = spec.data_type
    if dt is DataType.BOOLEAN:
        if isinstance(value, bool):
            return value
    elif dt in INT_RANGES:
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = INT_RANGES[dt]
            if not low <= value <= high:
                raise ValueError(f"{spec.path}: {value} outside {dt} range [{low}, {high}]")
            if spec.values is not None and not spec.values[0] <= value <= spec.values[1]:
                raise ValueError(f"{spec.path}: {value} is not one of {spec.values[0]}.."
                                 f"{spec.values[1]}")
            return value
    elif dt in (DataType.FLOAT, DataType.DOUBLE):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif dt is DataType.STRING:
        if isinstance(value, str):
            if spec.length and len(value) > spec.length:
                raise ValueError(f"{spec.path}: string longer than {spec.length} characters")
            return value
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{spec.path}: DateTime must be timezone-aware")
        return value.astimezone(UTC)
    raise TypeError(f"{spec.path}: {type(value).__name__} is not a {dt}")


# -- the table ---------------------------------------------------------------------------------

_R, _RW = Access.READ, Access.READ_WRITE
_B, _I16, _U16 = DataType.BOOLEAN, DataType.INT16, DataType.UINT16
_I32, _U32, _F = DataType.INT32, DataType.UINT32, DataType.FLOAT
_D, _S, _DT = DataType.DOUBLE, DataType.STRING, DataType.DATETIME

TEXT = 32
"""Maximum characters of id strings: work order, lot, serial, product, job order and
material ids (PackTags strings are fixed-size PLC STRINGs; 32 fits the ids of every shipped
scenario and 16 Modbus registers of two ASCII characters)."""
MESSAGE = 64
"""Maximum characters of message strings (stop reasons, alarms, job order descriptions)."""
CONSUMED_LENGTH = 255
"""Characters of ``Status.Consumed`` (an assembly's kit, with lots; not on Modbus)."""
COMMAND_VALUES = (0, 10)
"""``Command.CntrlCmd`` values: the PackML commands 0 Undefined .. 10 Complete (packml.Command)."""
UNIT_MODE_VALUES = (1, 3)
"""``Command.UnitMode`` values: 1 Production, 2 Maintenance, 3 Manual (packml.UnitMode; 0 is
Invalid and 4-31 are user defined, which this PLC defines none of)."""
_VALUES = {"UnitMode": UNIT_MODE_VALUES, "CntrlCmd": COMMAND_VALUES}


class _Row(NamedTuple):
    name: str
    data_type: DataType
    access: Access
    unit: str = ""
    description: str = ""
    length: int = -1
    modbus: bool = True


def _group(group: Group, prefix: str, rows: Iterable[tuple[Any, ...]]) -> list[TagSpec]:
    specs = []
    for fields in rows:
        row = _Row(*fields)
        length = row.length if row.length >= 0 else (TEXT if row.data_type is _S else 0)
        values = _VALUES.get(row.name) if group is Group.COMMAND else None
        specs.append(TagSpec(prefix + row.name, row.data_type, row.access, group, row.unit,
                             row.description, length, row.modbus, values))
    return specs


def _counter(kind: str, index: int, what: str) -> list[tuple[Any, ...]]:
    base = f"{kind}[{index}]."
    return [
        (base + "ID", _I32, _R, "", f"Id of the counter: {what}"),
        (base + "Name", _S, _R, "", "Name of the counter", TEXT, False),
        (base + "Unit", _S, _R, "", "Unit of the counter", TEXT, False),
        (base + "Count", _I32, _R, "units", f"{what}; Int32, rolls over to 0 after 2**31-1"),
        (base + "AccCount", _U32, _R, "units", f"{what}; non-resetting, never decreases (OEE)"),
    ]


_COMMAND = [
    ("UnitMode", _I32, _RW, "", "Requested unit mode (1 Production, 2 Maintenance, 3 Manual)"),
    ("UnitModeChangeRequest", _B, _RW, "", "Set to request UnitMode; the PLC clears it"),
    ("MachSpeed", _F, _RW, "1/min", "Speed setpoint in units per minute"),
    ("CntrlCmd", _I32, _RW, "", "PackML command (1 Reset .. 10 Complete)"),
    ("CmdChangeRequest", _B, _RW, "", "Set to execute CntrlCmd; the PLC clears it when taken"),
    ("WorkOrder", _S, _RW, "", "Work order the MES asks the machine to run"),
    ("StopReasonAck", _B, _RW, "", "Set to acknowledge Admin.StopReason; the PLC clears it"),
]
_STATUS = [
    ("UnitModeCurrent", _I32, _R, "", "Current unit mode"),
    ("StateCurrent", _I32, _R, "", "Current PackML state (protocol's numbering)"),
    ("StateRequested", _I32, _R, "", "Target state of the transition in progress"),
    ("StateChangeInProcess", _B, _R, "", "True while the machine is in an acting state"),
    ("MachSpeed", _F, _R, "1/min", "Echo of the speed setpoint"),
    ("CurMachSpeed", _F, _R, "1/min", "Actual speed (0 when not producing)"),
    ("EquipmentInterlock.Blocked", _B, _R, "", "Downstream full: output cannot leave"),
    ("EquipmentInterlock.Starved", _B, _R, "", "Upstream empty: nothing to work on"),
    ("Heartbeat", _U32, _R, "", "Incremented every scan; frozen means the PLC is dead"),
    ("CurrentWorkOrder", _S, _R, "", "Work order of the unit in work"),
    ("CurrentLot", _S, _R, "", "Lot of the unit in work"),
    ("CurrentSerial", _S, _R, "", "Serial number of the unit in work"),
    ("CurrentProduct", _S, _R, "", "Product (item) of the unit in work"),
    ("MachineState", _I32, _R, "",
     "Physical machine state for OEE: 0 starved, 1 processing, 2 setup, 3 blocked, 4 down, "
     "5 planned down, 6 stopped, 7 held; updated at the instant it changes"),
    ("StateReason", _I32, _R, "", "Stop-reason code of MachineState (STOP_REASONS), 0 running"),
    ("StateChangeTime", _D, _R, "s", "Simulated time MachineState last changed"),
    ("Consumed", _S, _R, "",
     "What the unit in work consumed: 'lot=qty' or 'serial@lot=qty', comma separated",
     CONSUMED_LENGTH, False),
]
_ADMIN = [
    *_counter("ProdProcessedCount", 0, "units processed (PQ)"),
    *_counter("ProdDefectiveCount", 0, "units not good (PQ - GQ)"),
    *_counter("ProdDefectiveCount", 1, "units scrapped (SQ)"),
    *_counter("ProdDefectiveCount", 2, "units reworked (RQ)"),
    *_counter("ProdConsumedCount", 0, "units and components consumed"),
    ("StopReason.ID", _I32, _R, "", "Code of the last stop (see STOP_REASONS), 0 none"),
    ("StopReason.Value", _I32, _R, "", "Physical machine state code at the stop"),
    ("StopReason.Message", _S, _R, "", "Text of the last stop reason", MESSAGE, False),
    ("StopReason.Category", _I32, _R, "", "LossCategory code of the last stop"),
    ("StopReason.DateTime", _DT, _R, "", "When the last stop began (PACDateTime)"),
    ("StopReason.AckDateTime", _DT, _R, "", "When the last stop was acknowledged"),
    ("AlarmExtent", _I32, _R, "", "Number of active alarms"),
    ("Alarm[0].ID", _I32, _R, "", "Code of the active alarm, 0 none"),
    ("Alarm[0].Value", _I32, _R, "", "Physical machine state code of the alarm"),
    ("Alarm[0].Message", _S, _R, "", "Text of the active alarm", MESSAGE, False),
    ("Alarm[0].DateTime", _DT, _R, "", "When the alarm was raised"),
    ("StateCurrentTime", _D, _R, "s", "Time in the current state"),
    ("StateCumulativeTime", _D, _R, "s", "Time in the current state, all visits, current mode"),
    ("ModeCurrentTime", _D, _R, "s", "Time in the current unit mode"),
    ("ModeCumulativeTime", _D, _R, "s", "Time in the current unit mode, all visits"),
    ("AccTimeSinceReset", _D, _R, "s", "Time since counters were last reset (retained)"),
    ("MachDesignSpeed", _F, _R, "1/min", "Design (ideal) speed"),
    ("PACDateTime", _DT, _R, "", "The PLC clock: start date-time plus simulated time"),
]
_OEE = [
    (f"MachineStateTime[{k}]", _D, _R, "s",
     f"Cumulative seconds in Status.MachineState {k} up to Status.StateChangeTime; "
     "non-resetting, so an MES gets exact time elements from differences however it samples")
    for k in range(8)
]
GENEALOGY_SLOTS = 16
"""Unit starts the PLC keeps in its genealogy FIFO (``Genealogy.Record[k]``)."""
RECORD_LENGTH = 400
"""Characters of a genealogy record (200 Modbus registers, so two reads of at most 125)."""
_GENEALOGY = [
    ("Seq", _U32, _R, "", "Sequence number of the newest genealogy record (0 none yet)"),
    *[(f"Record[{k}]", _S, _R, "",
       "Ring buffer slot seq % 16: 'seq|time|serial|product|lot|order|consumed'",
       RECORD_LENGTH) for k in range(GENEALOGY_SLOTS)],
]
STATE_LOG_SLOTS = 64
"""Changes of (MachineState, StateReason) the PLC keeps in its state log (``StateLog.Record[k]``).

Sized from what a Modbus MES polling every 50 ms wall time reads per machine and poll
(measured, ``sim.wire`` runs): at 600x at most 3 records on the two-step line, 2 on the
assembly line, 1 in the job shop; on the bottling line (about 1 s cycles, blocked between
them: up to 69 changes in 30 simulated s) 10 at 60x and 42 at 150x. 64 holds these with
half again as margin at 8 registers a record (512 registers, 5 reads of 120 when full).
More would not rescue the bottling line at 600x, where one process cannot both simulate
and poll (its polls fall behind by hundreds of changes; 128 slots were overrun too), and
every slot is four OPC UA variables: 128 slots take a 20-machine server's start-up from
2.7 s to 5.0 s, 64 to 3.9 s (target 5 s), so the log is served over Modbus only
(:attr:`TagSpec.opcua`)."""
_STATE_LOG = [
    ("Seq", _U32, _R, "", "Sequence number of the newest state-log record (0 none yet)"),
    *[row for k in range(STATE_LOG_SLOTS) for row in (
        (f"Record[{k}].Seq", _U32, _R, "",
         f"Sequence number of the record in slot seq % {STATE_LOG_SLOTS}"),
        (f"Record[{k}].Time", _D, _R, "s",
         "Simulated time of the change (the Status.StateChangeTime clock)"),
        (f"Record[{k}].State", _I16, _R, "", "Status.MachineState from that time"),
        (f"Record[{k}].Reason", _I16, _R, "", "Status.StateReason from that time"),
    )],
]
_IDENTIFICATION = [
    ("Manufacturer", _S, _R, "", "Machine manufacturer", TEXT, False),
    ("Model", _S, _R, "", "Machine model", TEXT, False),
    ("SerialNumber", _S, _R, "", "Machine serial number", TEXT, False),
    ("ProductInstanceUri", _S, _R, "", "Globally unique machine URI", MESSAGE, False),
    ("SoftwareRevision", _S, _R, "", "PLC program revision", TEXT, False),
    ("YearOfConstruction", _U16, _R, "", "Year the machine was built", 0, False),
]
_DIAGNOSTICS = [
    ("Heartbeat", _U32, _R, "", "Incremented every scan (same as Status.Heartbeat)"),
    ("ScanCount", _U32, _R, "", "Scans since the PLC started"),
    ("SimTime", _D, _R, "s", "Simulation clock (env.now)"),
    ("SpeedFactor", _F, _R, "", "Simulated seconds per wall-clock second (real-time runner)"),
]
_SIGNALS = [
    ("Running", _B, _R, "", "StateCurrent is Execute"),
    ("Faulted", _B, _R, "", "Aborting / Aborted or an active alarm"),
    ("Blocked", _B, _R, "", "Same as EquipmentInterlock.Blocked"),
    ("Starved", _B, _R, "", "Same as EquipmentInterlock.Starved"),
    ("Held", _B, _R, "", "StateCurrent is Holding or Held"),
]

TAGS: tuple[TagSpec, ...] = (
    *_group(Group.COMMAND, "PackTags.Command.", _COMMAND),
    *_group(Group.STATUS, "PackTags.Status.", _STATUS),
    *_group(Group.ADMIN, "PackTags.Admin.", _ADMIN),
    *_group(Group.IDENTIFICATION, "Identification.", _IDENTIFICATION),
    *_group(Group.DIAGNOSTICS, "Diagnostics.", _DIAGNOSTICS),
    *_group(Group.OEE, "OEE.", _OEE),
    *_group(Group.GENEALOGY, "Genealogy.", _GENEALOGY),
    *_group(Group.STATE_LOG, "StateLog.", _STATE_LOG),
    TagSpec("MachineryItemState.CurrentState", _S, _R, Group.MACHINERY_ITEM_STATE, "",
            "NotAvailable | OutOfService | Executing | NotExecuting (OPC 40001-1)", TEXT, False),
    TagSpec("MachineryOperationMode.CurrentState", _S, _R, Group.MACHINERY_OPERATION_MODE, "",
            "None | Maintenance | Setup | Processing (OPC 40001-1)", TEXT, False),
    TagSpec("JobManagement.JobOrderID", _S, _R, Group.JOB_MANAGEMENT, "",
            "Job order the machine is working on (OPC 40001-3)", TEXT),
    TagSpec("JobManagement.JobState", _I32, _R, Group.JOB_MANAGEMENT, "",
            "0 no job, 3 Running, 4 Interrupted, 6 Aborted (OPC 40001-3 codes)"),
    *_group(Group.SIGNALS, "Signals.", _SIGNALS),
)
"""Every tag of a virtual machine, grouped, in the order servers present them."""

TAG_BY_PATH: Mapping[str, TagSpec] = MappingProxyType({spec.path: spec for spec in TAGS})
"""Look a :class:`TagSpec` up by its path."""

if len(TAG_BY_PATH) != len(TAGS):  # pragma: no cover - a table error, caught on import
    raise RuntimeError("tag paths must be unique")


def tags_in(group: Group) -> tuple[TagSpec, ...]:
    """The tags of *group*, in table order."""
    return tuple(spec for spec in TAGS if spec.group is group)


# -- stop reasons ----------------------------------------------------------------------------


class LossCategory(enum.IntEnum):
    """Where a stop's time goes in an OEE loss tree (Nakajima's six big losses + two)."""

    NONE = 0
    BREAKDOWN = 1
    SETUP_ADJUSTMENT = 2
    MINOR_STOP = 3
    REDUCED_SPEED = 4
    DEFECTS_REWORK = 5
    STARTUP_REJECTS = 6
    PLANNED = 7
    """Planned stops: breaks, shift off, planned maintenance, commanded stops (PDOT)."""
    EXTERNAL = 8
    """Caused outside the machine: starved or blocked by a neighbour."""


@dataclass(frozen=True)
class StopReason:
    """One code of the stop-reason taxonomy."""

    id: int
    """Value of ``Admin.StopReason.ID``."""
    reason: str
    """The plant's reason string (``Station.reason``) this code stands for."""
    message: str
    category: LossCategory


STOP_REASONS: tuple[StopReason, ...] = (
    StopReason(0, "", "No stop", LossCategory.NONE),
    StopReason(10, "breakdown", "Machine breakdown", LossCategory.BREAKDOWN),
    StopReason(11, "abort", "Emergency stop / abort", LossCategory.BREAKDOWN),
    StopReason(20, "setup", "Changeover / setup", LossCategory.SETUP_ADJUSTMENT),
    StopReason(21, "adjustment", "Adjustment", LossCategory.SETUP_ADJUSTMENT),
    StopReason(30, "minor_stop", "Minor stop (jam)", LossCategory.MINOR_STOP),
    StopReason(40, "reduced_speed", "Running below design speed", LossCategory.REDUCED_SPEED),
    StopReason(50, "defect", "Quality defect", LossCategory.DEFECTS_REWORK),
    StopReason(51, "rework", "Rework", LossCategory.DEFECTS_REWORK),
    StopReason(60, "startup_reject", "Start-up rejects", LossCategory.STARTUP_REJECTS),
    StopReason(70, "break", "Break", LossCategory.PLANNED),
    StopReason(71, "shift_off", "No shift", LossCategory.PLANNED),
    StopReason(72, "planned_maintenance", "Planned maintenance", LossCategory.PLANNED),
    StopReason(76, "planned", "Planned downtime", LossCategory.PLANNED),
    StopReason(77, "cleaning", "Cleaning (CIP)", LossCategory.PLANNED),
    StopReason(73, "operator_stop", "Stopped by command", LossCategory.PLANNED),
    StopReason(74, "operator_hold", "Held by command", LossCategory.PLANNED),
    StopReason(75, "complete", "Order complete", LossCategory.PLANNED),
    StopReason(80, "starved", "Starved: no input", LossCategory.EXTERNAL),
    StopReason(81, "blocked", "Blocked: output full", LossCategory.EXTERNAL),
    StopReason(99, "unknown", "Unclassified stop", LossCategory.BREAKDOWN),
)
"""The stop-reason codes. Unknown plant reasons map to 99 (counted as a breakdown)."""

_STOP_BY_REASON: Mapping[str, StopReason] = MappingProxyType(
    {code.reason: code for code in STOP_REASONS})
_STOP_BY_ID: Mapping[int, StopReason] = MappingProxyType({code.id: code for code in STOP_REASONS})


def stop_reason(reason: str) -> StopReason:
    """The code of the plant reason string *reason* (code 99 if it is not in the taxonomy)."""
    return _STOP_BY_REASON.get(reason, _STOP_BY_REASON["unknown"])


def stop_reason_by_id(code: int) -> StopReason:
    """The :class:`StopReason` with id *code*; raises :class:`KeyError` if there is none."""
    return _STOP_BY_ID[code]
