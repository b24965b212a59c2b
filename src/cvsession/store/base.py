"""The `Store` interface every backend implements, and the rows it moves.

A store keeps users and their tokens, sessions (the JSON document plus indexed columns), the
per-session mutation log and document snapshots, each client's lastMutationID, conflict records
and recorded step durations. Backends: `SQLiteStore` (embedded default) and `PostgresStore`,
chosen by `open_store(url)`.

Atomicity: everything done through one `Txn` commits or rolls back together. `Store.transaction()`
is the only way to write. `Txn.savepoint()` nests a unit that can be rolled back alone (used for
group commit: several acknowledged mutations share one commit, a failing one is undone alone).

Timestamps are timezone-aware UTC datetimes in rows; backends store integer epoch milliseconds,
so sub-millisecond parts are truncated. JSON columns hold plain JSON values (stored as orjson
text, byte-exact, key order kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from cvsession.store.events import EventRow, Window
from cvsession.store.flags import FlagRow
from cvsession.store.jobs import ArtifactRow, JobRow, WorkerRow
from cvsession.store.shares import ShareLinkRow
from cvsession.store.uploads import UploadRow

ORDER_FIELDS = ("last_active_at", "created_at", "updated_at", "title", "status", "current_step")


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    created_at: datetime
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A credential. Only the SHA-256 hash of the secret is stored."""

    token_hash: str
    user_id: str
    kind: Literal["guest", "bearer", "pairing"]
    created_at: datetime
    expires_at: datetime | None = None
    used_at: datetime | None = None
    label: str = ""


@dataclass(slots=True)
class SessionRow:
    """A session: its document and the columns indexed for search."""

    id: str
    owner_id: str
    status: str
    current_step: str
    title: str
    created_at: datetime
    last_active_at: datetime
    updated_at: datetime
    version: int
    schema_version: int
    document: dict[str, Any]
    # JSON Pointer -> session version that last wrote it; used for conflict detection.
    field_versions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One applied mutation: the session went from version-1 to version."""

    session_id: str
    version: int
    client_id: str
    mutation_id: int
    name: str
    args: Any
    ops: list[dict[str, Any]]  # RFC 6902 ops, each may carry "old" (the previous value)
    conflicts: list[dict[str, Any]]
    created_at: datetime
    hlc: str = ""


@dataclass(frozen=True, slots=True)
class ClientRow:
    client_id: str
    user_id: str
    last_mutation_id: int
    updated_at: datetime
    client_group_id: str = ""


@dataclass(frozen=True, slots=True)
class ConflictRow:
    id: str
    session_id: str
    path: str
    yours: Any
    theirs: Any
    version: int  # session version the conflict was recorded at
    client_id: str
    mutation_id: int
    status: Literal["open", "resolved"]
    created_at: datetime
    resolution: Any = None  # {"choice": "mine"|"theirs"|"value", "value": ...}
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StepDurationRow:
    session_id: str
    step: str
    duration_ms: int
    recorded_at: datetime
    template: str | None = None
    quick_create: bool = False


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Filters for `Txn.list_sessions`; every field is optional and they combine with AND.

    Time ranges are half-open: `*_from` inclusive, `*_to` exclusive. `order_by` outside
    ORDER_FIELDS raises ValueError; id breaks ties (in the same direction). `limit` is clamped
    to 1..500, a negative `offset` counts as 0.
    """

    owner_id: str | None = None
    statuses: Sequence[str] = ()
    steps: Sequence[str] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    active_from: datetime | None = None
    active_to: datetime | None = None
    # Resumable: status in draft/in_progress/processing/paused (not completed/failed/expired).
    resumable: bool | None = None
    text: str | None = None  # case-insensitive (casefold) literal substring of the title
    order_by: str = "last_active_at"  # one of ORDER_FIELDS
    descending: bool = True
    limit: int = 50
    offset: int = 0


RESUMABLE_STATUSES = ("draft", "in_progress", "processing", "paused")


class Txn(Protocol):
    """Operations inside one transaction. Methods ending in `_txn` elsewhere take one of these."""

    def savepoint(self) -> AbstractContextManager[None]:
        """Nest a unit: an exception inside rolls back only the unit, then propagates."""

    # users and tokens
    def insert_user(self, user: UserRow) -> None: ...
    def get_user(self, user_id: str) -> UserRow | None: ...
    def insert_token(self, token: TokenRow) -> None: ...
    def get_token(self, token_hash: str) -> TokenRow | None: ...
    def mark_token_used(self, token_hash: str, used_at: datetime) -> bool:
        """Set used_at if it was unset; return whether this call was the one that set it."""

    def delete_token(self, token_hash: str) -> None: ...
    def delete_user(self, user_id: str) -> bool:
        """Delete the user with everything keyed by it: tokens, clients, and its sessions
        (which cascade as `delete_session` does). Return whether the user existed.

        Files on disk are the caller's: list the sessions' uploads first.
        """

    # sessions
    def insert_session(self, row: SessionRow) -> None:
        """Insert a new session; raises `DuplicateKey` if the id exists."""

    def get_session(self, session_id: str, *, for_update: bool = False) -> SessionRow | None:
        """Return the session or None. `for_update` locks the row until the transaction ends."""

    def lock_sessions(self, session_ids: Sequence[str]) -> None:
        """Lock these sessions' rows, in the order given, until the transaction ends.

        A no-op where the write transaction already excludes other writers (SQLite).
        """

    def update_session(
        self, row: SessionRow, previous: SessionRow | None = None, *, encoded: str | None = None
    ) -> None:
        """Overwrite every column of session `row.id`; raises KeyError if it does not exist.

        `previous` is the row as it is stored now, if the caller knows it (it read it in this
        transaction, or checked its version): then only the columns that differ are written,
        which spares the indexes on unchanged columns. The result is the same. `encoded` is
        `row.document` as `codec.dump_json` writes it, if the caller has it already.
        """

    def delete_session(self, session_id: str) -> bool:
        """Delete the session with every row that references it: log, snapshots, conflicts,
        step durations, uploads, share links, jobs (with their dependencies, artifacts and cache).

        Return whether it existed.
        """

    def session_job_ids(self, session_id: str) -> list[str]:
        """Ids of every job of the session (finished or not), oldest first."""

    def session_versions(self, session_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each existing session among `session_ids` (at most 1,000)."""

    def list_sessions(self, query: SessionQuery) -> list[SessionRow]: ...
    def count_sessions(self, query: SessionQuery) -> int: ...

    # mutation log
    def append_log(self, entry: LogEntry) -> None:
        """Append; raises `DuplicateKey` if (session_id, version) exists."""

    def log_since(self, session_id: str, version: int, limit: int = 1000) -> list[LogEntry]:
        """Entries with version > `version`, ascending, at most `limit`."""

    def client_versions(self, session_id: str, client_id: str, after: int) -> frozenset[int]:
        """Versions > `after` that `client_id`'s mutations produced (compacted ones are absent)."""

    def log_min_version(self, session_id: str) -> int | None:
        """Oldest version still in the log (after compaction), None if the log is empty."""

    def truncate_log(self, session_id: str, before_version: int) -> int:
        """Compaction: delete entries with version < `before_version`; return how many."""

    # snapshots (history: the document at a version = nearest snapshot + the log after it)
    def insert_snapshot(
        self,
        session_id: str,
        version: int,
        document: dict[str, Any],
        field_versions: dict[str, int],
        created_at: datetime,
    ) -> None:
        """Store the session's document and field versions as they were at `version`.

        Idempotent: if a snapshot of this session at this version exists it is kept as it is
        (a document at a given version never changes, so both are the same) and nothing is
        raised. The session must exist (foreign key); its deletion deletes its snapshots.
        """

    def snapshot_at_or_before(
        self, session_id: str, version: int
    ) -> tuple[int, dict[str, Any], dict[str, int]] | None:
        """The newest snapshot with version <= `version`: (version, document, field_versions).

        None if the session has no snapshot that old (or none at all).
        """

    def snapshot_versions(self, session_id: str) -> list[int]:
        """Versions of the session's snapshots, ascending (empty if none)."""

    def delete_snapshots_before(self, session_id: str, version: int) -> int:
        """Compaction: delete the session's snapshots with version < `version`; return how many."""

    def session_version_page(self, after_id: str, limit: int = 500) -> list[tuple[str, int]]:
        """(id, version) of the sessions whose id sorts after `after_id`, in id order.

        A keyset page for sweeps over every session (compaction) that reads no documents.
        `limit` is clamped to 1..500; pass the last id of a page to get the next one.
        """

    # clients
    def get_client(self, client_id: str) -> ClientRow | None: ...
    def upsert_client(self, client: ClientRow) -> None: ...
    def advance_client(
        self, client_id: str, user_id: str, last_mutation_id: int, updated_at: datetime
    ) -> bool:
        """Move the client's lastMutationID from `last_mutation_id - 1` to `last_mutation_id`.

        Only if the client exists, belongs to `user_id` and is at `last_mutation_id - 1`;
        return whether it was (False changes nothing). One statement for the common case of
        an in-order mutation from a known client; its group is kept.
        """

    # conflicts
    def insert_conflict(self, conflict: ConflictRow) -> None: ...
    def get_conflict(self, conflict_id: str) -> ConflictRow | None: ...
    def update_conflict(self, conflict: ConflictRow) -> None:
        """Overwrite conflict `conflict.id`; raises KeyError if it does not exist."""

    def list_conflicts(self, session_id: str, *, status: str | None = None) -> list[ConflictRow]:
        """Conflicts of a session, oldest first, optionally only those with `status`."""

    # uploads (records; the bytes are files under the data directory)
    def insert_upload(self, upload: UploadRow) -> None:
        """Insert; raises `DuplicateKey` if the id exists."""

    def get_upload(self, upload_id: str) -> UploadRow | None: ...
    def list_uploads(self, session_id: str) -> list[UploadRow]:
        """A session's uploads, oldest first (they go with the session on delete)."""

    def delete_upload(self, upload_id: str) -> bool: ...

    # jobs (the engine's own state is in DBOS; these rows are what the user sees and controls)
    def insert_job(self, job: JobRow) -> None:
        """Insert the job and its dependency edges; raises `DuplicateKey` if the id exists.

        Every dependency must be an existing job (foreign key), so the graph stays acyclic.
        """

    def get_job(self, job_id: str, *, for_update: bool = False) -> JobRow | None: ...
    def update_job(self, job: JobRow) -> None:
        """Overwrite the mutable columns of job `job.id`; raises KeyError if it does not exist."""

    def list_jobs(
        self, session_id: str, *, limit: int = 500, unfinished: bool = False
    ) -> list[JobRow]:
        """A session's newest `limit` jobs (clamped to 1..500), oldest first; with
        `unfinished`, only those not completed, failed or cancelled."""

    def jobs_with_status(
        self, statuses: Sequence[str], limit: int = 500, *, dispatched: bool | None = None
    ) -> list[JobRow]:
        """Jobs in any of `statuses` (handed over or not, when `dispatched` is given), least
        recently changed first, at most `limit` (clamped to 1..500)."""

    def dependants(self, job_id: str) -> list[JobRow]:
        """Jobs that list `job_id` among their dependencies."""

    def job_durations(self, job_type: str, limit: int = 200) -> list[int]:
        """Run times in ms of the newest completed jobs of `job_type`, sorted ascending."""

    def put_artifact(self, artifact: ArtifactRow) -> None:
        """Insert or replace an artifact (a re-run step writes the same one again)."""

    def get_artifact(self, artifact_id: str) -> ArtifactRow | None: ...
    def list_artifacts(self, session_id: str, *, limit: int = 500) -> list[ArtifactRow]:
        """A session's newest `limit` artifacts (clamped to 1..500), oldest first, with empty
        `content` (a listing)."""

    def latest_artifact(self, session_id: str, name: str) -> ArtifactRow | None:
        """The session's newest artifact called `name` (e.g. "cv-modern.html"), with its
        content; None when no job has produced one."""

    def cache_get(self, job_id: str, key: str) -> Any:
        """A step's cached JSON result for (job, key), or None."""

    def cache_put(self, job_id: str, key: str, value: Any, now: datetime) -> None:
        """Cache a step's result; the first value stored for (job, key) is kept."""

    def heartbeat(self, worker: WorkerRow) -> None:
        """Record that a worker is alive (insert or refresh)."""

    def list_workers(self) -> list[WorkerRow]: ...
    def delete_worker(self, executor_id: str, heartbeat_at: datetime) -> bool:
        """Forget a worker whose heartbeat is still `heartbeat_at`; return whether it was."""

    # feature flags (rows override the built-in defaults; see cvsession.core.flags)
    def get_flag(self, name: str) -> FlagRow | None:
        """The stored flag `name`, or None when it has none (its default applies)."""

    def list_flags(self) -> list[FlagRow]:
        """Every stored flag, ordered by name."""

    def put_flag(self, flag: FlagRow) -> None:
        """Insert the flag's row or replace the one with the same name (definition and time)."""

    def delete_flag(self, name: str) -> bool:
        """Delete the stored flag; return whether it existed."""

    # share links (public read-only links; the token is never stored, only its SHA-256)
    def insert_share_link(self, link: ShareLinkRow) -> None:
        """Insert a link; raises `DuplicateKey` if its id or token hash exists."""

    def get_share_link(self, link_id: str) -> ShareLinkRow | None: ...
    def live_share_link(self, token_hash: str, now: datetime) -> ShareLinkRow | None:
        """The link whose token hashes to `token_hash`, if it works at `now`: not revoked, not
        past its `expires_at`, and its session not expired (an expired session waits for
        deletion); else None."""

    def list_share_links(
        self, session_id: str, *, active_at: datetime | None = None
    ) -> list[ShareLinkRow]:
        """A session's links, oldest first; with `active_at`, only those unrevoked and not
        past their expiry then."""

    def revoke_share_link(self, link_id: str, now: datetime) -> bool:
        """Set revoked_at if unset; return whether this call revoked it."""

    def record_share_view(self, link_id: str, now: datetime) -> bool:
        """Count one view of an unrevoked link; return whether it counted."""

    # step durations (resume estimates)
    def record_step_duration(self, row: StepDurationRow) -> None: ...
    def step_duration_stats(self) -> dict[str, list[int]]:
        """Recorded durations in ms per step id (each list sorted ascending, at most 1,000)."""

    # analytics events (append-only; metrics are computed from them at query time)
    def insert_events(self, events: Sequence[EventRow]) -> None:
        """Append `events` in one statement, inside this transaction (ids are assigned)."""

    def defer_events(self, events: Sequence[EventRow]) -> None:
        """Append `events` when this transaction commits, together with every other deferred
        event (one statement for a whole group commit). A savepoint rolled back drops those
        deferred inside it; this transaction's reads do not see them."""

    def delete_user_events(self, user_id: str) -> int:
        """Delete every event recorded about `user_id`; return how many."""

    def event_totals(
        self, kinds: Sequence[str], window: Window = ...
    ) -> dict[str, tuple[int, float]]:
        """(count, sum of value) per kind in the window [since, until), optionally of one user.

        Kinds without events are absent. `kinds` must not be empty (ValueError).
        """

    def event_field_sums(
        self, kind: str, fields: Sequence[str], window: Window = ...
    ) -> dict[str, float]:
        """Sum of each numeric field of `data` over `kind`'s events in the window (0 if none).

        Field names must be identifiers (ValueError otherwise).
        """

    def event_distinct_sessions(self, kinds: Sequence[str], window: Window = ...) -> int:
        """Number of distinct non-null session ids among events of `kinds` in the window."""

    def event_rows(
        self, kinds: Sequence[str], window: Window = ..., limit: int = 100_000
    ) -> list[EventRow]:
        """Events of `kinds` in the window, oldest first; the newest `limit` (clamped to
        1..100,000) when there are more."""

    def event_kind_counts(self) -> dict[str, int]:
        """Rows per event kind, over all time."""

    def session_counts(
        self,
        column: str,
        *,
        user_id: str | None = None,
        statuses: Sequence[str] = (),
        active_from: datetime | None = None,
        active_to: datetime | None = None,
    ) -> dict[str, int]:
        """Sessions per value of `column` ("status" or "current_step"; else ValueError),
        filtered by owner, statuses and a half-open last_active_at range."""

    def step_funnel(self, window: Window = ...) -> tuple[int, dict[str, int]]:
        """(sessions created in the window, {step: how many of them completed it})."""

    def step_duration_segments(self) -> dict[tuple[str, str | None, bool], list[int]]:
        """Recorded durations in ms per (step, template, quick_create), sorted ascending,
        the newest 1,000 of each."""

    def job_outcomes(self, window: Window = ...) -> list[tuple[str, str, int | None, Any]]:
        """(type, status, run time ms or None, error JSON or None) of the jobs that completed
        or failed within the window (by completed_at), optionally of one owner."""


class Store(Protocol):
    """A durable store. Thread-safe: each call or transaction uses its own connection."""

    url: str

    def migrate(self) -> int:
        """Apply pending migrations (idempotent, safe to run concurrently); return the version."""

    def schema_version(self) -> int: ...

    def transaction(self) -> AbstractContextManager[Txn]:
        """A write transaction, committed when the block exits normally, rolled back otherwise.

        Acknowledge a write only after this block has exited: the commit is durable then
        (SQLite synchronous=FULL; PostgreSQL synchronous_commit on).
        """

    def read(self) -> AbstractContextManager[Txn]:
        """A read-only snapshot. Writing through it raises RuntimeError.

        It sees committed data only (not the caller's own open `transaction()`).
        """

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""


class DuplicateKey(Exception):
    """An insert collided with an existing primary key."""
