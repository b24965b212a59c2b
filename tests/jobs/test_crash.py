"""kill -9 of the process running the CV pipeline in each phase, then recovery by a new one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.jobs.harness import lines

ROOT = Path(__file__).resolve().parents[2]
PHASES = ("extract", "parse", "analyse", "generate")


def _child(mode: str, data_dir: Path, **env: str) -> subprocess.Popen[bytes]:
    with (data_dir / f"{mode}.log").open("ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "tests.jobs.crash_child", mode, str(data_dir)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited with {proc.returncode} before {path.name}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout:g} s")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("phase", PHASES)
def test_kill9_in_a_phase_resumes_there(tmp_path: Path, phase: str) -> None:
    """Killed inside a phase, the job resumes in a new process at that phase; earlier phases
    ran once, the model was called once, and the job completes with every artifact."""
    first = _child("start", tmp_path, CVSESSION_TEST_CRASH_PHASE=phase)
    try:
        _wait_for(tmp_path / f"{phase}-started", first, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert -signal.SIGKILL == first.returncode

    second = _child("resume", tmp_path)
    assert 0 == second.wait(timeout=90), (tmp_path / "resume.log").read_text()[-3000:]

    result = json.loads((tmp_path / "result.json").read_text())
    assert "completed" == result["status"], result
    assert dict.fromkeys(PHASES, "completed") == result["checkpoints"]
    # The crashed phase ran twice (the interrupted attempt is visible), every other once.
    expected_runs = [*PHASES[: PHASES.index(phase) + 1], *PHASES[PHASES.index(phase) :]]
    assert expected_runs == lines(tmp_path / "phase-runs")
    assert 1 == result["retries"][phase]
    assert 1 == len(lines(tmp_path / "model-calls"))
    assert "Model Parsed" == result["name"]
    assert {"cv-classic.html", "cv-creative.html", "cv-modern.html", "resume.json"} <= set(
        result["artifacts"]
    )
    assert "completed" == result["features"]["privacy-mode"]


@pytest.mark.slow
def test_a_dead_workers_job_is_recovered_by_a_live_one(tmp_path: Path) -> None:
    """A worker killed mid-job never comes back; another executor's reaper sees its heartbeat
    stop, takes the job over and finishes it without redoing the finished phases."""
    from tests.jobs.harness import engine_for, open_services

    first = _child("start", tmp_path, CVSESSION_TEST_CRASH_PHASE="analyse",
                   CVSESSION_TEST_EXECUTOR="worker-that-dies")  # fmt: skip
    try:
        _wait_for(tmp_path / "analyse-started", first, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    user_id, session_id, job_id = json.loads((tmp_path / "ids.json").read_text())
    svc = open_services(tmp_path)
    try:
        live = engine_for(svc, tmp_path, "live-worker", dead_after=1.0, heartbeat_seconds=0.3)
        with live:
            job = live.wait(job_id, timeout=60)
            assert "completed" == job.status, job.error
            doc = svc.sessions.get(user_id, session_id).document
            checkpoints = doc["processing"]["checkpoints"]
            assert dict.fromkeys(PHASES, "completed") == {
                k: v["state"] for k, v in checkpoints.items()
            }
            assert (0, 1) == (
                checkpoints["parse"]["retryCount"],
                checkpoints["analyse"]["retryCount"],
            )
            with svc.store.read() as txn:
                assert ["live-worker"] == [w.executor_id for w in txn.list_workers()]
    finally:
        svc.close()
