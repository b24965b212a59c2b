"""Public read-only share links: owner API, the public page and its headers, deletion, export."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cvsession.store import ArtifactRow, JobRow, Store
from tests.integration.conftest import User, make_client, new_user
from tests.leftovers import occurrences

PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "sandbox",
    "x-robots-tag": "noindex",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL."""
    url = "" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with make_client(tmp_path, url) as c:
        yield c


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    return store


_seq = iter(range(1_000_000))


def generated(
    client: TestClient, user: User, sid: str, html: str, template: str = "modern", age: int = 0
) -> None:
    """Record `html` as `cv-<template>.html` of a finished job, `age` minutes in the past."""
    at = datetime.now(UTC) - timedelta(minutes=age)
    n = next(_seq)
    job_id = f"job_{n:032x}"
    job = JobRow(job_id, sid, user.user_id, "template-application", "completed", 0,
                 {"template": template}, at, at)  # fmt: skip
    with store_of(client).transaction() as txn:
        txn.insert_job(job)
        txn.put_artifact(
            ArtifactRow(f"{job_id}.0", job_id, sid, f"cv-{template}.html", "text/html", html, at)
        )


def share(user: User, sid: str, **body: Any) -> dict[str, Any]:
    response = user.post(f"/api/sessions/{sid}/share-links", json=body)
    assert 201 == response.status_code, response.text
    out: dict[str, Any] = response.json()
    return out


def test_create_list_revoke(client: TestClient) -> None:
    """A link is created for the selected template (or the one asked for), listed without its
    token while active, and gone from the list once revoked."""
    alice = new_user(client)
    sid = alice.new_session()["id"]
    alice.put(f"/api/sessions/{sid}/template", json={"template": "classic"})
    first = share(alice, sid)
    assert "classic" == first["template"]
    assert first["url"].endswith(f"/s/{first['token']}")
    assert 43 == len(first["token"])
    assert {"id", "url", "token", "template", "createdAt", "views", "lastViewedAt",
            "expiresAt"} == set(first)  # fmt: skip
    assert first["expiresAt"] is None  # until revoked
    second = share(alice, sid, template="creative")
    listed = alice.get(f"/api/sessions/{sid}/share-links").json()["shareLinks"]
    assert [first["id"], second["id"]] == [link["id"] for link in listed]
    assert all("token" not in link and "url" not in link for link in listed)

    assert 204 == alice.delete(f"/api/sessions/{sid}/share-links/{first['id']}").status_code
    listed = alice.get(f"/api/sessions/{sid}/share-links").json()["shareLinks"]
    assert [second["id"]] == [link["id"] for link in listed]
    again = alice.delete(f"/api/sessions/{sid}/share-links/{first['id']}")
    assert (404, "application/problem+json") == (again.status_code, again.headers["content-type"])
    bad = alice.post(f"/api/sessions/{sid}/share-links", json={"template": "nope"})
    assert (422, "invalid_input") == (bad.status_code, bad.json()["code"])


def test_token_is_not_stored(app: TestClient) -> None:
    """The table holds the token's SHA-256, never the token itself."""
    alice = new_user(app)
    sid = alice.new_session()["id"]
    link = share(alice, sid)
    with store_of(app).read() as txn:
        raw: Any = txn
        rows = raw.fetchall("SELECT * FROM share_links")
    assert 1 == len(rows)
    assert hashlib.sha256(link["token"].encode()).hexdigest() in rows[0]
    assert {} == occurrences(store_of(app), [link["token"]])


def test_public_page_serves_newest_html_with_headers(app: TestClient) -> None:
    """/s/{token} needs no credentials and answers the newest generated HTML of the link's
    template with the locked-down headers; each view is counted."""
    alice = new_user(app)
    sid = alice.new_session()["id"]
    link = share(alice, sid, template="modern")
    path = f"/s/{link['token']}"
    early = app.get(path)
    assert (404, "application/problem+json") == (early.status_code, early.headers["content-type"])
    assert "not been generated" in early.json()["detail"]

    generated(app, alice, sid, "<html><body><h1>Old</h1></body></html>", age=10)
    generated(app, alice, sid, "<html><body><h1>Ada Lovelace</h1></body></html>", age=1)
    generated(app, alice, sid, "<html><body><h1>Classic</h1></body></html>", "classic")
    app.cookies.clear()
    page = app.get(path)
    assert 200 == page.status_code
    assert "<html><body><h1>Ada Lovelace</h1></body></html>" == page.text
    assert page.headers["content-type"].startswith("text/html")
    assert PAGE_HEADERS == {k: page.headers[k] for k in PAGE_HEADERS}
    app.get(path)
    listed = alice.get(f"/api/sessions/{sid}/share-links").json()["shareLinks"]
    assert 2 == listed[0]["views"]
    assert listed[0]["lastViewedAt"] is not None


def test_revoked_and_unknown_tokens_are_404(app: TestClient) -> None:
    """A revoked link and a well-formed token nobody was given both answer 404 problem+json."""
    alice = new_user(app)
    sid = alice.new_session()["id"]
    generated(app, alice, sid, "<p>cv</p>")
    link = share(alice, sid)
    assert 200 == app.get(f"/s/{link['token']}").status_code
    alice.delete(f"/api/sessions/{sid}/share-links/{link['id']}")
    for token in (link["token"], "A" * 43):
        response = app.get(f"/s/{token}")
        assert (404, "application/problem+json") == (
            response.status_code,
            response.headers["content-type"],
        )


@pytest.mark.parametrize(
    "token", ["short", "A" * 44, "A" * 42 + "!", "A" * 42 + "%00", "A" * 42 + "é", "'" * 43]
)
def test_malformed_token_is_404_before_the_database(client: TestClient, token: str) -> None:
    """A token of the wrong length or alphabet is refused without a lookup."""
    store = store_of(client)
    calls: list[str] = []
    original = store.read

    def counting_read() -> Any:
        calls.append("read")
        return original()

    store.read = counting_read  # type: ignore[method-assign]
    try:
        response = client.get(f"/s/{token}")
    finally:
        store.read = original  # type: ignore[method-assign]
    assert (404, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert [] == calls


def test_other_users_session_is_404(client: TestClient) -> None:
    """Bob can neither create, list nor revoke links of Alice's session."""
    alice, bob = new_user(client), new_user(client)
    sid = alice.new_session()["id"]
    link = share(alice, sid)
    answers = [
        bob.post(f"/api/sessions/{sid}/share-links", json={}).status_code,
        bob.get(f"/api/sessions/{sid}/share-links").status_code,
        bob.delete(f"/api/sessions/{sid}/share-links/{link['id']}").status_code,
    ]
    assert [404, 404, 404] == answers
    bob_sid = bob.new_session()["id"]
    assert 404 == bob.delete(f"/api/sessions/{bob_sid}/share-links/{link['id']}").status_code
    assert 1 == len(alice.get(f"/api/sessions/{sid}/share-links").json()["shareLinks"])


def test_a_link_expires_on_its_own(app: TestClient) -> None:
    """A link made with expiresInDays opens until then, and afterwards answers 404 like a
    revoked one, drops out of the list and no longer counts toward the limit; the export
    still shows it with its expiry."""
    alice = new_user(app)
    sid = alice.new_session()["id"]
    generated(app, alice, sid, "<p>cv</p>")
    link = share(alice, sid, expiresInDays=7)
    lasting = share(alice, sid)
    created = datetime.fromisoformat(link["createdAt"])
    assert created + timedelta(days=7) == datetime.fromisoformat(link["expiresAt"])
    listed = alice.get(f"/api/sessions/{sid}/share-links").json()["shareLinks"]
    assert [link["expiresAt"], None] == [entry["expiresAt"] for entry in listed]
    assert 200 == app.get(f"/s/{link['token']}").status_code

    shares = app.app.state.services.shares  # type: ignore[attr-defined]
    real_clock = shares.clock
    shares.clock = lambda: real_clock() + timedelta(days=7, seconds=1)
    try:
        gone = app.get(f"/s/{link['token']}")
        assert (404, "application/problem+json") == (
            gone.status_code,
            gone.headers["content-type"],
        )
        assert 200 == app.get(f"/s/{lasting['token']}").status_code
        listed = alice.get(f"/api/sessions/{sid}/share-links").json()["shareLinks"]
        assert [lasting["id"]] == [entry["id"] for entry in listed]
        for _ in range(9):  # the expired link left room for nine more beside the lasting one
            share(alice, sid)
        refused = alice.post(f"/api/sessions/{sid}/share-links", json={})
        assert (429, "share_link_limit") == (refused.status_code, refused.json()["code"])
        late = alice.delete(f"/api/sessions/{sid}/share-links/{link['id']}")
        assert 404 == late.status_code  # not listed any more, so not revocable either
    finally:
        shares.clock = real_clock
    exported = alice.get("/api/me/export").json()["sessions"][0]["shareLinks"]
    assert [link["expiresAt"], None] == [entry["expiresAt"] for entry in exported[:2]]


@pytest.mark.parametrize("days", [0, -1, 366, 1.5, "7", True])
def test_expiry_out_of_range_is_refused(client: TestClient, days: Any) -> None:
    alice = new_user(client)
    sid = alice.new_session()["id"]
    response = alice.post(f"/api/sessions/{sid}/share-links", json={"expiresInDays": days})
    assert 422 == response.status_code, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [] == alice.get(f"/api/sessions/{sid}/share-links").json()["shareLinks"]


def test_at_most_ten_active_links(client: TestClient) -> None:
    """The eleventh active link is refused with 429; revoking one makes room."""
    alice = new_user(client)
    sid = alice.new_session()["id"]
    links = [share(alice, sid) for _ in range(10)]
    refused = alice.post(f"/api/sessions/{sid}/share-links", json={})
    assert (429, "share_link_limit") == (refused.status_code, refused.json()["code"])
    assert refused.headers["content-type"].startswith("application/problem+json")
    alice.delete(f"/api/sessions/{sid}/share-links/{links[0]['id']}")
    share(alice, sid)


def test_session_deletion_removes_links(app: TestClient) -> None:
    """Deleting a session deletes its links: the page is 404 and no row is left."""
    alice = new_user(app)
    sid = alice.new_session()["id"]
    generated(app, alice, sid, "<p>cv</p>")
    link = share(alice, sid)
    assert 204 == alice.delete(f"/api/sessions/{sid}").status_code
    assert 404 == app.get(f"/s/{link['token']}").status_code
    digest = hashlib.sha256(link["token"].encode()).hexdigest()
    assert {} == occurrences(store_of(app), [link["id"], digest])
    with store_of(app).read() as txn:
        assert [] == txn.list_share_links(sid)


def test_account_deletion_removes_links(app: TestClient) -> None:
    """DELETE /api/me deletes every link of the person; another person's links stay."""
    alice, bob = new_user(app), new_user(app)
    sid, bob_sid = alice.new_session()["id"], bob.new_session()["id"]
    generated(app, alice, sid, "<p>alice</p>")
    generated(app, bob, bob_sid, "<p>bob</p>")
    link, bob_link = share(alice, sid), share(bob, bob_sid)
    gone = alice.request("DELETE", "/api/me", json={"confirm": "delete everything"})
    assert 200 == gone.status_code
    assert 404 == app.get(f"/s/{link['token']}").status_code
    assert {} == occurrences(store_of(app), [link["id"], alice.user_id])
    assert "<p>bob</p>" == app.get(f"/s/{bob_link['token']}").text


def test_export_lists_links_without_tokens(client: TestClient) -> None:
    """GET /api/me/export holds each link (revoked ones too) but no token or token hash."""
    alice = new_user(client)
    sid = alice.new_session()["id"]
    kept, revoked = share(alice, sid), share(alice, sid, template="classic")
    alice.delete(f"/api/sessions/{sid}/share-links/{revoked['id']}")
    export = alice.get("/api/me/export")
    assert 200 == export.status_code
    links = export.json()["sessions"][0]["shareLinks"]
    assert [kept["id"], revoked["id"]] == [link["id"] for link in links]
    assert [None, True] == [link["revokedAt"] and True for link in links]
    text = export.text
    for link in (kept, revoked):
        assert link["token"] not in text
        assert hashlib.sha256(link["token"].encode()).hexdigest() not in text


def test_an_expired_session_is_not_shared(app: TestClient) -> None:
    """Once a session has expired (it waits for deletion), its links answer 404 like revoked
    ones and no new link can be made (409)."""
    from cvsession.core.mutations import Mutation

    alice = new_user(app)
    sid = alice.new_session()["id"]
    link = share(alice, sid)
    generated(app, alice, sid, "<html><body><h1>Ada</h1></body></html>")
    assert 200 == app.get(f"/s/{link['token']}").status_code
    svc: Any = app.app.state.services  # type: ignore[attr-defined]
    expired = svc.sessions.mutate(
        alice.user_id, sid, Mutation("", 0, "server.expire", {}), internal=True
    )
    assert "applied" == expired.status
    gone = app.get(f"/s/{link['token']}")
    assert (404, "no such share link") == (gone.status_code, gone.json()["detail"])
    refused = alice.post(f"/api/sessions/{sid}/share-links", json={})
    assert (409, "illegal_transition") == (refused.status_code, refused.json()["code"])
