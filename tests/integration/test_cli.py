"""The `cvsession` command against a real embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvsession.cli import main

LEGACY = {
    "cvplus_session_abc123": json.dumps(
        {
            "sessionId": "abc123",
            "userId": "legacy-user-1",
            "jobId": "job-9",
            "currentStep": "analysis",
            "completedSteps": ["upload", "processing"],
            "progressPercentage": 22,
            "lastActiveAt": 1764000000000,
            "createdAt": "2025-11-20T10:00:00Z",
            "status": "in_progress",
            "canResume": True,
            "formData": {"targetRole": "Data Engineer", "summary": "Ten years of pipelines"},
        }
    ),
    "cvplus_session_def456": {
        "sessionId": "def456",
        "userId": "legacy-user-1",
        "currentStep": "upload",
        "completedSteps": [],
        "createdAt": 1763900000000,
        "lastActiveAt": 1763900000000,
        "status": "draft",
        "formData": {},
    },
    "unrelated_key": "ignored",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_migrate_then_import_list_show_export_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Legacy sessions import into the current schema and every sessions command sees them."""
    data = ["--data-dir", str(tmp_path / "data")]
    code, out = run(capsys, "migrate", *data)
    assert (0, True) == (code, "schema at version" in out)
    legacy_file = tmp_path / "localstorage.json"
    legacy_file.write_text(json.dumps(LEGACY))
    code, out = run(capsys, "import-legacy", str(legacy_file), *data)
    assert 0 == code, out
    assert "2 imported, 0 failed" in out
    assert 1 == out.count("legacy user legacy-user-1 ->")  # one owner for both sessions

    code, out = run(capsys, "sessions", "list", *data)
    lines = [line for line in out.splitlines() if line.startswith("s_")]
    assert 2 == len(lines)
    sid = next(line.split()[0] for line in lines if "analysis" in line)

    code, out = run(capsys, "sessions", "show", sid, *data)
    doc = json.loads(out)
    assert ("in_progress", "analysis", ["upload", "processing"]) == (
        doc["status"],
        doc["currentStep"],
        doc["completedSteps"],
    )
    assert "Data Engineer" == doc["target"]["role"]

    export = tmp_path / "export.json"
    assert 0 == run(capsys, "sessions", "export", sid, "--out", str(export), *data)[0]
    assert sid == json.loads(export.read_text())["session"]["id"]

    assert 0 == run(capsys, "sessions", "delete", sid, *data)[0]
    assert 1 == run(capsys, "sessions", "show", sid, *data)[0]


def test_import_reports_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unreadable files and invalid sessions are reported and make the command fail."""
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        json.dumps(
            {"cvplus_session_x": {"sessionId": "x", "currentStep": "nope", "status": "draft"}}
        )
    )
    code = main(["import-legacy", str(bad), str(wrong), "--data-dir", str(tmp_path / "d")])
    captured = capsys.readouterr()
    assert 1 == code
    assert "0 imported, 2 failed" in captured.out
    assert "bad.json" in captured.err


def test_token_creates_a_working_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cvsession token` prints a user id and a 256-bit token."""
    code, out = run(capsys, "token", "--data-dir", str(tmp_path / "d"))
    body = json.loads(out)
    assert 0 == code
    assert body["userId"].startswith("u_") and len(body["token"]) >= 43


def test_jobs_list_and_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`cvsession jobs list` shows a session's jobs with status and error; `jobs workers`
    the heartbeats; an unknown session exits 1."""
    from datetime import UTC, datetime

    from cvsession.store import JobRow, WorkerRow
    from tests.jobs.harness import open_services

    data_dir = tmp_path / "d"
    svc = open_services(data_dir)  # rows written directly: DBOS would log to capsys's stream
    try:
        user_id = svc.identity.create_user().user_id
        session_id = svc.sessions.create(user_id).id
        now = datetime.now(UTC)
        error = {"code": "extraction_failed", "message": "damaged", "retryable": False}
        job = JobRow("job_" + "a" * 32, session_id, user_id, "cv-processing", "failed", 0, {},
                     now, now, phase="extract", error=error)  # fmt: skip
        svc.writer.run(lambda txn: txn.insert_job(job))
        svc.writer.run(lambda txn: txn.heartbeat(WorkerRow("cli-worker", now, now, {"pid": 1})))
    finally:
        svc.close()
    code, out = run(capsys, "jobs", "list", session_id, "--data-dir", str(data_dir))
    assert 0 == code
    assert job.id in out and "failed" in out and "extraction_failed: damaged" in out
    code, out = run(capsys, "jobs", "workers", "--data-dir", str(data_dir))
    assert (0, True) == (code, out.startswith("cli-worker"))
    assert 1 == run(capsys, "jobs", "list", "s_nope", "--data-dir", str(data_dir))[0]


def test_retention_run_dry_then_for_real(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`retention run --dry-run` lists what would expire and changes nothing; a run does it."""
    data = ["--data-dir", str(tmp_path / "data")]
    old = {**LEGACY["cvplus_session_def456"], "lastActiveAt": 946684800000}  # type: ignore[dict-item]
    legacy_file = tmp_path / "old.json"
    legacy_file.write_text(json.dumps({"cvplus_session_old": old}))
    assert 0 == run(capsys, "import-legacy", str(legacy_file), *data)[0]
    code, out = run(capsys, "retention", "run", "--dry-run", *data)
    assert (0, True) == (code, "would expire 1 session(s)" in out), out
    assert "draft" in run(capsys, "sessions", "list", *data)[1]
    code, out = run(capsys, "retention", "run", *data)
    assert (0, True, True) == (code, "expired 1 session(s)" in out, "deleted 0 session(s)" in out)
    assert "expired" in run(capsys, "sessions", "list", *data)[1]
