"""`JobEngine`: our interface to durable background jobs, executed by DBOS Transact.

Two sources of truth with one job each. Our `jobs` table (store/jobs.py, through `JobRecords`)
holds what the user sees and controls: status, priority, dependencies, retries, progress,
errors, pause/cancel requests. DBOS holds execution: a job whose dependencies have all completed
is enqueued as the workflow `run_job` with the job id as its workflow id (so enqueueing twice is
harmless), its priority, and the session as queue partition (a session's jobs run one at a
time, lower priority numbers first). DBOS keeps its state in `<data dir>/dbos.sqlite`, or in
the PostgreSQL database of the store (schema `dbos`).

DBOS is a process-wide singleton: one started engine per process; `stop()` destroys it so a
test or a restart in the same process can start another.

Recovery. A process that restarts with the same `executor_id` recovers its own unfinished
workflows (DBOS). Every engine also writes a heartbeat row; a live engine that sees another
executor's heartbeat older than `dead_after` seconds recovers that executor's workflows (the
reaper), so a worker that never comes back loses nothing. A sweep also dispatches queued jobs
whose dependencies completed (a crash between a job's end and its dependants' dispatch).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from dbos import DBOS, DBOSConfig, SetEnqueueOptions, SetWorkflowID

from cvsession import __version__
from cvsession.core.errors import InvalidInput
from cvsession.jobs import pipeline
from cvsession.jobs.records import (
    JobFinished,
    JobRecords,
    finished_error,
    is_final,
)
from cvsession.processing import llm
from cvsession.service.sessions import SessionService
from cvsession.service.uploads import UploadService
from cvsession.store import JobRow, Txn, WorkerRow

log = logging.getLogger(__name__)
APP_NAME = "cvsession"
QUEUE = "cvsession-jobs"
MAX_PRIORITY = 2**31 - 1
_lock = threading.Lock()
_running: JobEngine | None = None  # DBOS is global: at most one started engine per process


def default_model_parser() -> Any:
    return llm.ClaudeParser() if llm.model_configured() else None


def dbos_location(store_url: str, data_dir: Path) -> tuple[str, str]:
    """DBOS's system database and schema: a SQLite file beside ours, or our PostgreSQL
    database with the schema `dbos` (`<schema>_dbos` when the store URL selects a schema)."""
    if store_url.startswith(("postgresql://", "postgres://")):
        base, _, query = store_url.partition("?")
        params = urllib.parse.parse_qs(query)
        schema = params.get("schema", [""])[0]
        return "postgresql+psycopg://" + base.split("://", 1)[1], (
            f"{schema}_dbos" if schema else "dbos"
        )
    return f"sqlite:///{data_dir / 'dbos.sqlite'}", "dbos"


class JobEngine:
    """Durable job execution; usable as `with JobEngine(...)` or with `start()` / `stop()`."""

    def __init__(
        self,
        data_dir: Path,
        sessions: SessionService,
        uploads: UploadService,
        *,
        executor_id: str = "local",
        database_url: str | None = None,
        app_version: str = __version__,
        execute: bool = True,
        polling_interval: float = 0.1,
        concurrency: int = 2,
        heartbeat_seconds: float = 5.0,
        dead_after: float = 30.0,
        backoff_base: float = 1.0,
        extract_timeout: float = 20.0,
        model_parser: Callable[[], Any] = default_model_parser,
    ) -> None:
        """`executor_id` must be the same after a restart for its pending work to be recovered
        (the reaper covers one that never restarts); `app_version` must match between the
        process that started a job and the one resuming it. `execute=False` only submits and
        controls jobs (a web server in front of separate workers)."""
        self.data_dir = data_dir
        self.sessions = sessions
        self.uploads = uploads
        self.records = JobRecords(sessions, sessions.clock)
        self.executor_id = executor_id
        default_url, self.dbos_schema = dbos_location(sessions.store.url, data_dir)
        self.database_url = database_url or default_url
        self.app_version = app_version
        self.execute = execute
        self.polling_interval = polling_interval
        self.concurrency = concurrency
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_after = dead_after
        self.backoff_base = backoff_base
        self.extract_timeout = extract_timeout
        self.model_parser = model_parser
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._finished: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._started_at = datetime.now(UTC)

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Launch DBOS, recover this executor's pending jobs, start heartbeats and sweeps."""
        global _running
        with _lock:
            if _running is not None:
                raise RuntimeError("a JobEngine is already running in this process")
            self.data_dir.mkdir(parents=True, exist_ok=True)
            pipeline.bind(
                pipeline.Runtime(
                    self.sessions,
                    self.uploads,
                    self.records,
                    self._job_finished,
                    self.model_parser,
                    backoff_base=self.backoff_base,
                    extract_timeout=self.extract_timeout,
                )
            )
            config: DBOSConfig = {
                "name": APP_NAME,
                "system_database_url": self.database_url,
                "dbos_system_schema": self.dbos_schema,
                "executor_id": self.executor_id,
                "application_version": self.app_version,
                "log_level": "WARNING",
                "notification_listener_polling_interval_sec": self.polling_interval,
            }
            if self.database_url.startswith("sqlite:///"):
                config["db_engine_kwargs"] = {"connect_args": {"factory": _SystemConnection}}
            self._prepare_sqlite()
            DBOS(config=config)
            try:
                if not self.execute:
                    DBOS.listen_queues([])
                DBOS.launch()
                # 3.x: queues are registered after launch.
                DBOS.register_queue(
                    QUEUE,
                    worker_concurrency=self.concurrency,
                    partition_concurrency=1,
                    polling_interval_sec=self.polling_interval,
                )
            except BaseException:
                DBOS.destroy()
                pipeline.bind(None)
                raise
            _running = self
        self._stop.clear()
        self._beat()
        self._thread = threading.Thread(target=self._loop, name="cvsession-jobs", daemon=True)
        self._thread.start()

    def _prepare_sqlite(self) -> None:
        """Put DBOS's SQLite file in WAL mode (it persists in the file) before DBOS opens it.

        DBOS leaves SQLite in its default rollback-journal mode, where a writer blocks every
        reader; several processes share this file (servers and workers), and WAL lets them
        read beside the writer. Its connections use synchronous=NORMAL (`_SystemConnection`).
        """
        if not self.database_url.startswith("sqlite:///"):
            return
        path = self.database_url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop executing; unfinished jobs stay pending and resume on the next `start()`."""
        global _running
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with _lock:
            if _running is not self:
                return
            DBOS.destroy()
            pipeline.bind(None)
            _running = None

    def __enter__(self) -> JobEngine:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # submitting --------------------------------------------------------------------------------
    def submit(
        self,
        user_id: str,
        session_id: str,
        job_type: str,
        params: dict[str, Any],
        *,
        priority: int = 0,
        dependencies: Sequence[str] = (),
        max_retries: int = 3,
    ) -> JobRow:
        """Record a job and start it as soon as its dependencies have completed.

        Lower `priority` runs first within the session. Raises NotFound for a foreign session
        or dependency, DependencyFailed when a dependency already failed or was cancelled.
        """
        if not 0 <= priority <= MAX_PRIORITY:
            raise InvalidInput(f"priority must be within 0..{MAX_PRIORITY}")
        job = self.records.create(
            user_id,
            session_id,
            job_type,
            params,
            priority=priority,
            dependencies=dependencies,
            max_retries=max_retries,
            reset_checkpoints=job_type == "cv-processing",
            # Nothing to wait for: claimed as it is recorded (one commit fewer than `_enqueue`).
            dispatched=not dependencies,
        )
        if job.dispatched:
            self._hand_over(job)
        else:
            self._dispatch_if_ready(job)
        return self.records.load(job.id)

    def submit_cv_processing(
        self, user_id: str, session_id: str, upload_id: str, *, priority: int = 0
    ) -> str:
        """Queue extract → parse → analyse → generate for an upload; return the job id."""
        self.uploads.get(user_id, session_id, upload_id)
        job = self.submit(
            user_id, session_id, "cv-processing", {"uploadId": upload_id}, priority=priority
        )
        return job.id

    def _dispatch_if_ready(self, job: JobRow) -> None:
        if job.status != "queued" or job.control or job.dispatched:
            return
        ready = self.records.ready(job)
        if ready is None:
            self._fail_dependant(job)
        elif ready:
            self._enqueue(job)

    def _enqueue(self, job: JobRow) -> None:
        """Claim the job (queued, no pause or cancel asked for), then hand it to DBOS.

        Claiming first means one process enqueues it; a crash between the claim and the
        enqueue is repaired by `reconcile`. A pause or cancel that lands while the job is
        being enqueued is caught by the re-read after it (pause and cancel always cancel the
        workflow, which is a no-op while it does not exist yet).
        """
        claimed = False

        def claim(j: JobRow) -> JobRow | None:
            nonlocal claimed
            if j.status != "queued" or j.control or j.dispatched:
                return None
            j.dispatched = claimed = True
            return j

        self.records.change(job.id, claim, known=job)
        if claimed:
            self._hand_over(job)

    def _hand_over(self, job: JobRow) -> None:
        options = SetEnqueueOptions(
            priority=job.priority if job.priority > 0 else None,
            queue_partition_key=job.session_id,
        )
        queue = DBOS.retrieve_queue(QUEUE)
        if queue is None:
            raise RuntimeError("the job engine is not started")
        # The workflow id is the job id: a second enqueue of the same job is a no-op.
        with SetWorkflowID(job.id), options:
            queue.enqueue(pipeline.run_job, job.id)
        if self.records.load(job.id).status in ("paused", "cancelled"):
            DBOS.cancel_workflow(job.id)

    def _dispatch_dependants(self, job_id: str) -> None:
        for dependant in self.records.dependants(job_id):
            self._dispatch_if_ready(dependant)

    def _job_finished(self, job_id: str) -> None:
        """Called by the last step of a job: wake the housekeeping thread to start dependants.

        Not done here: DBOS cannot enqueue a workflow from inside a step.
        """
        self._finished.put(job_id)
        self._wake.set()

    def _fail_dependant(self, job: JobRow) -> None:
        """A dependency failed or was cancelled: this job cannot run, nor can its dependants."""
        now = self.sessions.clock()

        def fn(j: JobRow) -> JobRow | None:
            if is_final(j):
                return None
            j.status = "cancelled"
            j.error = {
                "code": "dependency_failed",
                "message": "a job this one depends on failed or was cancelled",
                "retryable": False,
            }
            j.completed_at = now
            return j

        job = self.records.change(job.id, fn)
        if job.dispatched:
            DBOS.cancel_workflow(job.id)
        self._dispatch_dependants(job.id)

    # reading -----------------------------------------------------------------------------------
    def get(self, user_id: str, session_id: str, job_id: str) -> JobRow:
        return self.records.get(user_id, session_id, job_id)

    def list_jobs(self, user_id: str, session_id: str, *, limit: int = 100) -> list[JobRow]:
        return self.records.list_jobs(user_id, session_id, limit=limit)

    def wait(self, job_id: str, *, timeout: float = 30) -> JobRow:
        """Poll until the job is completed, failed, cancelled or paused; raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.records.load(job_id)
            if is_final(job) or job.status == "paused":
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout:g} s")
            time.sleep(self.polling_interval / 2)

    # control -----------------------------------------------------------------------------------
    def pause(self, user_id: str, session_id: str, job_id: str) -> JobRow:
        """No new phase starts; a running phase finishes and the job waits for `resume`."""
        self.records.get(user_id, session_id, job_id)  # NotFound for anyone else's job

        def fn(j: JobRow) -> JobRow | None:
            if is_final(j) or j.status == "paused":
                return None  # decided under the row lock: a job that just ended stays ended
            j.status, j.control = "paused", "pause"
            return j

        job = self.records.change(job_id, fn)
        if is_final(job):
            raise finished_error(job)
        if job.dispatched:
            DBOS.cancel_workflow(job_id)  # stops before the next step starts
        return job

    def resume(self, user_id: str, session_id: str, job_id: str) -> JobRow:
        """Continue a paused job from its last finished phase."""
        self.records.get(user_id, session_id, job_id)
        resumed = False

        def fn(j: JobRow) -> JobRow | None:
            nonlocal resumed
            if j.status != "paused":
                return None
            j.status, j.control = "queued", ""
            resumed = True
            return j

        job = self.records.change(job_id, fn)
        if not resumed:
            if is_final(job):
                raise finished_error(job)
            return job
        if job.dispatched:
            DBOS.resume_workflow(job_id, queue_name=QUEUE)
        else:
            self._dispatch_if_ready(job)
        return self.records.load(job_id)

    def cancel(self, user_id: str, session_id: str, job_id: str) -> JobRow:
        """Stop the job for good (a queued one never starts); dependants are cancelled too."""
        self.records.get(user_id, session_id, job_id)
        now = self.sessions.clock()
        cancelled = False

        def fn(j: JobRow) -> JobRow | None:
            nonlocal cancelled
            if is_final(j):
                return None
            j.status, j.control, j.completed_at = "cancelled", "cancel", now
            j.error = {"code": "cancelled", "message": "cancelled by the user", "retryable": False}
            cancelled = True
            return j

        job = self.records.change(job_id, fn)
        if not cancelled:
            raise finished_error(job)
        DBOS.cancel_workflow(job_id)  # a no-op for a job never handed over
        self._dispatch_dependants(job_id)
        return job

    def control(self, user_id: str, session_id: str, job_id: str, command: str) -> JobRow:
        """`pause`, `resume` or `cancel` one job."""
        action = {"pause": self.pause, "resume": self.resume, "cancel": self.cancel}[command]
        return action(user_id, session_id, job_id)

    def control_session(self, user_id: str, session_id: str, command: str) -> list[JobRow]:
        """Pause, resume or cancel every unfinished job of the session."""
        changed = []
        jobs = self.records.list_jobs(user_id, session_id, limit=500, unfinished=True)
        if command != "resume":
            # Newest first: stopping the running job first would free the session's queue
            # slot for a queued one to start before its own pause or cancel arrives.
            jobs.reverse()
        for job in jobs:
            if is_final(job) or (command == "resume" and job.status != "paused"):
                continue
            try:
                changed.append(self.control(user_id, session_id, job.id, command))
            except JobFinished:
                continue  # it ended meanwhile (finished, or cancelled with a dependency)
        return changed

    # background: heartbeats, the reaper, the sweep ----------------------------------------------
    def _loop(self) -> None:
        last_round = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.heartbeat_seconds)
            self._wake.clear()
            try:
                while not self._finished.empty():
                    self._dispatch_dependants(self._finished.get_nowait())
                if time.monotonic() - last_round >= self.heartbeat_seconds:
                    last_round = time.monotonic()
                    self._beat()
                    self.reap()
                    self.sweep()
                    self.reconcile()
            except Exception:  # keep going: one failed round must not stop recovery
                log.exception("job engine housekeeping failed")

    def _beat(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "execute": self.execute}
        row = WorkerRow(self.executor_id, datetime.now(UTC), self._started_at, info)
        self.sessions.writer.run(lambda txn: txn.heartbeat(row))

    def reap(self) -> list[str]:
        """Recover the workflows of executors whose heartbeat stopped; return their ids."""
        if not self.execute:
            return []
        with self.sessions.store.read() as txn:
            workers = txn.list_workers()
        cutoff = datetime.now(UTC) - timedelta(seconds=self.dead_after)
        reaped = []
        for worker in workers:
            if worker.executor_id == self.executor_id or worker.heartbeat_at > cutoff:
                continue
            DBOS._recover_pending_workflows([worker.executor_id])
            self.sessions.writer.run(_forget_worker(worker))
            log.warning("recovered the jobs of executor %s (no heartbeat)", worker.executor_id)
            reaped.append(worker.executor_id)
        return reaped

    def sweep(self) -> None:
        """Dispatch queued jobs that are ready (or must fail) but were never handed over."""
        for job in self.records.undispatched():
            self._dispatch_if_ready(job)

    def reconcile(self, settle_seconds: float | None = None) -> None:
        """Repair jobs whose row and workflow disagree (a crash or a race between them).

        Only rows untouched for `settle_seconds` (twice the heartbeat by default) are looked
        at, so work in flight is left alone. A handed-over row with no workflow is enqueued
        again; a queued or running row whose workflow was cancelled is resumed; one whose
        workflow ended in error is failed; a paused row whose workflow is still queued or
        running has it cancelled.
        """
        settle = 2 * self.heartbeat_seconds if settle_seconds is None else settle_seconds
        cutoff = self.sessions.clock() - timedelta(seconds=settle)
        for job in self.records.dispatched_unfinished():
            if job.updated_at > cutoff:
                continue
            status = DBOS.get_workflow_status(job.id)
            state = None if status is None else str(status.status)
            if job.status == "paused":
                if state in ("ENQUEUED", "PENDING", "DELAYED"):
                    DBOS.cancel_workflow(job.id)
            elif state is None:
                self._hand_over(job)
            elif state == "CANCELLED":
                DBOS.resume_workflow(job.id, queue_name=QUEUE)
            elif state in ("ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED") and status is not None:
                reason = str(status.error)[:300]
                error = {"code": "engine_error", "retryable": False,
                         "message": f"the job stopped unexpectedly ({reason})"}  # fmt: skip
                pipeline.record_outcome(self.records, job.id, None, error)
                self._dispatch_dependants(job.id)
            elif state == "SUCCESS" and status is not None:
                # The last phase records the outcome; if that was lost, its output says it.
                pipeline.record_outcome(self.records, job.id, status.output, None)
                self._dispatch_dependants(job.id)


class _SystemConnection(sqlite3.Connection):
    """A connection to DBOS's SQLite file, with synchronous=NORMAL.

    A commit survives the process being killed (it is in the WAL file) but may be lost with
    the machine; everything DBOS could lose is repaired from our store, which stays FULL
    (docs/decisions/0017). It spares an fsync per checkpointed step.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA synchronous = NORMAL")


def _forget_worker(worker: WorkerRow) -> Callable[[Txn], bool]:
    return lambda txn: txn.delete_worker(worker.executor_id, worker.heartbeat_at)
