"""Jobs over HTTP: upload, process, follow the job, read checkpoints, download the results."""

from __future__ import annotations

import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import TESTDATA, User, make_client, new_user

pytestmark = pytest.mark.slow
PDF = TESTDATA / "resumes" / "rendercv-classic.pdf"


@pytest.fixture
def jobs_client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path, jobs=True) as client:
        yield client


def _wait(user: User, sid: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = user.get(f"/api/sessions/{sid}/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def _upload(user: User, sid: str) -> str:
    response = user.post(
        f"/api/sessions/{sid}/uploads", params={"filename": "cv.pdf"}, content=PDF.read_bytes()
    )
    assert 201 == response.status_code, response.text
    upload_id: str = response.json()["id"]
    return upload_id


def test_upload_process_and_download(jobs_client: TestClient) -> None:
    """A real PDF goes through every phase; the session holds the CV and the checkpoints, the
    job list shows it, and the HTML and JSON Resume downloads are served safely."""
    alice, bob = new_user(jobs_client), new_user(jobs_client)
    sid = alice.new_session()["id"]
    upload_id = _upload(alice, sid)
    started = alice.post(f"/api/sessions/{sid}/uploads/{upload_id}/process", json={})
    assert 202 == started.status_code, started.text
    job_id = started.json()["jobId"]
    job = _wait(alice, sid, job_id)
    assert ("completed", 100, None) == (job["status"], job["progress"], job.get("error"))
    doc = alice.get(f"/api/sessions/{sid}").json()
    assert "John Doe" == doc["cv"]["basics"]["name"]
    assert "completed" == doc["processing"]["jobs"][job_id]["status"]
    checkpoints = alice.get(f"/api/sessions/{sid}/checkpoints").json()["checkpoints"]
    assert {"extract", "parse", "analyse", "generate"} == set(checkpoints)
    assert all("completed" == cp["state"] for cp in checkpoints.values())
    assert [job_id] == [j["id"] for j in alice.get(f"/api/sessions/{sid}/jobs").json()["jobs"]]

    html = alice.get(f"/api/sessions/{sid}/download/html", params={"template": "classic"})
    assert 200 == html.status_code
    assert html.headers["content-type"].startswith("text/html")
    assert "sandbox" in html.headers["content-security-policy"]
    assert "nosniff" == html.headers["x-content-type-options"]
    assert "John Doe" in html.text
    HTMLParser().feed(html.text)
    resume = alice.get(f"/api/sessions/{sid}/download/json")
    assert "John Doe" == resume.json()["basics"]["name"]
    listed = alice.get(f"/api/sessions/{sid}/artifacts").json()["artifacts"]
    assert {"cv-modern.html", "cv-classic.html", "cv-creative.html", "resume.json"} <= {
        a["name"] for a in listed
    }
    assert 200 == alice.get(listed[0]["url"]).status_code
    for path in (f"/jobs/{job_id}", "/jobs", "/artifacts", "/download/json", "/checkpoints",
                 f"/artifacts/{listed[0]['id']}"):  # fmt: skip
        assert 404 == bob.get(f"/api/sessions/{sid}{path}").status_code
    for path in (f"/jobs/{job_id}/cancel", "/jobs/pause", f"/uploads/{upload_id}/process"):
        assert 404 == bob.post(f"/api/sessions/{sid}{path}").status_code
    body = {"type": "template-application", "template": "nope"}  # invalid, but not his session
    assert 404 == bob.post(f"/api/sessions/{sid}/jobs", json=body).status_code


def test_feature_and_template_jobs_with_dependencies(jobs_client: TestClient) -> None:
    """A template job depending on the CV job runs after it; a finished job refuses control."""
    alice = new_user(jobs_client)
    sid = alice.new_session()["id"]
    cv_job = alice.post(f"/api/sessions/{sid}/uploads/{_upload(alice, sid)}/process").json()
    body = {
        "type": "template-application",
        "template": "creative",
        "dependencies": [cv_job["jobId"]],
    }
    template = alice.post(f"/api/sessions/{sid}/jobs", json=body)
    assert 202 == template.status_code, template.text
    done = _wait(alice, sid, template.json()["id"])
    assert "completed" == done["status"]
    assert [cv_job["jobId"]] == done["dependencies"]
    refused = alice.post(f"/api/sessions/{sid}/jobs/{done['id']}/pause")
    assert (409, "job_finished") == (refused.status_code, refused.json()["code"])
    feature = alice.post(
        f"/api/sessions/{sid}/jobs", json={"type": "feature-generation", "feature": "embed-qr-code"}
    )
    assert "completed" == _wait(alice, sid, feature.json()["id"])["status"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "nonsense"},
        {"type": "feature-generation", "feature": "video-introduction"},
        {"type": "template-application", "template": "../etc"},
        {"type": "cv-processing"},
        {"type": "template-application", "template": "modern", "priority": -1},
        {"type": "template-application", "template": "modern", "extra": 1},
        {"type": "template-application", "template": "modern", "dependencies": ["job_nope"]},
    ],
)
def test_bad_job_requests_are_clear_errors(jobs_client: TestClient, body: dict[str, Any]) -> None:
    """Invalid job requests answer 4xx problem+json, never 500, and queue nothing."""
    alice = new_user(jobs_client)
    sid = alice.new_session()["id"]
    response = alice.post(f"/api/sessions/{sid}/jobs", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [] == alice.get(f"/api/sessions/{sid}/jobs").json()["jobs"]


def test_processing_disabled_is_503(tmp_path: Path) -> None:
    """With the job engine off, asking for processing answers 503 problem+json."""
    with make_client(tmp_path) as client:
        alice = new_user(client)
        sid = alice.new_session()["id"]
        response = alice.post(f"/api/sessions/{sid}/uploads/{_upload(alice, sid)}/process")
        assert 503 == response.status_code
        assert "processing_disabled" == response.json()["code"]


def test_a_connected_client_watches_the_job_progress(jobs_client: TestClient) -> None:
    """A device connected to the session's WebSocket receives the job's status and every phase
    checkpoint as patches while the pipeline runs, ending with the parsed CV."""
    from tests.integration.test_ws import connect

    alice = new_user(jobs_client)
    sid = alice.new_session()["id"]
    upload_id = _upload(alice, sid)
    with connect(alice, sid) as socket:
        socket.hello("watcher")
        job_id = alice.post(f"/api/sessions/{sid}/uploads/{upload_id}/process").json()["jobId"]
        paths: list[tuple[str, Any]] = []
        while not any(p == f"/processing/jobs/{job_id}" and v.get("status") == "completed"
                      for p, v in paths if isinstance(v, dict)):  # fmt: skip
            patch = socket.until("patch")
            paths += [(op["path"], op.get("value")) for op in patch["ops"]]
    prefix = "/processing/checkpoints/"
    phases = [p.removeprefix(prefix) for p, v in paths
              if p.startswith(prefix) and (v or {}).get("state") == "completed"]  # fmt: skip
    assert ["extract", "parse", "analyse", "generate"] == phases
    running = {v["status"] for p, v in paths if p == f"/processing/jobs/{job_id}"}
    assert {"queued", "running", "completed"} <= running
    assert any(p == "/cv" for p, _ in paths)


def test_deleting_a_session_stops_its_jobs(jobs_client: TestClient) -> None:
    """Deleting a session while its job runs answers 204, the job is gone with it, and the
    engine goes on serving other sessions."""
    alice = new_user(jobs_client)
    sid = alice.new_session()["id"]
    job_id = alice.post(f"/api/sessions/{sid}/uploads/{_upload(alice, sid)}/process").json()[
        "jobId"
    ]
    assert 204 == alice.delete(f"/api/sessions/{sid}").status_code
    assert 404 == alice.get(f"/api/sessions/{sid}/jobs/{job_id}").status_code
    other = alice.new_session()["id"]
    again = alice.post(f"/api/sessions/{other}/uploads/{_upload(alice, other)}/process").json()
    assert "completed" == _wait(alice, other, again["jobId"])["status"]


PASTED_CV = """Jane Roe
Senior Software Engineer
jane.roe@example.com | +44 20 7946 0958 | London, UK

Summary
Backend engineer with eight years of Python and PostgreSQL experience.

Experience
Senior Software Engineer, Acme Ltd
Jan 2020 - Present
- Led the migration of the billing platform to Kubernetes.

Skills
Python, PostgreSQL, Kubernetes, FastAPI
"""


def test_pasted_text_goes_through_the_pipeline(jobs_client: TestClient) -> None:
    """A pasted CV (a text upload) is extracted as text and parsed, analysed and generated
    like a PDF."""
    alice = new_user(jobs_client)
    sid = alice.new_session()["id"]
    created = alice.post(
        f"/api/sessions/{sid}/uploads",
        params={"filename": "pasted.txt"},
        content=PASTED_CV.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert ("text", 201) == (created.json().get("kind"), created.status_code), created.text
    started = alice.post(f"/api/sessions/{sid}/uploads/{created.json()['id']}/process", json={})
    job = _wait(alice, sid, started.json()["jobId"])
    assert ("completed", None) == (job["status"], job.get("error"))
    checkpoints = alice.get(f"/api/sessions/{sid}/checkpoints").json()["checkpoints"]
    assert ("text", "ok") == (
        checkpoints["extract"]["partialResult"]["kind"],
        checkpoints["extract"]["partialResult"]["quality"],
    )
    doc = alice.get(f"/api/sessions/{sid}").json()
    assert ("Jane Roe", "jane.roe@example.com") == (
        doc["cv"]["basics"]["name"],
        doc["cv"]["basics"]["email"],
    )
    assert "Jane Roe" in alice.get(f"/api/sessions/{sid}/download/html").text
