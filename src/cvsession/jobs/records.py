"""The product's view of jobs: rows in our `jobs` table, mirrored into the session document.

Every change to a job row is made in one transaction with a `server.job` mutation that copies
the job's summary to `/processing/jobs/{id}`, so every connected client sees queued → running →
completed (with progress and phase) through the normal sync path. Nothing here knows about
DBOS: the engine decides when a job runs; this module keeps what the user sees and controls.
"""

from __future__ import annotations

import dataclasses
import statistics
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cvsession.core import catalogue
from cvsession.core.document import iso
from cvsession.core.errors import DomainError, InvalidInput, NotFound
from cvsession.core.mutations import Mutation
from cvsession.service.sessions import SessionService
from cvsession.store import FINAL_JOB_STATUSES, ArtifactRow, JobRow, Txn

MAX_DEPENDENCIES = 32
# Unfinished jobs one session may have: past it a new job is refused (429), so a loop in a
# client cannot fill the queue.
MAX_UNFINISHED_PER_SESSION = 20
MAX_RETRIES_LIMIT = 10
# Enough real runs before the median of them replaces the catalogue's estimate.
MIN_SAMPLES = 5


class DependencyFailed(DomainError):
    code = "dependency_failed"
    status = 409


class TooManyJobs(DomainError):
    code = "too_many_jobs"
    status = 429


class JobFinished(DomainError):
    code = "job_finished"
    status = 409


def job_json(job: JobRow) -> dict[str, Any]:
    """The job as clients see it (document mirror and HTTP): the JSON form of `model.Job`.

    Built directly (the `server.job` mutation validates it as a `model.Job` on the way into
    the document): this runs at every phase boundary.
    """
    return {
        "id": job.id,
        "sessionId": job.session_id,
        "type": job.type,
        "status": job.status,
        "priority": job.priority,
        "dependencies": list(job.dependencies),
        "retryCount": job.retry_count,
        "maxRetries": job.max_retries,
        "progress": job.progress,
        "estimatedDurationMs": job.estimated_duration_ms,
        "createdAt": iso(job.created_at),
        "startedAt": None if job.started_at is None else iso(job.started_at),
        "completedAt": None if job.completed_at is None else iso(job.completed_at),
        "error": job.error,
        "resultRef": job.id if job.status == "completed" else None,
        "phase": job.phase or None,
    }


def _mirror(job: JobRow) -> Mutation:
    return Mutation("", 0, "server.job", {"job": job_json(job)})


def _session_status(txn: Txn, before: JobRow, after: JobRow) -> list[Mutation]:
    """The session is `processing` while any of its jobs runs (see `server.processing`)."""
    if after.status == "running" and before.status != "running":
        return [Mutation("", 0, "server.processing", {"active": True})]
    if before.status == "running" and after.status != "running":
        others = [j for j in txn.list_jobs(after.session_id, unfinished=True) if j.id != after.id]
        if not any(j.status == "running" for j in others):
            return [Mutation("", 0, "server.processing", {"active": False})]
    return []


def batch(mutations: list[Mutation]) -> Mutation:
    """One server mutation applying `mutations` in order (one version, one log entry)."""
    if len(mutations) == 1:
        return mutations[0]
    parts = [{"name": m.name, "args": m.args} for m in mutations]
    return Mutation("", 0, "server.batch", {"mutations": parts})


class JobRecords:
    def __init__(self, sessions: SessionService, clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.store = sessions.store
        self.clock = clock

    # reads -------------------------------------------------------------------------------------
    def get(self, user_id: str, session_id: str, job_id: str) -> JobRow:
        """The job if it is in this session of this user; NotFound otherwise."""
        with self.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            job = txn.get_job(job_id)
        if job is None or job.session_id != session_id or job.owner_id != user_id:
            raise NotFound("no such job", job_id=job_id[:80])
        return job

    def load(self, job_id: str) -> JobRow:
        """The job by id, for the engine (no owner check)."""
        with self.store.read() as txn:
            job = txn.get_job(job_id)
        if job is None:
            raise NotFound("no such job", job_id=job_id[:80])
        return job

    def list_jobs(
        self, user_id: str, session_id: str, *, limit: int = 100, unfinished: bool = False
    ) -> list[JobRow]:
        """The session's newest `limit` jobs, oldest first."""
        with self.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            return txn.list_jobs(session_id, limit=limit, unfinished=unfinished)

    def artifacts(self, user_id: str, session_id: str, *, limit: int = 200) -> list[ArtifactRow]:
        """The session's newest generated files, oldest first, without content."""
        with self.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            return txn.list_artifacts(session_id, limit=limit)

    def artifact(self, user_id: str, session_id: str, artifact_id: str) -> ArtifactRow:
        with self.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            art = txn.get_artifact(artifact_id)
        if art is None or art.session_id != session_id:
            raise NotFound("no such artifact", artifact_id=artifact_id[:80])
        return art

    def estimate_ms(self, job_type: str) -> int:
        """Median of recorded run times once there are enough, the catalogue's figure before."""
        with self.store.read() as txn:
            durations = txn.job_durations(job_type)
        if len(durations) >= MIN_SAMPLES:
            return int(statistics.median(durations))
        return catalogue.JOB_ESTIMATED_MS[job_type]

    # writes ------------------------------------------------------------------------------------
    def create(
        self,
        user_id: str,
        session_id: str,
        job_type: str,
        params: dict[str, Any],
        *,
        priority: int = 0,
        dependencies: Sequence[str] = (),
        max_retries: int = 3,
        reset_checkpoints: bool = False,
        dispatched: bool = False,
    ) -> JobRow:
        """Record a queued job. Dependencies must be jobs of the same session (else NotFound);
        one that already failed or was cancelled refuses the new job (DependencyFailed).
        `dispatched` records it as claimed for handing over already (see `JobEngine._enqueue`)."""
        if job_type not in catalogue.JOB_PHASES:
            raise InvalidInput(f"unknown job type {job_type!r}", path="/type")
        if len(dependencies) > MAX_DEPENDENCIES or len(set(dependencies)) != len(dependencies):
            raise InvalidInput(f"at most {MAX_DEPENDENCIES} distinct dependencies")
        if not 0 <= max_retries <= MAX_RETRIES_LIMIT:
            raise InvalidInput(f"maxRetries must be within 0..{MAX_RETRIES_LIMIT}")
        now = self.clock()
        job = JobRow(
            id="job_" + uuid.uuid4().hex,
            session_id=session_id,
            owner_id=user_id,
            type=job_type,
            status="queued",
            priority=priority,
            params=params,
            created_at=now,
            updated_at=now,
            dependencies=tuple(dependencies),
            max_retries=max_retries,
            estimated_duration_ms=self.estimate_ms(job_type),
            dispatched=dispatched,
        )

        def unit(txn: Txn) -> tuple[JobRow, list[Mutation]]:
            self.sessions.owned(txn, user_id, session_id)
            unfinished = txn.list_jobs(session_id, unfinished=True)
            if len(unfinished) >= MAX_UNFINISHED_PER_SESSION:
                raise TooManyJobs(
                    f"this session already has {len(unfinished)} unfinished jobs; wait for "
                    "them or cancel some",
                    limit=MAX_UNFINISHED_PER_SESSION,
                )
            for dep_id in job.dependencies:
                dep = txn.get_job(dep_id)
                if dep is None or dep.session_id != session_id:
                    raise NotFound("no such job", job_id=dep_id[:80])
                if dep.status in ("failed", "cancelled"):
                    raise DependencyFailed(
                        f"job {dep_id} it depends on is {dep.status}", job_id=dep_id
                    )
            txn.insert_job(job)
            mutations = [_mirror(job)]
            if reset_checkpoints:
                mutations.append(Mutation("", 0, "server.checkpointsReset", {"type": job_type}))
            return job, [batch(mutations)]

        return self.sessions.transact(user_id, session_id, unit)

    def change(
        self,
        job_id: str,
        fn: Callable[[JobRow], JobRow | None],
        *extra: Mutation,
        also: Callable[[Txn], None] | None = None,
        then: Callable[[JobRow], Sequence[Mutation]] | None = None,
        known: JobRow | None = None,
    ) -> JobRow:
        """Apply `fn` to the locked row (None: leave it) and mirror it, with `extra` mutations,
        those `then(row)` returns for the row as changed (applied last), and `also(txn)`, all in
        the same transaction. `known` (the job as read before) saves a read of its session and
        owner."""
        job = known if known is not None and known.id == job_id else self.load(job_id)

        def unit(txn: Txn) -> tuple[JobRow, list[Mutation]]:
            current = txn.get_job(job_id, for_update=True)
            if current is None:
                raise NotFound("no such job", job_id=job_id[:80])
            if also is not None:
                also(txn)
            new = fn(dataclasses.replace(current))
            after = list(then(new or current)) if then is not None else []
            if new is None:
                return current, [batch([*extra, *after])] if extra or after else []
            new.updated_at = self.clock()
            txn.update_job(new)
            # `then`'s mutations see the session's status as the job's change leaves it.
            status = _session_status(txn, current, new)
            return new, [batch([_mirror(new), *extra, *status, *after])]

        return self.sessions.transact(job.owner_id, job.session_id, unit)

    def ready(self, job: JobRow) -> bool | None:
        """True when every dependency completed, None when one failed or was cancelled."""
        with self.store.read() as txn:
            for dep_id in job.dependencies:
                dep = txn.get_job(dep_id)
                if dep is None or dep.status in ("failed", "cancelled"):
                    return None
                if dep.status != "completed":
                    return False
        return True

    def dependants(self, job_id: str) -> list[JobRow]:
        with self.store.read() as txn:
            return txn.dependants(job_id)

    def undispatched(self, limit: int = 500) -> list[JobRow]:
        """Queued jobs never handed to the engine, oldest first."""
        with self.store.read() as txn:
            return txn.jobs_with_status(("queued",), limit, dispatched=False)

    def dispatched_unfinished(self, limit: int = 500) -> list[JobRow]:
        """Handed-over jobs that have not ended, least recently changed first."""
        with self.store.read() as txn:
            return txn.jobs_with_status(("queued", "running", "paused"), limit, dispatched=True)

    def load_kept(self, job_id: str, keys: Sequence[str]) -> tuple[JobRow, list[Any]]:
        """The job by id and the values cached for `keys`, in order up to the first key that
        has none, in one read."""
        kept: list[Any] = []
        with self.store.read() as txn:
            job = txn.get_job(job_id)
            for key in keys:
                value = txn.cache_get(job_id, key)
                if value is None:
                    break
                kept.append(value)
        if job is None:
            raise NotFound("no such job", job_id=job_id[:80])
        return job, kept

    def cache(self, job_id: str, key: str, compute: Callable[[], Any]) -> Any:
        """The value cached for (job, key), computing and storing it on first use."""
        with self.store.read() as txn:
            cached = txn.cache_get(job_id, key)
        if cached is not None:
            return cached
        value = compute()
        now = self.clock()
        self.sessions.writer.run(lambda txn: txn.cache_put(job_id, key, value, now))
        with self.store.read() as txn:
            return txn.cache_get(job_id, key)  # the first stored value wins


def is_final(job: JobRow) -> bool:
    return job.status in FINAL_JOB_STATUSES


def complete(
    job: JobRow, result: Any, error: dict[str, Any] | None, now: datetime
) -> JobRow | None:
    """The job with its outcome recorded (failed with `error`, else completed with `result`);
    None if it already ended (a cancel won the race).

    A job paused during its last phase ends too: there is no phase boundary left to stop at.
    """
    if is_final(job):
        return None
    job.status = "failed" if error is not None else "completed"
    job.error = error
    job.result = result
    job.progress = 100 if error is None else job.progress
    job.completed_at = now
    job.control = ""
    return job


def finished_error(job: JobRow) -> JobFinished:
    return JobFinished(f"the job is already {job.status}", job_id=job.id, status=job.status)
