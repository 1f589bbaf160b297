"""Virtual PLCs (ISA-95 levels 1-2): PackML machines over OPC UA and Modbus TCP.

Re-exports the protocol-independent core; the servers live in their own modules
(``modbus_server``, ``opcua_*``) so importing the core pulls in no protocol stack.
"""

from __future__ import annotations

from mestwin.virtual_plc.packml import (
    PACKML_NUMBERING,
    Command,
    CommandResult,
    PackMLMachine,
    State,
    StateNumbering,
    UnitMode,
)
from mestwin.virtual_plc.plc import (
    MIRROR,
    RetainedData,
    VirtualPLC,
    WriteResult,
    WriteStatus,
)
from mestwin.virtual_plc.port import StationPort
from mestwin.virtual_plc.regmap import (
    Addressing,
    Profile,
    RegisterMap,
    WordOrder,
    build_map,
    register_map_markdown,
)
from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import (
    STOP_REASONS,
    TAG_BY_PATH,
    TAGS,
    Access,
    DataType,
    Group,
    LossCategory,
    StopReason,
    TagSpec,
)

__all__ = [
    "MIRROR",
    "PACKML_NUMBERING",
    "STOP_REASONS",
    "TAGS",
    "TAG_BY_PATH",
    "Access",
    "Addressing",
    "Command",
    "CommandResult",
    "DataType",
    "Group",
    "LossCategory",
    "PackMLMachine",
    "Profile",
    "RegisterMap",
    "RetainedData",
    "State",
    "StateNumbering",
    "StationPort",
    "StopReason",
    "TagSpec",
    "TagValues",
    "UnitMode",
    "VirtualPLC",
    "WordOrder",
    "WriteResult",
    "WriteStatus",
    "build_map",
    "register_map_markdown",
]
