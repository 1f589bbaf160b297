"""The values a PLC's tags hold: one container per machine, with per-tag change versions.

The tag table (:mod:`.tags`) says what each tag is; :class:`TagValues` holds what it reads
now, and (given a clock) the simulated instant each tag last changed. The PLC writes it; the
protocol servers serve it: OPC UA by :meth:`TagValues.changed_since` (and :meth:`TagValues.watch`
for monitored items that queue every change), the in-process transport by
:meth:`TagValues.watch`, Modbus through its register image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType

from mestwin.virtual_plc.tags import TAGS, TagSpec, TagValue

__all__ = ["TagValues"]


class TagValues:
    """Current values of one machine's tags, with per-tag versions for change detection.

    Every effective change (a new value different from the old one) bumps :attr:`version`
    and stamps the tag with it, so a server remembers the version it last pushed and asks
    :meth:`changed_since` for the rest: cost is proportional to what changed, not to the
    table. *clock* (the simulated time, e.g. ``lambda: env.now``) dates each change: the
    servers stamp values with it (:meth:`changed_at`). Not thread-safe: use it from the
    thread that runs the simulation.
    """

    def __init__(self, specs: Iterable[TagSpec] = TAGS,
                 clock: Callable[[], float] | None = None) -> None:
        self._specs = {spec.path: spec for spec in specs}
        self._values: dict[str, TagValue] = {p: s.default for p, s in self._specs.items()}
        self._stamps: dict[str, int] = {}
        """Path -> version of its last change."""
        self._clock = clock
        self._instants: dict[str, float] = {}
        """Path -> simulated time of its last change (only with a clock)."""
        self._version = 0
        self._watchers: dict[str, list[Callable[[str, TagValue], None]]] = {}
        """Path -> callbacks for its effective changes (see :meth:`watch`)."""

    def watch(self, callback: Callable[[str, TagValue], None],
              paths: Iterable[str] | None = None) -> None:
        """Call *callback* with (path, value) after every effective change of *paths* (all
        tags if None), in the order the PLC writes them: the in-process transport's
        monitored items. A change of a tag nobody watches costs one dictionary lookup."""
        for path in self._values if paths is None else paths:
            if path not in self._values:
                raise KeyError(f"unknown tag {path!r}")
            self._watchers.setdefault(path, []).append(callback)

    def unwatch(self, callback: Callable[[str, TagValue], None],
                paths: Iterable[str] | None = None) -> None:
        """Stop calling *callback* for *paths* (all tags if None); unknown pairs are ignored."""
        for path in list(self._watchers) if paths is None else paths:
            watchers = self._watchers.get(path)
            if watchers is not None and callback in watchers:
                watchers.remove(callback)
                if not watchers:
                    del self._watchers[path]

    def changed_at(self, path: str) -> float | None:
        """Simulated time of the last change of *path*: None without a clock or before any
        change. Tags changed in one instant share it."""
        return self._instants.get(path)

    @property
    def version(self) -> int:
        """Number of effective changes so far; 0 before any."""
        return self._version

    @property
    def specs(self) -> Mapping[str, TagSpec]:
        """The tags this container holds, by path."""
        return MappingProxyType(self._specs)

    def __getitem__(self, path: str) -> TagValue:
        return self._values[path]

    def __contains__(self, path: object) -> bool:
        return path in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def integer(self, path: str) -> int:
        """The value at *path* as an int (Boolean and integer tags)."""
        value = self._values[path]
        if isinstance(value, int):
            return int(value)
        raise TypeError(f"{path} is not an integer tag")

    def real(self, path: str) -> float:
        """The value at *path* as a float (numeric tags)."""
        value = self._values[path]
        if isinstance(value, int | float):
            return float(value)
        raise TypeError(f"{path} is not a numeric tag")

    def set(self, path: str, value: TagValue) -> bool:
        """Store *value* (already of the tag's type) at *path*; return True if it changed.

        No access or type check: this is the PLC's own write. Clients go through
        ``VirtualPLC.write``.
        """
        old = self._values[path]
        if old == value and type(old) is type(value):
            return False
        self._values[path] = value
        self._version = version = self._version + 1
        self._stamps[path] = version
        if self._clock is not None:
            self._instants[path] = self._clock()
        watchers = self._watchers.get(path)
        if watchers is not None:
            for callback in watchers:
                callback(path, value)
        return True

    def changed_since(self, version: int) -> dict[str, TagValue]:
        """The tags changed after *version* (a value of :attr:`version`), with their values.

        A scan of the stamps (a hundred tags): cheap for a server that publishes every few
        milliseconds, and it keeps :meth:`set`, which runs on every plant change, minimal."""
        values = self._values
        return {path: values[path] for path, stamp in self._stamps.items() if stamp > version}

    def as_dict(self) -> dict[str, TagValue]:
        """A copy of all values, by path."""
        return dict(self._values)
