"""OPC 30050's structured PackML values, encoded from the PLC's tags.

PackML's Admin counters are arrays of ``PackMLCountDataType`` and its stop reason and
alarms ``PackMLAlarmDataType`` (OPC 30050 7.2, 7.1); the PLC keeps each field as its own
tag (``PackTags.Admin.ProdProcessedCount[0].AccCount`` ...). A :class:`Structure` says which
tags make up one such value and encodes it as the ExtensionObject of the type's binary
encoding, field by field as the nodeset's TypeDictionary lays it out (OPC 10000-6 5.2.6),
so no Python class has to be registered with asyncua (whose registry is process-wide).

Where a PackML field is an Int32 and the tag a UInt32 (``AccCount``), the value saturates
at 2**31 - 1. A counter's ``Unit`` is an ``EUInformation`` with the tag's text as its
DisplayName and UnitId -1 (none, OPC 10000-8 5.6.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asyncua import ua
from asyncua.ua.ua_binary import Primitives, struct_to_binary

from mestwin.virtual_plc.opcua_nodes import VT
from mestwin.virtual_plc.tags import EPOCH, TagValue

__all__ = ["ALARM_ENCODING", "COUNT_ENCODING", "Structure", "alarm", "counters"]

COUNT_ENCODING = 69
"""PackML's NodeId of PackMLCountDataType's Default Binary encoding."""
ALARM_ENCODING = 74
"""PackML's NodeId of PackMLAlarmDataType's Default Binary encoding."""
_INT32_MAX = 2**31 - 1

Read = Callable[[str], TagValue]
"""A tag's value by its path."""


@dataclass(frozen=True)
class Structure:
    """A PackML value made of several tags: *paths* are the tags it shows, *encode* makes
    its Variant from a tag reader (the tags as they are: a structure shows their latest
    values)."""

    paths: tuple[str, ...]
    encode: Callable[[Read], ua.Variant]


def counters(prefix: str, count: int, encoding: ua.NodeId) -> Structure:
    """``PackMLCountDataType[count]`` of the tags ``<prefix>[k].ID|Name|Unit|Count|AccCount``."""
    fields = ("ID", "Name", "Unit", "Count", "AccCount")
    paths = tuple(f"{prefix}[{k}].{f}" for k in range(count) for f in fields)

    units: dict[str, bytes] = {}  # unit text -> its EUInformation (few, fixed)

    def encode(read: Read) -> ua.Variant:
        items = []
        for k in range(count):
            tag = f"{prefix}[{k}]."
            text = str(read(tag + "Unit"))
            unit = units.get(text) or units.setdefault(text, _unit(text))
            body = b"".join((_int32(read(tag + "ID")), _string(read(tag + "Name")), unit,
                             _int32(read(tag + "Count")),
                             _int32(read(tag + "AccCount"))))
            items.append(ua.ExtensionObject(TypeId=encoding, Body=body))  # type: ignore[arg-type]
        return ua.Variant(items, VT.ExtensionObject)

    return Structure(paths, encode)


def alarm(prefix: str, fields: Sequence[str], encoding: ua.NodeId, *,
          array: bool) -> Structure:
    """``PackMLAlarmDataType`` (an array of one if *array*) of the tags ``<prefix>.<field>``
    for *fields* of ID, Value, Message, Category, DateTime, AckDateTime; a field without a
    tag is 0 or the epoch. Trigger: the ID is not 0 (a stop or alarm is there)."""
    paths = tuple(f"{prefix}.{f}" for f in fields)

    def encode(read: Read) -> ua.Variant:
        def get(name: str, default: TagValue) -> TagValue:
            return read(f"{prefix}.{name}") if name in fields else default
        ident = get("ID", 0)
        body = b"".join((_int32(ident), _int32(get("Value", 0)), _string(get("Message", "")),
                         _int32(get("Category", 0)), _datetime(get("DateTime", EPOCH)),
                         _datetime(get("AckDateTime", EPOCH)),
                         Primitives.Boolean.pack(bool(ident))))
        value = ua.ExtensionObject(TypeId=encoding, Body=body)  # type: ignore[arg-type]
        return ua.Variant([value] if array else value, VT.ExtensionObject)

    return Structure(paths, encode)


def _unit(text: str) -> bytes:
    """The EUInformation of a unit named *text*."""
    return struct_to_binary(ua.EUInformation(
        NamespaceUri="", UnitId=-1, DisplayName=ua.LocalizedText(text),  # type: ignore[arg-type]
        Description=ua.LocalizedText("")))


def _int32(value: TagValue) -> bytes:
    number = value if isinstance(value, int) else 0
    return Primitives.Int32.pack(max(-_INT32_MAX - 1, min(_INT32_MAX, number)))


def _string(value: TagValue) -> bytes:
    return Primitives.String.pack(str(value))


def _datetime(value: TagValue) -> bytes:
    return Primitives.DateTime.pack(value if isinstance(value, datetime) else EPOCH)
