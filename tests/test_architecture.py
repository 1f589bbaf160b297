"""The ISA-95 layering holds in the code: lower levels never import higher ones.

The MES sees the plant only through PLC tags, so ``mes_core`` imports neither
``plantmodels`` nor ``virtual_plc``; ``sim`` is what wires levels together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mestwin"

FORBIDDEN = {
    "plantmodels": {"virtual_plc", "mes_core", "erp_mock", "sim"},
    "virtual_plc": {"mes_core", "erp_mock", "sim"},
    "mes_core": {"plantmodels", "virtual_plc", "erp_mock", "sim"},
    "erp_mock": {"plantmodels", "virtual_plc", "mes_core", "sim"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_higher_levels(package: str) -> None:
    """No module of a level imports a package it must not see."""
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files, f"package {package} is empty"
    for path in files:
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "mestwin" and len(parts) > 1:
                assert parts[1] not in FORBIDDEN[package], (
                    f"{path.relative_to(PACKAGE)} imports {name}")


def test_modules_stay_small() -> None:
    """Modules hold one concept each: none grows past about 600 lines."""
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 600, f"{path.relative_to(PACKAGE)} has {lines} lines: split it"


TRUTH_SIDE = ("mestwin.sim.truth", "mestwin.sim.score", "mestwin.sim.score_command")
"""The ground truth and its scorer: they must not agree with the MES by sharing its code."""


def _module_path(name: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def test_truth_side_shares_no_code_with_the_mes() -> None:
    """Truth export and scorer import nothing of ``mes_core``, directly or through any
    ``mestwin`` module they import."""
    seen: set[str] = set()
    stack = list(TRUTH_SIDE)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        assert not name.startswith("mestwin.mes_core"), f"the truth side reaches {name}"
        path = _module_path(name)
        if path is not None:
            stack.extend(n for n in _imports(path) if n.startswith("mestwin"))
    assert {"mestwin.sim.truth", "mestwin.virtual_plc.tags"} <= seen
