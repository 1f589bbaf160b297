"""Domain errors of the MES services, mapped one-to-one to HTTP answers by :mod:`.api`.

:class:`NotFoundError` is an unknown id (404), :class:`StateConflictError` an operation that
the current state forbids (409), such as consuming a held lot or releasing a lot that is not
held, and :class:`InvalidValueError` a value the MES refuses on purpose (422): a negative
quantity, a spec without limits, a number that is not finite. Only these are client errors:
any other exception, a builtin :class:`ValueError` included, is a fault of the server (500).
"""

from __future__ import annotations

__all__ = ["HeldLotError", "InvalidValueError", "NotFoundError", "StateConflictError"]


class NotFoundError(LookupError):
    """A referenced entity (order, lot, work unit, spec, NCR...) does not exist."""


class StateConflictError(RuntimeError):
    """The entity exists but its state forbids the operation."""


class InvalidValueError(ValueError):
    """A value given to an MES service breaks one of its rules (the reason says which).

    A :class:`ValueError`, so callers of the library may catch either; the API maps only this
    subclass to 422, so that a stray ``ValueError`` from a bug stays a server error.
    """


class HeldLotError(StateConflictError):
    """Consumption of a lot that is held, or descends from a held lot, was refused.

    *lot_id* is the lot to be consumed; *hold_ids* are the active holds that block it.
    """

    def __init__(self, message: str, lot_id: int, hold_ids: tuple[int, ...]) -> None:
        super().__init__(message)
        self.lot_id = lot_id
        self.hold_ids = hold_ids
