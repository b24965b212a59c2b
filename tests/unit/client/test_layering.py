"""The client is an edge: it imports only the core, and nothing in the package imports it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "src" / "cvsession"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_client_imports_only_core() -> None:
    """No client module imports the api, service or store layers."""
    bad = {
        f"{p.name}: {n}"
        for p in (PACKAGE / "client").glob("*.py")
        for n in _imports(p)
        if n.startswith("cvsession.") and not n.startswith(("cvsession.core", "cvsession.client"))
    }
    assert set() == bad


def test_nothing_imports_the_client() -> None:
    """Outside the client package, no module imports it."""
    users = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "client" not in p.relative_to(PACKAGE).parts[:1]
        and any(n.startswith("cvsession.client") for n in _imports(p))
    }
    assert set() == users
