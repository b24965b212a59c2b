"""The engine at scale: PostgreSQL for our store and DBOS, a web process that only submits,
and a separate `cvsession worker` process that runs the jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cvsession.api.app import Services
from cvsession.config import Settings
from tests.jobs.harness import CLASSIC_PDF, engine_for, new_upload

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_services(tmp_path: Path, postgres_url: str) -> Iterator[Services]:
    svc = Services.open(Settings(data_dir=tmp_path, database_url=postgres_url))
    yield svc
    svc.close()


def test_submit_only_server_and_a_separate_worker_on_postgres(
    tmp_path: Path, postgres_url: str, pg_services: Services
) -> None:
    """Jobs submitted by a process that does not execute are run by a `cvsession worker`
    sharing the PostgreSQL database (store and DBOS) and the data directory."""
    svc = pg_services
    worker = subprocess.Popen(
        [sys.executable, "-m", "cvsession", "worker", "--executor-id", "pg-worker-1",
         "--database-url", postgres_url, "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "CVSESSION_JOBS_CONCURRENCY": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with engine_for(svc, tmp_path, "pg-web", execute=False) as web:
            user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
            cv_job = web.submit_cv_processing(user_id, session_id, upload_id)
            template = web.submit(user_id, session_id, "template-application",
                                  {"template": "classic"}, dependencies=[cv_job])  # fmt: skip
            assert "completed" == web.wait(cv_job, timeout=90).status
            assert "completed" == web.wait(template.id, timeout=60).status
            doc = svc.sessions.get(user_id, session_id).document
            assert "John Doe" == doc["cv"]["basics"]["name"]
            with svc.store.read() as txn:
                workers = {w.executor_id: w.info for w in txn.list_workers()}
            assert {"pg-web", "pg-worker-1"} == set(workers)
            assert (False, True) == (
                workers["pg-web"]["execute"],
                workers["pg-worker-1"]["execute"],
            )
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert 0 == worker.returncode, output[-3000:]
