"""A client that stops reading is cut off with 4008 "too slow"; the others keep their patches.

Needs a real server: the back-pressure runs through TCP (the slow client's receive window and
the server's transport buffer) into the hub's per-member send queue.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.servers import Server

pytestmark = pytest.mark.slow

SLOW_LINE = "client slow is too slow; disconnecting"  # the hub's log line for this client
BIG = "x" * 30_000  # each edit's patch is ~30 KB, so the buffers fill in a few seconds


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    env = getattr(request, "param", {})
    srv = Server(tmp_path, env=env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def hello(client_id: str) -> str:
    message = {"type": "hello", "clientID": client_id, "cookie": None, "lastMutationID": 0}
    return orjson.dumps({**message, "schemaVersion": 1}).decode()


def edit(mutation_id: int, field: str, value: object) -> str:
    args = {"form": "f", "field": field, "value": value}
    mutation = {"id": mutation_id, "name": "form.setField", "args": args}
    return orjson.dumps({"type": "push", "mutations": [mutation]}).decode()


async def scenario(server: Server, until: str = "cut off") -> dict[str, Any]:
    """Four clients push 30 KB edits while "slow" never reads, until the hub cuts it off
    (`until="cut off"`: its log line) or the others are told it left (`until="gone"`: their
    presence); then the slow client reads what reached it."""
    async with httpx2.AsyncClient(base_url=server.url) as http:
        token = (await http.post("/api/identity", json={})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        sid = (await http.post("/api/sessions", json={}, headers=headers)).json()["id"]
    url = f"{server.ws_url}/api/sessions/{sid}/ws"
    # The slow client: a small receive window, and at most one message queued before its
    # library stops reading the socket. It never reads until the server gives up on it.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
    raw.connect(("127.0.0.1", server.port))
    slow = await connect(url, additional_headers=headers, compression=None, ping_interval=None,
                         max_queue=1, sock=raw)  # fmt: skip
    await slow.send(hello("slow"))
    pushers: list[ClientConnection] = []
    for k in range(4):  # four connections: the per-connection rate limit is 50 frames/s
        pusher = await connect(url, additional_headers=headers, compression=None, max_size=None)
        await pusher.send(hello(f"pusher-{k}"))
        pushers.append(pusher)
    last_cookie = [0] * len(pushers)
    errors: list[dict[str, Any]] = []
    present: list[list[str]] = [[] for _ in pushers]  # each pusher's latest presence list

    async def follow(k: int) -> None:
        async for message in pushers[k]:
            data = orjson.loads(message)
            if data["type"] == "patch":
                last_cookie[k] = data["cookie"]
            elif data["type"] == "error":
                errors.append(data)
            elif data["type"] == "presence":
                present[k] = [c["clientID"] for c in data["clients"]]

    followers = [asyncio.create_task(follow(k)) for k in range(len(pushers))]
    log = server.log
    last_id = [0] * len(pushers)
    stop = asyncio.Event()

    async def push(k: int) -> None:
        while not stop.is_set():
            last_id[k] += 1
            await pushers[k].send(edit(last_id[k], f"t{k}", f"{BIG}{last_id[k]}"))
            await asyncio.sleep(0.021)

    pushing = [asyncio.create_task(push(k)) for k in range(len(pushers))]
    deadline = time.monotonic() + 90

    def done() -> bool:
        if until == "cut off":
            return SLOW_LINE in log.read_text()
        return all(p and "slow" not in p for p in present)

    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    gone = all("slow" not in p for p in present)
    stop.set()
    await asyncio.gather(*pushing)
    sent = sum(last_id)
    # The others are still served: a last edit reaches every pusher.
    await pushers[0].send(edit(last_id[0] + 1, "end", 1))
    expected_at_least = sent + 1
    try:
        async with asyncio.timeout(30):
            while min(last_cookie) < expected_at_least:
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"cookies {last_cookie}, sent {last_id}, errors {errors}") from None
    # The slow client, reading at last, gets what was buffered and then how it ended.
    read = 0
    try:
        async with asyncio.timeout(30):
            async for _ in slow:
                read += 1
    except ConnectionClosed:
        pass
    except TimeoutError:
        raise AssertionError(f"read {read}, {slow.state.name}: {log.read_text()}") from None
    for pusher in pushers:
        await pusher.close()
    await asyncio.gather(*followers, return_exceptions=True)
    return {
        "logged": SLOW_LINE in log.read_text(),
        "gone": gone,
        "others_cut": log.read_text().count("too slow") - 1,
        "sent": sent,
        "cookies": list(last_cookie),
        "expected": expected_at_least,
        "read": read,
        "close": (slow.close_code, slow.close_reason),
    }


def test_a_client_that_stops_reading_is_disconnected_and_others_are_served(
    server: Server,
) -> None:
    out = asyncio.run(scenario(server))
    assert out["logged"], f"the server never gave up on the slow client after {out['sent']}"
    assert 0 == out["others_cut"]
    assert (4008, "too slow") == out["close"]
    assert 0 < out["read"] < out["sent"]  # it got what was buffered, not every patch
    assert all(cookie >= out["expected"] for cookie in out["cookies"])


STALL_SECONDS = 2


@pytest.mark.parametrize(
    "server", [{"CVSESSION_STALLED_CONNECTION_SECONDS": str(STALL_SECONDS)}], indirect=True
)
def test_a_client_that_never_reads_again_is_dropped_by_the_kernel(server: Server) -> None:
    """A client that keeps its window shut would otherwise keep its connection as long as it
    answers window probes (even once cut off, the 4008 close frame waits behind the unread
    data). Past CVSESSION_STALLED_CONNECTION_SECONDS of unacknowledged data the server's kernel
    drops it (TCP_USER_TIMEOUT): the server leaves it (the others' presence says so) and the
    client, reading again, finds the connection gone without a close frame."""
    out = asyncio.run(scenario(server, until="gone"))
    assert out["gone"], "the others were never told that the slow client left"
    assert 1006 == out["close"][0]  # no close frame: the server's socket was dropped
    assert not out["logged"]  # dropped before its queue of 1,000 messages filled
    assert all(cookie >= out["expected"] for cookie in out["cookies"])
