"""Offline for a long time: 10,000 queued mutations replay once, in order, on reconnect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from cvsession.client import Backoff, Client
from tests.servers import Server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
COUNT = 10_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Keep the whole log so that the order of application can be read back.
    srv = Server(tmp_path / "server", env={"CVSESSION_LOG_KEEP_VERSIONS": str(2 * COUNT)})
    srv.start()
    yield srv
    srv.stop()


async def test_ten_thousand_offline_mutations_apply_once_in_order(
    server: Server, tmp_path: Path
) -> None:
    """Queued offline across a client restart, then replayed: each applied exactly once."""
    token = httpx2.post(server.url + "/api/identity", json={}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    sid = httpx2.post(server.url + "/api/sessions", json={}, headers=headers).json()["id"]
    path = tmp_path / "client.db"
    async with Client(
        server.url, token=token, path=path, backoff=lambda: Backoff(initial=0.05, maximum=0.5)
    ) as client:
        handle = client.session(sid)
        await handle.wait_synced()  # the document is cached locally, then the network goes
        client.offline()
        for n in range(COUNT // 2):
            await handle.mutate(
                "step.recordTime", {"step": "upload", "ms": 1, "interactions": n % 2}
            )
        assert COUNT // 2 == handle.pending
    # A new process (a new Client on the same file) keeps the queue and adds to it.
    async with Client(
        server.url, token=token, path=path, backoff=lambda: Backoff(initial=0.05, maximum=0.5)
    ) as client:
        client.offline()
        handle = client.session(sid)
        for n in range(COUNT // 2, COUNT):
            await handle.mutate(
                "step.recordTime", {"step": "upload", "ms": 1, "interactions": n % 2}
            )
        assert COUNT == handle.pending
        assert COUNT == handle.state["steps"]["upload"]["timeSpentMs"]  # optimistic view
        client.online()
        await handle.wait_synced(timeout=240)
        client_id = client.client_id
    doc = httpx2.get(f"{server.url}/api/sessions/{sid}", headers=headers).json()
    assert (COUNT, COUNT // 2) == (
        doc["steps"]["upload"]["timeSpentMs"],
        doc["steps"]["upload"]["interactions"],
    )
    export = httpx2.get(
        f"{server.url}/api/sessions/{sid}/export", headers=headers, timeout=60
    ).json()
    ids = [e["mutationID"] for e in export["log"] if e["clientID"] == client_id]
    assert list(range(1, COUNT + 1)) == ids
