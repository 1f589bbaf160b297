"""The Modbus register map generated from the tag table."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mestwin.virtual_plc.packml import Command
from mestwin.virtual_plc.regmap import (
    GROUP_STRIDE,
    MAX_READ,
    DecodeError,
    Encoding,
    Entry,
    Profile,
    RegisterMap,
    Table,
    WordOrder,
    build_map,
    decode,
    encode,
    register_map_markdown,
)
from mestwin.virtual_plc.tags import TAGS, Group

MAPS = [build_map(p, w) for p in Profile for w in WordOrder]


@pytest.mark.parametrize("rmap", MAPS, ids=lambda m: f"{m.profile}-{m.word_order}")
def test_no_two_entries_share_an_address(rmap: RegisterMap) -> None:
    """Within each table the entries' address ranges are disjoint."""
    for table in Table:
        entries = rmap.table(table)
        for a, b in itertools.pairwise(entries):
            assert a.end <= b.address, (a, b)


@pytest.mark.parametrize("rmap", MAPS, ids=lambda m: f"{m.profile}-{m.word_order}")
def test_each_group_is_contiguous_and_readable_in_one_request(rmap: RegisterMap) -> None:
    """A group's registers form one gap-free block starting at a multiple of GROUP_STRIDE and
    no longer than one read (125 registers); the genealogy FIFO and the state log are the
    exceptions (below)."""
    for table in (Table.HOLDING_REGISTER, Table.INPUT_REGISTER):
        by_group: dict[Group, list[Entry]] = {}
        for entry in rmap.table(table):
            by_group.setdefault(entry.group, []).append(entry)
        by_group.pop(Group.GENEALOGY, None)
        by_group.pop(Group.STATE_LOG, None)
        for group, entries in by_group.items():
            assert entries[0].address % GROUP_STRIDE == 0, group
            for a, b in itertools.pairwise(entries):
                assert a.end == b.address, (group, a, b)
            assert entries[-1].end - entries[0].address <= MAX_READ


def test_standard_profile_tables() -> None:
    """Commands are holding registers (writable), status and admin input registers
    (read-only), pulse commands coils, the Signals discrete inputs."""
    rmap = build_map()
    for entry in rmap.entries:
        if entry.table is Table.HOLDING_REGISTER:
            assert entry.group is Group.COMMAND
            assert entry.writable
        elif entry.table is Table.INPUT_REGISTER:
            assert entry.group in (Group.STATUS, Group.ADMIN, Group.DIAGNOSTICS,
                                   Group.JOB_MANAGEMENT, Group.OEE, Group.GENEALOGY,
                                   Group.STATE_LOG)
            assert not entry.writable
        elif entry.table is Table.DISCRETE_INPUT:
            assert entry.group is Group.SIGNALS
            assert not entry.writable
        else:
            assert entry.writable
    pulses = {e.command: e.address for e in rmap.table(Table.COIL) if e.command is not None}
    assert pulses == {c: int(c) - 1 for c in Command if c is not Command.UNDEFINED}
    signals = [e.path for e in rmap.table(Table.DISCRETE_INPUT)]
    assert signals == ["Signals.Running", "Signals.Faulted", "Signals.Blocked",
                       "Signals.Starved", "Signals.Held"]


def test_holding_only_profile() -> None:
    """Everything is in holding registers; only the Command group is writable."""
    rmap = build_map(Profile.HOLDING_ONLY)
    assert {e.table for e in rmap.entries} == {Table.HOLDING_REGISTER}
    assert all(e.writable is (e.group is Group.COMMAND) for e in rmap.entries)
    assert {e.group for e in rmap.entries} >= {Group.STATUS, Group.ADMIN, Group.SIGNALS}


def test_every_modbus_tag_is_mapped() -> None:
    """Each tag meant for Modbus appears at least once in both profiles; no other does."""
    for profile in Profile:
        rmap = build_map(profile)
        mapped = {e.path for e in rmap.entries if e.path}
        assert mapped == {s.path for s in TAGS if s.modbus}


def test_numbers_are_one_based_with_the_table_prefix() -> None:
    """Holding register 0 is 400001; input register 100 is 300101; coil 0 is 1."""
    rmap = build_map()
    assert rmap.at(Table.HOLDING_REGISTER, 0).number == 400001  # type: ignore[union-attr]
    assert rmap.at(Table.INPUT_REGISTER, 100).number == 300101  # type: ignore[union-attr]
    assert rmap.at(Table.COIL, 0).number == 1  # type: ignore[union-attr]
    assert rmap.at(Table.DISCRETE_INPUT, 4).number == 100005  # type: ignore[union-attr]
    assert rmap.at(Table.INPUT_REGISTER, 99) is None


def test_32_bit_word_order() -> None:
    """High word first puts 0x12345678 as [0x1234, 0x5678]; low word first swaps them."""
    assert encode(Encoding.UINT32, 0x12345678, 2, WordOrder.HIGH_FIRST) == [0x1234, 0x5678]
    assert encode(Encoding.UINT32, 0x12345678, 2, WordOrder.LOW_FIRST) == [0x5678, 0x1234]
    assert encode(Encoding.INT32, -2, 2) == [0xFFFF, 0xFFFE]
    assert encode(Encoding.FLOAT32, 1.0, 2) == [0x3F80, 0x0000]
    assert encode(Encoding.FLOAT64, 1.0, 4, WordOrder.LOW_FIRST) == [0, 0, 0, 0x3FF0]


@pytest.mark.parametrize("order", list(WordOrder))
@pytest.mark.parametrize(("encoding", "value"), [
    (Encoding.INT16, -12345), (Encoding.UINT16, 65535), (Encoding.INT32, -(2**31)),
    (Encoding.INT32, 2**31 - 1), (Encoding.UINT32, 2**32 - 1), (Encoding.FLOAT32, 0.5),
    (Encoding.FLOAT64, 1234.5678), (Encoding.BOOL, True), (Encoding.BOOL, False),
    (Encoding.DATETIME, datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
])
def test_values_round_trip(encoding: Encoding, value: object, order: WordOrder) -> None:
    """decode(encode(v)) == v for every encoding in both word orders."""
    size = {Encoding.FLOAT64: 4, Encoding.INT16: 1, Encoding.UINT16: 1, Encoding.BOOL: 1}.get(
        encoding, 2)
    words = encode(encoding, value, size, order)  # type: ignore[arg-type]
    assert len(words) == size
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode(encoding, words, order) == value


def test_strings() -> None:
    """Two ASCII characters per register, first in the high byte, NUL padded; decoding
    strips the padding and refuses non-ASCII bytes."""
    words = encode(Encoding.STRING, "ABC", 3)
    assert words == [0x4142, 0x4300, 0x0000]
    assert decode(Encoding.STRING, words) == "ABC"
    assert encode(Encoding.STRING, "é", 1) == [0x3F00]
    with pytest.raises(DecodeError):
        decode(Encoding.STRING, [0xC3A9])


def test_invalid_registers_do_not_decode() -> None:
    """A boolean register must hold 0 or 1; floats must be finite."""
    with pytest.raises(DecodeError):
        decode(Encoding.BOOL, [2])
    with pytest.raises(DecodeError):
        decode(Encoding.FLOAT32, [0x7FC0, 0])


def test_markdown_lists_machines_and_every_entry() -> None:
    """The document names each machine with its unit id (or port) and every mapped tag with
    its 0-based address and 1-based number."""
    text = register_map_markdown(["cut", "weld"])
    assert "| cut | 5020 | 1 |" in text
    assert "| weld | 5020 | 2 |" in text
    for entry in build_map().entries:
        if entry.path:
            assert f"`{entry.path}`" in text
    assert "| 0 | 400001 | 2 | INT32 | RW | `PackTags.Command.UnitMode`" in text
    ports = register_map_markdown(["cut", "weld"], "holding-only", "low-first", "port", 1502)
    assert "| weld | 1503 | any |" in ports
    assert "low-first" in ports
    assert "### Coils" not in ports


def test_enumerated_commands_allow_their_enumeration_only() -> None:
    """CntrlCmd takes the PackML commands 0 (Undefined) .. 10 (Complete) and UnitMode the
    modes 1 Production, 2 Maintenance, 3 Manual (0 is PackML's Invalid), in both profiles,
    as over OPC UA; no other entry restricts its values beyond what it decodes."""
    for profile in Profile:
        rmap = build_map(profile)
        allowed = {e.path: e.allowed for e in rmap.entries if e.allowed is not None}
        assert allowed == {"PackTags.Command.CntrlCmd": range(11),
                           "PackTags.Command.UnitMode": range(1, 4)}


def test_markdown_documents_every_refusal() -> None:
    """The map a user reads states the Values a write may carry and each exception code
    the server answers (01, 02, 03, 0B) with the specification's quantity limits."""
    text = register_map_markdown(["cut"])
    assert "| Tag | Unit | Values | Description |" in text
    assert "| 5 | 400006 | 2 | INT32 | RW | `PackTags.Command.CntrlCmd` |  | 0..10 |" in text
    assert "| 0 | 400001 | 2 | INT32 | RW | `PackTags.Command.UnitMode` |  | 1..3 |" in text
    assert "| 7 | 400008 | 1 | BOOL | RW | `PackTags.Command.CmdChangeRequest` |  | 0, 1 |" in text
    assert "`PackTags.Command.MachSpeed` | 1/min | > 0, finite |" in text
    assert "`PackTags.Command.WorkOrder` |  | ASCII, up to 32 characters |" in text
    for words in ("exception 01 (illegal function)", "exception 02 (illegal data address)",
                  "Exception 03 (illegal data value)", "FC03/04 1-125", "FC10 1-123",
                  "FC0F 1-1968", "FC01/02 1-2000", "FF00", "more than one pulse coil",
                  "exception 0B (gateway target device failed to respond)"):
        assert words in text, words


def _plc_map(scenario: Path, *options: str) -> dict[str, list[str]]:
    """``mestwin plc map SCENARIO`` as a user runs it: tag -> the cells of its row."""
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "plc", "map", str(scenario),
                           *options], capture_output=True, text=True, timeout=60, check=True)
    rows = {}
    for line in done.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) > 5 and cells[5].startswith("`"):
            assert len(cells) == 9, line  # a '|' in a description would split its cell
            rows[cells[5].strip("`")] = cells
    return rows


@pytest.mark.timeout(120)
def test_plc_map_documents_the_unit_in_work_and_the_genealogy_fifo(
        scenarios_dir: Path) -> None:
    """The printed map shows the unit's serial and lot as 32-character strings (16 registers
    of two ASCII characters) where they always were, and the genealogy FIFO after every
    other group so no address moves: Seq (UINT32) at 300501, Record[k] (400 characters, 200
    registers) at 300601 + 200 k; holding-only, after the Signals group (400701). The text
    tells how to read a record (two requests) and what it holds."""
    rows = _plc_map(scenarios_dir / "assembly_line.yaml")
    assert rows["PackTags.Status.CurrentLot"][:5] == ["31", "300032", "16", "STRING", "R"]
    assert rows["PackTags.Status.CurrentSerial"][:5] == ["47", "300048", "16", "STRING", "R"]
    assert rows["Genealogy.Seq"][:5] == ["500", "300501", "2", "UINT32", "R"]
    for k in range(16):
        address = 600 + 200 * k
        assert rows[f"Genealogy.Record[{k}]"][:5] == [
            str(address), f"{300001 + address:06d}", "200", "STRING", "R"]
    assert "seq&#124;time&#124;serial" in rows["Genealogy.Record[0]"][8]
    holding = _plc_map(scenarios_dir / "assembly_line.yaml", "--modbus-profile",
                       "holding-only")
    assert holding["Signals.Held"][:2] == ["604", "400605"]
    assert holding["Genealogy.Seq"][:2] == ["700", "400701"]
    assert holding["Genealogy.Record[15]"][:3] == ["3800", "403801", "200"]
    text = register_map_markdown(["cut"])
    for words in ("`seq|time|serial|product|lot|order|consumed`", "`Genealogy.Record[n % 16]`",
                  "read it in two requests", "NUL-padded"):
        assert words in text, words


@pytest.mark.parametrize("rmap", MAPS, ids=lambda m: f"{m.profile}-{m.word_order}")
def test_the_state_log_comes_after_every_other_group(rmap: RegisterMap) -> None:
    """StateLog.Seq (UINT32) at 3800 (holding-only 4000), after the genealogy FIFO's last
    record, so no address moves; the 64 records from 3900 (4100), 8 registers each, back to
    back: Seq UINT32, Time FLOAT64, State INT16, Reason INT16; nothing after them."""
    table = (Table.INPUT_REGISTER if rmap.profile is Profile.STANDARD
             else Table.HOLDING_REGISTER)
    seq, first = (3800, 3900) if rmap.profile is Profile.STANDARD else (4000, 4100)
    assert [(e.table, e.address, e.size, e.encoding) for e in rmap.by_path("StateLog.Seq")] \
        == [(table, seq, 2, Encoding.UINT32)]
    genealogy = rmap.by_path("Genealogy.Record[15]")[0]
    assert genealogy.end == seq
    for k in range(64):
        layout = [(e.table, e.address, e.size, e.encoding, e.writable)
                  for f in ("Seq", "Time", "State", "Reason")
                  for e in rmap.by_path(f"StateLog.Record[{k}].{f}")]
        base = first + 8 * k
        assert layout == [(table, base, 2, Encoding.UINT32, False),
                          (table, base + 2, 4, Encoding.FLOAT64, False),
                          (table, base + 6, 1, Encoding.INT16, False),
                          (table, base + 7, 1, Encoding.INT16, False)], k
    assert max(e.end for e in rmap.table(table)) == first + 8 * 64
    text = register_map_markdown(["cut"], rmap.profile, rmap.word_order)
    for words in ("`StateLog.Record[n % 64]`", "8 registers", "`Time` (FLOAT64",
                  "writes it before it counts it in Seq", "15 to a request"):
        assert words in text, words
