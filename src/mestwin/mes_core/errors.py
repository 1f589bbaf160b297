"""Domain errors of the MES services, mapped one-to-one to HTTP answers by :mod:`.api`.

:class:`NotFoundError` is an unknown id (404), :class:`StateConflictError` an operation that
the current state forbids (409), such as consuming a held lot or releasing a lot that is not
held. Bad input values raise :class:`ValueError` (422).
"""

from __future__ import annotations

__all__ = ["HeldLotError", "NotFoundError", "StateConflictError"]


class NotFoundError(LookupError):
    """A referenced entity (order, lot, work unit, spec, NCR...) does not exist."""


class StateConflictError(RuntimeError):
    """The entity exists but its state forbids the operation."""


class HeldLotError(StateConflictError):
    """Consumption of a lot that is held, or descends from a held lot, was refused.

    *lot_id* is the lot to be consumed; *hold_ids* are the active holds that block it.
    """

    def __init__(self, message: str, lot_id: int, hold_ids: tuple[int, ...]) -> None:
        super().__init__(message)
        self.lot_id = lot_id
        self.hold_ids = hold_ids
