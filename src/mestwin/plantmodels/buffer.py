"""Finite input buffers with blocking after service.

A :class:`Buffer` holds the units waiting in front of a station's *servers*. Its capacity
counts waiting units only (``None``: unlimited), so a buffer of 0 means a unit can enter
only when a server is free to take it. An upstream server whose unit does not fit keeps the
unit and waits (blocking after service); admission is first come, first served.

:meth:`Buffer.put` and :meth:`Buffer.take` succeed at once without creating a SimPy event
when they can: events are made only when someone really has to wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import simpy

from mestwin.plantmodels.eventlog import EventKind

if TYPE_CHECKING:
    from mestwin.plantmodels.units import Unit


ENTER = int(EventKind.ENTER)


class Buffer:
    """Waiting units in front of *servers* parallel servers, at most *capacity* waiting."""

    def __init__(
        self, env: simpy.Environment, servers: int, capacity: int | None, node: str = "",
        log: Callable[[tuple[Any, ...]], None] | None = None,
    ) -> None:
        self.env = env
        self.node = node
        """Id of the node this buffer feeds (for ``ENTER`` rows)."""
        self._log = log
        self.capacity = capacity
        self.limit = float("inf") if capacity is None else capacity + servers
        """Units the station can hold, waiting or in a server."""
        self.queue: deque[Unit] = deque()
        """Waiting units, first in first out."""
        self.held = 0
        """Units taken by a server and not yet released (in work or blocked)."""
        self.paused = False
        """While true (the station is stopped), servers are not handed units."""
        self._getters: deque[simpy.Event] = deque()
        self._putters: deque[tuple[simpy.Event, Unit]] = deque()

    def __len__(self) -> int:
        return len(self.queue)

    def put(self, unit: Unit) -> simpy.Event | None:
        """Offer *unit*: ``None`` if it entered at once, else an event that fires when it does."""
        if self._putters or len(self.queue) + self.held >= self.limit:
            event = self.env.event()
            self._putters.append((event, unit))
            return event
        self._admit(unit)
        return None

    def withdraw(self, event: simpy.Event) -> None:
        """Withdraw a pending :meth:`put` (an arrival that is lost instead of waiting)."""
        for i, (pending, _) in enumerate(self._putters):
            if pending is event:
                del self._putters[i]
                return

    def take(self) -> Unit | None:
        """Give a server the first waiting unit, or ``None`` if there is none (or paused)."""
        if self.paused or not self.queue:
            return None
        self.held += 1
        return self.queue.popleft()

    def wait(self) -> simpy.Event:
        """An event that fires with a unit for a server that found the buffer empty."""
        event = self.env.event()
        self._getters.append(event)
        return event

    def cancel(self, event: simpy.Event) -> None:
        """Withdraw a :meth:`wait` that has not been served."""
        self._getters.remove(event)

    def release(self) -> None:
        """A server has passed its unit on: make room for a blocked upstream unit."""
        self.held -= 1
        if self._putters:
            event, unit = self._putters.popleft()
            self._admit(unit)
            event.succeed()

    def resume(self) -> None:
        """End a pause: hand waiting units to waiting servers."""
        self.paused = False
        while self._getters and self.queue:
            self.held += 1
            self._getters.popleft().succeed(self.queue.popleft())

    def _admit(self, unit: Unit) -> None:
        unit.t_enq = now = self.env._now
        if self._log is not None:
            self._log((now, ENTER, unit.serial, self.node))
        if self._getters and not self.paused:
            self.held += 1
            self._getters.popleft().succeed(unit)
        else:
            self.queue.append(unit)


class DispatchedBuffer(Buffer):
    """A buffer whose units wait until someone (the MES, through the PLC) names them.

    :meth:`authorize` releases an order; a server is handed the waiting unit of the oldest
    authorised order that is present, never a unit it was not told to work on.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.authorized: list[str] = []
        """Orders released to this station and not yet started, oldest first."""

    def authorize(self, order: str) -> None:
        """Release *order*: its unit may be worked on as soon as it is here."""
        self.authorized.append(order)
        self._serve()

    def _pick(self) -> Unit | None:
        for order in self.authorized:
            for unit in self.queue:
                if unit.order == order:
                    self.authorized.remove(order)
                    self.queue.remove(unit)
                    self.held += 1
                    return unit
        return None

    def take(self) -> Unit | None:
        if self.paused:
            return None
        return self._pick()

    def resume(self) -> None:
        self.paused = False
        self._serve()

    def _admit(self, unit: Unit) -> None:
        unit.t_enq = now = self.env._now
        if self._log is not None:
            self._log((now, ENTER, unit.serial, self.node))
        self.queue.append(unit)
        self._serve()

    def _serve(self) -> None:
        while self._getters and not self.paused:
            unit = self._pick()
            if unit is None:
                return
            self._getters.popleft().succeed(unit)
