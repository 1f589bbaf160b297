"""Modbus TCP frames and request PDUs, checked the way the specification says.

Pure protocol, no sockets and no pymodbus: :func:`next_frame` cuts one MBAP frame off a TCP
byte stream (Modbus Messaging on TCP/IP Implementation Guide v1.0b, §3.1.3), and
:func:`parse_request` turns its PDU into a :class:`Request` or raises :class:`Refusal` with
the exception code the Modbus Application Protocol Specification v1.1b3 asks for:

* 01 illegal function: a function code other than 01-06, 0F and 10 (§7);
* 03 illegal data value: a quantity outside the limits of its function code (FC01/02
  1..2000, FC03/04 1..125, FC0F 1..1968, FC10 1..123), a byte count that does not match
  the quantity or the PDU's length, a PDU of the wrong length, an FC05 value other than
  0xFF00 (ON) or 0x0000 (OFF) (§6.5);
* 02 illegal data address: a range that runs past address 0xFFFF (§6.1-6.12).

The checks run in the order of the specification's state diagrams: function code, then
quantity and values, then addresses. :class:`Refusal` also carries the codes the server
answers later: 02 and 03 from the device's map and PLC, 04 (server device failure) for a
fault of the server itself, 0B (gateway target device failed to respond) for a unit id that
no device of a multi-unit server has (the implementation guide's answer for a target that
is not there).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass

MBAP = struct.Struct(">HHHB")
"""MBAP header: transaction id, protocol id (0 = Modbus), length (unit id + PDU), unit id."""
MAX_PDU = 253
"""Largest PDU (§4.1), so the MBAP length field is 2..254."""


class FunctionCode(enum.IntEnum):
    """The public function codes a virtual PLC serves (§6)."""

    READ_COILS = 0x01
    READ_DISCRETE_INPUTS = 0x02
    READ_HOLDING_REGISTERS = 0x03
    READ_INPUT_REGISTERS = 0x04
    WRITE_SINGLE_COIL = 0x05
    WRITE_SINGLE_REGISTER = 0x06
    WRITE_MULTIPLE_COILS = 0x0F
    WRITE_MULTIPLE_REGISTERS = 0x10

    @property
    def is_write(self) -> bool:
        """True for the four write functions."""
        return self in _WRITES

    @property
    def is_bit(self) -> bool:
        """True for the functions on coils and discrete inputs."""
        return self in _BITS


_WRITES = frozenset({FunctionCode.WRITE_SINGLE_COIL, FunctionCode.WRITE_SINGLE_REGISTER,
                     FunctionCode.WRITE_MULTIPLE_COILS, FunctionCode.WRITE_MULTIPLE_REGISTERS})
_BITS = frozenset({FunctionCode.READ_COILS, FunctionCode.READ_DISCRETE_INPUTS,
                   FunctionCode.WRITE_SINGLE_COIL, FunctionCode.WRITE_MULTIPLE_COILS})

READ_LIMITS = {FunctionCode.READ_COILS: 0x7D0, FunctionCode.READ_DISCRETE_INPUTS: 0x7D0,
               FunctionCode.READ_HOLDING_REGISTERS: 0x7D, FunctionCode.READ_INPUT_REGISTERS: 0x7D}
"""Most items one read may ask for (§6.1-6.4)."""
WRITE_LIMITS = {FunctionCode.WRITE_MULTIPLE_COILS: 0x7B0,
                FunctionCode.WRITE_MULTIPLE_REGISTERS: 0x7B}
"""Most items one multiple write may carry (§6.11, §6.12)."""
COIL_ON, COIL_OFF = 0xFF00, 0x0000
"""The only two values of an FC05 request (§6.5)."""


class ExceptionCode(enum.IntEnum):
    """Modbus exception codes (§7) a virtual PLC answers."""

    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    GATEWAY_TARGET_NO_RESPONSE = 0x0B
    """Gateway target device failed to respond: no device has the unit id."""


class Refusal(Exception):
    """A request the server answers with exception *code*; *reason* is for the log."""

    def __init__(self, code: ExceptionCode, reason: str) -> None:
        super().__init__(f"exception {int(code):02X} ({code.name.lower()}): {reason}")
        self.code = code
        self.reason = reason


class MalformedFrame(ValueError):
    """An MBAP header that cannot start a Modbus frame: the byte stream cannot be trusted."""


@dataclass(frozen=True)
class Frame:
    """One Modbus TCP request: its MBAP fields and its PDU (function code first)."""

    transaction: int
    unit: int
    pdu: bytes

    def answer(self, pdu: bytes) -> bytes:
        """The response frame carrying *pdu*: same transaction id and unit id."""
        return MBAP.pack(self.transaction, 0, len(pdu) + 1, self.unit) + pdu

    def refuse(self, code: ExceptionCode) -> bytes:
        """The exception response frame: function code | 0x80, then *code* (§7)."""
        return self.answer(bytes((self.pdu[0] | 0x80, int(code))))


def next_frame(stream: bytes) -> tuple[Frame, int] | None:
    """The first frame of *stream* and the bytes it used, or None until it is complete.

    Raises :class:`MalformedFrame` for a protocol id other than 0 or a length field outside
    2..254: after such a header no later frame boundary can be trusted.
    """
    if len(stream) < MBAP.size:
        return None
    transaction, protocol, length, unit = MBAP.unpack_from(stream)
    if protocol != 0:
        raise MalformedFrame(f"protocol id {protocol} is not Modbus (0)")
    if not 2 <= length <= MAX_PDU + 1:
        raise MalformedFrame(f"MBAP length {length} outside 2..{MAX_PDU + 1}")
    end = MBAP.size - 1 + length
    if len(stream) < end:
        return None
    return Frame(transaction, unit, bytes(stream[MBAP.size:end])), end


@dataclass(frozen=True)
class Request:
    """A well-formed request: *count* items from *address* (bits are 0/1 in *values*)."""

    function: FunctionCode
    address: int
    count: int
    values: tuple[int, ...] = ()
    """What a write stores, one item per address."""


def _value_error(reason: str) -> Refusal:
    return Refusal(ExceptionCode.ILLEGAL_DATA_VALUE, reason)


def parse_request(pdu: bytes) -> Request:
    """The request in *pdu*, or :class:`Refusal` with 01, 02 or 03 (see the module)."""
    try:
        function = FunctionCode(pdu[0])
    except ValueError:
        raise Refusal(ExceptionCode.ILLEGAL_FUNCTION,
                      f"function code {pdu[0]:#04x} is not served") from None
    body = pdu[1:]
    if function in WRITE_LIMITS:
        request = _parse_multiple_write(function, body)
    else:
        if len(body) != 4:
            raise _value_error(f"{function.name} takes 4 data bytes, not {len(body)}")
        address, field = struct.unpack(">HH", body)
        if function is FunctionCode.WRITE_SINGLE_COIL:
            if field not in (COIL_ON, COIL_OFF):
                raise _value_error(f"coil value {field:#06x} is neither 0xFF00 nor 0x0000")
            request = Request(function, address, 1, (int(field == COIL_ON),))
        elif function is FunctionCode.WRITE_SINGLE_REGISTER:
            request = Request(function, address, 1, (field,))
        else:
            if not 1 <= field <= READ_LIMITS[function]:
                raise _value_error(f"quantity {field} outside 1..{READ_LIMITS[function]}")
            request = Request(function, address, field)
    if request.address + request.count > 0x10000:
        raise Refusal(ExceptionCode.ILLEGAL_DATA_ADDRESS,
                      f"{request.count} items from {request.address} run past 0xFFFF")
    return request


def _parse_multiple_write(function: FunctionCode, body: bytes) -> Request:
    if len(body) < 5:
        raise _value_error(f"{function.name} takes at least 5 data bytes, not {len(body)}")
    address, count, byte_count = struct.unpack_from(">HHB", body)
    limit = WRITE_LIMITS[function]
    if not 1 <= count <= limit:
        raise _value_error(f"quantity {count} outside 1..{limit}")
    expected = (count + 7) // 8 if function.is_bit else 2 * count
    if byte_count != expected:
        raise _value_error(f"byte count {byte_count} for {count} items, not {expected}")
    data = body[5:]
    if len(data) != byte_count:
        raise _value_error(f"byte count {byte_count} but {len(data)} data bytes follow")
    if function.is_bit:
        values = tuple((data[i // 8] >> (i % 8)) & 1 for i in range(count))
    else:
        values = struct.unpack(f">{count}H", data)
    return Request(function, address, count, values)


def response(request: Request, values: Sequence[int]) -> bytes:
    """The normal response PDU to *request*; *values* are what a read found (§6)."""
    function = request.function
    if function in READ_LIMITS:
        if function.is_bit:
            data = bytearray((len(values) + 7) // 8)
            for i, bit in enumerate(values):
                if bit:
                    data[i // 8] |= 1 << (i % 8)
        else:
            data = bytearray(struct.pack(f">{len(values)}H", *values))
        return bytes((function, len(data))) + bytes(data)
    if function is FunctionCode.WRITE_SINGLE_COIL:
        field = COIL_ON if request.values[0] else COIL_OFF
    elif function is FunctionCode.WRITE_SINGLE_REGISTER:
        field = request.values[0]
    else:
        field = request.count
    return struct.pack(">BHH", function, request.address, field)
