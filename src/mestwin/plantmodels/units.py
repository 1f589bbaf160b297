"""Units of production: serialised parts that carry their product, lot and order.

Every unit gets a serial number when it is released into the plant; raw material and
components also carry the id of the lot they were made in, so the plant knows the true
genealogy of everything it builds (which the MES must reconstruct from PLC tags).
"""

from __future__ import annotations


class Unit:
    """One physical part moving through the plant."""

    __slots__ = ("lot", "order", "product", "serial", "step", "t_enq", "t_release")

    def __init__(
        self, serial: str, product: str, t_release: float, lot: str | None = None,
        order: str | None = None,
    ) -> None:
        self.serial = serial
        """Unique serial number, e.g. ``housing-000042``."""
        self.product = product
        """Product (item) id."""
        self.lot = lot
        """Lot the unit belongs to, if its source makes lots."""
        self.order = order
        """Production order the unit was released for, if any."""
        self.t_release = t_release
        """Simulation time the unit entered the plant."""
        self.t_enq = t_release
        """Time the unit entered its current buffer (for waiting-time statistics)."""
        self.step = 0
        """Index of the next step in the product's routing."""

    def __repr__(self) -> str:
        return f"Unit({self.serial!r}, {self.product!r})"


class SerialNumbers:
    """Issues serial numbers per product: ``<product>-<6 digits>``, in release order."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def issue(self, product: str) -> str:
        """Return the next serial of *product*."""
        n = self._next.get(product, 0) + 1
        self._next[product] = n
        return f"{product}-{n:06d}"


class LotCounter:
    """Cuts a stream of items into lots of *size*: ``<prefix>-L<5 digits>``."""

    def __init__(self, prefix: str, size: float) -> None:
        if size <= 0:
            raise ValueError("lot size must be positive")
        self.prefix = prefix
        self.size = size
        self._number = 1
        self._left = size

    @property
    def current(self) -> str:
        """The lot currently being drawn from."""
        return f"{self.prefix}-L{self._number:05d}"

    def take(self, quantity: float = 1.0) -> list[tuple[str, float]]:
        """Take *quantity* and return the (lot, quantity) pairs it came from, in order."""
        taken: list[tuple[str, float]] = []
        while quantity > 1e-12:
            q = min(quantity, self._left)
            taken.append((self.current, q))
            quantity -= q
            self._left -= q
            if self._left <= 1e-12:
                self._number += 1
                self._left = self.size
        return taken
