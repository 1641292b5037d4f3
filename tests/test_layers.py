"""Data flows one way: collectors/importers → store → features → model → predictions → read model →
api / feeds / alerts. No package imports one above it, and no module imports another package's private
(underscored) module. Lazy imports inside functions count as well: they are imports all the same."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ETA = Path(__file__).resolve().parent.parent / "eta"

# Lowest first; a package may import its own modules and those of lower layers only. Packages on one
# line are side by side: neither imports the other.
LAYERS: list[set[str]] = [
    {"_time", "errors"},
    {"config", "clock", "windows", "parking"},
    {"logging", "parking_sources"},
    {"store"},
    {"read"},
    {"collectors"},
    {"importers"},
    {"features"},
    {"model"},
    {"evaluation"},
    {"feeds", "alerts", "web"},
    {"api"},
    {"scheduler"},
    {"demo"},
    {"cli"},
]
MIGRATIONS = ("store", "migrations", "versions")
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def _package(module: str) -> str:
    """``eta.api.routes.trips`` → ``api``; ``eta._time`` → ``_time``."""
    return module.split(".")[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every ``eta`` import in the file, ``from eta import x`` as ``eta.x``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "eta":
                found += [(node.lineno, f"eta.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, module) for line, module in found if module.startswith("eta.")]


def _modules(root: Path = ETA) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[:3] == MIGRATIONS:  # a data migration runs today's code of any layer, once
            continue
        if parts == ("__init__",):
            continue
        out.append((".".join(("eta", *parts)).removesuffix(".__init__"), path))
    return out


def test_every_package_has_a_layer() -> None:
    unplaced = sorted({_package(module) for module, _ in _modules()} - set(LEVEL))
    assert not unplaced, f"add {unplaced} to LAYERS in {Path(__file__).name}: where does it sit?"


def upward_imports(root: Path = ETA) -> list[str]:
    wrong = []
    for module, path in _modules(root):
        own = _package(module)
        for line, imported in _imports(path):
            target = _package(imported)
            where = f"{path.relative_to(root.parent)}:{line} imports {imported}"
            if target != own and target in LEVEL and own in LEVEL and LEVEL[target] >= LEVEL[own]:
                wrong.append(f"{where} ({own} may not import {target})")
            private = [p for p in imported.split(".")[2:] if p.startswith("_")]
            if target != own and private:
                wrong.append(f"{where} (a private module of {target})")
    return wrong


def test_no_package_imports_upwards_or_another_packages_private_module() -> None:
    assert upward_imports() == []


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from eta.api.lookup import Lookup\n", "eta.feeds.x", "feeds may not import api"),
        (
            "def f():\n    from eta.evaluation import backtest\n",
            "eta.model.x",
            "model may not import evaluation",
        ),
        ("import eta.importers._write\n", "eta.collectors.x", "a private module of importers"),
        ("from eta import demo\n", "eta.api.x", "api may not import demo"),
    ],
)
def test_the_check_sees_each_kind_of_upward_import(
    source: str, module: str, expected: str, tmp_path: Path
) -> None:
    parts = module.split(".")[1:]
    fake = tmp_path / "eta" / Path(*parts[:-1]) / f"{parts[-1]}.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    assert any(expected in found for found in upward_imports(tmp_path / "eta"))
