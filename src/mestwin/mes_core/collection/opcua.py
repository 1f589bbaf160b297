"""The OPC UA transport: the MES subscribes to the machines' tags over a real socket.

NodeIds follow the convention of the machines' servers: ``ns=<idx>;s=<Line>.<Machine>.<tag
path>`` under a namespace URI the MES is configured with; the index is looked up by URI on
connect, never assumed. One subscription carries every tag of every machine; the items of
one publish response are delivered as one batch, in the PLC's write order (source time,
then the order of the configured tag paths). A tag change's time is its SourceTimestamp
on the PLC clock, in seconds since *epoch*: the instant the value changed, whatever the
transport's delay, which is what the collector times state intervals by. Every monitored
item has a queue of *queue_size* (OPC UA Part 4, 7.21 MonitoringParameters), so each change
between two publishes arrives with its own stamp; a queue that overflows drops the oldest
change (DiscardOldest), and the collector's reconciliation reports the lost time.

:meth:`OpcUaSource.reconnect` drops and re-creates the session; the new subscription
re-sends current values, which the collector recognises (AccCount deltas), so a reconnect
neither loses nor double-counts anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from mestwin.mes_core.collection.source import TagChange, TagSource, TagValue, TagWriteError

_log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "urn:mestwin:virtual-plc"


class OpcUaSource(TagSource):
    """Tags *paths* of *machines* on line *line* at the OPC UA server *endpoint*."""

    def __init__(
        self, endpoint: str, line: str, machines: Sequence[str], paths: Sequence[str], *,
        namespace_uri: str = DEFAULT_NAMESPACE, epoch: datetime = datetime(2025, 1, 1, tzinfo=UTC),
        publishing_interval_ms: float = 50.0, queue_size: int = 100,
        user: str | None = None, password: str | None = None,
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.line = line
        self._machines = list(machines)
        self.paths = list(paths)
        self._rank = {path: i for i, path in enumerate(self.paths)}
        self.namespace_uri = namespace_uri
        self.epoch = epoch
        self.publishing_interval_ms = publishing_interval_ms
        self.queue_size = queue_size
        self.user, self.password = user, password
        self.client: Client | None = None
        self._nodes: dict[str, tuple[str, str]] = {}
        self._by_tag: dict[tuple[str, str], Node] = {}
        self._types: dict[tuple[str, str], ua.VariantType] = {}
        self._pending: list[TagChange] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def machines(self) -> Sequence[str]:
        return self._machines

    async def start(self) -> None:
        client = Client(self.endpoint)
        if self.user is not None:
            client.set_user(self.user)
            client.set_password(self.password or "")
        await client.connect()
        self.client = client
        index = await client.get_namespace_index(self.namespace_uri)
        nodes = []
        for machine in self._machines:
            for path in self.paths:
                node = client.get_node(f"ns={index};s={self.line}.{machine}.{path}")
                self._nodes[node.nodeid.to_string()] = (machine, path)
                self._by_tag[(machine, path)] = node
                nodes.append(node)
        subscription = await client.create_subscription(
            ua.CreateSubscriptionParameters(RequestedPublishingInterval=self.publishing_interval_ms,
                                            RequestedMaxKeepAliveCount=100,
                                            RequestedLifetimeCount=1000),
            self)
        await subscription.subscribe_data_change(nodes, queuesize=self.queue_size)

    async def stop(self) -> None:
        for task in list(self._tasks):
            await task
        if self.client is not None:
            try:
                await self.client.disconnect()
            except (TimeoutError, OSError, ConnectionError, UaError):
                _log.info("disconnect from %s failed; the session is gone", self.endpoint)
            self.client = None
        self._flush()

    async def reconnect(self) -> None:
        """Open a new session and subscription (after the server restarted, say)."""
        await self.stop()
        await self.start()

    # -- subscription handler ---------------------------------------------------------
    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        """asyncua calls this once per item, in publish order; batch per publish."""
        key = self._nodes.get(node.nodeid.to_string())
        if key is None:
            return
        stamp = data.monitored_item.Value.SourceTimestamp
        time = ((stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp) - self.epoch
                ).total_seconds() if stamp is not None else 0.0
        self._pending.append(TagChange(key[0], key[1], value, time))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def status_change_notification(self, status: Any) -> None:
        """The server ended or changed the subscription: the caller should reconnect."""
        _log.warning("OPC UA subscription status changed: %s", status)

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        # A notification is ordered per monitored item, not across items: restore the PLC's
        # write order (source time, then the order of *paths*, which is the PLC's).
        batch.sort(key=lambda c: (c.time, self._rank.get(c.path, len(self._rank))))
        self.deliver(batch)

    # -- writes ---------------------------------------------------------------------------
    def write(self, machine: str, path: str, value: TagValue) -> None:
        task = asyncio.get_running_loop().create_task(self._write(machine, path, value))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, machine: str, path: str, value: TagValue) -> None:
        node = self._by_tag.get((machine, path))
        if node is None or self.client is None:
            self.fail(TagWriteError(machine, path, "not subscribed or not connected"))
            return
        try:
            kind = self._types.get((machine, path))
            if kind is None:
                kind = await node.read_data_type_as_variant_type()
                self._types[(machine, path)] = kind
            await node.write_value(ua.DataValue(ua.Variant(value, kind)))
        except UaStatusCodeError as error:
            self.fail(TagWriteError(machine, path, type(error).__name__))
        except (TimeoutError, OSError, ConnectionError) as error:
            self.fail(TagWriteError(machine, path, f"transport: {error}"))
