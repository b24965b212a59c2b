"""Identity and access: owners, 404 for everyone else, cookies, Origin, pairing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.integration.conftest import BASE, User

# A valid request for every route that names a session, so that only ownership can fail it.
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/sessions/{session_id}"): {},
    ("DELETE", "/api/sessions/{session_id}"): {},
    ("GET", "/api/sessions/{session_id}/export"): {},
    ("POST", "/api/sessions/{session_id}/pause"): {},
    ("POST", "/api/sessions/{session_id}/resume"): {},
    ("POST", "/api/sessions/{session_id}/complete"): {},
    ("POST", "/api/sessions/{session_id}/steps/{step}/enter"): {"json": {}},
    ("POST", "/api/sessions/{session_id}/steps/{step}/{action}"): {},
    ("POST", "/api/sessions/{session_id}/steps/{step}/substeps/{substep}/{action}"): {},
    ("GET", "/api/sessions/{session_id}/steps"): {},
    ("GET", "/api/sessions/{session_id}/breadcrumbs"): {},
    ("GET", "/api/sessions/{session_id}/recommendation"): {},
    ("GET", "/api/sessions/{session_id}/link"): {},
    ("PUT", "/api/sessions/{session_id}/features/{feature}"): {"json": {"enabled": True}},
    ("PATCH", "/api/sessions/{session_id}/features/{feature}/configuration"): {"json": {"k": 1}},
    ("PUT", "/api/sessions/{session_id}/template"): {"json": {"template": "modern"}},
    ("PATCH", "/api/sessions/{session_id}/template/customizations/{template}"): {
        "json": {"colors": {"primary": "#000000"}}
    },
    ("PUT", "/api/sessions/{session_id}/target"): {"json": {"role": "Engineer"}},
    ("PUT", "/api/sessions/{session_id}/forms/{form}"): {"json": {"fields": {"a": {"value": 1}}}},
    ("GET", "/api/sessions/{session_id}/forms/{form}"): {},
    ("PUT", "/api/sessions/{session_id}/forms/{form}/fields/{field}"): {"json": {"value": 1}},
    ("DELETE", "/api/sessions/{session_id}/forms/{form}"): {},
    ("PUT", "/api/sessions/{session_id}/validation/{key}"): {"json": {"valid": True}},
    ("POST", "/api/sessions/{session_id}/mutations"): {
        "json": {
            "clientID": "c1",
            "mutations": [{"id": 1, "name": "ui.set", "args": {"values": {"x": 1}}}],
        }
    },
    ("GET", "/api/sessions/{session_id}/pull"): {},
    ("PATCH", "/api/sessions/{session_id}"): {
        "content": b'[{"op":"add","path":"/data/x","value":1}]',
        "headers": {"Content-Type": "application/json-patch+json"},
    },
    ("PATCH", "/api/sessions/{session_id}/data"): {
        "content": b'[{"op":"add","path":"/x","value":1}]',
        "headers": {"Content-Type": "application/json-patch+json"},
    },
    ("GET", "/api/sessions/{session_id}/data"): {},
    ("PUT", "/api/sessions/{session_id}/data"): {"json": {"x": 1}},
    ("GET", "/api/sessions/{session_id}/conflicts"): {},
    ("POST", "/api/sessions/{session_id}/conflicts/{conflict_id}/resolve"): {
        "json": {"choice": "theirs"}
    },
    ("GET", "/api/sessions/{session_id}/history"): {},
    ("POST", "/api/sessions/{session_id}/uploads"): {
        "content": b"%PDF-1.4\n%%EOF\n",
        "headers": {"Content-Type": "application/pdf"},
    },
    ("GET", "/api/sessions/{session_id}/uploads"): {},
    ("GET", "/api/sessions/{session_id}/uploads/{upload_id}"): {},
    ("DELETE", "/api/sessions/{session_id}/uploads/{upload_id}"): {},
    ("POST", "/api/sessions/{session_id}/uploads/{upload_id}/process"): {"json": {}},
    ("POST", "/api/sessions/{session_id}/jobs"): {
        "json": {"type": "template-application", "template": "modern"}
    },
    ("GET", "/api/sessions/{session_id}/jobs"): {},
    ("POST", "/api/sessions/{session_id}/jobs/{command}"): {},
    ("GET", "/api/sessions/{session_id}/jobs/{job_id}"): {},
    ("POST", "/api/sessions/{session_id}/jobs/{job_id}/{command}"): {},
    ("GET", "/api/sessions/{session_id}/checkpoints"): {},
    ("GET", "/api/sessions/{session_id}/artifacts"): {},
    ("GET", "/api/sessions/{session_id}/artifacts/{artifact_id}"): {},
    ("GET", "/api/sessions/{session_id}/download/{fmt}"): {},
    ("GET", "/api/sessions/{session_id}/versions"): {},
    ("GET", "/api/sessions/{session_id}/versions/{version}"): {},
    ("POST", "/api/sessions/{session_id}/restore"): {"json": {"version": 0}},
    ("GET", "/api/sessions/{session_id}/analysis"): {},
    ("POST", "/api/sessions/{session_id}/analysis/keywords"): {"json": {"jobDescription": "x"}},
    ("POST", "/api/sessions/{session_id}/share-links"): {"json": {"template": "modern"}},
    ("GET", "/api/sessions/{session_id}/share-links"): {},
    ("DELETE", "/api/sessions/{session_id}/share-links/{link_id}"): {},
}
PATH_VALUES = {
    "step": "upload",
    "action": "complete",
    "substep": "file-select",
    "feature": "privacy-mode",
    "template": "modern",
    "form": "contact",
    "field": "email",
    "key": "upload",
    "conflict_id": "c_x",
    "upload_id": "up_x",
    "job_id": "job_0123456789abcdef0123456789abcdef",
    "artifact_id": "job_0123456789abcdef0123456789abcdef.0",
    "fmt": "html",
    "command": "pause",
    "version": "0",
    "link_id": "sl_0123456789abcdef0123456789abcdef",
}


def _session_routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [
        (method.upper(), path)
        for path, ops in paths.items()
        if "{session_id}" in path
        for method in ops
    ]


def test_every_session_route_is_covered(client: TestClient, alice: User) -> None:
    """The table above names every route that takes a session id (new routes must join it)."""
    assert sorted(SAMPLES) == sorted(_session_routes(client))


def test_other_users_session_is_404_on_every_route(
    client: TestClient, alice: User, bob: User
) -> None:
    """Bob gets 404 problem+json from every session route with Alice's id, and nothing changes."""
    sid = alice.new_session(title="Alice's CV")["id"]
    alice.put(f"/api/sessions/{sid}/forms/contact", json={"fields": {"email": {"value": "a@x"}}})
    before = alice.get(f"/api/sessions/{sid}").json()
    answers = {}
    for (method, path), kw in SAMPLES.items():
        url = path.replace("{session_id}", sid)
        for name, value in PATH_VALUES.items():
            url = url.replace("{" + name + "}", value)
        response = bob.request(method, url, **kw)
        answers[(method, path)] = (response.status_code, response.headers.get("content-type", ""))
    wrong = {
        route: answer
        for route, answer in answers.items()
        if answer[0] != 404 or not answer[1].startswith("application/problem+json")
    }
    assert {} == wrong
    assert before == alice.get(f"/api/sessions/{sid}").json()


def test_unknown_session_and_foreign_session_look_the_same(alice: User, bob: User) -> None:
    """A foreign id and a made-up id give the same answer, so ids cannot be probed."""
    sid = alice.new_session()["id"]
    foreign = bob.get(f"/api/sessions/{sid}")
    unknown = bob.get("/api/sessions/s_doesnotexist")
    assert (404, 404) == (foreign.status_code, unknown.status_code)
    assert foreign.json()["title"] == unknown.json()["title"]


def test_list_only_shows_own_sessions(alice: User, bob: User) -> None:
    """Search never returns another owner's sessions."""
    alice.new_session(title="mine")
    bob.new_session(title="bob's")
    items = alice.get("/api/sessions").json()["items"]
    assert ["mine"] == [i["title"] for i in items]


def test_no_credentials_is_401(client: TestClient) -> None:
    """Without a token or cookie the API answers 401 problem+json."""
    response = client.get("/api/sessions")
    assert 401 == response.status_code
    assert response.headers["content-type"].startswith("application/problem+json")


def test_guest_cookie_is_httponly_and_long(client: TestClient) -> None:
    """A browser's first visit gets an HttpOnly SameSite cookie holding ≥128 random bits."""
    response = client.post("/api/identity/guest", headers={"Origin": BASE})
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    token = client.cookies.get("cvsession_token")
    assert token is not None and len(token) >= 43  # 32 bytes base64url ≥ 256 bits
    assert 200 == client.get("/api/me").status_code


def test_cookie_writes_need_our_origin(client: TestClient) -> None:
    """A cookie-authenticated write from another origin, or with no Origin, is refused."""
    client.post("/api/identity/guest")
    assert 403 == client.post("/api/sessions", json={}).status_code
    evil = client.post("/api/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert 403 == evil.status_code
    ok = client.post("/api/sessions", json={}, headers={"Origin": BASE})
    assert 201 == ok.status_code


def test_pairing_code_moves_owner_to_another_device(client: TestClient, alice: User) -> None:
    """A pairing code, redeemed once, gives another device the same sessions; reuse fails."""
    sid = alice.new_session(title="shared")["id"]
    code = alice.post("/api/pairing").json()["code"]
    first = client.post("/api/pairing/redeem", json={"code": code, "mode": "bearer"})
    assert 200 == first.status_code
    device = User(client, first.json()["userId"], first.json()["token"])
    assert alice.user_id == device.user_id
    assert 200 == device.get(f"/api/sessions/{sid}").status_code
    again = client.post("/api/pairing/redeem", json={"code": code, "mode": "bearer"})
    assert 404 == again.status_code


def test_deep_link_resolves_for_owner_only(alice: User, bob: User) -> None:
    """A deep link restores the owner's full state and is 404 for anyone else."""
    sid = alice.new_session()["id"]
    url = f"/session/{sid}/upload/file-select?from=email"
    mine = alice.get("/api/links/resolve", params={"url": url})
    assert 200 == mine.status_code
    assert ("upload", "file-select", sid) == (
        mine.json()["step"],
        mine.json()["substep"],
        mine.json()["session"]["id"],
    )
    assert 404 == bob.get("/api/links/resolve", params={"url": url}).status_code
