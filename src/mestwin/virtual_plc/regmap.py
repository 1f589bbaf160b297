"""The Modbus register map of a virtual machine, generated from the tag table.

Conventions (Modbus Application Protocol v1.1b3 plus common PLC practice):

* Wire addresses are 0-based; manuals' 1-based numbers are shown too (holding register 0 is
  400001, input register 0 is 300001, discrete input 0 is 100001, coil 0 is 000001).
* Bytes in a register are big-endian. 32- and 64-bit values span 2 and 4 registers in a
  per-device :class:`WordOrder`, default :attr:`WordOrder.HIGH_FIRST` (mbpoll ``-B``).
* Encodings (:class:`Encoding`): Boolean 1 register (0/1) or 1 bit; Int16/UInt16 1 register;
  Int32, UInt32 and Float (IEEE 754 single) 2; Double 4 (FLOAT64); DateTime 2 (UINT32
  seconds since 1970-01-01 UTC); String ``length/2`` registers of ASCII, two characters per
  register, first character in the high byte, padded with NUL.
* :attr:`Profile.STANDARD`: holding registers (4x) for the Command group, input registers
  (3x) for Status, Admin, Diagnostics and JobManagement, coils (0x) for pulse commands
  (writing 1 to coil ``n-1`` issues PackML command ``n``: Reset = coil 0 ... Complete =
  coil 9) and the Command booleans, discrete inputs (1x) for the Signals group (Running,
  Faulted, Blocked, Starved, Held). :attr:`Profile.HOLDING_ONLY` puts every group in
  holding registers, as many PLCs do (booleans one register each, no pulse coils).
* Each group is contiguous and starts at a multiple of :data:`GROUP_STRIDE`, so one read of
  at most 125 registers polls it, and adding a tag to one group never moves another.
* The Genealogy group (the PLC's FIFO of unit starts, as barcode-reading lines keep) comes
  after every other register group, so it moves none of them: ``Genealogy.Seq`` (UINT32,
  the number of the newest record) at the group's base, then ``Genealogy.Record[k]`` (the
  record of sequence number n is in slot n % 16) each at its own multiple of
  :data:`GROUP_STRIDE`; a record is a 400-character string, 200 registers, so a client
  reads Seq and then, in two requests each, only the records it has not seen.
* The StateLog group (the PLC's FIFO of state changes) comes after the Genealogy group:
  ``StateLog.Seq`` (UINT32, the number of the newest record) at the group's base (input
  register 3800; holding-only 4000), then the 64 records back to back from the next
  multiple of :data:`GROUP_STRIDE` (3900; holding-only 4100), 8 registers each: ``Seq``
  (UINT32), ``Time`` (FLOAT64, simulated seconds, the ``StateChangeTime`` clock),
  ``State`` (INT16, ``MachineState``) and ``Reason`` (INT16, ``StateReason``); the record
  of sequence number n is in slot n % 64, at 3900 + 8 (n % 64). A client reads Seq, then
  the records it has not seen, 15 to a request; a record whose own Seq is not the number
  it expected was overwritten (more than 64 changes since it last read).
* Reads and writes that touch an unmapped address (including the gap after a group: read a
  group with its exact span) and writes to a read-only address answer exception 02 (illegal
  data address); a value that does not decode, lies outside the entry's
  :attr:`Entry.allowed` values (the tag table's, :attr:`~.tags.TagSpec.values`: ``CntrlCmd``
  0..10, ``UnitMode`` 1..3), or that the PLC refuses answers exception 03 (illegal data
  value), and so does a write that sets more than one pulse coil (one PackML command per
  request). A refused write stores none of its values. Never a silent success. Coils and
  discrete inputs are stored 16 to a word, so a bit read that *starts* on a mapped bit but
  runs past the last one returns 0 for the unused bits of that word.
* What the protocol itself refuses (:mod:`~.modbus_pdu`): function codes other than 01-06,
  0F, 10 answer 01; quantities beyond the specification's limits, inconsistent byte counts
  and FC05 values other than 0xFF00/0x0000 answer 03; a unit id no machine has answers 0B.

Tags with ``TagSpec.modbus`` false (long texts, identification) are OPC UA only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mestwin.protocols.modbus_codec import (
    _WORDS,
    DecodeError,
    Encoding,
    Table,
    WordOrder,
    decode,
    encode,
)
from mestwin.virtual_plc.packml import Command
from mestwin.virtual_plc.tags import (
    TAGS,
    DataType,
    Group,
    TagSpec,
    TagValue,
)

GROUP_STRIDE = 100
"""Groups start at multiples of this address."""
MAX_READ = 125
"""Most registers one Modbus read may return."""


class Profile(enum.StrEnum):
    """Which tables the map uses."""

    STANDARD = "standard"
    HOLDING_ONLY = "holding-only"


class Addressing(enum.StrEnum):
    """How clients reach each machine of a server."""

    UNIT_ID = "unit-id"
    """One TCP port; machine i (0-based, in scenario order) is unit id i + 1."""
    PORT = "port"
    """One TCP port per machine (base port + i); any unit id."""


_ENCODING = {
    DataType.BOOLEAN: Encoding.BOOL, DataType.INT16: Encoding.INT16,
    DataType.UINT16: Encoding.UINT16, DataType.INT32: Encoding.INT32,
    DataType.UINT32: Encoding.UINT32, DataType.FLOAT: Encoding.FLOAT32,
    DataType.DOUBLE: Encoding.FLOAT64, DataType.STRING: Encoding.STRING,
    DataType.DATETIME: Encoding.DATETIME,
}
@dataclass(frozen=True)
class Entry:
    """One mapped item: a tag (or a pulse command) at an address of a table."""

    table: Table
    address: int
    """0-based wire address of the first register or bit."""
    size: int
    """Registers (or bits) it spans."""
    encoding: Encoding
    writable: bool
    group: Group
    path: str | None
    """The tag it shows, or None for a pulse coil."""
    command: Command | None = None
    """The PackML command a pulse coil issues."""
    description: str = ""
    unit: str = ""
    allowed: range | None = None
    """The values a client may write (others answer exception 03); None: any it decodes."""

    @property
    def end(self) -> int:
        """First address after the entry."""
        return self.address + self.size

    @property
    def number(self) -> int:
        """The 1-based number manuals show (400001 for holding register 0)."""
        return self.table.prefix * 100000 + self.address + 1


@dataclass(frozen=True)
class RegisterMap:
    """All entries of one device's map, with its word order."""

    entries: tuple[Entry, ...]
    profile: Profile
    word_order: WordOrder

    def table(self, table: Table) -> tuple[Entry, ...]:
        """The entries of *table*, by address."""
        return tuple(sorted((e for e in self.entries if e.table is table),
                            key=lambda e: e.address))

    def at(self, table: Table, address: int) -> Entry | None:
        """The entry of *table* that covers *address*, if any."""
        for entry in self.entries:
            if entry.table is table and entry.address <= address < entry.end:
                return entry
        return None

    def by_path(self, path: str) -> tuple[Entry, ...]:
        """The entries that show tag *path* (a boolean may be both a register and a bit)."""
        return tuple(e for e in self.entries if e.path == path)

    def encode(self, entry: Entry, value: TagValue) -> list[int]:
        """The registers (or 0/1 bits) that show *value* in *entry*."""
        return encode(entry.encoding, value, entry.size, self.word_order)

    def decode(self, entry: Entry, registers: Sequence[int]) -> TagValue:
        """The value *registers* show in *entry*; raises :class:`DecodeError`."""
        return decode(entry.encoding, registers, self.word_order)

    def render_markdown(self, title: str = "Register map") -> str:
        """The map as a markdown document, one table per Modbus table."""
        lines = [f"## {title}", "",
                 f"Profile `{self.profile}`; 32/64-bit word order `{self.word_order}`; "
                 "bytes big-endian; addresses 0-based on the wire.", ""]
        for table in Table:
            entries = self.table(table)
            if not entries:
                continue
            lines += [f"### {table.value.capitalize()}s ({table.prefix}x)", "",
                      "| Address | Number | Size | Type | Access | Tag | Unit | Values "
                      "| Description |",
                      "|---:|---:|---:|---|---|---|---|---|---|"]
            for e in entries:
                name = e.path or f"Pulse {e.command.name.capitalize() if e.command else ''}"
                lines.append(
                    f"| {e.address} | {e.number:06d} | {e.size} | {e.encoding} | "
                    f"{'RW' if e.writable else 'R'} | `{name}` | {e.unit} | {_values(e)} | "
                    f"{e.description.replace('|', '&#124;')} |")
            lines.append("")
        return "\n".join(lines)


def _allowed(spec: TagSpec) -> range | None:
    """The values a client may write to *spec*: the tag table's own range (one rule for
    every protocol, :attr:`~.tags.TagSpec.values`)."""
    return None if spec.values is None else range(spec.values[0], spec.values[1] + 1)


def _values(entry: Entry) -> str:
    """The Values column: what a write to the entry may carry (others answer 03)."""
    if not entry.writable:
        return ""
    if entry.allowed is not None:
        return f"{entry.allowed.start}..{entry.allowed.stop - 1}"
    if entry.path == "PackTags.Command.MachSpeed":
        return "> 0, finite"
    if entry.encoding is Encoding.STRING:
        return f"ASCII, up to {2 * entry.size} characters"
    if entry.encoding is Encoding.BOOL:
        return "0, 1 (FC05: FF00, 0000)" if entry.table.is_bit else "0, 1"
    return ""


def _size(spec: TagSpec) -> int:
    encoding = _ENCODING[spec.data_type]
    return (spec.length + 1) // 2 if encoding is Encoding.STRING else _WORDS[encoding]


_REGISTER_GROUPS = (Group.STATUS, Group.ADMIN, Group.DIAGNOSTICS, Group.JOB_MANAGEMENT,
                    Group.OEE)


def build_map(profile: Profile | str = Profile.STANDARD,
              word_order: WordOrder | str = WordOrder.HIGH_FIRST,
              tags: Iterable[TagSpec] = TAGS) -> RegisterMap:
    """Generate the register map of *profile* in *word_order* from the tag table *tags*."""
    profile, word_order = Profile(profile), WordOrder(word_order)
    specs = [s for s in tags if s.modbus]
    entries: list[Entry] = []
    holding_only = profile is Profile.HOLDING_ONLY
    groups = [Group.COMMAND, *_REGISTER_GROUPS, *([Group.SIGNALS] if holding_only else [])]
    bases = {Table.HOLDING_REGISTER: 0, Table.INPUT_REGISTER: 0}
    for group in groups:
        members = [s for s in specs if s.group is group]
        if not members:
            continue
        table = (Table.HOLDING_REGISTER if holding_only or group is Group.COMMAND
                 else Table.INPUT_REGISTER)
        address = bases[table]
        for spec in members:
            size = _size(spec)
            entries.append(Entry(table, address, size, _ENCODING[spec.data_type],
                                 spec.writable, group, spec.path, None, spec.description,
                                 spec.unit, _allowed(spec)))
            address += size
        if address - bases[table] > min(GROUP_STRIDE, MAX_READ):
            raise ValueError(f"group {group} needs {address - bases[table]} registers")
        bases[table] += GROUP_STRIDE
    if not holding_only:
        commands = [c for c in Command if c is not Command.UNDEFINED]
        entries += [Entry(Table.COIL, int(c) - 1, 1, Encoding.BOOL, True, Group.COMMAND, None,
                          c, f"Write 1 to issue {c.name.capitalize()} (reads 1 until the PLC "
                          "takes it)")
                    for c in commands]
        flags = [s for s in specs if s.group is Group.COMMAND and s.data_type is DataType.BOOLEAN]
        entries += [Entry(Table.COIL, len(commands) + i, 1, Encoding.BOOL, True, Group.COMMAND,
                          s.path, None, s.description) for i, s in enumerate(flags)]
        signals = [s for s in specs if s.group is Group.SIGNALS]
        entries += [Entry(Table.DISCRETE_INPUT, i, 1, Encoding.BOOL, False, Group.SIGNALS,
                          s.path, None, s.description) for i, s in enumerate(signals)]
    fifo = Table.HOLDING_REGISTER if holding_only else Table.INPUT_REGISTER
    address = bases[fifo]
    for spec in (s for s in specs if s.group is Group.GENEALOGY):
        size = _size(spec)
        entries.append(Entry(fifo, address, size, _ENCODING[spec.data_type], spec.writable,
                             Group.GENEALOGY, spec.path, None, spec.description, spec.unit))
        address += -(-size // GROUP_STRIDE) * GROUP_STRIDE
    base = address  # the state log: Seq, then the records back to back one stride on
    for i, spec in enumerate(s for s in specs if s.group is Group.STATE_LOG):
        if i == 1:
            address = base + GROUP_STRIDE
        size = _size(spec)
        entries.append(Entry(fifo, address, size, _ENCODING[spec.data_type], spec.writable,
                             Group.STATE_LOG, spec.path, None, spec.description, spec.unit))
        address += size
    return RegisterMap(tuple(entries), profile, word_order)


def register_map_markdown(machines: list[str], profile: Profile | str = Profile.STANDARD,
                          word_order: WordOrder | str = WordOrder.HIGH_FIRST,
                          addressing: Addressing | str = Addressing.UNIT_ID,
                          port: int = 5020) -> str:
    """The document ``mestwin plc map SCENARIO`` prints: how to reach each machine of
    *machines* (scenario order) under *addressing* from *port*, then the map every machine
    shares."""
    rmap = build_map(profile, word_order)
    addressing = Addressing(addressing)
    lines = ["# Modbus TCP register map", "",
             "Every machine serves the same map. Servers bind 127.0.0.1 unless told otherwise.",
             "", "| Machine | Port | Unit id |", "|---|---:|---:|"]
    for i, machine in enumerate(machines):
        if addressing is Addressing.UNIT_ID:
            lines.append(f"| {machine} | {port} | {i + 1} |")
        else:
            lines.append(f"| {machine} | {port + i} | any |")
    lines += ["", "Function codes 01-06, 0F and 10 are served (Modbus Application Protocol "
              "v1.1b3); any other answers exception 01 (illegal function). Reading or "
              "writing a read-only or unmapped address answers exception 02 (illegal data "
              "address). Exception 03 (illegal data value) answers a quantity outside the "
              "specification's limits (FC01/02 1-2000, FC03/04 1-125, FC0F 1-1968, FC10 "
              "1-123) or a byte count that does not match it, an FC05 value other than FF00 "
              "(on) or 0000 (off), a value that does not decode, lies outside the Values "
              "column or that the PLC refuses, and a write that sets more than one pulse "
              "coil. A refused write stores none of its values. A unit id that no machine "
              "has answers exception 0B (gateway target device failed to respond). Strings "
              "are ASCII, two characters per register (first in the high byte), NUL-padded to "
              "the Size column; DATETIME is UINT32 seconds since 1970-01-01 UTC.", "",
              "Genealogy (the PLC's FIFO of unit starts): `Genealogy.Seq` is the sequence "
              "number of the newest record (0: none yet); record n is in "
              "`Genealogy.Record[n % 16]` as `seq|time|serial|product|lot|order|consumed` "
              "(time in simulated seconds; consumed is `lot=qty` or `serial@lot=qty`, comma "
              "separated). The PLC writes a record before it counts it in Seq, so a client "
              "that reads Seq and then the records it has not seen loses no unit started "
              "between two polls (up to 16). A record spans 200 registers: read it in two "
              "requests (a read returns at most 125).", "",
              "State log (the PLC's FIFO of state changes, after the genealogy FIFO): "
              "`StateLog.Seq` is the sequence number of the newest record (0: none yet); "
              "record n is in slot n % 64, `StateLog.Record[n % 64]`, 8 registers from "
              "the first record's address + 8 (n % 64): `Seq` (UINT32), `Time` (FLOAT64, "
              "simulated seconds, the clock of `StateChangeTime`), `State` (INT16, "
              "`MachineState`), `Reason` (INT16, `StateReason`). The PLC appends one at "
              "every change of MachineState or StateReason and writes it before it counts it "
              "in Seq, so a client that reads Seq and then the records it has not seen (15 "
              "to a request) times every state exactly, however short, as long as no more "
              "than 64 changes happen between two polls; a record whose own Seq is not the "
              "number expected was overwritten. A restarted PLC starts again at 1.", "",
              rmap.render_markdown()]
    return "\n".join(lines)


__all__ = [
    "GROUP_STRIDE", "MAX_READ", "Addressing", "DecodeError", "Encoding", "Entry", "Profile",
    "RegisterMap", "Table", "WordOrder", "build_map", "decode", "encode",
    "register_map_markdown",
]
