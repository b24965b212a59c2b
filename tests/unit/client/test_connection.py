"""The connection loop against a scripted in-process WebSocket server (no cvsession server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from cvsession.client import Backoff, Client
from cvsession.client.connection import ws_url
from tests.unit.client.conftest import SID, ScriptedServer

pytestmark = pytest.mark.anyio


class FakeServer:
    """Speaks enough of the protocol: welcome, catch-up patch, ack, push handling, pong."""

    def __init__(self) -> None:
        self.model = ScriptedServer()
        self.hellos: list[dict[str, Any]] = []
        self.headers: list[str | None] = []
        self.received: list[dict[str, Any]] = []
        self.drop_after_push = 0  # abort the connection after this many pushes (no ack)
        self.close_code: int | None = None
        self.docs = {0: self.model.doc}  # every version, to patch from any cookie

    async def handler(self, ws: ServerConnection) -> None:
        self.headers.append(ws.request.headers.get("Authorization") if ws.request else None)
        if self.close_code is not None:
            await ws.send(json.dumps({"type": "error", "code": "not_found", "retryable": False}))
            await ws.close(self.close_code, "refused")
            return
        hello = json.loads(await ws.recv())
        self.hellos.append(hello)
        await ws.send(json.dumps({"type": "welcome", "sessionID": SID, "serverTime": 1}))
        cookie = hello["cookie"]
        doc = None if cookie is None else self.docs[cookie]
        await ws.send(json.dumps(self.model.patch_from(cookie, doc)))
        client_id = hello["clientID"]
        await ws.send(
            json.dumps({"type": "ack", "lastMutationID": self.model.last.get(client_id, 0)})
        )
        async for raw in ws:
            message = json.loads(raw)
            self.received.append(message)
            if message["type"] == "ping":
                await ws.send('{"type":"pong"}')
            elif message["type"] == "push":
                old, version = self.model.doc, self.model.version
                for m in message["mutations"]:
                    self.model.apply(client_id, m["id"], m["name"], m["args"])
                self.docs[self.model.version] = self.model.doc
                if self.drop_after_push:
                    self.drop_after_push -= 1
                    ws.transport.abort()
                    return
                await ws.send(json.dumps(self.model.patch_from(version, old)))
                last = self.model.last.get(client_id, 0)
                await ws.send(json.dumps({"type": "ack", "lastMutationID": last}))


@pytest.fixture
def anyio_backend() -> str:
    """The client runs on asyncio."""
    return "asyncio"


async def start(fake: FakeServer) -> tuple[Any, str]:
    server = await serve(fake.handler, "127.0.0.1", 0)
    port = next(iter(server.sockets)).getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def eventually(condition: Any, timeout: float = 5.0) -> None:
    """Poll a condition on the fake server's side (which the client is not told about)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def fast() -> Backoff:
    return Backoff(initial=0.01, maximum=0.05)


def test_ws_url_from_base_url() -> None:
    """http → ws, https → wss, the session id escaped into the path."""
    assert "ws://h:1/api/sessions/a%2Fb/ws" == ws_url("http://h:1", "a/b")
    assert "wss://h/x/api/sessions/s/ws" == ws_url("https://h/x/", "s")
    with pytest.raises(ValueError):
        ws_url("ftp://h", "s")


async def test_bearer_token_hello_and_heartbeat(tmp_path: Path) -> None:
    """The handshake carries the bearer token; hello comes first; pings keep flowing."""
    fake = FakeServer()
    server, url = await start(fake)
    async with server, Client(url, token="t0k", path=tmp_path / "c.db", heartbeat=0.05) as c:
        h = c.session(SID)
        await h.wait_synced(timeout=5)
        await eventually(lambda: any(m["type"] == "ping" for m in fake.received))
        assert ["Bearer t0k"] == fake.headers
        assert c.client_id == fake.hellos[0]["clientID"]
        assert fake.model.doc == h.state


async def test_lost_connection_resends_and_the_edit_lands_once(tmp_path: Path) -> None:
    """The socket dies after a push, before the ack: reconnect, hello, resend; applied once."""
    fake = FakeServer()
    fake.drop_after_push = 1
    server, url = await start(fake)
    async with server, Client(url, path=tmp_path / "c.db", backoff=fast) as c:
        h = c.session(SID)
        await h.wait_synced(timeout=5)
        await h.mutate("step.recordTime", {"step": "upload", "ms": 5})
        await h.wait_synced(timeout=5)
        assert 2 == len(fake.hellos)
        assert 0 == fake.hellos[1]["cookie"]
        assert 5 == h.state["steps"]["upload"]["timeSpentMs"]
        assert 5 == fake.model.doc["steps"]["upload"]["timeSpentMs"]


async def test_offline_queues_and_online_pushes(tmp_path: Path) -> None:
    """offline() closes the socket and stops reconnecting; online() reconnects and pushes."""
    fake = FakeServer()
    server, url = await start(fake)
    async with server, Client(url, path=tmp_path / "c.db", backoff=fast) as c:
        h = c.session(SID)
        await h.wait_synced(timeout=5)
        c.offline()
        await h.wait_for(lambda h: not h.connected, timeout=5)
        await h.mutate("session.setTitle", {"title": "offline"})
        await asyncio.sleep(0.1)
        assert (1, 1) == (len(fake.hellos), h.pending)
        c.online()
        await h.wait_synced(timeout=5)
        assert "offline" == fake.model.doc["title"]


async def test_refusal_close_stops_reconnecting(tmp_path: Path) -> None:
    """A 4404 close is final: one error, no retry loop."""
    fake = FakeServer()
    fake.close_code = 4404
    server, url = await start(fake)
    async with server, Client(url, path=tmp_path / "c.db", backoff=fast) as c:
        h = c.session(SID)
        await h.wait_for(lambda h: h.fatal is not None, timeout=5)
        await asyncio.sleep(0.1)
        assert ("not_found", 1) == (h.fatal, len(fake.headers))
        assert ["not_found"] == [e.code for e in h.errors]
