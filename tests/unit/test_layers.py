"""Layering: each layer imports only the layers below it (docs: README, Architecture)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "cvsession"
# Layer of each top-level part of the package, lowest first.
LAYERS = {
    "core": 0,
    "store": 1,
    "processing": 1,
    "service": 2,
    "config": 2,
    "api": 3,
    "client": 3,
    "jobs": 3,
    "cli": 4,
    "__main__": 5,
}
# Third-party imports the pure core may use (pure, no I/O): docs/decisions/0002.
CORE_THIRD_PARTY = {"jsonpatch", "jsonpointer"}
CORE_FORBIDDEN_STDLIB = {
    "asyncio",
    "sqlite3",
    "socket",
    "subprocess",
    "threading",
    "os",
    "http",
    "urllib.request",
    "time",
}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


MODULES = [p for p in PACKAGE.rglob("*.py") if _part(p) in LAYERS]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_imports(path: Path) -> None:
    """A module never imports a cvsession layer above its own."""
    own = LAYERS[_part(path)]
    upward = [
        n
        for n in _imports(path)
        if n.startswith("cvsession.") and LAYERS.get(n.split(".")[1], 0) > own
    ]
    assert [] == upward


@pytest.mark.parametrize("path", [p for p in MODULES if _part(p) == "core"], ids=lambda p: p.name)
def test_core_is_pure(path: Path) -> None:
    """Core modules import only the standard library (minus I/O and clocks) and jsonpatch."""
    bad = []
    for name in _imports(path):
        top = name.split(".")[0]
        if top in ("cvsession", "__future__"):
            continue
        if top in CORE_THIRD_PARTY:
            continue
        if (
            top not in sys.stdlib_module_names
            or name in CORE_FORBIDDEN_STDLIB
            or top in CORE_FORBIDDEN_STDLIB
        ):
            bad.append(name)
    assert [] == bad


def test_every_module_has_a_layer() -> None:
    """New top-level modules must be placed in a layer."""
    parts = {_part(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert set() == parts - set(LAYERS)


def test_no_eval_or_exec_anywhere() -> None:
    """No module calls eval, exec or compile: rules are evaluated by our own interpreter."""
    calls = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"eval", "exec", "compile", "__import__"}
            ):
                calls.append(f"{path.name}:{node.lineno}")
    assert [] == calls


@pytest.mark.parametrize("path", [p for p in MODULES if _part(p) == "client"], ids=lambda p: p.name)
def test_client_sdk_uses_only_the_core(path: Path) -> None:
    """The Python client SDK shares the core with the server and nothing else of it."""
    inner = [n for n in _imports(path) if n.startswith("cvsession.")]
    assert [] == [n for n in inner if n.split(".")[1] not in ("core", "client")]
