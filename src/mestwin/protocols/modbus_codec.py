"""Modbus data encoding: how values are laid out in 16-bit registers.

Protocol knowledge shared by both ends of a Modbus link (the virtual PLCs' server and the
MES's polling client), so it belongs to neither level. Bytes in a register are big-endian;
the word order of 32/64-bit values is a per-device setting (default high word first);
strings are ASCII, two characters per register; date-times are UInt32 Unix seconds. See
the Modbus conventions in docs/virtual_plc.md.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from datetime import UTC, datetime

Value = bool | int | float | str | datetime
"""A decoded value."""


class Table(enum.StrEnum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete input"
    INPUT_REGISTER = "input register"
    HOLDING_REGISTER = "holding register"

    @property
    def prefix(self) -> int:
        """Leading digit of the 1-based number manuals use (0x, 1x, 3x, 4x)."""
        return {"coil": 0, "discrete input": 1, "input register": 3, "holding register": 4}[
            self.value]

    @property
    def is_bit(self) -> bool:
        """True for the one-bit tables."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)


class WordOrder(enum.StrEnum):
    """Order of the 16-bit words of a 32/64-bit value."""

    HIGH_FIRST = "high-first"
    """Most significant word at the lower address (big-endian, "ABCD")."""
    LOW_FIRST = "low-first"
    """Least significant word at the lower address (word-swapped, "CDAB")."""


class Encoding(enum.StrEnum):
    """How a value is laid out in registers."""

    BOOL = "BOOL"
    INT16 = "INT16"
    UINT16 = "UINT16"
    INT32 = "INT32"
    UINT32 = "UINT32"
    FLOAT32 = "FLOAT32"
    FLOAT64 = "FLOAT64"
    STRING = "STRING"
    DATETIME = "DATETIME"


_WORDS = {Encoding.BOOL: 1, Encoding.INT16: 1, Encoding.UINT16: 1, Encoding.INT32: 2,
          Encoding.UINT32: 2, Encoding.FLOAT32: 2, Encoding.FLOAT64: 4, Encoding.DATETIME: 2}
_STRUCT = {Encoding.INT16: "h", Encoding.UINT16: "H", Encoding.INT32: "i",
           Encoding.UINT32: "I", Encoding.FLOAT32: "f", Encoding.FLOAT64: "d",
           Encoding.DATETIME: "I"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DecodeError(ValueError):
    """Registers that are not a valid value of the entry (Modbus exception 03)."""


def encode(encoding: Encoding, value: Value, size: int,
           word_order: WordOrder = WordOrder.HIGH_FIRST) -> list[int]:
    """Lay *value* out in *size* registers (see the module docstring)."""
    if encoding is Encoding.BOOL:
        return [int(bool(value))]
    if encoding is Encoding.STRING:
        raw = str(value).encode("ascii", "replace")[: 2 * size].ljust(2 * size, b"\0")
        return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, 2 * size, 2)]
    if encoding is Encoding.DATETIME:
        if not isinstance(value, datetime):
            raise TypeError("DateTime tags hold datetimes")
        seconds = int((value - _EPOCH).total_seconds())
        value = min(max(seconds, 0), 2**32 - 1)
    raw = struct.pack(">" + _STRUCT[encoding], value)
    words = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
    return words[::-1] if word_order is WordOrder.LOW_FIRST else words


def decode(encoding: Encoding, registers: Sequence[int],
           word_order: WordOrder = WordOrder.HIGH_FIRST) -> Value:
    """The value laid out in *registers*; raises :class:`DecodeError` if there is none."""
    if encoding is Encoding.BOOL:
        if registers[0] not in (0, 1):
            raise DecodeError(f"{registers[0]} is not a boolean (0 or 1)")
        return bool(registers[0])
    raw = b"".join(int(r).to_bytes(2, "big") for r in registers)
    if encoding is Encoding.STRING:
        try:
            return raw.rstrip(b"\0").decode("ascii")
        except UnicodeDecodeError as error:
            raise DecodeError("strings are ASCII") from error
    if word_order is WordOrder.LOW_FIRST:
        raw = b"".join(raw[i:i + 2] for i in range(len(raw) - 2, -1, -2))
    (number,) = struct.unpack(">" + _STRUCT[encoding], raw)
    if encoding is Encoding.DATETIME:
        return datetime.fromtimestamp(int(number), UTC)
    if isinstance(number, float) and not math.isfinite(number):
        raise DecodeError("not a finite number")
    return number  # type: ignore[no-any-return]
