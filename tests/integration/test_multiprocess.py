"""Two real server processes sharing PostgreSQL and Redis behave as one."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis
from websockets.sync.client import ClientConnection, connect

from tests.servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Peer:
    """A raw protocol client on one server, recording everything it receives."""

    def __init__(self, server: Server, sid: str, token: str, client_id: str) -> None:
        self.ws: ClientConnection = connect(
            f"{server.ws_url}/api/sessions/{sid}/ws",
            additional_headers={"Authorization": f"Bearer {token}"},
            compression=None,
        )
        self.client_id = client_id
        self.cookie = -1
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self.ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "clientID": client_id,
                    "cookie": None,
                    "lastMutationID": 0,
                    "schemaVersion": 1,
                    "device": client_id,
                }
            )
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                message = json.loads(raw)
                with self.lock:
                    self.messages.append(message)
                    if message["type"] == "patch":
                        self.cookie = message["cookie"]
        except Exception:  # the socket closed
            return

    def wait(self, predicate: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return
            time.sleep(0.01)
        raise AssertionError(f"{self.client_id}: condition not met; cookie {self.cookie}")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["type"] == kind]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[tuple[Server, Server]]:
    env = {"CVSESSION_PUBSUB_URL": redis_url, "CVSESSION_SYNC_SWEEP_SECONDS": "0.5"}
    servers = (Server(tmp_path / "a", postgres_url, env), Server(tmp_path / "b", postgres_url, env))
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def _setup(server: Server) -> tuple[str, str]:
    token = httpx2.post(server.url + "/api/identity", json={}).json()["token"]
    sid = httpx2.post(
        server.url + "/api/sessions", json={}, headers={"Authorization": f"Bearer {token}"}
    ).json()["id"]
    return token, sid


def _push(peer: Peer, mid: int, field: str, value: Any) -> None:
    peer.ws.send(
        json.dumps(
            {
                "type": "push",
                "mutations": [
                    {
                        "id": mid,
                        "name": "form.setField",
                        "args": {"form": "f", "field": field, "value": value},
                    }
                ],
            }
        )
    )


def test_edits_cross_between_processes(pair: tuple[Server, Server]) -> None:
    """A client on server A and one on server B see each other's edits and presence."""
    a_server, b_server = pair
    token, sid = _setup(a_server)
    a = Peer(a_server, sid, token, "on-a")
    b = Peer(b_server, sid, token, "on-b")
    try:
        b.wait(lambda p: p.cookie == 0)
        for i in range(1, 21):
            _push(a, i, f"x{i}", i)
        b.wait(lambda p: p.cookie == 20)
        _push(b, 1, "from-b", "hello")
        a.wait(lambda p: p.cookie == 21)
        a.wait(
            lambda p: any(
                {c["clientID"] for c in m["clients"]} == {"on-a", "on-b"}
                for m in p.of_type("presence")
            )
        )
        doc = httpx2.get(
            f"{b_server.url}/api/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert 21 == doc["version"]
        assert "hello" == doc["forms"]["f"]["fields"]["from-b"]["value"]
    finally:
        a.close()
        b.close()


def test_lost_pubsub_messages_still_converge(pair: tuple[Server, Server], redis_url: str) -> None:
    """Killing the servers' Redis subscriptions mid-stream loses pokes, not convergence."""
    a_server, b_server = pair
    token, sid = _setup(a_server)
    a = Peer(a_server, sid, token, "writer")
    b = Peer(b_server, sid, token, "reader")
    admin = redis.Redis.from_url(redis_url)
    try:
        b.wait(lambda p: p.cookie == 0)
        for i in range(1, 101):
            _push(a, i, f"k{i % 7}", i)
            if i % 20 == 0:
                admin.client_kill_filter(_type="pubsub")
        a.wait(lambda p: any(m["lastMutationID"] == 100 for m in p.of_type("ack")))
        b.wait(lambda p: p.cookie == 100)
        # Rebuilding the document from B's patches gives the server's document.
        import jsonpatch

        state: Any = None
        for patch in b.of_type("patch"):
            state = jsonpatch.apply_patch(state, patch["ops"])
        doc = httpx2.get(
            f"{a_server.url}/api/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert doc == state
    finally:
        a.close()
        b.close()
        admin.close()


def test_a_deleted_account_is_refused_by_the_other_process_at_once(
    pair: tuple[Server, Server],
) -> None:
    """Deleting an account on server A ends its connections on B and B stops accepting its
    token well before B's 30 s token cache would have let it go."""
    a_server, b_server = pair
    token, sid = _setup(a_server)
    auth = {"Authorization": f"Bearer {token}"}
    assert 200 == httpx2.get(f"{b_server.url}/api/me", headers=auth).status_code  # now cached
    b = Peer(b_server, sid, token, "on-b")
    try:
        b.wait(lambda p: p.cookie == 0)
        deleted = httpx2.request(
            "DELETE", f"{a_server.url}/api/me", json={"confirm": "delete everything"}, headers=auth
        )
        assert 200 == deleted.status_code
        deadline = time.monotonic() + 10  # well inside the 30 s cache
        status = 200
        while time.monotonic() < deadline:
            status = httpx2.get(f"{b_server.url}/api/me", headers=auth).status_code
            if status == 401:
                break
            time.sleep(0.1)
        assert 401 == status
        b.reader.join(timeout=10)
        assert not b.reader.is_alive()
        assert 4401 == b.ws.close_code
    finally:
        b.close()
