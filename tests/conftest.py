"""Shared fixtures: paths to the shipped scenarios and a helper to run plants."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture
def scenarios_dir() -> Path:
    """The folder of shipped scenario files."""
    return ROOT / "scenarios"
