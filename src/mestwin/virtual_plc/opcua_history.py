"""Every change, in order, for OPC UA monitored items that queue more than one value.

A real PLC's server samples at 0 ms: a monitored item with a queue (OPC 10000-4 5.12.1.5,
QueueSize > 1) receives every change of its value in order, each with the SourceTimestamp of
its own instant, even several within one publishing interval. Our server publishes in
batches (:mod:`.opcua_server`), so for the few tags someone monitors with a queue it keeps
the changes since the last batch: a :class:`ChangeHistory` per PLC, filled by
:meth:`TagValues.watch` in the order the PLC writes, bounded by the largest queue asked for.
Nobody asking costs nothing: tags without such an item are not watched at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Iterator

from asyncua import ua
from asyncua.common.callback import ServerItemCallback
from asyncua.server.address_space import AddressSpace, NodeData
from asyncua.server.internal_server import InternalServer
from asyncua.server.monitored_item_service import MonitoredItemData, MonitoredItemService
from asyncua.ua.attribute_ids import AttributeIds

from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import TagValue

__all__ = ["Change", "ChangeHistory", "deep_queue_size", "deliver_queued", "monitored_nodes",
           "revise_default_queues"]

Change = tuple[TagValue, float | None]
"""A value and the simulated time it was written (None: the PLC has no clock)."""


class ChangeHistory:
    """What the publisher owes the address space for one PLC's *tags*, per path.

    :meth:`follow` a path while a monitored item with a queue watches it, :meth:`forget` it
    after: its changes are recorded in write order, each path keeping at most its queue's
    length (older changes would be discarded by the queue anyway). :meth:`due` says what
    to write for a changed path: the recorded changes, else its latest value.
    """

    def __init__(self, tags: TagValues) -> None:
        self._tags = tags
        self._queues: dict[str, deque[Change]] = {}
        self._published: dict[str, TagValue] = {}
        """Path -> the last value handed out by :meth:`due`."""

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths followed now."""
        return tuple(self._queues)

    def follow(self, path: str, length: int) -> None:
        """Record the changes of *path* from now on, the last *length* of them; a *length*
        of 1 or less (no queue) forgets it."""
        if length <= 1:
            self.forget(path)
            return
        queue = self._queues.get(path)
        if queue is None:
            self._queues[path] = deque(maxlen=length)
            self._tags.watch(self._record, [path])
        elif queue.maxlen != length:
            self._queues[path] = deque(queue, maxlen=length)

    def forget(self, path: str) -> None:
        """Stop recording *path* and drop what it had."""
        if self._queues.pop(path, None) is not None:
            self._tags.unwatch(self._record, [path])

    def due(self, path: str) -> list[Change]:
        """What to write for *path*, oldest first: its changes since the last call if it is
        followed, else its current value unless that was the last one handed out."""
        queue = self._queues.get(path)
        if queue:
            changes = list(queue)
            queue.clear()
        else:
            value, last = self._tags[path], self._published.get(path)
            if last == value and type(last) is type(value) and path in self._published:
                return []
            changes = [(value, self._tags.changed_at(path))]
        self._published[path] = changes[-1][0]
        return changes

    def _record(self, path: str, value: TagValue) -> None:
        self._queues[path].append((value, self._tags.changed_at(path)))


def deep_queue_size(aspace: AddressSpace, node: ua.NodeId) -> int:
    """The largest queue of the live data-change monitored items on *node*'s Value (0 if
    none). It reads asyncua 2.1.0's server internals: each item registers its service's
    ``datachange_callback`` on the attribute, and the service maps the handle to the item."""
    data = aspace.get(node)
    attribute = None if data is None else data.attributes.get(AttributeIds.Value)
    if attribute is None:
        return 0
    return max((item.queue_size for _, _, item in _items(attribute.datachange_callbacks.items())),
               default=0)


async def deliver_queued(aspace: AddressSpace, node: ua.NodeId, value: ua.DataValue) -> None:
    """Hand *value*, a change older than the one about to be written, to the queued items
    on *node* only: items without a queue would drop it anyway, and the address space keeps
    only the latest. Straight into the subscription's queue (what asyncua's callback does
    after its change test, which every recorded change passes, and without its deep copy);
    an item with a filter takes asyncua's own path."""
    data = aspace.get(node)
    attribute = None if data is None else data.attributes.get(AttributeIds.Value)
    if attribute is None:
        return
    for handle, service, item in list(_items(attribute.datachange_callbacks.items())):
        mid = item.monitored_item_id
        if mid is None or item.queue_size <= 1 or item.mode == ua.MonitoringMode.Disabled:
            continue
        if item.filter:
            await service.datachange_callback(handle, value)
            continue
        values = item.mvalue
        values.old_dvalue, values.current_dvalue = values.current_dvalue, value
        notification = ua.MonitoredItemNotification(ClientHandle=item.client_handle, Value=value)
        await service.isub.enqueue_datachange_event(mid, notification, item.queue_size)


def monitored_nodes(aspace: AddressSpace, event: ServerItemCallback,
                    nodes: Collection[ua.NodeId]) -> list[ua.NodeId]:
    """Which of *nodes* an ItemSubscriptionCreated or ...Modified *event* may have given a
    queue. A modify request names items, not nodes: then every node of *nodes* with a
    monitored item (modifications are rare)."""
    params = event.request_params
    if isinstance(params, ua.CreateMonitoredItemsParameters):
        return [request.ItemToMonitor.NodeId for request, result
                in zip(params.ItemsToCreate, event.response_params, strict=False)
                if result.StatusCode.is_good() and request.ItemToMonitor.NodeId in nodes]
    return [node for node in nodes if _value_callbacks(aspace.get(node))]


def revise_default_queues(iserver: InternalServer, event: ServerItemCallback) -> None:
    """Give data monitored items that asked for queueSize 0 a queue of 1, as OPC 10000-4
    (MonitoringParameters, queueSize) requires: "0 or 1: the Server returns the default
    queue size which shall be 1". asyncua 2.1.0 revises 0 to its largest queue instead,
    which would make every default subscription a queued one. It reads asyncua's server
    internals (the subscription's MonitoredItemService and its items)."""
    params, results = event.request_params, event.response_params
    if isinstance(params, ua.CreateMonitoredItemsParameters):
        asked = [(r.RequestedParameters.QueueSize, result.MonitoredItemId)
                 for r, result in zip(params.ItemsToCreate, results, strict=False)]
    elif isinstance(params, ua.ModifyMonitoredItemsParameters):
        asked = [(r.RequestedParameters.QueueSize, r.MonitoredItemId)
                 for r in params.ItemsToModify]
    else:
        return
    subscription = iserver.subscription_service.subscriptions.get(params.SubscriptionId)
    if subscription is None:
        return
    items = subscription.monitored_item_srv._monitored_items
    for (requested, mid), result in zip(asked, results, strict=False):
        item = items.get(mid) if requested == 0 and result.StatusCode.is_good() else None
        value = item is not None and item.read_value_id is not None and (
            item.read_value_id.AttributeId == AttributeIds.Value)
        if item is not None and value:
            item.queue_size = 1
            result.RevisedQueueSize = 1


def _value_callbacks(data: NodeData | None) -> bool:
    attribute = None if data is None else data.attributes.get(AttributeIds.Value)
    return attribute is not None and bool(attribute.datachange_callbacks)


def _items(callbacks: Iterable[tuple[int, object]]
           ) -> Iterator[tuple[int, MonitoredItemService, MonitoredItemData]]:
    """(handle, its service, the item) of each data-change callback an item registered."""
    for handle, callback in callbacks:
        service = getattr(callback, "__self__", None)
        if not isinstance(service, MonitoredItemService):
            continue
        item = service._monitored_items.get(service._monitored_datachange.get(handle, -1))
        if item is not None:
            yield handle, service, item
