"""The session workflow and the mutation path over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import User, make_client, new_user


def push(user: User, sid: str, client_id: str, *mutations: dict[str, Any]) -> Any:
    return user.post(
        f"/api/sessions/{sid}/mutations", json={"clientID": client_id, "mutations": list(mutations)}
    )


def test_create_get_etag_and_location(alice: User) -> None:
    """A new session starts as a draft at upload/file-select, with its version as ETag."""
    response = alice.post("/api/sessions", json={"title": "My CV", "target": {"role": "SRE"}})
    doc = response.json()
    assert ("draft", "upload", "file-select", 0) == (
        doc["status"],
        doc["currentStep"],
        doc["currentSubstep"],
        doc["version"],
    )
    assert f"/api/sessions/{doc['id']}" == response.headers["location"]
    got = alice.get(f"/api/sessions/{doc['id']}")
    assert '"0"' == got.headers["etag"]
    assert "SRE" == got.json()["target"]["role"]


def test_prerequisites_refused_with_reason(alice: User) -> None:
    """Entering preview before analysis/features/templates is refused, naming what is missing."""
    sid = alice.new_session()["id"]
    response = alice.post(f"/api/sessions/{sid}/steps/preview/enter", json={})
    assert 409 == response.status_code
    body = response.json()
    assert "prerequisite_missing" == body["code"]
    assert {"analysis", "features", "templates"} <= set(body["missing"])
    assert body["detail"]


def test_walk_whole_workflow_to_completed(alice: User) -> None:
    """Completing every step in order ends completed with 100% progress, keywords included."""
    sid = alice.new_session()["id"]
    for step in (
        "upload",
        "processing",
        "analysis",
        "features",
        "templates",
        "preview",
        "results",
        "keywords",
        "completed",
    ):
        response = alice.post(f"/api/sessions/{sid}/steps/{step}/complete")
        assert 200 == response.status_code, response.text
    states = alice.get(f"/api/sessions/{sid}/steps").json()
    assert 100 == states["progress"]
    doc = alice.get(f"/api/sessions/{sid}").json()
    assert "completed" == doc["status"]
    assert 9 == len(doc["completedSteps"])


def test_progress_counts_keywords(alice: User) -> None:
    """Eight of nine steps done (keywords open) is below 100%."""
    sid = alice.new_session()["id"]
    for step in ("upload", "processing", "analysis", "features", "templates", "preview", "results"):
        alice.post(f"/api/sessions/{sid}/steps/{step}/complete")
    progress = alice.get(f"/api/sessions/{sid}/steps").json()["progress"]
    assert 0 < progress < 100


def test_illegal_transition_is_an_error(alice: User) -> None:
    """Resuming a session that is not paused is refused, not silently written."""
    sid = alice.new_session()["id"]
    response = alice.post(f"/api/sessions/{sid}/resume")
    assert 409 == response.status_code
    assert "illegal_transition" == response.json()["code"]
    assert 200 == alice.post(f"/api/sessions/{sid}/pause").status_code
    assert "paused" == alice.get(f"/api/sessions/{sid}").json()["status"]
    assert "in_progress" == alice.post(f"/api/sessions/{sid}/resume").json()["status"]


def test_replay_is_ignored_and_gap_refused(alice: User) -> None:
    """Mutation ids: a replay is acknowledged without effect, a gap is refused with 409."""
    sid = alice.new_session()["id"]
    m1 = {"id": 1, "name": "target.set", "args": {"role": "Chef"}}
    first = push(alice, sid, "tab-1", m1).json()
    assert ("applied", 1) == (first["results"][0]["status"], first["lastMutationID"])
    again = push(alice, sid, "tab-1", m1).json()
    assert "duplicate" == again["results"][0]["status"]
    assert 1 == alice.get(f"/api/sessions/{sid}").json()["version"]
    gap = push(alice, sid, "tab-1", {"id": 3, "name": "target.set", "args": {"role": "X"}})
    assert 409 == gap.status_code
    assert "mutation_gap" == gap.json()["code"]
    assert "Chef" == alice.get(f"/api/sessions/{sid}").json()["target"]["role"]


def test_permanent_error_still_advances_the_id(alice: User) -> None:
    """A refused mutation consumes its id, so the next one applies."""
    sid = alice.new_session()["id"]
    bad = push(alice, sid, "tab-1", {"id": 1, "name": "step.enter", "args": {"step": "preview"}})
    assert "error" == bad.json()["results"][0]["status"]
    assert 1 == bad.json()["lastMutationID"]
    ok = push(alice, sid, "tab-1", {"id": 2, "name": "target.set", "args": {"role": "Chef"}})
    assert "applied" == ok.json()["results"][0]["status"]


def test_stale_edit_becomes_conflict_with_both_values(alice: User) -> None:
    """Two devices edit one field from the same version: the second gets a conflict record."""
    sid = alice.new_session()["id"]
    field = {"form": "basics", "field": "name"}
    push(
        alice,
        sid,
        "phone",
        {"id": 1, "name": "form.setField", "baseVersion": 0, "args": {**field, "value": "Ada"}},
    )
    second = push(
        alice,
        sid,
        "laptop",
        {"id": 1, "name": "form.setField", "baseVersion": 0, "args": {**field, "value": "Grace"}},
    ).json()
    conflict = second["results"][0]["conflicts"][0]
    assert ("Grace", "Ada") == (conflict["yours"], conflict["theirs"])
    assert "/forms/basics/fields/name/value" == conflict["path"]
    listed = alice.get(f"/api/sessions/{sid}/conflicts", params={"status": "open"}).json()
    assert [conflict["id"]] == [c["id"] for c in listed["conflicts"]]
    resolved = alice.post(
        f"/api/sessions/{sid}/conflicts/{conflict['id']}/resolve", json={"choice": "mine"}
    )
    assert 200 == resolved.status_code
    doc = alice.get(f"/api/sessions/{sid}").json()
    assert "Grace" == doc["forms"]["basics"]["fields"]["name"]["value"]
    assert (
        []
        == alice.get(f"/api/sessions/{sid}/conflicts", params={"status": "open"}).json()[
            "conflicts"
        ]
    )


def test_different_fields_merge(alice: User) -> None:
    """Stale edits to different fields both apply."""
    sid = alice.new_session()["id"]
    push(
        alice,
        sid,
        "a",
        {
            "id": 1,
            "name": "form.setField",
            "baseVersion": 0,
            "args": {"form": "f", "field": "x", "value": 1},
        },
    )
    result = push(
        alice,
        sid,
        "b",
        {
            "id": 1,
            "name": "form.setField",
            "baseVersion": 0,
            "args": {"form": "f", "field": "y", "value": 2},
        },
    ).json()
    assert [] == result["results"][0]["conflicts"]
    fields = alice.get(f"/api/sessions/{sid}").json()["forms"]["f"]["fields"]
    assert (1, 2) == (fields["x"]["value"], fields["y"]["value"])


def test_raw_patch_stale_if_match_is_409_with_both_values(alice: User) -> None:
    """A JSON Patch against an old version that touches a changed field is refused whole."""
    sid = alice.new_session()["id"]
    alice.put(f"/api/sessions/{sid}/data", json={"a": 1, "b": 1})
    alice.patch(
        f"/api/sessions/{sid}/data",
        content=b'[{"op":"replace","path":"/a","value":2}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    stale = alice.patch(
        f"/api/sessions/{sid}/data",
        content=b'[{"op":"replace","path":"/a","value":3},{"op":"replace","path":"/b","value":3}]',
        headers={"Content-Type": "application/json-patch+json", "If-Match": '"1"'},
    )
    assert 409 == stale.status_code
    assert [{"path": "/data/a", "yours": 3, "theirs": 2}] == stale.json()["conflicts"]
    assert {"a": 2, "b": 1} == alice.get(f"/api/sessions/{sid}/data").json()


def test_whole_document_patch_protects_workflow_state(alice: User) -> None:
    """A raw patch may edit content roots but not status, steps or identity."""
    sid = alice.new_session()["id"]
    headers = {"Content-Type": "application/json-patch+json"}
    denied = alice.patch(
        f"/api/sessions/{sid}",
        content=b'[{"op":"replace","path":"/status","value":"completed"}]',
        headers=headers,
    )
    assert 422 == denied.status_code
    ok = alice.patch(
        f"/api/sessions/{sid}",
        content=b'[{"op":"replace","path":"/title","value":"New"}]',
        headers=headers,
    )
    assert "New" == ok.json()["title"]
    invalid = alice.patch(
        f"/api/sessions/{sid}",
        content=b'[{"op":"replace","path":"/template/selected","value":"nope"}]',
        headers=headers,
    )
    assert 422 == invalid.status_code


def test_pull_catches_up_from_cookie(alice: User) -> None:
    """Pull from an older cookie returns ops that rebuild the current document."""
    import jsonpatch

    sid = alice.new_session()["id"]
    base = alice.get(f"/api/sessions/{sid}").json()
    alice.put(f"/api/sessions/{sid}/target", json={"role": "Pilot"})
    alice.post(f"/api/sessions/{sid}/steps/upload/complete")
    pulled = alice.get(f"/api/sessions/{sid}/pull", params={"cookie": 0}).json()
    assert pulled.get("reset") is None
    rebuilt = jsonpatch.apply_patch(base, pulled["ops"])
    assert alice.get(f"/api/sessions/{sid}").json() == rebuilt
    assert rebuilt["version"] == pulled["cookie"]
    future = alice.get(f"/api/sessions/{sid}/pull", params={"cookie": 999}).json()
    assert future["reset"] is True


def test_field_history_answers_what_it_held_before(alice: User) -> None:
    """The history of a field lists each change with the value it replaced."""
    sid = alice.new_session()["id"]
    for value in ("a", "b", "c"):
        alice.put(f"/api/sessions/{sid}/forms/f/fields/name", json={"value": value})
    history = alice.get(
        f"/api/sessions/{sid}/history", params={"path": "/forms/f/fields/name/value"}
    ).json()["changes"]
    assert [("b", "a"), ("c", "b")] == [
        (c["value"], c["old"]) for c in history if c["op"] == "replace"
    ]


def test_form_state_restored_with_field_flags(alice: User) -> None:
    """Saved field state (dirty, touched, valid, errors, warnings) comes back as saved."""
    sid = alice.new_session()["id"]
    alice.put(
        f"/api/sessions/{sid}/forms/contact",
        json={
            "fields": {
                "email": {
                    "value": "x@",
                    "dirty": True,
                    "touched": True,
                    "valid": False,
                    "errors": ["not an e-mail address"],
                    "warnings": [],
                }
            },
            "metadata": {"userAgent": "pytest", "formSchema": "contact-v1"},
        },
    )
    form = alice.get(f"/api/sessions/{sid}/forms/contact").json()
    assert {
        "value": "x@",
        "dirty": True,
        "touched": True,
        "valid": False,
        "errors": ["not an e-mail address"],
        "warnings": [],
    } == form["fields"]["email"]
    assert ("pytest", "contact-v1", 1) == (
        form["metadata"]["userAgent"],
        form["metadata"]["formSchema"],
        form["metadata"]["version"],
    )


def test_features_respect_dependencies(alice: User) -> None:
    """A feature whose dependency is off, or whose step is not done, cannot be enabled."""
    sid = alice.new_session()["id"]
    early = alice.put(f"/api/sessions/{sid}/features/ats-optimization", json={"enabled": True})
    assert 409 == early.status_code
    for step in ("upload", "processing", "analysis"):
        alice.post(f"/api/sessions/{sid}/steps/{step}/complete")
    dep = alice.put(f"/api/sessions/{sid}/features/keyword-enhancement", json={"enabled": True})
    assert 409 == dep.status_code
    assert (
        200
        == alice.put(
            f"/api/sessions/{sid}/features/ats-optimization", json={"enabled": True}
        ).status_code
    )
    assert (
        200
        == alice.put(
            f"/api/sessions/{sid}/features/keyword-enhancement", json={"enabled": True}
        ).status_code
    )
    off = alice.put(f"/api/sessions/{sid}/features/ats-optimization", json={"enabled": False})
    assert 409 == off.status_code


def test_template_customisation_round_trip(alice: User) -> None:
    """Template choice and customisations (colours, fonts, order, hidden) are kept."""
    sid = alice.new_session()["id"]
    alice.put(f"/api/sessions/{sid}/template", json={"template": "creative"})
    alice.patch(
        f"/api/sessions/{sid}/template/customizations/creative",
        json={
            "colors": {"primary": "#112233"},
            "fonts": {"body": "Inter"},
            "sectionOrder": {"k1": {"section": "work", "sortKey": "a0"}},
            "hiddenSections": {"interests": True},
        },
    )
    template = alice.get(f"/api/sessions/{sid}").json()["template"]
    assert "creative" == template["selected"]
    custom = template["customizations"]["creative"]
    assert {"primary": "#112233"} == custom["colors"]
    assert {"k1": {"section": "work", "sortKey": "a0"}} == custom["sectionOrder"]
    assert {"interests": True} == custom["hiddenSections"]


def test_search_filters_and_order(alice: User) -> None:
    """List filters by status and title text, and orders as asked."""
    a = alice.new_session(title="alpha")["id"]
    alice.new_session(title="beta")
    alice.post(f"/api/sessions/{a}/pause")
    paused = alice.get("/api/sessions", params={"status": "paused"}).json()
    assert ["alpha"] == [i["title"] for i in paused["items"]]
    found = alice.get("/api/sessions", params={"q": "ET"}).json()
    assert ["beta"] == [i["title"] for i in found["items"]]
    ordered = alice.get("/api/sessions", params={"order": "title", "desc": False}).json()
    assert ["alpha", "beta"] == [i["title"] for i in ordered["items"]]
    bad = alice.get("/api/sessions", params={"order": "id; DROP TABLE sessions"})
    assert 422 == bad.status_code


def test_recommendation_and_breadcrumbs(alice: User) -> None:
    """After analysis, the recommendation points at a reachable step with a reason and time."""
    sid = alice.new_session()["id"]
    for step in ("upload", "processing", "analysis"):
        alice.post(f"/api/sessions/{sid}/steps/{step}/complete")
    rec = alice.get(f"/api/sessions/{sid}/recommendation").json()
    assert rec["step"] in ("features", "templates", "keywords")
    assert rec["reason"]
    assert rec["estimatedMinutes"] > 0
    assert "catalogue" == rec["estimateSource"]  # no recorded durations yet
    assert "low" == rec["confidenceLabel"]
    crumbs = alice.get(f"/api/sessions/{sid}/breadcrumbs").json()["breadcrumbs"]
    assert "upload" == crumbs[0]["step"]


def test_strict_json_and_size_limits(alice: User) -> None:
    """NaN is refused with 400 and an oversized body with 413, both as problem+json."""
    nan = alice.post(
        "/api/sessions", content=b'{"title": NaN}', headers={"Content-Type": "application/json"}
    )
    assert 400 == nan.status_code
    big = alice.put(
        f"/api/sessions/{alice.new_session()['id']}/data",
        content=b'"' + b"x" * 2_000_000 + b'"',
        headers={"Content-Type": "application/json"},
    )
    assert 413 == big.status_code
    assert big.headers["content-type"].startswith("application/problem+json")


def test_delete_removes_everything(alice: User) -> None:
    """Deleting a session removes it; later reads are 404."""
    sid = alice.new_session()["id"]
    assert 204 == alice.delete(f"/api/sessions/{sid}").status_code
    assert 404 == alice.get(f"/api/sessions/{sid}").status_code


@pytest.mark.postgres
def test_same_api_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """The same requests behave the same on PostgreSQL."""
    with make_client(tmp_path, postgres_url) as client:
        user = new_user(client)
        sid = user.new_session(title="pg")["id"]
        push(
            user,
            sid,
            "c",
            {
                "id": 1,
                "name": "form.setField",
                "baseVersion": 0,
                "args": {"form": "f", "field": "x", "value": "1"},
            },
        )
        conflict = push(
            user,
            sid,
            "d",
            {
                "id": 1,
                "name": "form.setField",
                "baseVersion": 0,
                "args": {"form": "f", "field": "x", "value": "2"},
            },
        )
        assert 1 == len(conflict.json()["results"][0]["conflicts"])
        for step in ("upload", "processing"):
            assert 200 == user.post(f"/api/sessions/{sid}/steps/{step}/complete").status_code
        doc = user.get(f"/api/sessions/{sid}").json()
        assert ["upload", "processing"] == doc["completedSteps"]
        assert "1" == doc["forms"]["f"]["fields"]["x"]["value"]


def test_title_with_nul_or_too_long_is_refused(alice: User) -> None:
    """A title is an indexed column: U+0000 or more than 200 characters gets 422, not 500."""
    sid = alice.new_session()["id"]
    headers = {"Content-Type": "application/json-patch+json"}
    for title in ("a\u0000b", "x" * 201):
        body = json.dumps([{"op": "replace", "path": "/title", "value": title}])
        response = alice.patch(f"/api/sessions/{sid}", content=body.encode(), headers=headers)
        assert 422 == response.status_code
        created = alice.post("/api/sessions", json={"title": title})
        assert 422 == created.status_code
    assert "" == alice.get(f"/api/sessions/{sid}").json()["title"]


def test_export_holds_document_log_and_conflicts(alice: User) -> None:
    """Export returns the document, every logged mutation in order, and conflict records."""
    sid = alice.new_session()["id"]
    field = {"form": "f", "field": "x"}
    push(alice, sid, "a", {"id": 1, "name": "form.setField", "args": {**field, "value": 1}})
    push(
        alice,
        sid,
        "b",
        {"id": 1, "name": "form.setField", "baseVersion": 0, "args": {**field, "value": 2}},
    )
    export = alice.get(f"/api/sessions/{sid}/export").json()
    assert sid == export["session"]["id"]
    assert [1, 2] == [e["version"] for e in export["log"]]
    assert [(2, 1)] == [(c["yours"], c["theirs"]) for c in export["conflicts"]]
