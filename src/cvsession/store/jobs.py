"""Job records: the product's view of background work (the engine's own state lives in DBOS).

A job row says what the user sees and controls: type, status, priority, dependencies, retries,
progress, the current phase, estimates, times, the classified error, and the control request
(pause / cancel) that the running workflow honours at its next phase boundary. Generated files
(HTML, SVG, JSON Resume) are artifacts of a job; a step's expensive result (a language-model
answer) is cached per (job, key) so a re-run step never pays for it twice. Workers record
heartbeats so a live worker can recover the work of a dead one.

`JobsTxn` is mixed into the SQL transaction class (store/sql.py); its methods are part of `Txn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from cvsession.store.codec import (
    dump_json,
    from_ms,
    load_json,
    opt_from_ms,
    opt_to_ms,
    to_ms,
)
from cvsession.store.part import SQLTxnPart, column_types

JOB_COLUMNS = (
    "id, session_id, owner_id, type, status, priority, params, retry_count, max_retries, "
    "progress, phase, estimated_duration_ms, created_at, started_at, completed_at, updated_at, "
    "error, result, control, dispatched"
)
ARTIFACT_COLUMNS = "id, job_id, session_id, name, media_type, content, created_at"
# Statuses after which a job never runs again.
FINAL_JOB_STATUSES = ("completed", "failed", "cancelled")


@dataclass(slots=True)
class JobRow:
    id: str
    session_id: str
    owner_id: str
    type: str  # cv-processing | feature-generation | template-application
    status: str  # queued | running | paused | completed | failed | cancelled
    priority: int
    params: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    dependencies: tuple[str, ...] = ()
    retry_count: int = 0
    max_retries: int = 3
    progress: int = 0
    phase: str = ""
    estimated_duration_ms: int | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: dict[str, Any] | None = None
    result: Any = None
    control: str = ""  # "" | "pause" | "cancel": asked for, honoured at the next phase boundary
    dispatched: bool = False  # handed to the execution engine


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    id: str
    job_id: str
    session_id: str
    name: str  # e.g. "cv-modern.html", "skills-chart.svg"
    media_type: str
    content: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerRow:
    executor_id: str
    heartbeat_at: datetime
    started_at: datetime
    info: dict[str, Any] = field(default_factory=dict)


def migration_sql(dialect: str) -> tuple[str, ...]:
    """DDL of the job tables (migration 4)."""
    text, integer = column_types(dialect)
    return (
        f"""CREATE TABLE jobs (
            id {text} PRIMARY KEY,
            session_id {text} NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            owner_id {text} NOT NULL,
            type TEXT NOT NULL,
            status TEXT NOT NULL,
            priority {integer} NOT NULL,
            params TEXT NOT NULL,
            retry_count {integer} NOT NULL,
            max_retries {integer} NOT NULL,
            progress {integer} NOT NULL,
            phase TEXT NOT NULL,
            estimated_duration_ms {integer},
            created_at {integer} NOT NULL,
            started_at {integer},
            completed_at {integer},
            updated_at {integer} NOT NULL,
            error TEXT,
            result TEXT,
            control TEXT NOT NULL,
            dispatched {integer} NOT NULL
        )""",
        "CREATE INDEX jobs_session ON jobs (session_id, created_at, id)",
        "CREATE INDEX jobs_status ON jobs (status, type, completed_at)",
        "CREATE INDEX jobs_sweep ON jobs (status, dispatched, updated_at)",
        f"""CREATE TABLE job_dependencies (
            job_id {text} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            depends_on {text} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            position {integer} NOT NULL,
            PRIMARY KEY (job_id, depends_on)
        )""",
        "CREATE INDEX job_dependencies_on ON job_dependencies (depends_on)",
        f"""CREATE TABLE job_artifacts (
            id {text} PRIMARY KEY,
            job_id {text} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            session_id {text} NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            media_type TEXT NOT NULL,
            content TEXT NOT NULL,
            created_at {integer} NOT NULL
        )""",
        "CREATE INDEX job_artifacts_session ON job_artifacts (session_id, created_at)",
        "CREATE INDEX job_artifacts_job ON job_artifacts (job_id)",
        f"""CREATE TABLE job_cache (
            job_id {text} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            key {text} NOT NULL,
            value TEXT NOT NULL,
            created_at {integer} NOT NULL,
            PRIMARY KEY (job_id, key)
        )""",
        f"""CREATE TABLE workers (
            executor_id {text} PRIMARY KEY,
            heartbeat_at {integer} NOT NULL,
            started_at {integer} NOT NULL,
            info TEXT NOT NULL
        )""",
    )


class JobsTxn(SQLTxnPart):
    """The job half of `Txn`, written against the `SQLTxn` plumbing it is mixed into."""

    # Provided by SQLTxn.
    for_update_clause: ClassVar[str] = ""

    def insert_job(self, job: JobRow) -> None:
        """Insert the job and its dependency edges; raises `DuplicateKey` if the id exists."""
        self._insert("jobs", JOB_COLUMNS, _job_params(job), f"job {job.id!r}")
        for position, dep in enumerate(job.dependencies):
            self.execute(
                "INSERT INTO job_dependencies (job_id, depends_on, position) VALUES (?, ?, ?)",
                [job.id, dep, position],
            )

    def get_job(self, job_id: str, *, for_update: bool = False) -> JobRow | None:
        lock = self.for_update_clause if for_update else ""
        rows = self.fetchall(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?{lock}", [job_id])
        if not rows:
            return None
        return self._with_deps([_job_from(rows[0])])[0]

    def update_job(self, job: JobRow) -> None:
        """Overwrite every column but id, session, owner, type and dependencies."""
        self._write()
        params = _job_params(job)
        sql = (
            "UPDATE jobs SET status = ?, priority = ?, params = ?, retry_count = ?, "
            "max_retries = ?, progress = ?, phase = ?, estimated_duration_ms = ?, "
            "created_at = ?, started_at = ?, completed_at = ?, updated_at = ?, error = ?, "
            "result = ?, control = ?, dispatched = ? WHERE id = ?"
        )
        if self.execute(sql, [*params[4:], job.id]) == 0:
            raise KeyError(job.id)

    def list_jobs(
        self, session_id: str, *, limit: int = 500, unfinished: bool = False
    ) -> list[JobRow]:
        """A session's newest `limit` jobs (clamped to 1..500), oldest first; with
        `unfinished`, only those not completed, failed or cancelled."""
        where = "session_id = ?"
        if unfinished:
            where += " AND status NOT IN ('completed', 'failed', 'cancelled')"
        sql = (
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} "
            "ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        rows = self.fetchall(sql, [session_id, max(1, min(limit, 500))])
        return self._with_deps([_job_from(r) for r in reversed(rows)])

    def jobs_with_status(
        self, statuses: Sequence[str], limit: int = 500, *, dispatched: bool | None = None
    ) -> list[JobRow]:
        """Jobs in any of `statuses` (and handed over or not, when `dispatched` is given),
        least recently changed first (sweeps: undispatched and stuck work)."""
        marks = ", ".join("?" * len(statuses))
        where = f"status IN ({marks})"
        params: list[Any] = [*statuses]
        if dispatched is not None:
            where += " AND dispatched = ?"
            params.append(int(dispatched))
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY updated_at, id LIMIT ?"
        rows = self.fetchall(sql, [*params, max(1, min(limit, 500))])
        return self._with_deps([_job_from(r) for r in rows])

    def dependants(self, job_id: str) -> list[JobRow]:
        """Jobs that depend directly on `job_id`."""
        cols = ", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))
        sql = (
            f"SELECT {cols} FROM jobs j JOIN job_dependencies d ON d.job_id = j.id "
            "WHERE d.depends_on = ? ORDER BY j.created_at, j.id"
        )
        return self._with_deps([_job_from(r) for r in self.fetchall(sql, [job_id])])

    def job_durations(self, job_type: str, limit: int = 200) -> list[int]:
        """Run times in ms (start to completion) of the newest completed jobs of a type."""
        sql = (
            "SELECT completed_at - started_at FROM jobs WHERE status = 'completed' AND type = ? "
            "AND started_at IS NOT NULL AND completed_at IS NOT NULL "
            "ORDER BY completed_at DESC LIMIT ?"
        )
        return sorted(int(r[0]) for r in self.fetchall(sql, [job_type, limit]))

    def _with_deps(self, jobs: list[JobRow]) -> list[JobRow]:
        if not jobs:
            return jobs
        by_id = {j.id: j for j in jobs}
        deps: dict[str, list[str]] = {}
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = (
                "SELECT job_id, depends_on FROM job_dependencies "
                f"WHERE job_id IN ({', '.join('?' * len(chunk))}) ORDER BY job_id, position"
            )
            for job_id, dep in self.fetchall(sql, chunk):
                deps.setdefault(str(job_id), []).append(str(dep))
        for job_id, dep_list in deps.items():
            by_id[job_id].dependencies = tuple(dep_list)
        return jobs

    # artifacts ---------------------------------------------------------------------------------
    def put_artifact(self, artifact: ArtifactRow) -> None:
        """Insert or replace (a re-run step writes the same artifact again)."""
        self._write()
        self.execute("DELETE FROM job_artifacts WHERE id = ?", [artifact.id])
        params = [
            artifact.id,
            artifact.job_id,
            artifact.session_id,
            artifact.name,
            artifact.media_type,
            artifact.content,
            _ms(artifact.created_at),
        ]
        self._insert("job_artifacts", ARTIFACT_COLUMNS, params, f"artifact {artifact.id!r}")

    def get_artifact(self, artifact_id: str) -> ArtifactRow | None:
        sql = f"SELECT {ARTIFACT_COLUMNS} FROM job_artifacts WHERE id = ?"
        rows = self.fetchall(sql, [artifact_id])
        return _artifact_from(rows[0]) if rows else None

    def list_artifacts(self, session_id: str, *, limit: int = 500) -> list[ArtifactRow]:
        """A session's newest `limit` artifacts (clamped to 1..500), oldest first, without
        their content (listing only)."""
        cols = "id, job_id, session_id, name, media_type, '', created_at"
        sql = (
            f"SELECT {cols} FROM job_artifacts WHERE session_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        rows = self.fetchall(sql, [session_id, max(1, min(limit, 500))])
        return [_artifact_from(r) for r in reversed(rows)]

    def latest_artifact(self, session_id: str, name: str) -> ArtifactRow | None:
        """The session's newest artifact called `name`, with its content, or None."""
        sql = (
            f"SELECT {ARTIFACT_COLUMNS} FROM job_artifacts WHERE session_id = ? AND name = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        rows = self.fetchall(sql, [session_id, name])
        return _artifact_from(rows[0]) if rows else None

    # step cache --------------------------------------------------------------------------------
    def cache_get(self, job_id: str, key: str) -> Any:
        """The cached JSON value, or None when there is none."""
        sql = "SELECT value FROM job_cache WHERE job_id = ? AND key = ?"
        rows = self.fetchall(sql, [job_id, key])
        return load_json(str(rows[0][0])) if rows else None

    def cache_put(self, job_id: str, key: str, value: Any, now: datetime) -> None:
        """Keep the first value stored for (job, key)."""
        self._write()
        self.execute(
            "INSERT INTO job_cache (job_id, key, value, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [job_id, key, dump_json(value), _ms(now)],
        )

    # workers -----------------------------------------------------------------------------------
    def heartbeat(self, worker: WorkerRow) -> None:
        self._write()
        self.execute(
            "INSERT INTO workers (executor_id, heartbeat_at, started_at, info) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (executor_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, "
            "info = excluded.info",
            [worker.executor_id, _ms(worker.heartbeat_at), _ms(worker.started_at),
             dump_json(worker.info)],
        )  # fmt: skip

    def list_workers(self) -> list[WorkerRow]:
        rows = self.fetchall(
            "SELECT executor_id, heartbeat_at, started_at, info FROM workers ORDER BY executor_id"
        )
        return [
            WorkerRow(str(r[0]), from_ms(int(r[1])), from_ms(int(r[2])), load_json(str(r[3])))
            for r in rows
        ]

    def delete_worker(self, executor_id: str, heartbeat_at: datetime) -> bool:
        """Forget a worker if its heartbeat is still `heartbeat_at` (it did not come back)."""
        self._write()
        sql = "DELETE FROM workers WHERE executor_id = ? AND heartbeat_at = ?"
        return self.execute(sql, [executor_id, _ms(heartbeat_at)]) > 0


def _ms(value: datetime) -> int:
    return to_ms(value)


def _job_params(job: JobRow) -> list[Any]:
    return [
        job.id,
        job.session_id,
        job.owner_id,
        job.type,
        job.status,
        job.priority,
        dump_json(job.params),
        job.retry_count,
        job.max_retries,
        job.progress,
        job.phase,
        job.estimated_duration_ms,
        to_ms(job.created_at),
        opt_to_ms(job.started_at),
        opt_to_ms(job.completed_at),
        to_ms(job.updated_at),
        None if job.error is None else dump_json(job.error),
        None if job.result is None else dump_json(job.result),
        job.control,
        int(job.dispatched),
    ]


def _job_from(r: tuple[Any, ...]) -> JobRow:
    return JobRow(
        id=str(r[0]),
        session_id=str(r[1]),
        owner_id=str(r[2]),
        type=str(r[3]),
        status=str(r[4]),
        priority=int(r[5]),
        params=load_json(str(r[6])),
        retry_count=int(r[7]),
        max_retries=int(r[8]),
        progress=int(r[9]),
        phase=str(r[10]),
        estimated_duration_ms=None if r[11] is None else int(r[11]),
        created_at=from_ms(int(r[12])),
        started_at=opt_from_ms(r[13]),
        completed_at=opt_from_ms(r[14]),
        updated_at=from_ms(int(r[15])),
        error=None if r[16] is None else load_json(str(r[16])),
        result=None if r[17] is None else load_json(str(r[17])),
        control=str(r[18]),
        dispatched=bool(r[19]),
    )


def _artifact_from(r: tuple[Any, ...]) -> ArtifactRow:
    return ArtifactRow(
        str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), from_ms(int(r[6]))
    )
