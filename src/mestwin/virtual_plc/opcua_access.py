"""Client writes and what a session may do on the PLC server (OPC 10000-4 5.10.4, 10000-3
5.6.2 and 5.7).

Client writes to tags go through ``VirtualPLC.write`` (the rule set Modbus shares):
BadNotWritable for a read-only tag, BadUserAccessDenied for a session without the operator
role, BadTypeMismatch for a Variant of the wrong built-in type, BadOutOfRange for a value the
PLC refuses; a write to a node that does not exist is BadNodeIdUnknown. UserAccessLevel and
UserExecutable are answered per session: without the operator role nothing is writable or
executable. Kept apart from :mod:`.opcua_server` (the address space and the lifecycle)
because it is the server's one door in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from asyncua import ua
from asyncua.common.callback import ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AttributeService
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes

from mestwin.virtual_plc.opcua_nodes import VARIANT_TYPES, VT, status
from mestwin.virtual_plc.opcua_publish import ServedMachine, as_int, push
from mestwin.virtual_plc.opcua_security import Role, role_of
from mestwin.virtual_plc.tags import TagSpec
from mestwin.virtual_plc.writes import WriteStatus

_log = logging.getLogger("mestwin.virtual_plc.opcua_server")  # the server's log, as before
WRITE_STATUS: dict[WriteStatus, int] = {
    WriteStatus.OK: StatusCodes.Good,
    WriteStatus.UNKNOWN_TAG: StatusCodes.BadNodeIdUnknown,
    WriteStatus.READ_ONLY: StatusCodes.BadNotWritable,
    WriteStatus.TYPE_MISMATCH: StatusCodes.BadTypeMismatch,
    WriteStatus.OUT_OF_RANGE: StatusCodes.BadOutOfRange,
}
"""The OPC UA status of each ``VirtualPLC.write`` outcome."""
WRITE_BITS = (
    ua.AccessLevel.CurrentWrite.mask | ua.AccessLevel.HistoryWrite.mask
    | ua.AccessLevel.SemanticChange.mask | ua.AccessLevel.StatusWrite.mask
    | ua.AccessLevel.TimestampWrite.mask
)
"""AccessLevel bits a session without the operator role does not get (OPC 10000-3 8.57)."""
Bindings = dict[ua.NodeId, tuple[ServedMachine, TagSpec]]
"""NodeId of a PLC tag -> its machine and tag."""

_ADMIN = User(role=UserRole.Admin)  # asyncua's default: the server's own internal session


class PlcAttributeService(AttributeService):
    """asyncua's Write service of *server*, with writes to PLC tags (*bindings*) routed
    through ``VirtualPLC.write``; *original* writes everything else."""

    def __init__(self, server: Server, bindings: Bindings, original: AttributeService) -> None:
        super().__init__(server.iserver.aspace)
        self._server = server
        self._bindings = bindings
        self._original = original

    async def write(self, params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for value in params.NodesToWrite:
            binding = self._bindings.get(value.NodeId)
            if user.role == UserRole.Admin:
                one = ua.WriteParameters(NodesToWrite=[value])
                results.extend(await self._original.write(one, user))
            elif binding is not None:
                results.append(status(await client_write(self._server, *binding, value, user)))
            else:
                results.append(await self._other_write(value, user))
        return results

    async def _other_write(self, value: ua.WriteValue, user: User) -> ua.StatusCode:
        """A client's write to a node that is no PLC tag (OPC 10000-4 5.10.4.4 codes)."""
        if value.NodeId not in self._server.iserver.aspace:
            return status(StatusCodes.BadNodeIdUnknown)
        if value.AttributeId != AttributeIds.Value:
            return status(StatusCodes.BadNotWritable)
        level = self._server.iserver.aspace.read_attribute_value(
            value.NodeId, AttributeIds.AccessLevel
        )
        writable = ua.AccessLevel.CurrentWrite.mask
        if level.Value is None or not (as_int(level.Value.Value) & writable):
            return status(StatusCodes.BadNotWritable)
        if role_of(self._server, user) is not Role.OPERATOR:
            return status(StatusCodes.BadUserAccessDenied)
        return (await self._original.write(ua.WriteParameters(NodesToWrite=[value]), user))[0]


async def client_write(
    server: Server, machine: ServedMachine, spec: TagSpec, write: ua.WriteValue, user: User
) -> int:
    """A client's write of tag *spec* of *machine*: the status code (an accepted value is
    shown at once)."""
    if write.AttributeId != AttributeIds.Value or not spec.writable:
        return StatusCodes.BadNotWritable
    if role_of(server, user) is not Role.OPERATOR:
        return StatusCodes.BadUserAccessDenied
    if write.IndexRange:
        return StatusCodes.BadIndexRangeInvalid
    variant = write.Value.Value if write.Value is not None else None
    if variant is None or variant.VariantType != VARIANT_TYPES[spec.data_type]:
        return StatusCodes.BadTypeMismatch
    value = variant.Value
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    result = machine.plc.write(spec.path, value)
    if result.accepted:  # show the new value at once; the publisher skips it later
        await push(server.iserver.aspace, machine, spec.path, datetime.now(UTC))
    else:
        _log.info("OPC UA write refused: %s", result.message)
    return WRITE_STATUS[result.status]


def user_access(server: Server, event: ServerItemCallback) -> None:
    """Answer UserAccessLevel and UserExecutable for the reading session's user
    (OPC 10000-3 5.6.2, 5.7): without the operator role nothing is writable or
    executable, just as the Write and Call services then refuse."""
    operator = role_of(server, event.user) is Role.OPERATOR
    results: list[ua.DataValue] = event.response_params
    aspace = server.iserver.aspace
    for i, item in enumerate(event.request_params.NodesToRead):
        if item.AttributeId == AttributeIds.UserAccessLevel:
            own = aspace.read_attribute_value(item.NodeId, AttributeIds.AccessLevel)
            if own.Value is not None and own.Value.Value is not None:
                level = as_int(own.Value.Value) & (0xFF if operator else ~WRITE_BITS & 0xFF)
                results[i] = ua.DataValue(ua.Variant(level, VT.Byte))
        elif item.AttributeId == AttributeIds.UserExecutable:
            own = aspace.read_attribute_value(item.NodeId, AttributeIds.Executable)
            if own.Value is not None and own.Value.Value is not None:
                executable = operator and bool(own.Value.Value)
                results[i] = ua.DataValue(ua.Variant(executable, VT.Boolean))
