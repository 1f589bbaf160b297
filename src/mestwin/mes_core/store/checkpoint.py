"""Where data collection resumes after the MES restarts: the collector's checkpoint.

The collector's memory (last AccCount seen per counter, last genealogy record read, open
state, the span its state intervals are reconciled over) is stored as JSON in the same
transaction as the events it produced. A restarted MES resumes from it: counts made while
it was down arrive as one AccCount difference, nothing is counted twice, and events that
were buffered but not yet written at the crash are simply produced again from the PLC's
cumulative tags.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mestwin.mes_core.store.models import Base


class CollectorCheckpoint(Base):
    """The latest checkpoint of one collector (*source*: which line or transport)."""

    __tablename__ = "collector_checkpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(128), unique=True)
    state: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime]


def save_checkpoint(session: Session, source: str, state: dict[str, Any]) -> None:
    """Replace *source*'s checkpoint with *state* (in the caller's transaction)."""
    row = session.scalar(select(CollectorCheckpoint).where(CollectorCheckpoint.source == source))
    text = json.dumps(state, sort_keys=True)
    now = datetime.now(UTC)
    if row is None:
        session.add(CollectorCheckpoint(source=source, state=text, written_at=now))
    else:
        row.state = text
        row.written_at = now


def load_checkpoint(session: Session, source: str) -> dict[str, Any] | None:
    """*source*'s latest checkpoint, or None if it never wrote one."""
    row = session.scalar(select(CollectorCheckpoint).where(CollectorCheckpoint.source == source))
    return None if row is None else dict(json.loads(row.state))
