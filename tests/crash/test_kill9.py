"""`kill -9` of a real server process: nothing acknowledged may be lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.servers import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    srv.start()
    yield srv
    srv.stop()


def _writer(
    url: str, token: str, sid: str, client_id: str, acked: list[int], stop: threading.Event
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=url, headers=headers, timeout=5) as http:
        n = 0
        while not stop.is_set():
            n += 1
            body: dict[str, Any] = {
                "clientID": client_id,
                "mutations": [
                    {
                        "id": n,
                        "name": "form.setField",
                        "args": {"form": client_id, "field": f"f{n}", "value": f"v{n}"},
                    }
                ],
            }
            try:
                response = http.post(f"/api/sessions/{sid}/mutations", json=body)
            except httpx2.TransportError:
                return
            if response.status_code != 200:
                return
            acked.append(n)


@pytest.mark.slow
def test_kill9_loses_no_acknowledged_write(server: Server) -> None:
    """Writers push until the server is killed mid-stream; every acked field survives restart."""
    identity = httpx2.post(server.url + "/api/identity", json={}).json()
    headers = {"Authorization": f"Bearer {identity['token']}"}
    sid = httpx2.post(server.url + "/api/sessions", json={}, headers=headers).json()["id"]
    stop = threading.Event()
    acked: dict[str, list[int]] = {f"w{i}": [] for i in range(4)}
    threads = [
        threading.Thread(
            target=_writer, args=(server.url, identity["token"], sid, cid, acked[cid], stop)
        )
        for cid in acked
    ]
    for t in threads:
        t.start()
    while sum(len(v) for v in acked.values()) < 200:
        time.sleep(0.01)
    server.kill9()
    stop.set()
    for t in threads:
        t.join()
    server.start()
    doc = httpx2.get(f"{server.url}/api/sessions/{sid}", headers=headers).json()
    for cid, numbers in acked.items():
        fields = doc["forms"].get(cid, {}).get("fields", {})
        missing = [n for n in numbers if fields.get(f"f{n}", {}).get("value") != f"v{n}"]
        assert [] == missing, f"{cid} lost acknowledged writes"
    # The server remembers each client's last id: replaying the last acked one is a duplicate.
    cid, numbers = next((c, n) for c, n in acked.items() if n)
    replay = httpx2.post(
        f"{server.url}/api/sessions/{sid}/mutations",
        headers=headers,
        json={
            "clientID": cid,
            "mutations": [
                {
                    "id": numbers[-1],
                    "name": "form.setField",
                    "args": {"form": cid, "field": "x", "value": 1},
                }
            ],
        },
    )
    assert "duplicate" == replay.json()["results"][0]["status"]
