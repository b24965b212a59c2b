"""The analysis endpoints the keywords and analysis pages use: they read the CV as it is now."""

from __future__ import annotations

from tests.integration.conftest import User

CV = {
    "basics": {"name": "Ada Lovelace", "email": "ada@example.com", "summary": "Analyst."},
    "work": [{"name": "Engines Ltd", "position": "Programmer", "summary": "Wrote Python."}],
    "skills": [{"name": "Python"}],
}


def _session_with_cv(user: User) -> str:
    sid: str = user.new_session(title="cv")["id"]
    response = user.post(
        f"/api/sessions/{sid}/mutations",
        json={"clientID": "t1", "mutations": [{"id": 1, "name": "cv.set", "args": {"cv": CV}}]},
    )
    assert 200 == response.status_code, response.text
    return sid


def test_keywords_split_found_and_missing_against_the_current_cv(alice: User) -> None:
    """Keywords of a pasted job description are matched against the CV's text, with a score."""
    sid = _session_with_cv(alice)
    body = {"jobDescription": "Python engineer with Kubernetes"}
    result = alice.post(f"/api/sessions/{sid}/analysis/keywords", json=body).json()
    assert "python" in result["matched"]
    assert "kubernetes" in result["missing"]
    assert 0 < result["score"] < 100


def test_analysis_reflects_edits_made_after_processing(alice: User) -> None:
    """Suggestions come from the CV as stored now: a phone added removes its suggestion."""
    sid = _session_with_cv(alice)
    before = {s["id"] for s in alice.get(f"/api/sessions/{sid}/analysis").json()["suggestions"]}
    assert "missing-phone" in before
    alice.post(
        f"/api/sessions/{sid}/mutations",
        json={
            "clientID": "t1",
            "mutations": [
                {
                    "id": 2,
                    "name": "cv.setField",
                    "args": {"path": "/basics/phone", "value": "+44 1"},
                }
            ],
        },
    )
    after = {s["id"] for s in alice.get(f"/api/sessions/{sid}/analysis").json()["suggestions"]}
    assert "missing-phone" not in after
    assert {"kind": "email", "path": "/basics/email", "value": "ada@example.com"} in (
        alice.get(f"/api/sessions/{sid}/analysis").json()["pii"]
    )


def test_analysis_of_another_users_session_is_not_found(alice: User, bob: User) -> None:
    """Another owner's session answers 404 on both endpoints, as a missing one does."""
    sid = _session_with_cv(alice)
    assert 404 == bob.get(f"/api/sessions/{sid}/analysis").status_code
    response = bob.post(f"/api/sessions/{sid}/analysis/keywords", json={"jobDescription": "x"})
    assert 404 == response.status_code
    assert response.headers["content-type"].startswith("application/problem+json")


def test_keywords_refuse_unknown_fields_and_oversized_text(alice: User) -> None:
    """Bad bodies are a clear 422 problem, never a 500."""
    sid = _session_with_cv(alice)
    unknown = alice.post(f"/api/sessions/{sid}/analysis/keywords", json={"jd": "x"})
    assert 422 == unknown.status_code
    huge = alice.post(
        f"/api/sessions/{sid}/analysis/keywords", json={"jobDescription": "x" * 20_001}
    )
    assert 422 == huge.status_code
    assert huge.headers["content-type"].startswith("application/problem+json")


def test_save_to_cv_is_one_version_and_a_bad_entry_saves_nothing(alice: User) -> None:
    """What the analysis page's "Save to CV" sends: fifteen edits as one cv.setFields make one
    version and one log entry; a batch with a bad entry is refused whole, naming the entry."""
    sid = _session_with_cv(alice)
    before = alice.get(f"/api/sessions/{sid}").json()
    edits = [{"path": f"/basics/extra{i}", "value": f"v{i}"} for i in range(13)]
    edits += [{"path": "/basics/summary", "value": None}, {"path": "/skills/0/name", "value": "Py"}]
    mutation = {"id": 2, "name": "cv.setFields", "args": {"fields": edits}}
    mutation["baseVersion"] = before["version"]
    saved = alice.post(
        f"/api/sessions/{sid}/mutations", json={"clientID": "t1", "mutations": [mutation]}
    ).json()["results"][0]
    assert ("applied", [], before["version"] + 1) == (
        saved["status"],
        saved["conflicts"],
        saved["version"],
    )
    after = alice.get(f"/api/sessions/{sid}").json()
    assert "summary" not in after["cv"]["basics"] and "Py" == after["cv"]["skills"][0]["name"]
    changes = alice.get(f"/api/sessions/{sid}/history?path=/cv&since={before['version']}").json()
    assert {(saved["version"], "cv.setFields")} == {
        (c["version"], c["name"]) for c in changes["changes"]
    }

    bad = [{"path": "/basics/name", "value": "Someone else"}, {"path": "basics/x", "value": 1}]
    refused = alice.post(
        f"/api/sessions/{sid}/mutations",
        json={
            "clientID": "t1",
            "mutations": [{"id": 3, "name": "cv.setFields", "args": {"fields": bad}}],
        },
    ).json()["results"][0]
    assert "error" == refused["status"]
    assert ("invalid_input", "fields/1/path") == (
        refused["error"]["code"],
        refused["error"]["field"],
    )
    assert after == alice.get(f"/api/sessions/{sid}").json()
