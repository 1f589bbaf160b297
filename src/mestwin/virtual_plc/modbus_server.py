"""Modbus TCP server for virtual PLCs: serves each PLC's tags through its register map.

One :class:`ModbusServer` serves a set of :class:`~.plc.VirtualPLC` on 127.0.0.1 (by
default), either one TCP port with one unit id per machine (:attr:`Addressing.UNIT_ID`,
machine i is unit i + 1, the default) or one port per machine (:attr:`Addressing.PORT`). The
map is :func:`~.regmap.build_map` of the chosen :class:`~.regmap.Profile` and
:class:`~.regmap.WordOrder`.

Values: each machine's register image is updated from its PLC's
:class:`~.tag_values.TagValues` with only the tags changed since the version it last applied
(:meth:`TagValues.changed_since`), right before every read, so a client always sees the last
scan and an unchanged tag costs nothing.

Writes go through :meth:`VirtualPLC.check` for every item first and then
:meth:`VirtualPLC.write` (the rule set shared with OPC UA): a write to an unmapped or read-
only address answers exception 02; a value that does not decode, lies outside the tag
table's allowed values (:attr:`~.tags.TagSpec.values`: ``CntrlCmd`` 0..10, ``UnitMode``
1..3) or that the PLC otherwise refuses (wrong type, MachSpeed <= 0) answers exception 03,
and so does a write that sets more than one pulse coil. In every case nothing is stored and
the PLC is untouched: a multi-register write with one bad value writes none. A write that
covers only part of a multi-register value is merged with the other registers' current
contents.
Writing 1 to pulse coil ``n - 1`` issues PackML command ``n`` (CntrlCmd = n,
CmdChangeRequest = 1); the coil reads 1 until the PLC takes the command.

What the protocol refuses before a machine sees the request (function codes, quantities,
byte counts, FC05 values, unit ids no machine has: 0B) is :mod:`.modbus_pdu` and
:mod:`.modbus_adapter`'s; see there.

Asyncio lives here and in :mod:`.modbus_adapter` only; the PLCs and the simulation are
advanced by whoever owns the event loop (``mestwin.sim.realtime``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

from mestwin.virtual_plc.modbus_adapter import DeviceSpec, Image, Listener
from mestwin.virtual_plc.modbus_pdu import ExceptionCode, Refusal
from mestwin.virtual_plc.plc import VirtualPLC, WriteStatus
from mestwin.virtual_plc.regmap import (
    Addressing,
    DecodeError,
    Entry,
    Profile,
    RegisterMap,
    Table,
    WordOrder,
    build_map,
)
from mestwin.virtual_plc.tags import TagValue

_PULSE_INPUTS = frozenset({"PackTags.Command.CntrlCmd", "PackTags.Command.CmdChangeRequest"})


@dataclass(frozen=True)
class ModbusSettings:
    """Where and how a :class:`ModbusServer` serves."""

    host: str = "127.0.0.1"
    port: int = 5020
    """TCP port (the first one with :attr:`Addressing.PORT`); 0 picks free ports."""
    addressing: Addressing = Addressing.UNIT_ID
    profile: Profile = Profile.STANDARD
    word_order: WordOrder = WordOrder.HIGH_FIRST
    max_connections: int = 16
    """Clients served at once per port; one more is closed at once (a PLC's connection
    resources are fixed)."""
    idle_timeout_s: float | None = 300.0
    """A connection that sends nothing this long (wall seconds) is closed; None: never."""


@dataclass(frozen=True)
class Endpoint:
    """How a client reaches one machine."""

    machine: str
    host: str
    port: int
    unit_id: int
    """Unit id to address; 0 where any unit id is accepted (one port per machine)."""


class MachineDevice:
    """The Modbus face of one PLC: keeps its register image current, routes its writes."""

    def __init__(self, plc: VirtualPLC, rmap: RegisterMap) -> None:
        self.plc = plc
        self.rmap = rmap
        self._at: dict[Table, dict[int, Entry]] = {table: {} for table in Table}
        self._by_path: dict[Table, dict[str, list[Entry]]] = {table: {} for table in Table}
        for entry in rmap.entries:
            for address in range(entry.address, entry.end):
                self._at[entry.table][address] = entry
            if entry.path is not None:
                self._by_path[entry.table].setdefault(entry.path, []).append(entry)
        self._pulses = [e for e in rmap.entries if e.command is not None]
        self._seen = dict.fromkeys(Table, plc.tags.version)

    def initial(self) -> dict[Table, dict[int, list[int]]]:
        """The current contents of every entry, by table and address."""
        tags = self.plc.tags
        image: dict[Table, dict[int, list[int]]] = {table: {} for table in Table}
        for entry in self.rmap.entries:
            value: TagValue = tags[entry.path] if entry.path else self._pulse_value(entry)
            image[entry.table][entry.address] = self.rmap.encode(entry, value)
        return image

    def _pulse_value(self, entry: Entry) -> bool:
        tags = self.plc.tags
        return bool(tags["PackTags.Command.CmdChangeRequest"]) and entry.command is not None \
            and tags["PackTags.Command.CntrlCmd"] == int(entry.command)

    def read(self, image: Image, address: int) -> None:
        """Apply the tags changed since this table was last read; 02 if unmapped."""
        table = image.table
        if address not in self._at[table]:
            raise Refusal(ExceptionCode.ILLEGAL_DATA_ADDRESS, f"{table} {address} is not mapped")
        tags = self.plc.tags
        changed = tags.changed_since(self._seen[table])
        self._seen[table] = tags.version
        entries = self._by_path[table]
        for path, value in changed.items():
            for entry in entries.get(path, ()):
                image.put(entry.address, self.rmap.encode(entry, value))
        if table is Table.COIL and not _PULSE_INPUTS.isdisjoint(changed):
            for entry in self._pulses:
                image.put(entry.address, [int(self._pulse_value(entry))])

    def write(self, image: Image, address: int, values: list[int]) -> None:
        """Check every item of a client write, then apply them all, or refuse (02/03) and
        change nothing."""
        items = self._check(image, address, values)
        for entry, value in items:
            if entry.command is not None:
                if value:
                    self.plc.command(entry.command)
            elif entry.path is not None:
                self.plc.write(entry.path, value)

    def _check(self, image: Image, address: int, values: list[int]) -> list[tuple[Entry,
                                                                                 TagValue]]:
        """The entries a write touches and their new values, or :class:`Refusal`."""
        table = image.table
        touched: list[Entry] = []
        for a in range(address, address + len(values)):
            entry = self._at[table].get(a)
            if entry is None or not entry.writable:
                what = "not mapped" if entry is None else f"read-only ({entry.path})"
                raise Refusal(ExceptionCode.ILLEGAL_DATA_ADDRESS, f"{table} {a} is {what}")
            if not touched or touched[-1] is not entry:
                touched.append(entry)
        items: list[tuple[Entry, TagValue]] = []
        for entry in touched:
            words = image.get(entry.address, entry.size)
            for i in range(entry.size):
                if address <= entry.address + i < address + len(values):
                    words[i] = values[entry.address + i - address]
            name = entry.path or f"pulse coil {entry.address}"
            try:
                value = self.rmap.decode(entry, words)
            except DecodeError as error:
                raise Refusal(ExceptionCode.ILLEGAL_DATA_VALUE, f"{name}: {error}") from None
            if entry.path is not None:
                result = self.plc.check(entry.path, value)
                if not result.accepted:
                    code = (ExceptionCode.ILLEGAL_DATA_ADDRESS if result.status in
                            (WriteStatus.READ_ONLY, WriteStatus.UNKNOWN_TAG)
                            else ExceptionCode.ILLEGAL_DATA_VALUE)
                    raise Refusal(code, result.message)
            items.append((entry, value))
        if sum(1 for entry, value in items if entry.command is not None and value) > 1:
            raise Refusal(ExceptionCode.ILLEGAL_DATA_VALUE,
                          "more than one pulse coil set: one PackML command per request")
        return items


class ModbusServer:
    """Serves *plcs* (machine name -> PLC, in scenario order) over Modbus TCP."""

    def __init__(self, plcs: Mapping[str, VirtualPLC],
                 settings: ModbusSettings | None = None) -> None:
        self.settings = settings or ModbusSettings()
        self.plcs = dict(plcs)
        self.map = build_map(self.settings.profile, self.settings.word_order)
        """The register map every machine serves."""
        self.devices = {name: MachineDevice(plc, self.map) for name, plc in self.plcs.items()}
        self._listeners: list[tuple[Listener, list[tuple[str, int]]]] = []

    @property
    def endpoints(self) -> list[Endpoint]:
        """Where each machine is served (ports are the bound ones once started)."""
        return [Endpoint(name, listener.host, listener.port, unit)
                for listener, machines in self._listeners for name, unit in machines]

    def endpoint(self, machine: str) -> Endpoint:
        """Where *machine* is served."""
        for endpoint in self.endpoints:
            if endpoint.machine == machine:
                return endpoint
        raise KeyError(machine)

    async def start(self) -> None:
        """Bind the port(s) and serve in the background of the running event loop."""
        s = self.settings
        names = list(self.devices)
        if s.addressing is Addressing.UNIT_ID:
            if len(names) > 247:
                raise ValueError("at most 247 machines per port (unit ids 1-247)")
            groups = [[(name, i + 1) for i, name in enumerate(names)]]
        else:
            groups = [[(name, 0)] for name in names]
        for i, machines in enumerate(groups):
            port = s.port + i if s.port else 0
            specs = [DeviceSpec(unit, self.map, self.devices[name].initial(),
                                self.devices[name]) for name, unit in machines]
            listener = Listener(specs, s.host, port, max_connections=s.max_connections,
                                idle_timeout_s=s.idle_timeout_s)
            await listener.start()
            self._listeners.append((listener, machines))

    async def stop(self) -> None:
        """Stop every listener."""
        for listener, _ in self._listeners:
            await listener.stop()
        self._listeners.clear()

    async def __aenter__(self) -> ModbusServer:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.stop()
