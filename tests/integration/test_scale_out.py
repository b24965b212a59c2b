"""The scale-out recipe of docs/deploy.md, for real: two servers that only submit jobs and one
`cvsession worker`, sharing PostgreSQL, Redis and the data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest

from tests.integration.test_multiprocess import Peer
from tests.servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / ".." / "shared" / "testdata" / "resumes" / "rendercv-classic.pdf"


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> Iterator[tuple[Server, Server, subprocess.Popen[bytes]]]:
    shared = tmp_path / "data"  # uploads must be visible to every process that runs jobs
    env = {
        "CVSESSION_PUBSUB_URL": redis_url,
        "CVSESSION_SYNC_SWEEP_SECONDS": "0.5",
        "CVSESSION_JOBS": "submit",
    }
    servers = (Server(shared, postgres_url, env), Server(shared, postgres_url, env))
    # Started at the same moment: both migrate, the advisory lock makes it happen once.
    starters = [threading.Thread(target=s.start) for s in servers]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    worker = subprocess.Popen(
        [sys.executable, "-m", "cvsession", "worker", "--executor-id", "worker-1",
         "--database-url", postgres_url, "--data-dir", str(shared)],
        cwd=ROOT, env={**os.environ, "CVSESSION_PUBSUB_URL": redis_url},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield servers[0], servers[1], worker
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
        for s in servers:
            s.stop()


def _get(server: Server, token: str, path: str) -> Any:
    response = httpx2.get(server.url + path, headers={"Authorization": f"Bearer {token}"})
    assert 200 == response.status_code, response.text
    return response.json()


def test_two_servers_and_a_worker_behave_as_one(
    cluster: tuple[Server, Server, subprocess.Popen[bytes]], postgres_url: str
) -> None:
    """A CV uploaded through server A is processed by the worker, and a client connected to
    server B watches every phase arrive; the schema was migrated exactly once."""
    a, b, worker = cluster
    token = httpx2.post(a.url + "/api/identity", json={}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    sid = httpx2.post(a.url + "/api/sessions", json={"title": "Scale"}, headers=auth).json()["id"]
    peer = Peer(b, sid, token, "watcher-on-b")
    try:
        peer.wait(lambda p: p.cookie >= 0)
        upload = httpx2.post(
            f"{a.url}/api/sessions/{sid}/uploads?filename=cv.pdf",
            content=PDF.read_bytes(),
            headers=auth,
        ).json()
        job = httpx2.post(
            f"{a.url}/api/sessions/{sid}/uploads/{upload['id']}/process", json={}, headers=auth
        ).json()["job"]
        deadline = time.monotonic() + 120
        doc = _get(b, token, f"/api/sessions/{sid}")
        while doc["processing"]["jobs"][job["id"]]["status"] != "completed":
            assert time.monotonic() < deadline, doc["processing"]
            assert worker.poll() is None, "the worker died"
            time.sleep(0.2)
            doc = _get(b, token, f"/api/sessions/{sid}")
        assert "John Doe" == doc["cv"]["basics"]["name"]
        # The watcher on B saw the phases as patches (through Redis pokes), up to the end.
        peer.wait(lambda p: p.cookie == doc["version"])
        paths = {op["path"] for m in peer.of_type("patch") for op in m["ops"]}
        phases = {"extract", "parse", "analyse", "generate"}
        assert phases <= {
            p.split("/")[3] for p in paths if p.startswith("/processing/checkpoints/")
        }
        assert "completed" == _get(a, token, f"/api/sessions/{sid}/jobs/{job['id']}")["status"]
    finally:
        peer.close()
    base, _, schema = postgres_url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        rows = conn.execute(
            f'SELECT version, COUNT(*) FROM "{schema}".schema_migrations GROUP BY version'
        ).fetchall()
    assert rows and all(1 == count for _, count in rows)
