"""The OPC UA address-space builder: nodes for objects, variables and methods.

:class:`NodeBuilder` collects ``AddNodesItem`` s with explicit string NodeIds
(``<Line>.<Machine>.<dotted path>``, see :func:`node_id_string`), so a server adds a whole
plant's address space in one batch and its NodeIds survive a restart;
:func:`method_callback` checks a method call's arguments against its declaration before the
handler runs (BadArgumentsMissing, BadTooManyArguments, BadTypeMismatch; a String longer than
its ``max_length``: BadInvalidArgument with BadOutOfRange in its InputArgumentResult).
"""

from __future__ import annotations

from typing import Any

from asyncua import ua
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from mestwin.virtual_plc.opcua_jobs import UaArgument, UaMethod
from mestwin.virtual_plc.tags import DataType, TagSpec, TagValue

__all__ = [
    "READ_ONLY", "READ_WRITE", "VARIANT_TYPES", "VT", "NodeBuilder", "argument", "describe",
    "method_callback", "nid", "node_id_string", "status", "tag_variant",
]

VT = ua.VariantType
VARIANT_TYPES: dict[DataType, ua.VariantType] = {
    DataType.BOOLEAN: VT.Boolean,
    DataType.INT16: VT.Int16,
    DataType.UINT16: VT.UInt16,
    DataType.INT32: VT.Int32,
    DataType.UINT32: VT.UInt32,
    DataType.FLOAT: VT.Float,
    DataType.DOUBLE: VT.Double,
    DataType.STRING: VT.String,
    DataType.DATETIME: VT.DateTime,
}
READ_WRITE = ua.AccessLevel.CurrentRead.mask | ua.AccessLevel.CurrentWrite.mask
READ_ONLY = ua.AccessLevel.CurrentRead.mask


def nid(identifier: int | str, namespace: int = 0) -> ua.NodeId:
    """``ua.NodeId`` from plain Python values (asyncua annotates its own int/str subclasses)."""
    return ua.NodeId(identifier, namespace)  # type: ignore[arg-type]


def status(code: int) -> ua.StatusCode:
    """``ua.StatusCode`` from a plain int (see :func:`nid`)."""
    return ua.StatusCode(code)  # type: ignore[arg-type]


def node_id_string(line: str, machine: str, path: str = "") -> str:
    """The string identifier of a node: ``<Line>.<Machine>[.<path>]``."""
    return f"{line}.{machine}.{path}" if path else f"{line}.{machine}"


class NodeBuilder:
    """Collects AddNodesItems so the whole address space is added in one batch."""

    def __init__(self, ns: int) -> None:
        self.ns = ns
        self.items: list[ua.AddNodesItem] = []
        self.methods: dict[ua.NodeId, UaMethod] = {}

    def nid(self, ident: str) -> ua.NodeId:
        return nid(ident, self.ns)

    def _item(self, ident: str, parent: ua.NodeId, name: str, cls: ua.NodeClass) -> ua.AddNodesItem:
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = self.nid(ident)
        item.ParentNodeId = parent
        item.BrowseName = ua.QualifiedName(name, self.ns)
        item.NodeClass = cls
        self.items.append(item)
        return item

    def obj(self, ident: str, parent: ua.NodeId, name: str, *, folder: bool) -> ua.NodeId:
        item = self._item(ident, parent, name, ua.NodeClass.Object)
        item.ReferenceTypeId = nid(ObjectIds.Organizes if folder else ObjectIds.HasComponent)
        item.TypeDefinition = nid(ObjectIds.FolderType if folder else ObjectIds.BaseObjectType)
        attrs = ua.ObjectAttributes()
        attrs.DisplayName = ua.LocalizedText(name)
        item.NodeAttributes = attrs
        return self.nid(ident)

    def var(
        self,
        ident: str,
        parent: ua.NodeId,
        name: str,
        value: ua.Variant,
        *,
        writable: bool = False,
        description: str = "",
        prop: bool = False,
    ) -> ua.NodeId:
        item = self._item(ident, parent, name, ua.NodeClass.Variable)
        item.ReferenceTypeId = nid(ObjectIds.HasProperty if prop else ObjectIds.HasComponent)
        item.TypeDefinition = nid(
            ObjectIds.PropertyType if prop else ObjectIds.BaseDataVariableType
        )
        attrs = ua.VariableAttributes()
        attrs.DisplayName = ua.LocalizedText(name)
        attrs.Description = ua.LocalizedText(description)
        attrs.Value = value
        is_array = isinstance(value.Value, list)
        attrs.DataType = nid(ObjectIds.Argument if is_array else value.VariantType.value)
        attrs.ValueRank = ua.ValueRank.OneDimension if is_array else ua.ValueRank.Scalar
        attrs.ArrayDimensions = [0] if is_array else None  # type: ignore[assignment]
        attrs.AccessLevel = attrs.UserAccessLevel = READ_WRITE if writable else READ_ONLY
        item.NodeAttributes = attrs
        return self.nid(ident)

    def folder(self, folders: dict[str, ua.NodeId], base: str, path: str) -> ua.NodeId:
        """The folder object of *path* (``PackTags.Admin``), made with its parents if new."""
        if path not in folders:
            parent_path, _, name = path.rpartition(".")
            parent = self.folder(folders, base, parent_path)
            folders[path] = self.obj(f"{base}.{path}", parent, name, folder=parent_path != "")
        return folders[path]

    def method(self, ident: str, parent: ua.NodeId, method: UaMethod) -> None:
        item = self._item(ident, parent, method.name, ua.NodeClass.Method)
        item.ReferenceTypeId = nid(ObjectIds.HasComponent)
        attrs = ua.MethodAttributes()
        attrs.DisplayName = ua.LocalizedText(method.name)
        attrs.Description = ua.LocalizedText(method.description)
        attrs.Executable = attrs.UserExecutable = True
        item.NodeAttributes = attrs
        for kind, args in (("InputArguments", method.inputs), ("OutputArguments", method.outputs)):
            if args:
                value = ua.Variant([argument(a) for a in args], VT.ExtensionObject)
                self.var(f"{ident}.{kind}", item.RequestedNewNodeId, kind, value, prop=True)
                self.items[-1].BrowseName = ua.QualifiedName(kind, 0)
        self.methods[item.RequestedNewNodeId] = method


def argument(arg: UaArgument) -> ua.Argument:
    """The OPC UA Argument structure declaring *arg*."""
    return ua.Argument(
        Name=arg.name,
        DataType=nid(arg.variant_type.value),
        ValueRank=-1,
        ArrayDimensions=[],
        Description=ua.LocalizedText(arg.description),
    )


def tag_variant(spec: TagSpec, value: TagValue) -> ua.Variant:
    """*value* as a Variant of the tag's data type."""
    return ua.Variant(value, VARIANT_TYPES[spec.data_type])


def describe(spec: TagSpec) -> str:
    """A variable's Description: the tag's, with its unit."""
    return f"{spec.description} [{spec.unit}]" if spec.unit else spec.description


def method_callback(method: UaMethod) -> Any:
    """The asyncua callback of *method*: arguments checked, then its handler."""
    async def call(_parent: ua.NodeId, *args: ua.Variant) -> Any:
        values = [a.Value if isinstance(a, ua.Variant) else a for a in args]
        if len(values) != len(method.inputs):
            return status(
                StatusCodes.BadArgumentsMissing
                if len(values) < len(method.inputs)
                else StatusCodes.BadTooManyArguments
            )
        for arg, value in zip(args, method.inputs, strict=True):
            if isinstance(arg, ua.Variant) and arg.VariantType != value.variant_type:
                return status(StatusCodes.BadTypeMismatch)
        too_long = [
            bool(a.max_length) and isinstance(v, str) and len(v) > a.max_length
            for v, a in zip(values, method.inputs, strict=True)
        ]
        if any(too_long):  # OPC 10000-4 5.11.2: Bad_InvalidArgument, the reason per argument
            return ua.CallMethodResult(
                StatusCode=status(StatusCodes.BadInvalidArgument),
                InputArgumentResults=[
                    status(StatusCodes.BadOutOfRange if bad else StatusCodes.Good)
                    for bad in too_long
                ],
            )
        result = method.handler(values)
        if isinstance(result, ua.StatusCode):
            return result
        return [ua.Variant(v, a.variant_type) for v, a in zip(result, method.outputs, strict=True)]

    return call
