"""Child process for the kill -9 tests: `python -m tests.jobs.crash_child start|resume DIR`.

`start` creates a user, a session with two features on and an upload, submits a CV job and
waits; when the phase named by CVSESSION_TEST_CRASH_PHASE begins, it writes
`DIR/<phase>-started` and sleeps (the parent kills it there). `resume` starts the engine again
on the same data directory and executor id, waits for the job and writes what it finds to
`DIR/result.json`. Every phase run appends its name to `DIR/phase-runs`; every request to the
fake model appends a line to `DIR/model-calls`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from cvsession.jobs import phases
from tests.jobs.harness import (
    CLASSIC_PDF,
    counting_file,
    enable_features,
    engine_for,
    fake_model,
    new_upload,
    open_services,
)

EXECUTOR_ID = os.environ.get("CVSESSION_TEST_EXECUTOR", "crash-test-executor")


def _install_hooks(data_dir: Path, mode: str) -> None:
    real_run = phases.run
    crash_phase = os.environ.get("CVSESSION_TEST_CRASH_PHASE", "")

    def run(rt: Any, job: Any, phase: str, attempt: int, inputs: dict[str, Any]) -> Any:
        with (data_dir / "phase-runs").open("a") as f:
            f.write(phase + "\n")
        if mode == "start" and phase == crash_phase:
            output = real_run(rt, job, phase, attempt, inputs)  # the work is done, not recorded
            (data_dir / f"{phase}-started").write_text(str(os.getpid()))
            time.sleep(3600)
            return output
        return real_run(rt, job, phase, attempt, inputs)

    phases.run = run  # the workflow looks it up on the module at call time


def main(mode: str, data_dir: Path) -> None:
    _install_hooks(data_dir, mode)
    svc = open_services(data_dir)
    model = fake_model(counting_file(data_dir / "model-calls"))
    engine = engine_for(svc, data_dir, EXECUTOR_ID, model_parser=model)
    engine.start()
    ids_file = data_dir / "ids.json"
    if mode == "start":
        user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
        enable_features(svc, user_id, session_id, "ats-optimization", "privacy-mode")
        job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
        ids_file.write_text(json.dumps([user_id, session_id, job_id]))
        time.sleep(3600)
        return
    user_id, session_id, job_id = json.loads(ids_file.read_text())
    job = engine.wait(job_id, timeout=60)
    doc = svc.sessions.get(user_id, session_id).document
    result = {
        "status": job.status,
        "error": job.error,
        "name": (doc["cv"] or {}).get("basics", {}).get("name"),
        "checkpoints": {k: v["state"] for k, v in doc["processing"]["checkpoints"].items()},
        "retries": {k: v["retryCount"] for k, v in doc["processing"]["checkpoints"].items()},
        "artifacts": sorted(a.name for a in engine.records.artifacts(user_id, session_id)),
        "features": {k: v["progress"] for k, v in doc["features"].items()},
    }
    (data_dir / "result.json").write_text(json.dumps(result))
    engine.stop()
    svc.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
