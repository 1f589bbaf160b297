"""The event log's retention: keep all rows, none, or stream them; count and hash the same.

The reference hash is derived here independently of :class:`EventLog`: SHA-256 over the
kept rows, each written as tab-separated ``repr``/``str`` fields and a newline.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from mestwin.plantmodels import EventKind, EventLog, Plant, Retention
from mestwin.plantmodels.eventlog import format_row, parse_line
from mestwin.sim.scenario import build_plant, load_scenario
from tests.conftest import SCENARIOS

HORIZON = 4 * 3600.0


def _reference_sha256(rows: list[tuple[Any, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        fields = [repr(v) if isinstance(v, float) else str(v) for v in row]
        h.update(("\t".join(fields) + "\n").encode("utf-8"))
    return h.hexdigest()


def _run(path: Path, retention: Retention, stream: io.StringIO | None = None) -> Plant:
    scenario = load_scenario(path)
    scenario = scenario.model_copy(update={"horizon": min(scenario.horizon, HORIZON),
                                           "warmup": min(scenario.warmup, HORIZON / 4)})
    plant = build_plant(scenario)
    plant.log.retain(retention, stream)
    plant.run(scenario.horizon)
    return plant


def _comparable(plant: Plant) -> dict[str, Any]:
    result = plant.results().to_dict()
    result.pop("warnings", None)  # added by `run`, not part of the plant's figures
    return result


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_hash_as_it_goes_equals_the_hash_of_the_kept_rows(path: Path) -> None:
    """Retention NONE keeps no row, yet its count, hash and every KPI equal the run that
    kept them all; the kept run's hash is the SHA-256 of its rows' canonical lines."""
    kept = _run(path, Retention.ALL)
    unkept = _run(path, Retention.NONE)
    kept_result, unkept_result = _comparable(kept), _comparable(unkept)
    assert kept_result["event_log_sha256"] == _reference_sha256(kept.log.rows)
    assert kept_result["event_count"] == len(kept.log.rows) > 0
    assert len(unkept.log.rows) == 0
    assert unkept_result == kept_result


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_streamed_file_holds_every_row_and_hashes_to_the_reported_hash(path: Path) -> None:
    """STREAM writes one line per event: the file's SHA-256 is event_log_sha256, its line
    count event_count, and its lines parse back to the rows a kept log holds."""
    kept = _run(path, Retention.ALL)
    stream = io.StringIO()
    streamed = _run(path, Retention.STREAM, stream)
    result = _comparable(streamed)
    data = stream.getvalue().encode("utf-8")
    assert hashlib.sha256(data).hexdigest() == result["event_log_sha256"]
    lines = stream.getvalue().splitlines()
    assert len(lines) == result["event_count"] == len(kept.log.rows)
    assert [parse_line(line) for line in lines] == kept.log.rows
    assert len(streamed.log.rows) == 0


def test_rows_not_kept_are_dropped_as_the_run_goes() -> None:
    """Without retention ALL the plant flushes every flush_interval of simulated time, so
    at any moment only the rows of the last interval are held."""
    plant = _run(SCENARIOS[0], Retention.NONE)
    per_interval = len(plant.log) * EventLog.flush_interval / plant.env.now
    held_before_results = len(plant.log.rows)
    assert held_before_results < 20 * per_interval + 100
    assert held_before_results < len(plant.log) / 100


def test_flushing_at_any_point_gives_the_same_hash() -> None:
    """The hash does not depend on where the log was cut into flushes."""
    rows: list[tuple[Any, ...]] = [(float(i) / 3, int(EventKind.ENTER), f"p-{i:06d}", "cut")
                                   for i in range(50)]
    reference = _reference_sha256(rows)
    for cut in (1, 7, 49):
        for retention in (Retention.ALL, Retention.NONE):
            log = EventLog(retention)
            for i, row in enumerate(rows):
                log.append(row)
                if i % cut == 0:
                    log.flush()
            assert log.sha256() == reference
            assert len(log) == 50
            assert len(log.rows) == (50 if retention is Retention.ALL else 0)


def test_a_log_without_rows_refuses_to_show_them() -> None:
    """records() and lines() of a log that keeps no rows raise instead of yielding an
    empty or partial log."""
    log = EventLog(Retention.NONE)
    log.append((0.0, int(EventKind.DROP), "p-000001", "src"))
    with pytest.raises(RuntimeError, match="keeps no rows"):
        list(log.records())
    with pytest.raises(RuntimeError, match="keeps no rows"):
        list(log.lines())


def test_retention_is_chosen_before_the_first_row() -> None:
    """A log cannot start forgetting (or keeping) halfway; STREAM needs a stream."""
    log = EventLog()
    log.append((0.0, int(EventKind.DROP), "p-000001", "src"))
    with pytest.raises(RuntimeError, match="before the first event"):
        log.retain(Retention.NONE)
    with pytest.raises(ValueError, match="needs a stream"):
        EventLog(Retention.STREAM)
    with pytest.raises(ValueError, match="needs a stream"):
        EventLog(Retention.NONE, io.StringIO())


def test_listeners_get_every_row_once_in_order() -> None:
    """A listener sees each row exactly once, whatever the retention."""
    plant = build_plant(load_scenario(SCENARIOS[0]).model_copy(update={"horizon": HORIZON}))
    plant.log.retain(Retention.NONE)
    seen: list[tuple[Any, ...]] = []
    plant.log.listeners.append(seen.extend)
    plant.run(HORIZON)
    sha = plant.log.sha256()  # flushes: the listener gets the last rows
    assert _reference_sha256(seen) == sha
    assert len(seen) == len(plant.log) > 0
    assert [format_row(row) for row in seen[:3]] == [
        "\t".join(repr(v) if isinstance(v, float) else str(v) for v in row)
        for row in seen[:3]]
