"""`kill -9` of a real server process: nothing acknowledged may be lost."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "cvsession",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "warning",
        ]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir / "server.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start: " + self._stderr())

    def _stderr(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


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
