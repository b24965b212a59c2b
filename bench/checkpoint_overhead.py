"""Benchmark: the CV pipeline as checkpointed DBOS jobs vs the same phases called directly.

For each sample CV (../shared/testdata/resumes) and `--rounds` rounds, in one run:

- direct: extract_text → parse_resume → analyse → every generated feature → HTML for each
  template and the JSON Resume export, plain function calls;
- jobs: the same work as a `cv-processing` job on the embedded engine (SQLite store, DBOS on
  SQLite), with every checkpoint, job-row change, session mutation and artifact written.

Prints per-file medians and the overhead of checkpointing: job execution time (started →
completed, as recorded by the job) against direct time, and end to end (submit → completed,
which adds the queue's polling delay). Goal: execution overhead < 5% of pipeline time.

Direct and job runs differ by several per cent from run to run (the job extracts in a capped
subprocess, the direct run in-process; the machine is shared), which is as large as the
overhead. So the bench also times the phases inside each job (`phases.run`, the work
itself) and prints what the job spent outside them — checkpoints, DBOS steps, the job row —
per job and as a share of the phases' time: the same overhead, without the noise of
comparing two separate runs.

Usage: .venv/bin/python bench/checkpoint_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.jobs.harness import (  # noqa: E402
    RESUMES,
    enable_features,
    engine_for,
    new_upload,
    open_services,
)

from cvsession.core import catalogue  # noqa: E402
from cvsession.jobs import phases  # noqa: E402
from cvsession.processing import analyse, extract, features, parse, render  # noqa: E402

FEATURES = ("ats-optimization", "privacy-mode", "embed-qr-code")


def direct(data: bytes) -> float:
    start = time.perf_counter()
    text = extract.extract_text(data).text
    cv = parse.parse_resume(text)
    analysis = analyse.analyse(cv)
    artifacts: dict[str, Any] = {}
    for fid in (f for f in catalogue.GENERATED_FEATURES if f in FEATURES):
        out = features.generate_feature(fid, cv, analysis, {})
        cv = out["cv"]
        artifacts.update(out["artifacts"])
    for tid in catalogue.TEMPLATES:
        render.render_html(cv, tid, None, artifacts=artifacts)
    render.export_json_resume(cv)
    return time.perf_counter() - start


def time_phases() -> dict[str, float]:
    """Wrap `phases.run` (as the pipeline calls it) to add each call's time to its job's total."""
    spent: dict[str, float] = {}
    real_run = phases.run

    def timed(rt: Any, job: Any, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return real_run(rt, job, *args)
        finally:
            spent[job.id] = spent.get(job.id, 0.0) + time.perf_counter() - start

    phases.run = timed  # type: ignore[assignment]
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    files = sorted(p for p in RESUMES.iterdir() if p.suffix in (".pdf", ".docx"))
    rows = []
    in_phases = time_phases()
    outside: list[tuple[float, float]] = []  # (job time outside its phases, inside), seconds
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        svc = open_services(data_dir)
        with engine_for(svc, data_dir, "bench", polling_interval=0.05) as engine:
            for path in files:
                data = path.read_bytes()
                direct(data)  # warm the imports and the file cache
                plain, executed, end_to_end = [], [], []
                for _ in range(args.rounds):
                    plain.append(direct(data))
                    user_id, session_id, upload_id = new_upload(svc, path.name, data)
                    enable_features(svc, user_id, session_id, "ats-optimization", "privacy-mode")
                    svc.sessions.command(
                        user_id, session_id, "feature.toggle",
                        {"feature": "embed-qr-code", "enabled": True},
                    )  # fmt: skip
                    start = time.perf_counter()
                    job = engine.wait(
                        engine.submit_cv_processing(user_id, session_id, upload_id), timeout=120
                    )
                    end_to_end.append(time.perf_counter() - start)
                    assert job.status == "completed", job.error
                    assert job.started_at is not None and job.completed_at is not None
                    took = (job.completed_at - job.started_at).total_seconds()
                    executed.append(took)
                    outside.append((took - in_phases[job.id], in_phases[job.id]))
                rows.append(
                    (path.name, statistics.median(plain), statistics.median(executed),
                     statistics.median(end_to_end))
                )  # fmt: skip
        svc.close()
    print(f"{'file':34} {'direct ms':>10} {'job exec ms':>12} {'overhead':>9} "
          f"{'submit→done ms':>15} {'overhead':>9}")  # fmt: skip
    for name, plain_s, exec_s, e2e_s in rows:
        print(
            f"{name:34} {plain_s * 1000:10.1f} {exec_s * 1000:12.1f} "
            f"{(exec_s / plain_s - 1) * 100:8.1f}% {e2e_s * 1000:15.1f} "
            f"{(e2e_s / plain_s - 1) * 100:8.1f}%"
        )
    total_plain = sum(r[1] for r in rows)
    total_exec = sum(r[2] for r in rows)
    total_e2e = sum(r[3] for r in rows)
    exec_overhead = (total_exec / total_plain - 1) * 100
    print(
        f"{'all':34} {total_plain * 1000:10.1f} {total_exec * 1000:12.1f} {exec_overhead:8.1f}% "
        f"{total_e2e * 1000:15.1f} {(total_e2e / total_plain - 1) * 100:8.1f}%"
    )
    out_ms = statistics.median(o for o, _ in outside) * 1000
    share = sum(o for o, _ in outside) / sum(i for _, i in outside) * 100
    print(
        f"inside the jobs ({len(outside)}): outside the phases median {out_ms:.1f} ms per job, "
        f"{share:.1f}% of the time in the phases (job times are recorded to the millisecond)"
    )
    verdict = "meets" if exec_overhead < 5 else "misses"
    print(f"goal      checkpoint overhead < 5% of pipeline time (execution): {verdict}")
    verdict = "meets" if share < 5 else "misses"
    print(f"goal      checkpoint overhead < 5% of pipeline time (inside the jobs): {verdict}")


if __name__ == "__main__":
    main()
