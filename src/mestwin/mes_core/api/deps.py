"""What the API's routes share: the app's configuration and one store session per request."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from mestwin.mes_core.losses import LossTaxonomy
from mestwin.mes_core.quality import StopHook
from mestwin.mes_core.reporting import ShiftCalendar

__all__ = ["ApiConfig", "Config", "Db", "config", "session"]


@dataclass(frozen=True)
class ApiConfig:
    """The store and the plant facts the reports need (kept on ``app.state.mes``).

    *taxonomy* classifies stop reasons without a stored loss class, *calendar* defines the
    shifts, *pru* gives ideal cycle times per work unit for count rows without one, and
    *on_stop* is called with each quality-gate stop (the dispatcher sends the command).
    """

    session_factory: sessionmaker[Session]
    taxonomy: LossTaxonomy | None = None
    calendar: ShiftCalendar | None = None
    pru: Mapping[str, float] = field(default_factory=dict)
    on_stop: StopHook | None = None


def config(request: Request) -> ApiConfig:
    """The configuration of the app serving *request*."""
    found: ApiConfig = request.app.state.mes
    return found


def session(request: Request) -> Iterator[Session]:
    """A session for one request; routes commit what they change, the rest is rolled back."""
    with config(request).session_factory() as s:
        yield s


Db = Annotated[Session, Depends(session)]
Config = Annotated[ApiConfig, Depends(config)]
