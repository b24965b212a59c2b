"""Third-party conformance data driven through the HTTP API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import TESTDATA, User

PATCH = {"Content-Type": "application/json-patch+json"}


def _patch_cases() -> list[Any]:
    cases = []
    for name in ("tests.json", "spec_tests.json"):
        for i, case in enumerate(json.loads((TESTDATA / "json-patch" / name).read_text())):
            if case.get("disabled"):
                continue
            cases.append(pytest.param(case, id=f"{name}:{i}:{case.get('comment', '')[:40]}"))
    return cases


@pytest.mark.parametrize("case", _patch_cases())
def test_json_patch_suite_through_api(alice: User, case: dict[str, Any]) -> None:
    """Every enabled json-patch-tests case: expected result, or refusal with data untouched."""
    sid = alice.new_session()["id"]
    put = alice.put(f"/api/sessions/{sid}/data", json=case["doc"])
    assert put.status_code == 200, put.text
    response = alice.patch(
        f"/api/sessions/{sid}/data", content=json.dumps(case["patch"]), headers=PATCH
    )
    data = alice.get(f"/api/sessions/{sid}/data").json()
    if "expected" in case:
        assert response.status_code == 200, response.text
        assert case["expected"] == data
    else:
        assert response.status_code in (409, 422), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert case["doc"] == data


def test_blns_round_trip_through_form_fields(alice: User) -> None:
    """Every naughty string comes back byte-exact from a saved form field."""
    strings: list[str] = json.loads((TESTDATA / "blns.json").read_text(encoding="utf-8"))
    sid = alice.new_session()["id"]
    for start in range(0, len(strings), 100):
        chunk = strings[start : start + 100]
        fields = {f"f{start + i}": {"value": s, "touched": True} for i, s in enumerate(chunk)}
        response = alice.put(f"/api/sessions/{sid}/forms/naughty", json={"fields": fields})
        assert response.status_code == 200, response.text
    form = alice.get(f"/api/sessions/{sid}/forms/naughty").json()
    for i, s in enumerate(strings):
        got = form["fields"][f"f{i}"]["value"]
        assert s.encode("utf-8") == got.encode("utf-8")
    assert len(strings) == len(form["fields"])


def _suite_files(prefix: str) -> list[Any]:
    folder = TESTDATA / "JSONTestSuite" / "test_parsing"
    return [pytest.param(p, id=p.name) for p in sorted(folder.glob(f"{prefix}*.json"))]


def test_json_test_suite_n_files_answered_400(alice: User) -> None:
    """Every n_* document of JSONTestSuite is refused with 400 problem+json, none with 500."""
    files = _suite_files("n_")
    assert len(files) > 100
    wrong = {}
    for param in files:
        path = param.values[0]
        response = alice.post(
            "/api/sessions", content=path.read_bytes(), headers={"Content-Type": "application/json"}
        )
        if response.status_code != 400 or "problem+json" not in response.headers["content-type"]:
            wrong[path.name] = response.status_code
    assert wrong == {}


def test_json_test_suite_y_and_i_files_never_500(alice: User) -> None:
    """Valid and implementation-defined documents get a 2xx or 4xx answer, never a 5xx."""
    wrong = {}
    for prefix in ("y_", "i_"):
        for param in _suite_files(prefix):
            path = param.values[0]
            response = alice.put(
                f"/api/sessions/{alice.new_session()['id']}/data",
                content=path.read_bytes(),
                headers={"Content-Type": "application/json"},
            )
            if response.status_code >= 500:
                wrong[path.name] = response.status_code
            if prefix == "y_" and response.status_code != 200:
                wrong[path.name] = response.status_code
    assert wrong == {}
