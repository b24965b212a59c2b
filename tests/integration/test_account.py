"""Export my data, delete everything, and the per-session document size limit, over HTTP."""

from __future__ import annotations

import base64
import contextlib
import copy
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
from fastapi.testclient import TestClient

from cvsession.api.app import create_app
from cvsession.config import Settings
from tests.integration.conftest import BASE, make_client, new_user
from tests.integration.test_ws import connect, mutation
from tests.leftovers import occurrences


@pytest.fixture
def small(tmp_path: Path) -> Iterator[TestClient]:
    """Snapshots every 5 versions, 10 versions of log kept, 20 kB documents."""
    settings = Settings(
        data_dir=tmp_path / "data",
        identity_rate_per_minute=10_000,
        jobs_mode="0",
        snapshot_every=5,
        log_keep_versions=10,
        max_document_bytes=20_000,
    )
    with TestClient(create_app(settings), base_url=BASE) as c:
        yield c


def replay(document: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply exported log entries (RFC 6902 ops, "old" aside) to a document, independently of
    the server's own replay."""
    doc = copy.deepcopy(document)
    for entry in entries:
        for op in entry["ops"]:
            change = {k: v for k, v in op.items() if k != "old"}
            if change["path"] == "" and change["op"] in ("add", "replace"):
                doc = copy.deepcopy(change["value"])
            else:
                doc = jsonpatch.apply_patch(doc, [change])
        doc["version"] = entry["version"]
    return doc


def test_export_round_trips_every_retained_version(small: TestClient) -> None:
    """Replaying the exported log over the exported snapshot rebuilds the exported document
    and every retained version as the server shows it; files come back byte for byte."""
    alice, bob = new_user(small), new_user(small)
    sid = alice.new_session(title="CV")["id"]
    cv = {"basics": {"name": "Ada", "email": "ada@example.com"}, "work": [{"name": "Acme"}]}
    push = {"clientID": "c1", "mutations": [{"id": 1, "name": "cv.set", "args": {"cv": cv}}]}
    assert 200 == alice.post(f"/api/sessions/{sid}/mutations", json=push).status_code
    for i in range(23):
        alice.put(f"/api/sessions/{sid}/forms/contact/fields/f{i % 4}", json={"value": f"v{i}"})
    data = b"Ada Lovelace\nAnalyst\n"
    assert (
        201 == alice.post(f"/api/sessions/{sid}/uploads?filename=cv.txt", content=data).status_code
    )
    alice.new_session(title="second")
    bob.new_session(title="bob's")

    export = alice.get("/api/me/export?files=1").json()
    assert alice.user_id == export["user"]["id"]
    assert 2 == len(export["sessions"])
    item = next(s for s in export["sessions"] if s["session"]["id"] == sid)
    snapshot, log = item["snapshot"], item["log"]
    assert snapshot["version"] > 0  # compacted: history starts at a later snapshot
    assert [e["version"] for e in log] == list(
        range(snapshot["version"] + 1, item["session"]["version"] + 1)
    )
    assert item["session"] == replay(snapshot["document"], log)
    for v in range(snapshot["version"], item["session"]["version"] + 1):
        shown = alice.get(f"/api/sessions/{sid}/versions/{v}").json()
        assert shown == replay(snapshot["document"], [e for e in log if e["version"] <= v])
    assert "Ada" == item["jsonResume"]["basics"]["name"]
    [upload] = item["uploads"]
    assert (data, "cv.txt") == (base64.b64decode(upload["content"]), upload["filename"])
    assert "storage_name" not in upload
    assert "content" not in alice.get("/api/me/export").json()["sessions"][0]["uploads"][0]


def test_delete_everything_really_deletes(client: TestClient, tmp_path: Path) -> None:
    """After DELETE /api/me nothing of the caller is left in any table or on disk, its token
    answers 401, and another user's data is untouched."""
    alice, bob = new_user(client), new_user(client)
    ids = [alice.new_session(title=f"s{i}")["id"] for i in range(3)]
    uploads = []
    for sid in ids[:2]:
        r = alice.post(f"/api/sessions/{sid}/uploads?filename=cv.txt", content=b"Ada\nLovelace\n")
        uploads.append(r.json()["id"])
        alice.put(f"/api/sessions/{sid}/forms/contact/fields/x", json={"value": 1})
    bob_sid = bob.new_session()["id"]
    bob.post(f"/api/sessions/{bob_sid}/uploads?filename=b.txt", content=b"Bob\nBuilder\n")
    links = [alice.post(f"/api/sessions/{sid}/share-links").json()["id"] for sid in ids[1:]]
    bob.post(f"/api/sessions/{bob_sid}/share-links")
    store = client.app.state.services.store  # type: ignore[attr-defined]
    upload_dir = tmp_path / "data" / "uploads"
    bob_before = occurrences(store, [bob.user_id, bob_sid])

    wrong = alice.request("DELETE", "/api/me", json={"confirm": "yes"})
    assert (422, "invalid_input") == (wrong.status_code, wrong.json()["code"])
    gone = alice.request("DELETE", "/api/me", json={"confirm": "delete everything"})
    assert (200, {"deletedSessions": 3}) == (gone.status_code, gone.json())
    assert 401 == alice.get("/api/me").status_code
    assert 401 == alice.get(f"/api/sessions/{ids[0]}").status_code
    assert {} == occurrences(store, [alice.user_id, *ids, *uploads, *links])
    assert 1 == len(list(upload_dir.iterdir()))  # bob's file only
    assert bob_before == occurrences(store, [bob.user_id, bob_sid])
    assert 200 == bob.get(f"/api/sessions/{bob_sid}").status_code


def test_document_too_large_is_refused(small: TestClient) -> None:
    """A change making the document exceed its limit is refused (413 over HTTP, `error` on
    the socket) and changes nothing; smaller changes still apply."""
    alice = new_user(small)
    sid = alice.new_session()["id"]
    big = alice.put(f"/api/sessions/{sid}/forms/contact/fields/bio", json={"value": "x" * 30_000})
    assert (413, "document_too_large") == (big.status_code, big.json()["code"])
    assert 20_000 == big.json()["limit"]
    assert 0 == alice.get(f"/api/sessions/{sid}").json()["version"]
    with connect(alice, sid) as sock:
        sock.hello("c1")
        sock.send({"type": "push", "mutations": [mutation(1, "bio", "y" * 25_000)]})
        assert "document_too_large" == sock.until("error")["code"]
    ok = alice.put(f"/api/sessions/{sid}/forms/contact/fields/bio", json={"value": "short"})
    assert 200 == ok.status_code


def test_export_and_delete_need_a_caller(client: TestClient) -> None:
    """Without credentials both answer 401."""
    assert 401 == client.get("/api/me/export").status_code
    assert (
        401
        == client.request("DELETE", "/api/me", json={"confirm": "delete everything"}).status_code
    )


def _dbos_rows_with(path: Path, needle: str) -> int:
    """Rows of DBOS's own SQLite tables whose columns mention `needle`."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        found = 0
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for col in [c[1] for c in db.execute(f'PRAGMA table_info("{table}")')]:
                sql = f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{col}" AS TEXT) LIKE ?'
                found += db.execute(sql, [f"%{needle}%"]).fetchone()[0]
        return found


@pytest.mark.slow
def test_deleting_forgets_the_job_workflows(tmp_path: Path) -> None:
    """The job engine's record of a deleted session's jobs (inputs, each phase's output: the
    parsed CV) is deleted too, not only our job rows."""
    with make_client(tmp_path, jobs=True) as client:
        alice = new_user(client)
        sid = alice.new_session()["id"]
        text = "Jane Roe\nSenior Engineer\njane.roe@example.com\n\nSkills\nPython, SQL\n"
        upload = alice.post(f"/api/sessions/{sid}/uploads?filename=cv.txt", content=text.encode())
        job_id = alice.post(f"/api/sessions/{sid}/uploads/{upload.json()['id']}/process").json()[
            "jobId"
        ]
        deadline = time.monotonic() + 60
        while alice.get(f"/api/sessions/{sid}/jobs/{job_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        dbos = tmp_path / "data" / "dbos.sqlite"
        # The workflow's status, inputs and each step's (serialised) output, keyed by job id.
        assert _dbos_rows_with(dbos, job_id) > 3
        gone = alice.request("DELETE", "/api/me", json={"confirm": "delete everything"})
        assert 200 == gone.status_code
        assert 0 == _dbos_rows_with(dbos, job_id)
