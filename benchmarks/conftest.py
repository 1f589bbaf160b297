"""Benchmarks run only with `make bench`; each reports a ratio against a bare baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[1] / "reports" / "bench.json"


@pytest.fixture(scope="session")
def record_ratio() -> Any:
    """Record a named ratio with its parts; written to reports/bench.json at the end."""
    results: dict[str, dict[str, float]] = {}

    def record(name: str, **values: float) -> None:
        results[name] = values
        print(f"\n[bench] {name}: " + ", ".join(f"{k}={v:,.3f}" for k, v in values.items()))

    yield record
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**previous, **results}, indent=2))
