"""The companion-specification model of the virtual machines: OPC 40001-1 and OPC 30050.

Beside the PLC tags (``Objects/<Line>/<Machine>/...``, unchanged) every machine appears
where a client that knows only the OPC Foundation's companion specifications looks for it:

* ``Objects/Machines`` (OPC 40001-1 9.1, Machinery ``i=1001``) organizes one MachineryItem
  per machine. OPC 40001-1 leaves a MachineryItem's ObjectType open; ours is the machine's
  OPC 30050 PackML object itself, a ``PackMLBaseObjectType`` (OPC 30050 6.3.1), so one
  object is found both in ``Machines`` by a Machinery client and, by its type and in 30050's
  ``Objects/PackMLObjects`` folder (which organizes it too), by a PackML client, with no
  duplicate to keep in step. It has the Machinery AddIns (HasAddIn, under their
  DefaultInstanceBrowseNames, OPC 40001-1 8 and 10): ``DI:Identification``
  (MachineIdentificationType), ``MachineryItemState`` and ``MachineryOperationMode``; the
  PackML components ``Status``, ``Admin`` and ``BaseStateMachine``, and it organizes the
  machine's PLC object, where the commands are.
* ``CurrentState`` of each state machine (OPC 10000-16 4.2, 4.4): the state's name, its
  ``Id`` the state's NodeId in the type, its ``Number`` the state's StateNumber. The PackML
  state is hierarchical (OPC 30050 6.3.6): Aborting, Aborted or Cleared in
  ``BaseStateMachine``; within Cleared, Clearing, Stopped, Stopping or Running in its
  ``MachineState``; within Running, Idle .. Complete in its ``ExecuteState``. A sub-state
  machine that is not active reads Bad_StateNotActive. The deepest active ``Number`` is the
  PackML state number (OPC 30050 numbers the states as ISA-TR88.00.02: Execute = 6).

Every companion variable is an :class:`Alias` of one PLC tag: the server writes it whenever
it writes the tag, with the same DataValue timestamps, to the same queued monitored items.
They are read-only (AccessLevel CurrentRead); commands stay on the PLC's nodes. Their
NodeIds are strings in the server's namespace, ``<Line>.<Machine>.Machinery[.<path>]``, so
they survive a restart. Admin's counters, StopReason and Alarm are PackML structures made
of several tags (:mod:`.opcua_packml_values`), which show the tags as they are at each
publish (a queued monitored item gets one value per publish). Admin's times (Int32 in OPC
30050, seconds as Double on the tags) and PackML's methods are not modelled: the PLC's
nodes have them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

from asyncua import ua
from asyncua.common import xmlimporter
from asyncua.server.address_space import AddressSpace, NodeManagementService
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from mestwin.virtual_plc.opcua_history import deliver_queued
from mestwin.virtual_plc.opcua_nodes import READ_ONLY, VT, nid, status
from mestwin.virtual_plc.opcua_packml_values import (
    ALARM_ENCODING,
    COUNT_ENCODING,
    Structure,
    alarm,
    counters,
)
from mestwin.virtual_plc.packml import State, StateNumbering
from mestwin.virtual_plc.plc import VirtualPLC
from mestwin.virtual_plc.tags import TagValue

__all__ = ["DI_URI", "MACHINERY_URI", "NODESETS", "PACKML_URI", "Alias", "Companion",
           "import_nodesets", "packml_levels", "write_changes"]

DI_URI = "http://opcfoundation.org/UA/DI/"
MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/"
PACKML_URI = "http://opcfoundation.org/UA/PackML/"
NODESETS = ("Opc.Ua.Di.NodeSet2.xml", "Opc.Ua.Machinery.NodeSet2.xml",
            "Opc.Ua.PackML.NodeSet2.xml")
"""The OPC Foundation nodesets served, in import order (``nodesets/README.md``)."""

_MACHINES, _PACKML_OBJECTS = 1001, 72  # Machinery's Machines, PackML's PackMLObjects folders
_IDENTIFICATION_TYPE, _ITEM_STATE_TYPE, _OPERATION_MODE_TYPE = 1012, 1002, 1008  # Machinery
_BASE_SM, _MACHINE_SM, _EXECUTE_SM = 3, 2, 1  # PackML state machine types
_PACKML_TYPE, _STATUS_TYPE, _ADMIN_TYPE, _MODE_ENUM = 6, 4, 5, 11  # PackML
_COUNT_TYPE, _ALARM_TYPE = 14, 15  # PackML's PackMLCountDataType, PackMLAlarmDataType
_STOP_FIELDS = ("ID", "Value", "Message", "Category", "DateTime", "AckDateTime")
_ALARM_FIELDS = ("ID", "Value", "Message", "DateTime")
_STATE_TYPES = (ObjectIds.StateType, ObjectIds.InitialStateType)

Convert = Callable[[TagValue], "ua.Variant | None"]


class Alias:
    """A companion variable that shows a PLC tag: *convert* maps the tag's value to the
    variable's (None: the variable's state machine is not active).

    Several tag values may show as one (Execute and Held are both Cleared in PackML's
    BaseStateMachine): :meth:`values` gives a DataValue only when the variable's own value
    changes, so its SourceTimestamp is the instant it changed and a queued monitored item
    gets each change once."""

    __slots__ = ("_last", "convert", "latest", "node")

    def __init__(self, node: ua.NodeId, convert: Convert,
                 last: list[ua.Variant | bool | None] | None = None,
                 *, latest: bool = False) -> None:
        self.node = node
        self.convert = convert
        self.latest = latest
        """Show only the latest of a batch of changes: a structure of several tags, whose
        other fields are known only as they are now."""
        self._last: list[ua.Variant | bool | None] = [False] if last is None else last
        """What the variable shows (False: never written); shared by the aliases of a
        variable that shows several tags."""

    def values(self, changes: Iterable[tuple[TagValue, ua.DataValue]]) -> list[ua.DataValue]:
        """The variable's DataValues for the tag's *changes* (each value with the tag's
        DataValue, whose timestamps it takes), leaving out those it shows already."""
        out = []
        for value, like in list(changes)[-1:] if self.latest else changes:
            variant = self.convert(value)
            if self._last[0] is not False and variant == self._last[0]:
                continue
            self._last[0] = variant
            code = status(StatusCodes.Good if variant is not None
                          else StatusCodes.BadStateNotActive)
            out.append(ua.DataValue(variant, code, SourceTimestamp=like.SourceTimestamp,
                                    ServerTimestamp=like.ServerTimestamp))
        return out


async def write_changes(aspace: AddressSpace, node: ua.NodeId,
                        values: Sequence[ua.DataValue]) -> None:
    """Write the last of *values* (oldest first) to *node*; the older ones go to its queued
    monitored items only (:func:`~.opcua_history.deliver_queued`)."""
    for value in values[:-1]:
        await deliver_queued(aspace, node, value)
    if values:
        await aspace.write_attribute_value(node, AttributeIds.Value, values[-1])


Aliases = dict[str, list[Alias]]
"""Tag path -> the companion variables that show it."""


async def import_nodesets(server: Server) -> None:
    """Import the :data:`NODESETS` from the package's data, in dependency order.

    asyncua 2.1.0 warns at every import that it cannot classify DI's ``UpdateBehavior``
    (an OptionSet over UInt32, OPC 10000-100 8.5.2); that one line is dropped meanwhile."""
    folder = resources.files("mestwin.virtual_plc") / "nodesets"
    log = logging.getLogger(xmlimporter.__name__)
    log.addFilter(_not_a_struct)
    try:
        for name in NODESETS:
            with resources.as_file(folder / name) as path:
                await server.import_xml(str(path), auto_load_definitions=False)
    finally:
        log.removeFilter(_not_a_struct)


def _not_a_struct(record: logging.LogRecord) -> bool:
    return "could not find out if this is a struct" not in str(record.msg)


def packml_levels(state: State) -> tuple[str | None, str | None, str | None]:
    """The state's name in OPC 30050's BaseStateMachine, MachineState and ExecuteState
    (None where that machine is not active)."""
    name = state.name.title()
    if state is State.UNDEFINED:
        return None, None, None
    if state in (State.ABORTING, State.ABORTED):
        return name, None, None
    if state in (State.CLEARING, State.STOPPED, State.STOPPING):
        return "Cleared", name, None
    return "Cleared", "Running", name


@dataclass(frozen=True)
class _StateMachineType:
    """A FiniteStateMachineType as the imported nodeset defines it."""

    node: ua.NodeId
    states: dict[str, tuple[ua.NodeId, int]]
    """State name -> its NodeId and StateNumber."""
    transitions: list[ua.NodeId]

    @classmethod
    def read(cls, aspace: AddressSpace, node: ua.NodeId) -> _StateMachineType:
        states, transitions = {}, []
        for ref in _forward(aspace, node, ObjectIds.HasComponent):
            kind = _type_of(aspace, ref.NodeId)
            if kind in _STATE_TYPES:
                number = next(_forward(aspace, ref.NodeId, ObjectIds.HasProperty)).NodeId
                value = aspace.read_attribute_value(number, AttributeIds.Value).Value
                states[ref.BrowseName.Name] = (ref.NodeId, int(value.Value if value else 0))
            elif kind == ObjectIds.TransitionType:
                transitions.append(ref.NodeId)
        return cls(node, states, transitions)

    def show(self, name: str | None) -> tuple[Convert, Convert, Convert]:
        """CurrentState, its Id and its Number for *name* (None: not active)."""
        if name is None:
            return _none, _none, _none
        node, number = self.states.get(name, (ua.NodeId(), 0))
        return (_const(ua.Variant(ua.LocalizedText(name), VT.LocalizedText)),
                _const(ua.Variant(node, VT.NodeId)), _const(ua.Variant(number, VT.UInt32)))


class Companion:
    """Builds the companion objects of a server's machines (after :func:`import_nodesets`);
    *ns* is the server's own namespace, for the instances' NodeIds."""

    def __init__(self, aspace: AddressSpace, ns: int, namespaces: list[str]) -> None:
        self.aspace = aspace
        self.ns = ns
        self.di = namespaces.index(DI_URI)
        self.machinery = namespaces.index(MACHINERY_URI)
        self.packml = namespaces.index(PACKML_URI)
        self.items: list[ua.AddNodesItem] = []
        self.references: list[ua.AddReferencesItem] = []
        m, p = self.machinery, self.packml
        self.item_state = _StateMachineType.read(aspace, nid(_ITEM_STATE_TYPE, m))
        self.operation_mode = _StateMachineType.read(aspace, nid(_OPERATION_MODE_TYPE, m))
        self.levels = tuple(_StateMachineType.read(aspace, nid(i, p))
                            for i in (_BASE_SM, _MACHINE_SM, _EXECUTE_SM))

    def add(self) -> None:
        """Add what :meth:`machine` collected to the address space, in one batch."""
        service = NodeManagementService(self.aspace)
        for result, item in zip(service.add_nodes(self.items), self.items, strict=True):
            if not result.StatusCode.is_good():
                raise RuntimeError(f"cannot add {item.RequestedNewNodeId}: {result.StatusCode}")
        for code, ref in zip(service.add_references(self.references), self.references,
                             strict=True):
            if not code.is_good():
                raise RuntimeError(f"cannot reference {ref.TargetNodeId}: {code}")
        self.items, self.references = [], []

    def build(self, plcs: Sequence[VirtualPLC], plc_nodes: Sequence[ua.NodeId]) -> list[Aliases]:
        """Add every PLC's MachineryItem (named by its machine, or ``<line>.<machine>`` where
        two lines share a machine name) in one batch; their aliases, in order. *plc_nodes*
        are the machines' PLC objects."""
        names = [plc.machine for plc in plcs]
        aliases = [self.machine(plc, plc.machine if names.count(plc.machine) == 1
                                else f"{plc.line}.{plc.machine}", node)
                   for plc, node in zip(plcs, plc_nodes, strict=True)]
        self.add()
        return aliases

    def machine(self, plc: VirtualPLC, name: str, plc_node: ua.NodeId) -> Aliases:
        """Collect *plc*'s MachineryItem (BrowseName *name*) and return its aliases;
        *plc_node* is the machine's PLC object."""
        base = f"{plc.line}.{plc.machine}.Machinery"
        shown = _Shown(self, plc)
        item = self._obj(base, nid(_MACHINES, self.machinery), ObjectIds.Organizes,
                         ua.QualifiedName(name, self.ns), nid(_PACKML_TYPE, self.packml))
        self._ref(nid(_PACKML_OBJECTS, self.packml), ObjectIds.Organizes, item)
        self._ref(item, ObjectIds.Organizes, plc_node)
        self._var(f"{base}.TagID", item, ua.QualifiedName("TagID", self.packml),
                  ua.Variant(f"{plc.line}.{plc.machine}", VT.String), prop=True)
        ident = self._obj(f"{base}.Identification", item, ObjectIds.HasAddIn,
                          ua.QualifiedName("Identification", self.di),
                          nid(_IDENTIFICATION_TYPE, self.machinery))
        for field_, ns, vt in (("Manufacturer", self.di, VT.LocalizedText),
                               ("Model", self.di, VT.LocalizedText),
                               ("SerialNumber", self.di, VT.String),
                               ("ProductInstanceUri", self.di, VT.String),
                               ("SoftwareRevision", self.di, VT.String),
                               ("YearOfConstruction", self.machinery, VT.UInt16)):
            shown(f"Identification.{field_}", _text if vt is VT.LocalizedText else _as(vt),
                  f"{base}.Identification.{field_}", ident, ua.QualifiedName(field_, ns), vt,
                  prop=True)
        for sm, type_ in (("MachineryItemState", self.item_state),
                          ("MachineryOperationMode", self.operation_mode)):
            node = self._obj(f"{base}.{sm}", item, ObjectIds.HasAddIn,
                             ua.QualifiedName(sm, self.machinery), type_.node)
            self._current_state(shown, f"{base}.{sm}", node, type_, f"{sm}.CurrentState",
                                lambda v: str(v) or None)
        self._packml(shown, base, item, plc.numbering)
        return shown.aliases

    # -- the parts -------------------------------------------------------------------

    def _packml(self, shown: _Shown, base: str, item: ua.NodeId,
                numbering: StateNumbering) -> None:
        p = self.packml
        status_ = self._obj(f"{base}.Status", item, ObjectIds.HasComponent,
                            ua.QualifiedName("Status", p), nid(_STATUS_TYPE, p))
        for name, tag, vt in (("UnitModeCurrent", "UnitModeCurrent", VT.Int32),
                              ("MachSpeed", "MachSpeed", VT.Float),
                              ("CurMachSpeed", "CurMachSpeed", VT.Float),
                              ("EquipmentBlocked", "EquipmentInterlock.Blocked", VT.Boolean),
                              ("EquipmentStarved", "EquipmentInterlock.Starved", VT.Boolean),
                              ("StateChangeInProcess", "StateChangeInProcess", VT.Boolean)):
            analog = name.endswith("MachSpeed")
            node = shown(f"PackTags.Status.{tag}", _as(vt), f"{base}.Status.{name}", status_,
                         ua.QualifiedName(name, p), vt,
                         data_type=nid(_MODE_ENUM, p) if name == "UnitModeCurrent" else None,
                         type_=nid(ObjectIds.AnalogItemType) if analog else None)
            if analog:  # EURange: 0 .. design speed
                shown("PackTags.Admin.MachDesignSpeed", _range, f"{base}.Status.{name}.EURange",
                      node, ua.QualifiedName("EURange"), VT.ExtensionObject,
                      data_type=nid(ObjectIds.Range), prop=True)
        self._var(f"{base}.Status.UnitSupportedModes", status_,
                  ua.QualifiedName("UnitSupportedModes", p),
                  ua.Variant(nid(_MODE_ENUM, p), VT.NodeId), prop=True)
        shown("PackTags.Status.StateRequested",
              lambda v: ua.Variant(self._number(numbering, v), VT.Int32),
              f"{base}.Status.StateRequested", status_, ua.QualifiedName("StateRequested", p),
              VT.Int32)
        admin = self._obj(f"{base}.Admin", item, ObjectIds.HasComponent,
                          ua.QualifiedName("Admin", p), nid(_ADMIN_TYPE, p))
        for name, vt in (("MachDesignSpeed", VT.Float), ("AlarmExtent", VT.Int32)):
            shown(f"PackTags.Admin.{name}", _as(vt), f"{base}.Admin.{name}", admin,
                  ua.QualifiedName(name, p), vt)
        self._var(f"{base}.Admin.StopReasonExtent", admin, ua.QualifiedName("StopReasonExtent", p),
                  ua.Variant(1, VT.Int32))
        count, alarm_ = nid(_COUNT_TYPE, p), nid(_ALARM_TYPE, p)
        admin_tags = "PackTags.Admin."
        for name, size in (("ProdProcessedCount", 1), ("ProdDefectiveCount", 3),
                           ("ProdConsumedCount", 1)):
            shown.structure(counters(admin_tags + name, size, nid(COUNT_ENCODING, p)),
                            f"{base}.Admin.{name}", admin, ua.QualifiedName(name, p), count)
        shown.structure(alarm(admin_tags + "StopReason", _STOP_FIELDS, nid(ALARM_ENCODING, p),
                              array=False),
                        f"{base}.Admin.StopReason", admin, ua.QualifiedName("StopReason", p),
                        alarm_)
        shown.structure(alarm(admin_tags + "Alarm[0]", _ALARM_FIELDS, nid(ALARM_ENCODING, p),
                              array=True),
                        f"{base}.Admin.Alarm", admin, ua.QualifiedName("Alarm", p), alarm_)
        parent, ident = item, base
        for level, (type_, name) in enumerate(zip(
                self.levels, ("BaseStateMachine", "MachineState", "ExecuteState"), strict=True)):
            ident = f"{ident}.{name}"
            parent = self._obj(ident, parent, ObjectIds.HasComponent,
                               ua.QualifiedName(name, p), type_.node)
            self._current_state(shown, ident, parent, type_, "PackTags.Status.StateCurrent",
                                _level(numbering, level))

    def _number(self, numbering: StateNumbering, code: TagValue) -> int:
        """OPC 30050's number of the PLC's state *code* (its deepest level's StateNumber)."""
        names = packml_levels(_state(numbering, code))
        for type_, name in reversed(tuple(zip(self.levels, names, strict=True))):
            if name is not None:
                return type_.states.get(name, (ua.NodeId(), 0))[1]
        return 0

    def _current_state(self, shown: _Shown, ident: str, machine: ua.NodeId,
                       type_: _StateMachineType, path: str,
                       name_of: Callable[[TagValue], str | None]) -> None:
        """CurrentState (with Id and Number), AvailableStates and AvailableTransitions."""
        current = shown(path, _pick(type_, name_of, 0), f"{ident}.CurrentState", machine,
                        ua.QualifiedName("CurrentState"), VT.LocalizedText,
                        type_=nid(ObjectIds.FiniteStateVariableType))
        for index, (prop, vt) in enumerate((("Id", VT.NodeId), ("Number", VT.UInt32)), 1):
            shown(path, _pick(type_, name_of, index), f"{ident}.CurrentState.{prop}", current,
                  ua.QualifiedName(prop), vt, prop=True)
        for name, nodes in (("AvailableStates", [n for n, _ in type_.states.values()]),
                            ("AvailableTransitions", type_.transitions)):
            self._var(f"{ident}.{name}", machine, ua.QualifiedName(name),
                      ua.Variant(nodes, VT.NodeId))

    # -- nodes -----------------------------------------------------------------------

    def _item(self, ident: str, parent: ua.NodeId, reference: int, name: ua.QualifiedName,
              cls: ua.NodeClass, type_: ua.NodeId) -> ua.AddNodesItem:
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = nid(ident, self.ns)
        item.ParentNodeId = parent
        item.ReferenceTypeId = nid(reference)
        item.BrowseName = name
        item.NodeClass = cls
        item.TypeDefinition = type_
        self.items.append(item)
        return item

    def _obj(self, ident: str, parent: ua.NodeId, reference: int, name: ua.QualifiedName,
             type_: ua.NodeId) -> ua.NodeId:
        item = self._item(ident, parent, reference, name, ua.NodeClass.Object, type_)
        attrs = ua.ObjectAttributes()
        attrs.DisplayName = ua.LocalizedText(name.Name)
        item.NodeAttributes = attrs
        return nid(ident, self.ns)

    def _var(self, ident: str, parent: ua.NodeId, name: ua.QualifiedName, value: ua.Variant,
             data_type: ua.NodeId | None = None, type_: ua.NodeId | None = None,
             *, prop: bool = False) -> ua.NodeId:
        item = self._item(ident, parent, ObjectIds.HasProperty if prop else ObjectIds.HasComponent,
                          name, ua.NodeClass.Variable,
                          type_ or nid(ObjectIds.PropertyType if prop
                                       else ObjectIds.BaseDataVariableType))
        attrs = ua.VariableAttributes()
        attrs.DisplayName = ua.LocalizedText(name.Name)
        attrs.Value = value
        attrs.DataType = data_type or nid(value.VariantType.value)  # Null: see _Shown
        is_array = isinstance(value.Value, list)
        attrs.ValueRank = ua.ValueRank.OneDimension if is_array else ua.ValueRank.Scalar
        attrs.ArrayDimensions = [0] if is_array else None  # type: ignore[assignment]
        attrs.AccessLevel = attrs.UserAccessLevel = READ_ONLY
        item.NodeAttributes = attrs
        return nid(ident, self.ns)

    def _ref(self, source: ua.NodeId, reference: int, target: ua.NodeId) -> None:
        for forward, (a, b) in ((True, (source, target)), (False, (target, source))):
            ref = ua.AddReferencesItem()
            ref.SourceNodeId, ref.TargetNodeId = a, b
            ref.ReferenceTypeId = nid(reference)
            ref.IsForward = forward
            self.references.append(ref)


class _Shown:
    """Adds one machine's companion variables that show a tag, and collects their aliases."""

    def __init__(self, companion: Companion, plc: VirtualPLC) -> None:
        self._companion = companion
        self._tags = plc.tags
        self.aliases: Aliases = {}

    def __call__(self, path: str, convert: Convert, ident: str, parent: ua.NodeId,
                 name: ua.QualifiedName, vt: ua.VariantType, *, data_type: ua.NodeId | None = None,
                 type_: ua.NodeId | None = None, prop: bool = False) -> ua.NodeId:
        """A variable of type *vt* showing tag *path* through *convert*, valued as the tag
        now is (Null if not active; the first publish writes every alias)."""
        value = convert(self._tags[path]) or ua.Variant()
        node = self._companion._var(ident, parent, name, value, data_type or nid(vt.value),
                                    type_, prop=prop)
        self.aliases.setdefault(path, []).append(Alias(node, convert))
        return node

    def structure(self, structure: Structure, ident: str, parent: ua.NodeId,
                  name: ua.QualifiedName, data_type: ua.NodeId) -> None:
        """A variable showing the PackML *structure* of several tags."""
        tags, version, encoded = self._tags, -1, ua.Variant()

        def now(_value: object = None) -> ua.Variant:  # the tags as they are now
            nonlocal version, encoded
            if version != tags.version:  # encoded once per change of any tag
                version, encoded = tags.version, structure.encode(tags.__getitem__)
            return encoded

        node = self._companion._var(ident, parent, name, now(), data_type)
        last: list[ua.Variant | bool | None] = [False]
        for path in structure.paths:
            self.aliases.setdefault(path, []).append(Alias(node, now, last, latest=True))


# -- conversions ------------------------------------------------------------------------


def _none(_value: TagValue) -> ua.Variant | None:
    return None


def _const(variant: ua.Variant) -> Convert:
    return lambda _value: variant


def _as(vt: ua.VariantType) -> Convert:
    return lambda value: ua.Variant(value, vt)


def _text(value: TagValue) -> ua.Variant:
    return ua.Variant(ua.LocalizedText(str(value)), VT.LocalizedText)


def _range(value: TagValue) -> ua.Variant:
    high = float(value) if isinstance(value, int | float) else 0.0
    return ua.Variant(ua.Range(0.0, high), VT.ExtensionObject)


def _state(numbering: StateNumbering, code: TagValue) -> State:
    try:
        return numbering.state(code if isinstance(code, int) else -1)
    except KeyError:
        return State.UNDEFINED


def _level(numbering: StateNumbering, level: int) -> Callable[[TagValue], str | None]:
    return lambda code: packml_levels(_state(numbering, code))[level]


def _pick(type_: _StateMachineType, name_of: Callable[[TagValue], str | None],
          index: int) -> Convert:
    """Part *index* (0 name, 1 Id, 2 Number) of the CurrentState of the named state."""
    return lambda value: type_.show(name_of(value))[index](value)


def _forward(aspace: AddressSpace, node: ua.NodeId,
             reference: int) -> Iterator[ua.ReferenceDescription]:
    data = aspace.get(node)
    return iter([r for r in (data.references if data else [])
                 if r.IsForward and r.ReferenceTypeId == nid(reference)])


def _type_of(aspace: AddressSpace, node: ua.NodeId) -> int | None:
    for ref in _forward(aspace, node, ObjectIds.HasTypeDefinition):
        return ref.NodeId.Identifier if ref.NodeId.NamespaceIndex == 0 else None  # type: ignore[return-value]
    return None
