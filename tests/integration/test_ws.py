"""The sync WebSocket in-process: handshake, patches, acks, conflicts, presence, abuse."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from cvsession.api import ws
from tests.integration.conftest import BASE, User


class Socket:
    """A protocol-speaking test client over TestClient's WebSocket."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    def send(self, message: Any) -> None:
        self.ws.send_text(message if isinstance(message, str) else json.dumps(message))

    def next(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.receive_text())
        self.seen.append(message)
        return message

    def until(self, kind: str, **match: Any) -> dict[str, Any]:
        for _ in range(500):
            message = self.next()
            if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
                return message
        raise AssertionError(f"no {kind} message")

    def hello(
        self, client_id: str, cookie: int | None = None, last: int = 0, **extra: Any
    ) -> dict[str, Any]:
        self.send(
            {
                "type": "hello",
                "clientID": client_id,
                "clientGroupID": "g",
                "cookie": cookie,
                "lastMutationID": last,
                "schemaVersion": 1,
                "device": "test",
                **extra,
            }
        )
        assert "welcome" == self.next()["type"]
        patch = self.next()
        assert "patch" == patch["type"]
        assert "ack" == self.next()["type"]
        return patch


@contextmanager
def connect(user: User, sid: str, *, headers: dict[str, str] | None = None) -> Iterator[Socket]:
    with user.client.websocket_connect(
        f"/api/sessions/{sid}/ws", headers=headers or user.headers
    ) as ws:
        yield Socket(ws)


def mutation(mid: int, field: str, value: Any, base: int | None = None) -> dict[str, Any]:
    return {
        "id": mid,
        "name": "form.setField",
        "baseVersion": base,
        "args": {"form": "f", "field": field, "value": value},
    }


def test_hello_gets_the_whole_document_then_deltas(alice: User) -> None:
    """A first hello gets a reset patch; a push is acked and comes back as a delta patch."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as sock:
        first = sock.hello("c1")
        assert first["reset"] is True and 0 == first["cookie"]
        assert sid == first["ops"][0]["value"]["id"]
        sock.send({"type": "push", "mutations": [mutation(1, "name", "Ada")]})
        patch = sock.until("patch")  # the push's patch comes before its ack
        assert 1 == sock.next()["lastMutationID"]
        assert (0, 1, False) == (patch["baseCookie"], patch["cookie"], patch["reset"])
        assert {"c1": 1} == patch["lastMutationIDChanges"]
        assert any(op["path"] == "/forms/f" for op in patch["ops"])


def test_edits_reach_the_other_device(alice: User) -> None:
    """A second client in the same session receives the first client's change."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as a, connect(alice, sid) as b:
        a.hello("dev-a")
        b.hello("dev-b")
        a.send({"type": "push", "mutations": [mutation(1, "city", "Paris")]})
        patch = b.until("patch", cookie=1)
        values = [op["value"] for op in patch["ops"] if op["path"] == "/forms/f"]
        assert "Paris" == values[0]["fields"]["city"]["value"]


def test_reconnect_catches_up_from_cookie_without_reset(alice: User) -> None:
    """A client back with cookie 1 gets only the ops after version 1."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as sock:
        sock.hello("c1")
        sock.send({"type": "push", "mutations": [mutation(1, "a", 1), mutation(2, "b", 2)]})
        sock.until("patch", cookie=2)
    alice.put(f"/api/sessions/{sid}/target", json={"role": "Chef"})
    with connect(alice, sid) as sock:
        patch = sock.hello("c1", cookie=2, last=2)
        assert (2, 3, False) == (patch["baseCookie"], patch["cookie"], patch["reset"])
        assert ["/target/role", "/lastActiveAt", "/version"] == [op["path"] for op in patch["ops"]]


def test_conflict_is_sent_with_both_values(alice: User) -> None:
    """A stale edit to the same field produces a conflict message holding both values."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as a, connect(alice, sid) as b:
        a.hello("a")
        b.hello("b")
        a.send({"type": "push", "mutations": [mutation(1, "name", "Ada", base=0)]})
        a.until("ack")
        b.send({"type": "push", "mutations": [mutation(1, "name", "Grace", base=0)]})
        conflict = b.until("conflict")
        assert ("Grace", "Ada", "/forms/f/fields/name/value") == (
            conflict["yours"],
            conflict["theirs"],
            conflict["path"],
        )
        assert conflict["id"] == a.until("conflict")["id"]
        b.send(
            {
                "type": "push",
                "mutations": [
                    {
                        "id": 2,
                        "name": "conflict.resolve",
                        "args": {"conflictId": conflict["id"], "choice": "mine"},
                    }
                ],
            }
        )
        assert 2 == b.until("ack", lastMutationID=2)["lastMutationID"]
    doc = alice.get(f"/api/sessions/{sid}").json()
    assert "Grace" == doc["forms"]["f"]["fields"]["name"]["value"]


def test_presence_lists_both_devices(alice: User) -> None:
    """Presence names every connected client with its step once they say where they are."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as a, connect(alice, sid) as b:
        a.hello("a")
        b.hello("b")
        a.send({"type": "presence", "step": "upload", "substep": "file-select", "device": "laptop"})
        seen = b.until("presence")
        while not any(c["device"] == "laptop" for c in seen["clients"]):
            seen = b.until("presence")
        by_id = {c["clientID"]: c for c in seen["clients"]}
        assert {"a", "b"} == set(by_id)
        assert ("upload", "file-select") == (by_id["a"]["step"], by_id["a"]["substep"])


def _version(user: User, sid: str) -> int:
    version: int = user.get(f"/api/sessions/{sid}").json()["version"]
    return version


def test_abuse_is_answered_and_nothing_is_stored(alice: User) -> None:
    """Malformed JSON, unknown types, oversize frames and gaps get errors; the socket lives on."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as sock:
        sock.hello("c1")
        sock.send("{not json")
        assert "bad_json" == sock.until("error")["code"]
        sock.send({"type": "teleport"})
        assert "bad_message" == sock.until("error")["code"]
        sock.send({"type": "push", "mutations": [mutation(1, "x", "y" * 70_000)]})
        assert "too_large" == sock.until("error")["code"]
        sock.send({"type": "push", "mutations": [mutation(5, "x", 1)]})
        gap = sock.until("error")
        assert ("mutation_gap", True, 1) == (gap["code"], gap["retryable"], gap["expected"])
        sock.send({"type": "push", "mutations": [{"id": 1, "name": "server.expire", "args": {}}]})
        assert "invalid_input" == sock.until("error")["code"]
        sock.send({"type": "ping"})
        assert "pong" == sock.until("pong")["type"]
    assert 0 == _version(alice, sid)
    assert "draft" == alice.get(f"/api/sessions/{sid}").json()["status"]


def _refused(
    user: User, sid: str, headers: dict[str, str], hello: dict[str, Any] | None
) -> tuple[str, int]:
    with user.client.websocket_connect(f"/api/sessions/{sid}/ws", headers=headers) as ws:
        if hello is not None:
            ws.send_text(json.dumps(hello))
        error = json.loads(ws.receive_text())
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return error["code"], closed.value.code


def test_handshake_refusals(client: TestClient, alice: User, bob: User) -> None:
    """No credentials, a foreign Origin, someone else's session or clientID: error, then close."""
    sid = alice.new_session()["id"]
    hello = {
        "type": "hello",
        "clientID": "alice-tab",
        "cookie": None,
        "lastMutationID": 0,
        "schemaVersion": 1,
    }
    with connect(alice, sid) as sock:
        sock.hello("alice-tab")
        sock.send({"type": "push", "mutations": [mutation(1, "x", 1)]})
        sock.until("ack")
    assert ("unauthenticated", 4401) == _refused(alice, sid, {}, None)
    assert ("forbidden_origin", 4403) == _refused(
        alice, sid, {**alice.headers, "Origin": "https://evil.example"}, None
    )
    assert ("not_found", 4404) == _refused(bob, sid, bob.headers, None)
    bobs = bob.new_session()["id"]
    assert ("forbidden_client", 4403) == _refused(bob, bobs, bob.headers, hello)
    assert ("hello_required", 4400) == _refused(alice, sid, alice.headers, {"type": "ping"})
    assert 0 == _version(bob, bobs)


def test_cookie_socket_needs_our_origin(client: TestClient) -> None:
    """A browser (cookie) connection must carry our Origin; with it, it works."""
    client.post("/api/identity/guest", headers={"Origin": BASE})
    sid = client.post("/api/sessions", json={}, headers={"Origin": BASE}).json()["id"]
    user = User(client, "", "")
    # TestClient does not send its cookie jar on WebSocket handshakes; browsers do.
    cookie = {"Cookie": f"cvsession_token={client.cookies['cvsession_token']}"}
    assert "forbidden_origin" == _refused(user, sid, cookie, None)[0]
    assert "forbidden_origin" == _refused(user, sid, {**cookie, "Origin": "http://evil"}, None)[0]
    url = f"{BASE.replace('http', 'ws')}/api/sessions/{sid}/ws"
    with client.websocket_connect(url, headers={**cookie, "Origin": BASE}) as ws:
        sock = Socket(ws)
        assert 0 == sock.hello(f"tab-{uuid.uuid4().hex[:6]}")["cookie"]


def test_http_writes_are_pushed_to_sockets(alice: User) -> None:
    """A change made over HTTP reaches a connected client as a patch."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as sock:
        sock.hello("c1")
        alice.post(f"/api/sessions/{sid}/steps/upload/complete")
        patch = sock.until("patch", cookie=1)
        assert any(op["path"] == "/completedSteps" for op in patch["ops"])


def test_room_is_evicted_when_empty(client: TestClient, alice: User) -> None:
    """After the last client leaves, the hub holds no room for the session."""
    sid = alice.new_session()["id"]
    with connect(alice, sid) as sock:
        sock.hello("c1")
        assert sid in client.app.state.hub.rooms  # type: ignore[attr-defined]
    hub = client.app.state.hub  # type: ignore[attr-defined]
    for _ in range(100):
        if sid not in hub.rooms:
            break
        import time

        time.sleep(0.01)
    assert sid not in hub.rooms


def test_rate_limit_answers_and_keeps_the_connection(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the burst, messages are refused with a retryable rate_limited error; the
    connection stays open and is served again once the bucket refills.

    The bucket's clock is held still so that a slow machine's refill while the 150 pings
    are sent cannot blur the count (CI saw 103 pongs when it used the real clock)."""
    now = [0.0]
    monkeypatch.setattr(ws, "Bucket", functools.partial(ws.Bucket, clock=lambda: now[0]))
    sid = alice.new_session()["id"]
    with connect(alice, sid) as sock:
        sock.hello("c1")
        for _ in range(150):
            sock.send({"type": "ping"})
        error = sock.until("error")
        assert ("rate_limited", True) == (error["code"], error["retryable"])
        assert int(ws.RATE_BURST) == sum(1 for m in sock.seen if m["type"] == "pong")
        now[0] += 1.0  # refills RATE_PER_SECOND tokens
        sock.seen.clear()
        sock.send({"type": "ping"})
        sock.until("pong")


def test_offline_ages_use_the_clock_the_client_reports(alice: User) -> None:
    """A device whose clock is 31 minutes slow replays an edit it made 5 minutes ago: the
    server records 5 minutes offline (not 36), and its fresh edit is not a replay."""
    sid = alice.new_session()["id"]
    client_now = int(time.time() * 1000) - 31 * 60_000
    with connect(alice, sid) as sock:
        sock.hello("skewed", now=client_now)
        old = {**mutation(1, "a", 1), "hlc": f"{client_now - 300_000}-0-skewed"}
        fresh = {**mutation(2, "b", 2), "hlc": f"{client_now}-0-skewed"}
        sock.send({"type": "push", "mutations": [old, fresh]})
        assert 2 == sock.until("ack")["lastMutationID"]
        sock.send({"type": "hello", "clientID": "x", "now": -1})  # a second hello: refused
        assert "bad_message" == sock.until("error")["code"]
    store = alice.client.app.state.services.store  # type: ignore[attr-defined]
    with store.read() as txn:
        replays = txn.event_rows(["sync.replayed"])
    assert 1 == len(replays) and 1 == replays[0].data["count"]
    assert 300_000 <= (replays[0].value or 0) < 360_000


def test_hello_with_an_impossible_clock_is_refused(alice: User) -> None:
    sid = alice.new_session()["id"]
    with connect(alice, sid) as sock:
        sock.send({"type": "hello", "clientID": "c1", "schemaVersion": 1, "now": 2**60})
        error = sock.next()
        assert "error" == error["type"] and "now" in error["message"]


def test_presence_goes_stale_without_heartbeat(client: TestClient, alice: User) -> None:
    """A client silent for longer than the presence TTL disappears from the others' list."""
    hub = client.app.state.hub  # type: ignore[attr-defined]
    hub.presence_ttl = 0.3
    sid = alice.new_session()["id"]
    with connect(alice, sid) as a, connect(alice, sid) as b:
        a.hello("quiet")
        b.hello("chatty")
        import time

        for _ in range(6):
            time.sleep(0.1)
            b.send({"type": "ping"})
        client.portal.call(hub.sweep)  # type: ignore[union-attr]
        while True:
            presence = b.until("presence")
            if [c["clientID"] for c in presence["clients"]] == ["chatty"]:
                break
