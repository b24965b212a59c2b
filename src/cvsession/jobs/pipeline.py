"""Jobs as DBOS workflows whose phases are checkpointed in our store.

`run_job(job_id)` runs the phases of the job's type (`catalogue.JOB_PHASES`): extract → parse →
analyse → generate for a CV, generate alone for a feature or a template. One DBOS step runs
them in order; the transaction that ends a phase (completed checkpoint, effects, and the phase's
output, kept) also begins the next one, so our store is written once per phase boundary and
DBOS once per run. A run that comes back (after a crash, a pause or a failure) takes the kept
outputs of the finished phases and re-runs only the one it was in. Steps are at-least-once,
hence idempotent: they read stored inputs, compute, and write the same checkpoint, artifacts
and CV again; the language model's answer is cached per job so a re-run never calls it twice.

A phase reports failure as data (`{"error": {code, message, retryable}, "phase": name}`)
rather than raising, so DBOS records it. The workflow retries a retryable failure with
exponential backoff (a durable `DBOS.sleep`) up to the job's `maxRetries`, then fails the job
with the classified error. Pause and cancel change our row, then cancel the workflow (the
engine's doing); a run stops at the next phase boundary when its row says so, and never starts
a phase for a paused or finished job (even if DBOS lost the cancellation: docs/decisions/0017).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
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
    # Jobs whose next phase this process began at the end of the previous one (which phase).
    begun: dict[str, str] = field(default_factory=dict)
    # Writes a step does not wait for (`begin_phase`).
    background: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="cvsession-job-begin")
    )


_runtime: Runtime | None = None


def bind(runtime: Runtime | None) -> None:
    """Make `runtime` the one steps use; the one it replaces finishes its pending writes."""
    global _runtime
    previous, _runtime = _runtime, runtime
    if previous is not None and previous is not runtime:
        previous.background.shutdown(wait=True)


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


def _begin(phase: str, now: datetime) -> Callable[[JobRow], JobRow]:
    def fn(job: JobRow) -> JobRow:
        if job.status in ("queued", "running"):
            job.status = "running"
        job.phase = phase
        job.started_at = job.started_at or now
        job.progress = _progress(job, phase, 0)
        return job

    return fn


def begin_phase(job: JobRow, phase: str, attempt: int) -> tuple[int, Future[JobRow] | None]:
    """Mark the job running in `phase` (unless paused or cancelled meanwhile), if the end of
    the previous phase has not already; return the attempt and the write, if any.

    The phase does not wait for that write: nothing depends on it being durable first (a
    crash before it commits only leaves the attempt uncounted). The job's next write waits
    for it, so the two commit in order. Only a begin that marks features `processing` is
    waited for: the phase may write an error to one of them.
    """
    if rt().begun.pop(job.id, None) == phase:
        if job.status == "running" and job.phase == phase:
            return attempt, None
        # Begun, then paused and resumed before the phase started: begin it again, no retry.
    elif job.phase == phase:
        # Begun before and not finished: the process doing it died (a crash re-runs the
        # step) or it failed; a crash counts as one more attempt for the user.
        doc = rt().sessions.get(job.owner_id, job.session_id).document
        previous = doc["processing"]["checkpoints"].get(phase) or {}
        if previous.get("state") == model.CheckpointState.RUNNING:
            attempt = max(attempt, int(previous.get("retryCount") or 0) + 1)
    cp = checkpoint(phase, model.CheckpointState.RUNNING, progress=0, retry_count=attempt)
    starting = phases.starting(job, phase)
    write = partial(
        rt().records.change, job.id, _begin(phase, rt().records.clock()), cp, *starting, known=job
    )
    if starting:
        write()
        return attempt, None
    return attempt, rt().background.submit(write)


def end_phase(
    job: JobRow,
    phase: str,
    attempt: int,
    result: phases.PhaseResult,
    following: str | None,
    after: Future[JobRow] | None = None,
) -> tuple[JobRow, bool]:
    """Mark the phase completed and keep its output, together: a run of the job that comes
    back to this phase (after a crash, pause or retry) takes the kept output instead.

    One transaction per phase boundary: it also begins the `following` phase (unless the job
    is no longer running or a pause or cancel was asked for), or after the last phase records
    the job's outcome. Written `after` the phase's begin. Returns the job as written and
    whether `following` was begun.
    """
    if after is not None:
        after.result()
    now = rt().records.clock()
    job_id = job.id
    outcome = phases.result_summary(job.type, {phase: result.output}) if following is None else None
    began = False

    ended = False

    def fn(job: JobRow) -> JobRow:
        nonlocal began, ended
        job.progress = max(job.progress, _progress(job, phase, 1))
        if following is None:
            done = complete(job, outcome, None, now)
            ended = done is not None
            return done or job
        began = job.status == "running" and not job.control
        if began:
            job.phase = following
        return job

    def then(job: JobRow) -> list[Mutation]:
        if ended:
            return phases.completed(job)
        if not began or following is None:
            return []
        cp = checkpoint(following, model.CheckpointState.RUNNING, progress=0, retry_count=0)
        return [cp, *phases.starting(job, following)]

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

    job = rt().records.change(job_id, fn, *result.mutations, cp, also=also, then=then, known=job)
    if following is None:
        rt().on_finished(job_id)
    elif began:
        rt().begun[job_id] = following
    return job, began


def fail_phase(
    job: JobRow,
    phase: str,
    attempt: int,
    error: dict[str, Any],
    after: Future[JobRow] | None = None,
) -> None:
    if after is not None:
        after.result()
    cp = checkpoint(
        phase, model.CheckpointState.FAILED, progress=0, retry_count=attempt, last_error=error
    )
    rt().records.change(job.id, lambda j: None, cp, known=job)


@DBOS.step(name="cvsession.phases")
def phases_step(job_id: str, names: list[str], attempts: dict[str, int]) -> dict[str, Any]:
    """Run the job's phases `names` from the first one whose output is not kept, to the end.

    Each phase is checkpointed in our store (`end_phase`); between two phases the run stops if
    our row says the job was paused or has ended (the engine writes the row before it cancels
    the workflow). `attempts` counts each phase's earlier failures. Returns {"ok": the job's
    result}, {"error": classified error, "phase": name}, or {"stopped": the job's status}.
    """
    job, kept = rt().records.load_kept(job_id, ["phase:" + name for name in names])
    outputs = {name: value["output"] for name, value in zip(names, kept, strict=False)}
    todo = names[len(kept) :]
    if not todo:
        # All finished, the last one just before a crash or a pause: its end recorded the
        # outcome; this makes sure and starts the dependants (the crash may have come first).
        summary = phases.result_summary(job.type, outputs)
        finish(job_id, summary, None)
        return {"ok": summary}
    if job.status == "paused" or is_final(job):
        # Paused or ended before this run: the workflow was, or is about to be, cancelled,
        # unless DBOS lost the cancellation (docs/decisions/0017). Start nothing.
        return _stop(job)
    attempt, write = begin_phase(job, todo[0], attempts.get(todo[0], 0))
    for i, phase in enumerate(todo):
        following = todo[i + 1] if i + 1 < len(todo) else None
        if i:
            attempt, write = attempts.get(phase, 0), None  # begun by the previous phase's end
            rt().begun.pop(job_id, None)
        try:
            result = phases.run(rt(), job, phase, attempt, outputs)
        except Exception as exc:  # classified; an unexpected error is "unknown", not retried
            error = error_json(exc)
            fail_phase(job, phase, attempt, error, write)
            return {"error": error, "phase": phase}
        job, began = end_phase(job, phase, attempt, result, following, write)
        outputs[phase] = result.output
        if following is None:
            return {"ok": phases.result_summary(job.type, outputs)}
        if not began:
            return _stop(job)
    raise AssertionError("unreachable: the last phase returns")


def _stop(job: JobRow) -> dict[str, Any]:
    """Stop a run at a phase boundary. A paused job's workflow is cancelled by the pause, not
    here: this run's view of the row may be stale (the job may be resumed already, and a
    cancellation now would cancel the resumed workflow)."""
    return {"stopped": job.status}


@DBOS.step(name="cvsession.retry")
def retry_step(job_id: str, attempt: int, error: dict[str, Any]) -> None:
    def fn(job: JobRow) -> JobRow | None:
        if is_final(job):
            return None  # keep the reason it ended (a cancel's own error)
        job.retry_count = max(job.retry_count, attempt)
        job.error = error
        return job

    rt().records.change(job_id, fn)


def record_outcome(
    records: JobRecords, job_id: str, result: Any, error: dict[str, Any] | None
) -> JobRow:
    """Record the job's outcome (unless it already ended), with what the document records
    when a job completes (`phases.completed`), in one transaction."""
    now = records.clock()
    ended = False

    def fn(job: JobRow) -> JobRow | None:
        nonlocal ended
        done = complete(job, result, error, now)
        ended = done is not None
        return done

    def then(job: JobRow) -> list[Mutation]:
        return phases.completed(job) if ended else []

    return records.change(job_id, fn, then=then)


def finish(job_id: str, result: Any, error: dict[str, Any] | None) -> None:
    """Record the outcome and start the dependants that were waiting for it."""
    record_outcome(rt().records, job_id, result, error)
    rt().begun.pop(job_id, None)
    rt().on_finished(job_id)


@DBOS.step(name="cvsession.finish")
def finish_step(job_id: str, result: Any, error: dict[str, Any] | None) -> None:
    finish(job_id, result, error)


def backoff(job_id: str, attempt: int) -> float:
    """Exponential backoff with a jitter derived from the job (the same on every replay)."""
    base = min(rt().backoff_cap, rt().backoff_base * 2 ** (attempt - 1))
    jitter = hashlib.sha256(f"{job_id}:{attempt}".encode()).digest()[0] / 255
    return float(base * (0.5 + jitter / 2))


# How long a run that found its job paused waits before it looks again (see `run_job`).
PAUSED_POLL_SECONDS = 2.0


@DBOS.workflow(name=WORKFLOW_NAME)
def run_job(job_id: str) -> dict[str, Any]:
    """Run the job's phases, retrying retryable failures; return the job's result."""
    job = rt().records.load(job_id)
    names = list(catalogue.JOB_PHASES[job.type])
    attempts: dict[str, int] = {}
    while True:
        out = phases_step(job_id, names, attempts)
        if "ok" in out:
            return dict(out["ok"])  # recorded by the last phase
        if out.get("stopped") == "paused":
            # The pause cancelled this workflow, so the sleep raises; after resume the run goes
            # on. Should DBOS have lost the cancellation, `reconcile` cancels the workflow of a
            # paused row: this waits for it rather than spinning (docs/decisions/0017).
            DBOS.sleep(PAUSED_POLL_SECONDS)
            continue
        if "stopped" in out:
            return {"stopped": out["stopped"]}  # the job ended without this workflow
        error, phase = out["error"], str(out["phase"])
        attempt = attempts.get(phase, 0)
        if not error.get("retryable") or attempt >= job.max_retries:
            error = {**error, "phase": phase, "attempts": attempt + 1}
            finish_step(job_id, None, error)
            return {"error": error}
        attempts = {**attempts, phase: attempt + 1}
        retry_step(job_id, attempt + 1, error)
        # A rate-limited model says when to come back; never sooner, never over 5 minutes.
        wait = max(backoff(job_id, attempt + 1), float(error.get("retry_after") or 0))
        DBOS.sleep(min(wait, 300.0))
