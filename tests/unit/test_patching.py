"""RFC 6902 application against the conformance suites in ../shared/testdata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cvsession.core.errors import InvalidInput
from cvsession.core.patching import apply_patch

TESTDATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata").resolve()


def _load(*parts: str) -> Any:
    return json.loads((TESTDATA.joinpath(*parts)).read_text(encoding="utf-8"))


def _cases() -> list[Any]:
    out = []
    for name in ("tests.json", "spec_tests.json"):
        for i, c in enumerate(_load("json-patch", name)):
            if not c.get("disabled"):
                out.append(
                    pytest.param(
                        c["doc"], c["patch"], c.get("expected"), "expected" in c, id=f"{name}:{i}"
                    )
                )
    for name in ("json-patch.json", "rfc6902-examples.json"):
        for i, c in enumerate(_load("jsonp-test-suite", name)):
            if not c.get("skip"):
                out.append(
                    pytest.param(
                        c["json"], c["patch"], c.get("result"), "result" in c, id=f"{name}:{i}"
                    )
                )
    return out


@pytest.mark.parametrize(("doc", "patch", "expected", "succeeds"), _cases())
def test_conformance(doc: Any, patch: Any, expected: Any, succeeds: bool) -> None:
    """Each case yields its expected document, or fails as a whole leaving the input intact."""
    before = json.dumps(doc)
    if succeeds:
        result, _ = apply_patch(doc, patch)
        assert expected == result
    else:
        with pytest.raises(InvalidInput):
            apply_patch(doc, patch)
    assert before == json.dumps(doc)


@pytest.mark.parametrize(
    "case", _load("jsonp-test-suite", "json-patch-malformed.json"), ids=lambda c: c["title"][:50]
)
def test_malformed_patches_refused(case: dict[str, Any]) -> None:
    """Every malformed patch document is refused as invalid input."""
    with pytest.raises(InvalidInput):
        apply_patch(case["json"], case["patch"])


def test_old_values_recorded_for_history() -> None:
    """Replace and remove ops carry the value they overwrote."""
    _, ops = apply_patch(
        {"a": 1, "b": [1, 2]},
        [
            {"op": "replace", "path": "/a", "value": 2},
            {"op": "remove", "path": "/b/0"},
        ],
    )
    assert [1, 1] == [op["old"] for op in ops]
