"""The code tables of ``docs/integrators.md``, rendered as markdown from the code itself.

An MES integrator reads codes off the wire (PackML states, ``Status.MachineState``,
stop reasons, event kinds); those codes live in the tag table, the PackML module and the
plant model. :func:`tables` renders each of them as one markdown table, and :func:`update`
rewrites the generated sections of a document, each between ``<!-- generated: NAME -->``
and ``<!-- end generated -->``, so the document is regenerated, never retyped, and a test
(``tests/test_docs.py``) fails when it and the code disagree::

    python -m mestwin.sim.integrator_doc docs/integrators.md
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import get_args

from mestwin.plantmodels.eventlog import EventKind, Record
from mestwin.plantmodels.states import TIME_ELEMENT, MachineState
from mestwin.sim.naming import line_name
from mestwin.sim.scenario import build_plant, parse_scenario
from mestwin.virtual_plc.image import COUNTERS
from mestwin.virtual_plc.machinery import item_state
from mestwin.virtual_plc.opcua_companion import packml_levels
from mestwin.virtual_plc.opcua_server import NAMESPACE_URI
from mestwin.virtual_plc.packml import (
    PACKML_NUMBERING,
    STATE_COMPLETE,
    TRANSITIONS,
    Command,
    State,
    UnitMode,
)
from mestwin.virtual_plc.plc import MIRROR, START_DATETIME, STATION_ACTIONS
from mestwin.virtual_plc.regmap import build_map
from mestwin.virtual_plc.stop_elements import STOP_ELEMENTS
from mestwin.virtual_plc.tags import (
    ACC_COUNT_MAX,
    COUNT_MODULUS,
    STOP_REASONS,
    TAG_BY_PATH,
    LossCategory,
)

__all__ = ["DISCOVERY_LINE", "MODBUS_TAGS", "render", "tables", "update"]

BEGIN = re.compile(r"<!-- generated: ([a-z_]+) -->\n")
END = "<!-- end generated -->"
DISCOVERY_LINE: dict[str, object] = {
    "name": "two-step line", "horizon": "1d",
    "sources": [{"id": "arrivals", "interarrival": {"dist": "exponential", "mean": "75s"},
                 "to": "cut"}],
    "stations": [{"id": "cut", "process_time": {"dist": "exponential", "mean": "60s"},
                  "to": "pack"},
                 {"id": "pack", "servers": 2, "process_time": "100s", "to": "sink"}],
}
"""The README's example plant, whose machines the discovery table shows."""
MODBUS_TAGS = (
    "PackTags.Status.StateCurrent", "PackTags.Status.MachineState",
    "PackTags.Status.StateReason", "PackTags.Status.StateChangeTime",
    "PackTags.Admin.ProdProcessedCount[0].AccCount",
    "PackTags.Admin.ProdDefectiveCount[1].AccCount",
    "PackTags.Admin.StopReason.ID", "PackTags.Admin.PACDateTime", "Diagnostics.SimTime",
    "StateLog.Seq", "StateLog.Record[0].Seq", "StateLog.Record[0].Time",
    "StateLog.Record[0].State", "StateLog.Record[0].Reason", "StateLog.Record[1].Seq",
)
"""Tags an outside collector reads most; the full map is ``mestwin plc map``."""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _name(member: State | Command | MachineState | LossCategory | UnitMode) -> str:
    return member.name.replace("_", " ").title().replace(" ", "")


def packml_states() -> str:
    """``Status.StateCurrent`` codes, what ends each state and what a client may command."""
    rows = []
    for state in State:
        accepted = sorted((c for (s, c) in TRANSITIONS if s is state), key=int)
        ends = (f"by itself, to {_name(STATE_COMPLETE[state])}" if state in STATE_COMPLETE
                else "waits for a command")
        rows.append((PACKML_NUMBERING.code(state), _name(state), ends,
                     ", ".join(_name(c) for c in accepted) or "-", item_state(state)))
    return _table(("code", "state", "ends", "commands accepted", "MachineryItemState"), rows)


def packml_commands() -> str:
    """``Command.CntrlCmd`` codes and what an accepted one does to the plant."""
    rows = []
    for command in Command:
        action, reason = STATION_ACTIONS.get(command, ("-", ""))
        rows.append((int(command), _name(command), action,
                     f"`{reason}`" if reason else "-"))
    return _table(("code", "command", "acts on the station", "stop reason shown"), rows)


def unit_modes() -> str:
    """``Command.UnitMode`` / ``Status.UnitModeCurrent`` codes."""
    return _table(("code", "unit mode"), [(int(m), _name(m)) for m in UnitMode])


def machine_states() -> str:
    """Plant state -> ``Status.MachineState`` code, ISO 22400 element and PackML state."""
    rows = []
    for state in MachineState:
        keys = sorted((k for k in MIRROR if k[0] == state), key=lambda k: k[1] is None)
        for _, reason in keys:
            packml = MIRROR[state, reason]
            when = "any reason" if reason is None else f"reason `{reason}`"
            if reason is None and len(keys) > 1:
                when = "any other reason"
            rows.append((int(state), state.name.lower(), when, TIME_ELEMENT[state].name,
                         f"{PACKML_NUMBERING.code(packml)} {_name(packml)}"))
    return _table(("MachineState", "plant state", "when", "ISO 22400 element",
                   "PackML StateCurrent"), rows)


def stop_reasons() -> str:
    """``StopReason.ID`` / ``Status.StateReason`` codes, their loss category and the ISO
    22400 element a stop with that reason is booked to (virtual_plc ``stop_elements``)."""
    rows = [(r.id, f"`{r.reason}`" if r.reason else "-", r.message,
             f"{int(r.category)} {_name(r.category)}",
             STOP_ELEMENTS.get(r.id, "- (by PackML state)")) for r in STOP_REASONS]
    return _table(("code", "plant reason", "message", "loss category", "ISO 22400 element"),
                  rows)


def loss_categories() -> str:
    """``StopReason.Category`` codes."""
    return _table(("code", "loss category"), [(int(c), _name(c)) for c in LossCategory])


def counters() -> str:
    """The PackTags counters: their ID, name and the ISO 22400 quantity they count."""
    rows = []
    for prefix, number, name in COUNTERS:
        acc = TAG_BY_PATH[f"{prefix}.AccCount"]
        count = TAG_BY_PATH[f"{prefix}.Count"]
        rows.append((f"`{prefix}`", number, name, acc.description,
                     f"{count.data_type} mod {COUNT_MODULUS}",
                     f"{acc.data_type}, at most {ACC_COUNT_MAX}"))
    return _table(("counter", "ID", "Name", "counts", "Count", "AccCount"), rows)


def modbus_tags() -> str:
    """Where the tags of :data:`MODBUS_TAGS` are in the standard map, high word first."""
    regmap = build_map()
    rows = []
    for path in MODBUS_TAGS:
        for entry in regmap.by_path(path):
            rows.append((f"`{path}`", entry.table.name.lower().replace("_", " "),
                         entry.address, entry.size, entry.encoding.name.lower()))
    return _table(("tag", "table", "address (0-based)", "registers", "encoding"), rows)


def event_kinds() -> str:
    """The rows of the event log (``events()``, ``--events FILE``): kind code and fields."""
    records = get_args(Record)
    if len(records) != len(EventKind):
        raise RuntimeError("every event kind needs its record type")
    rows = [(int(kind), kind.name,
             ", ".join(f.name for f in dataclasses.fields(record) if f.name != "t"),
             record.__name__)
            for kind, record in zip(EventKind, records, strict=True)]
    return _table(("kind", "name", "fields after t and kind", "record in events()"), rows)


def discovery() -> str:
    """Machine names, NodeId identifiers and Modbus unit ids of :data:`DISCOVERY_LINE`."""
    scenario = parse_scenario(DISCOVERY_LINE, "DISCOVERY_LINE")
    line = line_name(scenario.name)
    plant = build_plant(scenario)
    rows: list[tuple[object, ...]] = []
    for station in plant.stations.values():
        for machine in station.machines():
            rows.append((f"`{machine.id}`", f"`{station.id}`",
                         f"`ns=<idx>;s={line}.{machine.id}`",
                         f"`ns=<idx>;s={line}.{machine.id}.Machinery`", len(rows) + 1))
    return _table(("machine", "station", "node id of its object",
                   "its MachineryItem / PackML object", "Modbus unit"), rows)


def companion_states() -> str:
    """Each PackML state as OPC 30050's three nested state machines show it."""
    rows = []
    for state in State:
        if state is State.UNDEFINED:
            continue
        shown = [f"`{name}`" if name else "not active" for name in packml_levels(state)]
        rows.append((PACKML_NUMBERING.code(state), _name(state), *shown))
    return _table(("StateCurrent", "state", "BaseStateMachine", "MachineState", "ExecuteState"),
                  rows)


def mes_packml() -> str:
    """How mestwin's own MES books PackML states (``loop --state-source packml``) when
    ``StopReason.ID`` is 0 or a code its stop-reason table lacks."""
    from mestwin.mes_core.collection.state_models import BY_REASON, INHERIT, PACKML_ELEMENTS
    from mestwin.sim.loop import packml_mapping

    mapping = packml_mapping()
    codes = ", ".join

    def rule(element: str) -> str:
        if element == "APT":
            return (f"APT; ASUT (reason {mapping.setup_reason}) while "
                    f"`MachineryOperationMode` is `{mapping.setup_mode}`")
        if element == BY_REASON:
            return (f"PDOT if `StopReason.ID` is {codes(map(str, sorted(mapping.planned)))}; "
                    f"ADET if {codes(map(str, sorted(mapping.faults)))}; else ADOT")
        if element == INHERIT:
            return "the element of the stop it ends"
        return element

    rows = [(code, _name(PACKML_NUMBERING.state(code)), rule(element))
            for code, element in sorted(PACKML_ELEMENTS.items())]
    return _table(("StateCurrent", "state", "ISO 22400 element (our MES, no known reason)"),
                  rows)


def constants() -> str:
    """The fixed names and numbers a collector needs."""
    return _table(("what", "value"), [
        ("OPC UA namespace URI of every machine node", f"`{NAMESPACE_URI}`"),
        ("`Admin.PACDateTime` at simulated time 0", f"`{START_DATETIME.isoformat()}`"),
        ("`Count` rolls over to 0 at", COUNT_MODULUS),
        ("`AccCount` stops (never wraps) at", ACC_COUNT_MAX),
    ])


_TABLES: dict[str, Callable[[], str]] = {
    "constants": constants,
    "packml_states": packml_states, "packml_commands": packml_commands,
    "unit_modes": unit_modes, "machine_states": machine_states,
    "stop_reasons": stop_reasons, "loss_categories": loss_categories,
    "counters": counters, "modbus_tags": modbus_tags, "event_kinds": event_kinds,
    "discovery": discovery, "companion_states": companion_states,
    "mes_packml": mes_packml,
}


def tables() -> dict[str, str]:
    """Every generated table by its section name."""
    return {name: make() for name, make in _TABLES.items()}


def render(text: str) -> str:
    """*text* with every generated section replaced by the code's table of that name."""
    made = tables()
    out, pos = [], 0
    for match in BEGIN.finditer(text):
        end = text.index(END, match.end())
        name = match.group(1)
        if name not in made:
            raise KeyError(f"no generated table {name!r}; tables: {', '.join(made)}")
        out += [text[pos:match.end()], made[name], "\n"]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def update(path: Path) -> bool:
    """Regenerate the sections of the document at *path*; True if it changed."""
    text = path.read_text(encoding="utf-8")
    new = render(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    for arg in sys.argv[1:]:
        print(f"{arg}: {'updated' if update(Path(arg)) else 'up to date'}")
