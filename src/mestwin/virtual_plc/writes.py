"""The outcome of a client's write to a virtual PLC, shared by both protocol servers.

:meth:`mestwin.virtual_plc.plc.VirtualPLC.write` is the one rule set for writes; each server
translates a :class:`WriteStatus` into its protocol's own error (OPC UA status code, Modbus
exception).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mestwin.virtual_plc.tags import TagValue


class WriteStatus(enum.StrEnum):
    """Outcome of a client write; servers translate it to their protocol's error."""

    OK = "ok"
    UNKNOWN_TAG = "unknown tag"
    """OPC UA BadNodeIdUnknown, Modbus exception 02."""
    READ_ONLY = "read-only"
    """OPC UA BadUserAccessDenied / BadNotWritable, Modbus exception 02."""
    TYPE_MISMATCH = "type mismatch"
    """OPC UA BadTypeMismatch, Modbus exception 03."""
    OUT_OF_RANGE = "out of range"
    """OPC UA BadOutOfRange, Modbus exception 03."""


@dataclass(frozen=True)
class WriteResult:
    """What became of one client write."""

    path: str
    status: WriteStatus
    message: str = ""
    value: TagValue | None = None
    """The value as stored (converted to the tag's type) when accepted."""

    @property
    def accepted(self) -> bool:
        """True if the value was stored."""
        return self.status is WriteStatus.OK
