"""``--events FILE``: the ground-truth event log of a run, streamed to a file as it goes.

``run``, ``serve`` and ``loop`` take it. The file holds one line per event, in the order
they happened, written by :func:`~mestwin.plantmodels.eventlog.format_row`: tab-separated
fields, first the simulated time (seconds) and the :class:`~mestwin.plantmodels.EventKind`
number, then the fields of that kind (see its docstring), floats as ``repr``, a missing
value as ``None``. The SHA-256 of the whole file is the run's ``event_log_sha256`` and its
line count the ``event_count``; :func:`~mestwin.plantmodels.eventlog.parse_line` reads a
line back. Without ``--events`` no row is kept at all, only the count and the hash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TextIO

__all__ = ["EVENTS_HELP", "OutputError", "open_events", "open_output"]

EVENTS_HELP = ("stream the ground-truth event log to FILE, one tab-separated line per "
               "event (its SHA-256 is event_log_sha256); without it no event is kept")


@contextlib.contextmanager
def open_events(path: str | None) -> Iterator[TextIO | None]:
    """The events file at *path* opened for writing (None without a path); closed after."""
    if path is None:
        yield None
        return
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        yield file


class OutputError(Exception):
    """An output file an option names cannot be written; the message names the option,
    the file and the reason (``--events out/x.tsv: No such file or directory``)."""


def open_output(stack: contextlib.ExitStack[bool | None], option: str,
                path: str | None) -> TextIO | None:
    """The file *option* names, opened for writing on *stack* (None without a path); an
    :class:`OutputError` if it cannot be, so a command exits 2 before it runs anything."""
    try:
        return stack.enter_context(open_events(path))
    except OSError as exc:
        raise OutputError(f"{option} {path}: {exc.strerror or exc}") from None
