"""The Python client against a real server process (uvicorn on a free port, SQLite in tmp)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from cvsession.client import Backoff, Client, ConflictEvent, ErrorEvent, SyncClient
from tests.servers import Server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The client runs on asyncio."""
    return "asyncio"


class Api:
    """HTTP helpers around a running server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.url: str = server.url

    def identity(self) -> str:
        token: str = httpx2.post(self.url + "/api/identity", json={}).json()["token"]
        return token

    def new_session(self, token: str) -> str:
        response = httpx2.post(
            self.url + "/api/sessions", json={}, headers={"Authorization": f"Bearer {token}"}
        )
        assert 201 == response.status_code, response.text
        sid: str = response.json()["id"]
        return sid

    def document(self, token: str, sid: str) -> dict[str, Any]:
        response = httpx2.get(
            f"{self.url}/api/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}
        )
        assert 200 == response.status_code, response.text
        body: dict[str, Any] = response.json()
        document: dict[str, Any] = body.get("session", body)
        return document


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server process for the module; each test makes its own identity and sessions."""
    srv = Server(tmp_path_factory.mktemp("server") / "data")
    srv.start()
    yield Api(srv)
    srv.stop()


def fast() -> Backoff:
    return Backoff(initial=0.05, maximum=0.5)


def make(server: Api, token: str, path: Path, **kw: Any) -> Client:
    return Client(server.url, token=token, path=path, backoff=fast, **kw)


async def test_two_clients_converge(server: Api, tmp_path: Path) -> None:
    """Edits from two clients on one session reach both, and the server agrees."""
    token = server.identity()
    sid = server.new_session(token)
    async with (
        make(server, token, tmp_path / "a.db") as a,
        make(server, token, tmp_path / "b.db") as b,
    ):
        ha, hb = a.session(sid), b.session(sid)
        await ha.wait_synced()
        await hb.wait_synced()
        await ha.mutate("session.setTitle", {"title": "From A"})
        await hb.mutate("target.set", {"role": "Engineer"})
        for _ in range(5):
            await ha.mutate("step.recordTime", {"step": "upload", "ms": 100})
            await hb.mutate("form.setField", {"form": "f", "field": "x", "value": 1})
        await ha.wait_synced()
        await hb.wait_synced()
        await ha.wait_for(lambda h: h.cookie == hb.cookie)
        await hb.wait_for(lambda h: h.cookie == ha.cookie)
        assert ha.state == hb.state == ha.confirmed
        assert "From A" == hb.state["title"]
        assert "Engineer" == ha.state["target"]["role"]
        assert 500 == ha.state["steps"]["upload"]["timeSpentMs"]
    remote = server.document(token, sid)
    assert ("From A", 500) == (remote["title"], remote["steps"]["upload"]["timeSpentMs"])


async def test_offline_edits_replay_exactly_once(server: Api, tmp_path: Path) -> None:
    """Edits made offline are applied once on reconnect, even when the ack was lost."""
    token = server.identity()
    sid = server.new_session(token)
    async with make(server, token, tmp_path / "a.db") as a:
        h = a.session(sid)
        await h.wait_synced()
        a.offline()
        for _ in range(20):
            await h.mutate("step.recordTime", {"step": "upload", "ms": 10})
        assert 20 == h.pending
        assert 200 == h.state["steps"]["upload"]["timeSpentMs"]
        a.online()
        await h.wait_synced()
        # Lose the connection right after a push: the outbox is resent, the server ignores it.
        await h.mutate("step.recordTime", {"step": "upload", "ms": 10})
        a.offline()
        a.online()
        await h.wait_synced()
        assert 210 == h.state["steps"]["upload"]["timeSpentMs"]
    assert 210 == server.document(token, sid)["steps"]["upload"]["timeSpentMs"]


async def test_queued_outbox_survives_a_client_restart(server: Api, tmp_path: Path) -> None:
    """A client stopped offline with queued edits resumes them, same clientID, on restart."""
    token = server.identity()
    sid = server.new_session(token)
    path = tmp_path / "a.db"
    first = make(server, token, path)
    async with first:
        h = first.session(sid)
        await h.wait_synced()
        first.offline()
        await h.mutate("session.setTitle", {"title": "Written offline"})
        await h.mutate("target.set", {"role": "Chef"})
        client_id = first.client_id
    second = make(server, token, path)
    assert client_id == second.client_id
    h2 = second.session(sid)
    assert 2 == h2.pending
    assert "Written offline" == h2.state["title"]  # offline read of the cached state
    await second.start()  # the start alone reconnects sessions with queued edits
    try:
        await h2.wait_synced()
        assert ("Written offline", "Chef") == (
            h2.confirmed["title"],
            h2.confirmed["target"]["role"],
        )
    finally:
        await second.stop()
    assert "Written offline" == server.document(token, sid)["title"]


async def test_conflict_reaches_the_callback_with_both_values(server: Api, tmp_path: Path) -> None:
    """A stale offline edit of a content field becomes a conflict: callback gets both values."""
    token = server.identity()
    sid = server.new_session(token)
    async with (
        make(server, token, tmp_path / "a.db") as a,
        make(server, token, tmp_path / "b.db") as b,
    ):
        ha, hb = a.session(sid), b.session(sid)
        seen: list[ConflictEvent] = []
        ha.on_conflict(seen.append)
        await ha.wait_synced()
        await hb.wait_synced()
        a.offline()
        await ha.mutate("session.setTitle", {"title": "Mine"})
        await hb.mutate("session.setTitle", {"title": "Theirs"})
        await hb.wait_synced()
        a.online()
        await ha.wait_synced()
        await ha.wait_for(lambda h: bool(seen))
        assert [("/title", "Mine", "Theirs")] == [(c.path, c.yours, c.theirs) for c in seen]
        assert seen[0].entry is not None and "session.setTitle" == seen[0].entry.name
        assert "Theirs" == ha.state["title"]  # the stale edit was not applied


async def test_refused_mutation_rolls_back_and_reports(server: Api, tmp_path: Path) -> None:
    """A mutation the server refuses reaches on_error and its optimistic effect disappears."""
    token = server.identity()
    sid = server.new_session(token)
    async with make(server, token, tmp_path / "a.db") as a:
        h = a.session(sid)
        errors: list[ErrorEvent] = []
        h.on_error(errors.append)
        await h.wait_synced()
        mid = await h.mutate("step.complete", {"step": "preview"})
        await h.mutate("session.setTitle", {"title": "after"})
        await h.wait_synced()
        assert [("prerequisite_missing", mid)] == [(e.code, e.mutation_id) for e in errors]
        assert "completed" != h.state["steps"]["preview"]["status"]
        assert "after" == h.state["title"]


async def test_presence_reaches_the_other_client(server: Api, tmp_path: Path) -> None:
    """set_presence shows up in the other client's presence list and callback."""
    token = server.identity()
    sid = server.new_session(token)
    async with (
        make(server, token, tmp_path / "a.db", device="laptop") as a,
        make(server, token, tmp_path / "b.db") as b,
    ):
        ha, hb = a.session(sid), b.session(sid)
        calls: list[list[dict[str, Any]]] = []
        hb.on_presence(calls.append)
        await ha.wait_synced()
        await hb.wait_synced()
        await ha.set_presence("upload", "file-select")
        await hb.wait_for(
            lambda h: any(
                c["clientID"] == a.client_id and c["step"] == "upload" for c in h.presence
            )
        )
        assert calls
        [mine] = [c for c in hb.presence if c["clientID"] == a.client_id]
        assert ("laptop", "file-select") == (mine["device"], mine["substep"])


async def test_other_users_session_is_refused_without_retrying(server: Api, tmp_path: Path) -> None:
    """Another owner's session answers not_found once; the client stops reconnecting."""
    sid = server.new_session(server.identity())
    async with make(server, server.identity(), tmp_path / "a.db") as a:
        h = a.session(sid)
        await h.wait_for(lambda h: h.fatal is not None)
        assert "not_found" == h.fatal
        assert ["not_found"] == [e.code for e in h.errors]


async def test_many_queued_mutations_are_pushed_in_chunks(server: Api, tmp_path: Path) -> None:
    """An outbox beyond one frame (1,200 edits) is pushed in chunks and fully acknowledged."""
    token = server.identity()
    sid = server.new_session(token)
    async with make(server, token, tmp_path / "a.db") as a:
        h = a.session(sid)
        await h.wait_synced()
        a.offline()
        for _ in range(1200):
            await h.mutate("step.recordTime", {"step": "upload", "ms": 1})
        a.online()
        await h.wait_synced(timeout=60)
        assert 1200 == h.confirmed["steps"]["upload"]["timeSpentMs"]


def test_sync_client_for_scripts(server: Api, tmp_path: Path) -> None:
    """SyncClient blocks on the background loop: mutate, wait, read."""
    token = server.identity()
    sid = server.new_session(token)
    with SyncClient(server.url, token=token, path=tmp_path / "s.db", backoff=fast) as client:
        session = client.session(sid)
        session.wait_synced()
        session.mutate("session.setTitle", {"title": "scripted"})
        session.wait_synced()
        assert "scripted" == session.state["title"]
        assert 0 == session.pending
    assert "scripted" == server.document(token, sid)["title"]
