"""Jobs as DBOS workflows: every phase of every job is one checkpointed step.

`run_job(job_id)` runs the phases of the job's type (`catalogue.JOB_PHASES`): extract → parse →
analyse → generate for a CV, generate alone for a feature or a template. DBOS records each
step's JSON result, so a workflow recovered after a crash replays the finished phases from the
record and re-runs only the one it was in. Steps are at-least-once, hence idempotent: they read
stored inputs, compute, and write the same checkpoint, artifacts and CV again; the language
model's answer is cached per (job, phase) so a re-run never calls it twice.

A phase reports failure as data (`{"error": {code, message, retryable}}`) rather than raising,
so DBOS records it. The workflow retries a retryable failure with exponential backoff (a
durable `DBOS.sleep`) up to the job's `maxRetries`, then fails the job with the classified
error. Pause and cancel are DBOS cancellations (the engine's doing): the workflow stops before
its next step starts, i.e. at the next phase boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS

from cvsession.core import catalogue, model
from cvsession.core.errors import DomainError
from cvsession.core.mutations import Mutation
from cvsession.jobs import phases
from cvsession.jobs.records import JobRecords, complete, is_final
from cvsession.service.sessions import SessionService
from cvsession.service.uploads import UploadService
from cvsession.store import JobRow, Txn

WORKFLOW_NAME = "cvsession.job"
_MESSAGE_LIMIT = 500


@dataclass(slots=True)
class Runtime:
    """What the steps use; bound by `JobEngine.start()` before DBOS launches."""

    sessions: SessionService
    uploads: UploadService
    records: JobRecords
    on_finished: Callable[[str], None]  # dispatch dependants of a job that ended
    # Returns a model parser (`.parse(text) -> JSON Resume`) or None for the rule-based one.
    model_parser: Callable[[], Any]
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    extract_timeout: float = 20.0


_runtime: Runtime | None = None


def bind(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def rt() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the job engine is not started")
    return _runtime


def error_json(exc: BaseException, *, retryable: bool | None = None) -> dict[str, Any]:
    """A classified, bounded error for checkpoints and jobs: {code, message, retryable, ...}."""
    if isinstance(exc, DomainError):
        extra = {k: v for k, v in exc.detail.items() if isinstance(v, str | int | float | bool)}
        flag = bool(extra.pop("retryable", False)) if retryable is None else retryable
        return {**extra, "code": exc.code, "message": exc.message[:_MESSAGE_LIMIT],
                "retryable": flag}  # fmt: skip
    message = f"{type(exc).__name__}: {exc}"[:_MESSAGE_LIMIT]
    return {"code": "unknown", "message": message, "retryable": bool(retryable)}


def checkpoint(
    phase: str,
    state: model.CheckpointState,
    *,
    progress: int,
    partial_result: Any = None,
    retry_count: int = 0,
    last_error: dict[str, Any] | None = None,
    fallback_used: bool = False,
) -> Mutation:
    # Validated as a ProcessingCheckpoint by the mutation, on the way into the document.
    args: dict[str, Any] = {"phase": phase, "state": state.value, "progress": progress,
                            "retryCount": retry_count, "fallbackUsed": fallback_used}  # fmt: skip
    if partial_result is not None:
        args["partialResult"] = partial_result
    if last_error is not None:
        args["lastError"] = last_error
    return Mutation("", 0, "server.checkpoint", args)


def _progress(job: JobRow, phase: str, fraction: float) -> int:
    """Overall job progress when `phase` is `fraction` done."""
    names = catalogue.JOB_PHASES[job.type]
    return min(100, int(100 * (names.index(phase) + fraction) / len(names)))


def begin_phase(job_id: str, phase: str, attempt: int) -> tuple[JobRow, int]:
    """Mark the job running in `phase` (unless paused or cancelled meanwhile)."""

    def fn(job: JobRow) -> JobRow:
        if job.status in ("queued", "running"):
            job.status = "running"
        job.phase = phase
        job.started_at = job.started_at or rt().records.clock()
        job.progress = _progress(job, phase, 0)
        return job

    job = rt().records.load(job_id)
    if job.phase == phase:
        # Begun before and not finished: the process doing it died (a crash re-runs the
        # step) or it failed; a crash counts as one more attempt for the user.
        doc = rt().sessions.get(job.owner_id, job.session_id).document
        previous = doc["processing"]["checkpoints"].get(phase) or {}
        if previous.get("state") == model.CheckpointState.RUNNING:
            attempt = max(attempt, int(previous.get("retryCount") or 0) + 1)
    cp = checkpoint(phase, model.CheckpointState.RUNNING, progress=0, retry_count=attempt)
    return rt().records.change(job_id, fn, cp, known=job), attempt


def end_phase(
    job: JobRow, phase: str, attempt: int, result: phases.PhaseResult, *, last: bool
) -> None:
    """Mark the phase completed and keep its output, together: a step that finished but was
    not recorded by DBOS (paused or killed right after) returns the kept output when re-run.
    The last phase records the job's outcome in the same transaction."""
    now = rt().records.clock()
    job_id = job.id
    outcome = phases.result_summary(job.type, {phase: result.output}) if last else None

    def fn(job: JobRow) -> JobRow:
        job.progress = max(job.progress, _progress(job, phase, 1))
        if last:
            return complete(job, outcome, None, now) or job
        return job

    cp = checkpoint(
        phase,
        model.CheckpointState.COMPLETED,
        progress=100,
        partial_result=result.summary,
        retry_count=attempt,
        last_error=result.fallback,
        fallback_used=result.fallback is not None,
    )
    keep = {"output": result.output}

    def also(txn: Txn) -> None:
        txn.cache_put(job_id, "phase:" + phase, keep, now)
        for artifact in result.artifacts:
            txn.put_artifact(artifact)

    rt().records.change(job_id, fn, *result.mutations, cp, also=also, known=job)
    if last:
        rt().on_finished(job_id)


def fail_phase(job: JobRow, phase: str, attempt: int, error: dict[str, Any]) -> None:
    cp = checkpoint(
        phase, model.CheckpointState.FAILED, progress=0, retry_count=attempt, last_error=error
    )
    rt().records.change(job.id, lambda j: None, cp, known=job)


@DBOS.step(name="cvsession.phase")
def phase_step(
    job_id: str, phase: str, attempt: int, inputs: dict[str, Any], last: bool = False
) -> dict[str, Any]:
    """Run one phase; return {"ok": output} or {"error": classified error}. After the `last`
    phase the job is completed (in the phase's own transaction)."""
    kept = rt().records.cached(job_id, "phase:" + phase)
    if kept is not None:
        if last:  # finished but not recorded, e.g. paused during its last phase
            outcome = phases.result_summary(rt().records.load(job_id).type, {phase: kept["output"]})
            finish(job_id, outcome, None)
        return {"ok": kept["output"]}
    job, attempt = begin_phase(job_id, phase, attempt)
    try:
        result = phases.run(rt(), job, phase, attempt, inputs)
    except Exception as exc:  # classified; an unexpected error is "unknown", not retried
        error = error_json(exc)
        fail_phase(job, phase, attempt, error)
        return {"error": error}
    end_phase(job, phase, attempt, result, last=last)
    return {"ok": result.output}


@DBOS.step(name="cvsession.retry")
def retry_step(job_id: str, attempt: int, error: dict[str, Any]) -> None:
    def fn(job: JobRow) -> JobRow | None:
        if is_final(job):
            return None  # keep the reason it ended (a cancel's own error)
        job.retry_count = max(job.retry_count, attempt)
        job.error = error
        return job

    rt().records.change(job_id, fn)


def finish(job_id: str, result: Any, error: dict[str, Any] | None) -> None:
    """Record the outcome and start the dependants that were waiting for it."""
    now = rt().records.clock()
    rt().records.change(job_id, lambda job: complete(job, result, error, now))
    rt().on_finished(job_id)


@DBOS.step(name="cvsession.finish")
def finish_step(job_id: str, result: Any, error: dict[str, Any] | None) -> None:
    finish(job_id, result, error)


def backoff(job_id: str, attempt: int) -> float:
    """Exponential backoff with a jitter derived from the job (the same on every replay)."""
    base = min(rt().backoff_cap, rt().backoff_base * 2 ** (attempt - 1))
    jitter = hashlib.sha256(f"{job_id}:{attempt}".encode()).digest()[0] / 255
    return float(base * (0.5 + jitter / 2))


@DBOS.workflow(name=WORKFLOW_NAME)
def run_job(job_id: str) -> dict[str, Any]:
    """Run every phase of the job, retrying retryable failures; return the last phase's output."""
    job = rt().records.load(job_id)
    outputs: dict[str, Any] = {}
    names = catalogue.JOB_PHASES[job.type]
    for phase in names:
        attempt = 0
        while True:
            out = phase_step(job_id, phase, attempt, outputs, phase == names[-1])
            if "ok" in out:
                outputs[phase] = out["ok"]
                break
            error = out["error"]
            if not error.get("retryable") or attempt >= job.max_retries:
                error = {**error, "phase": phase, "attempts": attempt + 1}
                finish_step(job_id, None, error)
                return {"error": error}
            attempt += 1
            retry_step(job_id, attempt, error)
            # A rate-limited model says when to come back; never sooner, never over 5 minutes.
            wait = max(backoff(job_id, attempt), float(error.get("retry_after") or 0))
            DBOS.sleep(min(wait, 300.0))
    return phases.result_summary(job.type, outputs)  # recorded by the last phase
