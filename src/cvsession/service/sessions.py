"""Session operations: one transaction per user action, every change through the mutation path.

`SessionService` is what the edges (HTTP, WebSocket, CLI) call. It scopes everything to an owner:
a session of another user is indistinguishable from one that does not exist (NotFound).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from cvsession.core import handlers, navigation, resume, schema
from cvsession.core.document import new_session_document, parse_iso
from cvsession.core.errors import (
    DocumentTooLarge,
    DomainError,
    InvalidInput,
    MutationGap,
    NotFound,
)
from cvsession.core.mutations import Mutation, check_order
from cvsession.service import analytics, history
from cvsession.service.metrics import Metrics
from cvsession.service.writer import Writer
from cvsession.store.base import (
    ClientRow,
    ConflictRow,
    LogEntry,
    SessionQuery,
    SessionRow,
    StepDurationRow,
    Store,
    Txn,
)
from cvsession.store.codec import dump_json_sized, encoded_size
from cvsession.store.events import EventRow

MAX_CLIENT_ID = 64
MAX_DOCUMENT_BYTES = 1024 * 1024
ROW_CACHE_SIZE = 2048
# A push of up to this many mutations may be written on the event loop (Writer inline mode);
# a longer one (an offline replay) goes to the writer thread so the loop is not held.
INLINE_PUSH_MUTATIONS = 8
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
DURATION_CACHE_SECONDS = 60.0

T = TypeVar("T")


@dataclass(slots=True)
class Outcome:
    """What happened to one mutation."""

    status: str  # applied | duplicate | error
    session_id: str
    version: int
    last_mutation_id: int | None
    ops: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    error: DomainError | None = None
    document: dict[str, Any] | None = None  # the session after the mutation (not serialised)
    row: SessionRow | None = None  # the stored row after the mutation (not serialised)
    logged: bool = False  # whether it bumped the version and was appended to the log

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "sessionID": self.session_id,
            "version": self.version,
            "lastMutationID": self.last_mutation_id,
            "ops": [{k: v for k, v in op.items() if k != "old"} for op in self.ops],
            "conflicts": self.conflicts,
        }
        if self.error is not None:
            out["error"] = {
                "code": self.error.code,
                "message": self.error.message,
                **_jsonable(self.error.detail),
            }
        return out


def _jsonable(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in detail.items()
        if isinstance(v, str | int | float | bool | list | dict | type(None))
    }


def row_from_document(
    doc: dict[str, Any], field_versions: dict[str, int], now: datetime
) -> SessionRow:
    return SessionRow(
        id=doc["id"],
        owner_id=doc["owner"],
        status=doc["status"],
        current_step=doc["currentStep"],
        title=doc.get("title", ""),
        created_at=parse_iso(doc["createdAt"]),
        last_active_at=parse_iso(doc["lastActiveAt"]),
        updated_at=now,
        version=doc["version"],
        schema_version=doc["schemaVersion"],
        document=doc,
        field_versions=field_versions,
    )


def conflict_json(c: ConflictRow) -> dict[str, Any]:
    return {
        "id": c.id,
        "path": c.path,
        "yours": c.yours,
        "theirs": c.theirs,
        "version": c.version,
        "status": c.status,
        "resolution": c.resolution,
        "createdAt": c.created_at.isoformat(),
        "clientID": c.client_id,
        "mutationID": c.mutation_id,
    }


def export_payload(
    row: SessionRow,
    entries: Sequence[LogEntry],
    conflicts: Sequence[ConflictRow],
    snapshot: tuple[int, dict[str, Any], dict[str, int]] | None = None,
) -> dict[str, Any]:
    """Everything kept about a session: document, mutation log and conflicts, and the oldest
    retained snapshot, from which replaying the log rebuilds every retained version."""
    return {
        "session": row.document,
        "snapshot": None
        if snapshot is None
        else {"version": snapshot[0], "document": snapshot[1], "fieldVersions": snapshot[2]},
        "log": [
            {
                "version": e.version,
                "clientID": e.client_id,
                "mutationID": e.mutation_id,
                "name": e.name,
                "args": e.args,
                "ops": e.ops,
                "conflicts": e.conflicts,
                "at": e.created_at.isoformat(),
            }
            for e in entries
        ],
        "conflicts": [conflict_json(c) for c in conflicts],
    }


class ForbiddenClient(DomainError):
    code = "forbidden_client"
    status = 403


@dataclass(frozen=True, slots=True)
class Purged:
    """A deleted session and what it owned outside the database, for the caller to remove."""

    session_id: str
    owner_id: str
    storage_names: tuple[str, ...]  # upload files under the data directory
    job_ids: tuple[str, ...]  # the jobs' durable workflows (DBOS) are kept outside our tables


def purge_txn(txn: Txn, row: SessionRow) -> Purged:
    """Delete the (locked) session with every row it owns; return what lives outside rows."""
    purged = Purged(
        row.id,
        row.owner_id,
        tuple(u.storage_name for u in txn.list_uploads(row.id)),
        tuple(txn.session_job_ids(row.id)),
    )
    txn.delete_session(row.id)
    return purged


def oldest_snapshot_txn(
    txn: Txn, session_id: str
) -> tuple[int, dict[str, Any], dict[str, int]] | None:
    versions = txn.snapshot_versions(session_id)
    return txn.snapshot_at_or_before(session_id, versions[0]) if versions else None


class SessionService:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        clock: Callable[[], datetime],
        *,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self._segments: tuple[float, dict[tuple[str, str | None, bool], list[int]]] | None = None
        self.writer = writer
        self.clock = clock
        self.max_document_bytes = max_document_bytes
        self._durations: tuple[float, dict[str, list[int]]] | None = None
        self._durations_lock = threading.Lock()
        self.listeners: list[Callable[[str, int], None]] = []
        self._rows: dict[str, SessionRow] = {}  # committed rows, least recently used first
        self._rows_lock = threading.Lock()

    # reads -------------------------------------------------------------------------------------
    def owned(
        self, txn: Txn, user_id: str, session_id: str, *, for_update: bool = False
    ) -> SessionRow:
        if not SESSION_ID.fullmatch(session_id):
            raise NotFound("no such session", session_id=session_id[:80])
        row = txn.get_session(session_id, for_update=for_update)
        if row is None or row.owner_id != user_id:
            raise NotFound("no such session", session_id=session_id)
        return row

    def _load_txn(self, txn: Txn, user_id: str, session_id: str) -> SessionRow:
        """The session for update, from the cache when its version is still the stored one.

        Parsing the whole document is the largest cost of a small edit; the cache holds only
        committed rows and is checked against the stored version, so another process's write
        (or a rolled-back one of ours) is never served from it.
        """
        with self._rows_lock:
            cached = self._rows.get(session_id)
        if cached is not None and SESSION_ID.fullmatch(session_id):
            txn.lock_sessions([session_id])
            if txn.session_versions([session_id]).get(session_id) == cached.version:
                if cached.owner_id != user_id:
                    raise NotFound("no such session", session_id=session_id)
                return cached
        return self.owned(txn, user_id, session_id, for_update=True)

    def _remember(self, row: SessionRow) -> None:
        with self._rows_lock:
            self._rows.pop(row.id, None)
            if len(self._rows) >= ROW_CACHE_SIZE:
                self._rows.pop(next(iter(self._rows)))
            self._rows[row.id] = row

    def _forget(self, session_id: str) -> None:
        with self._rows_lock:
            self._rows.pop(session_id, None)

    def get(self, user_id: str, session_id: str) -> SessionRow:
        with self.store.read() as txn:
            return self.owned(txn, user_id, session_id)

    def search(self, user_id: str, query: SessionQuery) -> tuple[list[SessionRow], int]:
        query = dataclasses.replace(query, owner_id=user_id)
        with self.store.read() as txn:
            return txn.list_sessions(query), txn.count_sessions(query)

    def log_since(
        self, user_id: str, session_id: str, version: int, limit: int = 1000
    ) -> tuple[SessionRow, list[LogEntry], int | None]:
        with self.store.read() as txn:
            row = self.owned(txn, user_id, session_id)
            return row, txn.log_since(session_id, version, limit), txn.log_min_version(session_id)

    def changes_since(
        self,
        session_id: str,
        version: int,
        limit: int = 5000,
        needs_document: Callable[[int, list[LogEntry], int | None], bool] | None = None,
    ) -> tuple[int, list[LogEntry], int | None, dict[str, Any] | None]:
        """The session's version, its log after `version`, the oldest logged version, and the
        document when `needs_document(version, entries, oldest)` says a reader must reset.

        No owner check: for the sync hub, whose members were authorised when they joined.
        """
        with self.store.read() as txn:
            current = txn.session_versions([session_id]).get(session_id)
            if current is None:
                raise NotFound("no such session", session_id=session_id)
            entries = txn.log_since(session_id, version, limit)
            oldest = txn.log_min_version(session_id)
            document = None
            if needs_document is not None and needs_document(current, entries, oldest):
                row = txn.get_session(session_id)
                if row is None:
                    raise NotFound("no such session", session_id=session_id)
                document = row.document  # same snapshot: row.version == current
            return current, entries, oldest, document

    def versions(self, session_ids: Sequence[str]) -> dict[str, int]:
        with self.store.read() as txn:
            return txn.session_versions(session_ids)

    def check_client(self, user_id: str, client_id: str) -> int:
        """The client's lastMutationID; ForbiddenClient if another user owns that clientID."""
        with self.store.read() as txn:
            client = txn.get_client(client_id)
        if client is None:
            return 0
        if client.user_id != user_id:
            raise ForbiddenClient("this clientID belongs to another user")
        return client.last_mutation_id

    def export(self, user_id: str, session_id: str) -> dict[str, Any]:
        with self.store.read() as txn:
            row = self.owned(txn, user_id, session_id)
            entries = txn.log_since(session_id, 0, 1_000_000)
            snapshot = oldest_snapshot_txn(txn, session_id)
            return export_payload(row, entries, txn.list_conflicts(session_id), snapshot)

    def client_last(self, user_id: str, client_id: str) -> int:
        """The client's lastMutationID (0 for a client never seen or not the caller's)."""
        with self.store.read() as txn:
            client = txn.get_client(client_id)
        return client.last_mutation_id if client and client.user_id == user_id else 0

    def conflicts(
        self, user_id: str, session_id: str, status: str | None = None
    ) -> list[ConflictRow]:
        with self.store.read() as txn:
            self.owned(txn, user_id, session_id)
            return txn.list_conflicts(session_id, status=status)

    def step_durations(self) -> dict[str, list[int]]:
        """Recorded durations per step, cached briefly (they change slowly)."""
        with self._durations_lock:
            cached = self._durations
            if cached is not None and time.monotonic() - cached[0] < DURATION_CACHE_SECONDS:
                return cached[1]
        with self.store.read() as txn:
            stats = txn.step_duration_stats()
        with self._durations_lock:
            self._durations = (time.monotonic(), stats)
        return stats

    def duration_segments(self) -> dict[tuple[str, str | None, bool], list[int]]:
        """Recorded durations per (step, template, quick-create), cached briefly."""
        with self._durations_lock:
            cached = self._segments
            if cached is not None and time.monotonic() - cached[0] < DURATION_CACHE_SECONDS:
                return cached[1]
        with self.store.read() as txn:
            segments = txn.step_duration_segments()
        with self._durations_lock:
            self._segments = (time.monotonic(), segments)
        return segments

    def recommendation(self, user_id: str, session_id: str) -> resume.Recommendation:
        row = self.get(user_id, session_id)
        durations = analytics.durations_for(row.document, self.duration_segments())
        return resume.recommend(row.document, durations, self.clock())

    def resolve_link(self, user_id: str, url: str) -> tuple[navigation.DeepLink, SessionRow]:
        link = navigation.parse_deep_link(url)
        return link, self.get(user_id, link.session_id)

    # writes ------------------------------------------------------------------------------------
    def create(
        self,
        user_id: str,
        *,
        title: str = "",
        quick_create: bool = False,
        target: Mapping[str, str] | None = None,
    ) -> SessionRow:
        if len(title) > 200:
            raise InvalidInput("title is longer than 200 characters")
        now = self.clock()
        session_id = "s_" + uuid.uuid4().hex
        doc = new_session_document(session_id, user_id, now, title=title, quick_create=quick_create)
        if target:
            for key in ("role", "jobDescription", "instructions"):
                if key in target:
                    doc["target"][key] = target[key]
        schema.validate_document(doc)
        row = row_from_document(doc, {}, now)

        def insert_txn(txn: Txn) -> None:
            txn.insert_session(row)
            history.snapshot_txn(txn, row)  # version 0: history starts here
            created = EventRow("session.created", user_id, now, session_id, None,
                               {"quickCreate": quick_create})  # fmt: skip
            txn.insert_events([created])

        self.writer.run(insert_txn)
        self._notify(session_id, row.version)
        return row

    def delete(self, user_id: str, session_id: str) -> Purged:
        """Delete the caller's session with all its rows; return the files and jobs it owned."""
        purged = self.writer.run(
            lambda txn: purge_txn(txn, self.owned(txn, user_id, session_id, for_update=True)),
            (session_id,),
        )
        self.forget_deleted(session_id)
        return purged

    def purge_if(self, session_id: str, still: Callable[[SessionRow], bool]) -> Purged | None:
        """Delete the session if `still(row)` holds for it as locked in the deleting
        transaction (a decision made on an older read is re-checked); else None."""

        def txn_fn(txn: Txn) -> Purged | None:
            row = txn.get_session(session_id, for_update=True)
            return purge_txn(txn, row) if row is not None and still(row) else None

        purged = self.writer.run(txn_fn, (session_id,))
        if purged is not None:
            self.forget_deleted(session_id)
        return purged

    def forget_deleted(self, session_id: str) -> None:
        """Drop a deleted session from the row cache and tell its subscribers it is gone."""
        self._forget(session_id)
        self._notify(session_id, -1)

    def mutate(
        self, user_id: str, session_id: str, mut: Mutation, *, internal: bool = False
    ) -> Outcome:
        """Apply one mutation durably; raise only for errors that do not consume the id."""
        self._check(mut, internal)
        outcome = self.writer.run(
            lambda txn: self.mutate_txn(txn, user_id, session_id, mut), (session_id,)
        )
        if outcome.row is not None:
            self._remember(outcome.row)
        if outcome.status == "applied" and (outcome.ops or outcome.conflicts):
            self._notify(session_id, outcome.version)
        return outcome

    def transact(
        self,
        user_id: str,
        session_id: str,
        unit: Callable[[Txn], tuple[T, Sequence[Mutation]]],
    ) -> T:
        """Run `unit` and then apply the server mutations it returns, in one transaction.

        The job engine changes a job row and the session document together with it. A
        mutation's error is raised and undoes the whole unit.
        """

        def wrapped(txn: Txn) -> tuple[T, SessionRow | None, int]:
            value, mutations = unit(txn)
            row: SessionRow | None = None
            changed = -1
            for mut in mutations:
                outcome = self.mutate_txn(txn, user_id, session_id, mut, row)
                if outcome.error is not None:
                    raise outcome.error
                row = outcome.row or row
                if outcome.status == "applied" and (outcome.ops or outcome.conflicts):
                    changed = outcome.version
            return value, row, changed

        value, row, changed = self.writer.run(wrapped, (session_id,))
        if row is not None:
            self._remember(row)
        if changed >= 0:
            self._notify(session_id, changed)
        return value

    async def apush(
        self,
        user_id: str,
        session_id: str,
        mutations: Sequence[Mutation],
        clock_offset_ms: int = 0,
    ) -> tuple[list[Outcome], MutationGap | None]:
        """Apply a client's pushed mutations in order, in one durable unit of work.

        Stops at the first gap and returns it beside the outcomes so far. A session that is not
        the caller's raises NotFound and consumes nothing. `clock_offset_ms` is this server's
        clock minus the client's (analytics.push_tally), 0 when unknown.
        """
        for mut in mutations:
            self._check(mut, True)  # server-only names are refused per mutation, below

        tallies: list[dict[str, int]] = []

        def unit(txn: Txn) -> tuple[list[Outcome], MutationGap | None, SessionRow | None]:
            outcomes: list[Outcome] = []
            found: MutationGap | None = None
            row: SessionRow | None = self._load_txn(txn, user_id, session_id)
            for mut in mutations:
                try:
                    # A gap is detected before anything is written, so no savepoint is needed;
                    # any other failure undoes the whole push, which the client then resends.
                    outcome = self.mutate_txn(txn, user_id, session_id, mut, row)
                except MutationGap as gap:
                    found = gap
                    break
                outcomes.append(outcome)
                row = outcome.row or row
            # One row per push, in its transaction: the push's figures are exactly what committed.
            now = self.clock()
            tally = analytics.push_tally(mutations, outcomes, found, now, clock_offset_ms)
            txn.defer_events(analytics.push_events(user_id, session_id, tally, now))
            tallies[:] = [tally]  # a unit re-run after a failed group commit counts once
            return outcomes, found, row

        try:
            small = len(mutations) <= INLINE_PUSH_MUTATIONS
            outcomes, gap, final = await self.writer.arun(unit, (session_id,), small=small)
        except Exception:
            self.metrics.failures.inc()
            raise
        self.metrics.count_push(tallies[-1])
        if final is not None:
            self._remember(final)  # committed: the next push need not parse the document
        changed = [o for o in outcomes if o.status == "applied" and (o.ops or o.conflicts)]
        if changed:
            self._notify(session_id, changed[-1].version)
        return outcomes, gap

    def _check(self, mut: Mutation, internal: bool) -> None:
        if not internal and mut.name.startswith(handlers.SERVER_ONLY_PREFIX):
            raise InvalidInput(f"unknown mutation {mut.name!r}")
        if len(mut.client_id) > MAX_CLIENT_ID:
            raise InvalidInput(f"clientID is longer than {MAX_CLIENT_ID} characters")
        if mut.client_id and mut.id < 1:
            raise InvalidInput("mutation ids start at 1")

    def mutate_txn(
        self,
        txn: Txn,
        user_id: str,
        session_id: str,
        mut: Mutation,
        current: SessionRow | None = None,
    ) -> Outcome:
        """Apply `mut` inside `txn`: session version, log, conflicts and lastMutationID together.

        `current` is the session as this transaction last wrote it (saves a reload in a push).
        """
        now = self.clock()
        client: ClientRow | None = None
        # The common case, an in-order mutation of a known client, takes one statement; the
        # savepoint around the unit undoes it if anything below raises.
        advanced = bool(mut.client_id) and txn.advance_client(mut.client_id, user_id, mut.id, now)
        if mut.client_id and not advanced:
            client = txn.get_client(mut.client_id)
            if client is not None and client.user_id != user_id:
                raise NotFound("unknown client", client_id=mut.client_id)
            last = client.last_mutation_id if client is not None else 0
            if not check_order(last, mut.id):
                seen = current or txn.get_session(session_id)
                version = seen.version if seen is not None and seen.owner_id == user_id else 0
                return Outcome("duplicate", session_id, version, last, row=current)

        def advance() -> int | None:
            if not mut.client_id:
                return None
            if not advanced:
                group = client.client_group_id if client else ""
                txn.upsert_client(ClientRow(mut.client_id, user_id, mut.id, now, group))
            return mut.id

        row: SessionRow | None = None
        try:
            if mut.client_id and mut.name.startswith(handlers.SERVER_ONLY_PREFIX):
                raise InvalidInput(f"unknown mutation {mut.name!r}")
            row = current or self._load_txn(txn, user_id, session_id)
            extra = self._extra_txn(txn, session_id, mut)
            own: frozenset[int] = frozenset()
            if mut.client_id and mut.base_version is not None and mut.base_version < row.version:
                own = txn.client_versions(session_id, mut.client_id, mut.base_version)
            result = handlers.apply_mutation(
                row.document, row.field_versions, row.version, mut, now, extra=extra,
                own_versions=own,
            )  # fmt: skip
            encoded = None
            if result.version != row.version:
                encoded = self._check_size(row.document, result.document)
        except DomainError as exc:
            # A permanent error still consumes the id, or the client would retry forever.
            return Outcome(
                "error",
                session_id,
                row.version if row is not None else 0,
                advance(),
                error=exc,
                row=row,
            )
        conflicts = []
        new_row = row
        if result.version != row.version:
            for c in result.conflicts:
                conflict = ConflictRow(
                    id="c_" + uuid.uuid4().hex,
                    session_id=session_id,
                    path=c.path,
                    yours=c.yours,
                    theirs=c.theirs,
                    version=result.version,
                    client_id=mut.client_id,
                    mutation_id=mut.id,
                    status="open",
                    created_at=now,
                )
                txn.insert_conflict(conflict)
                conflicts.append({"id": conflict.id, **c.to_json()})
            self._effects_txn(txn, session_id, result.effects, now)
            txn.append_log(
                LogEntry(
                    session_id=session_id,
                    version=result.version,
                    client_id=mut.client_id,
                    mutation_id=mut.id,
                    name=mut.name,
                    args=mut.args,
                    ops=result.ops,
                    conflicts=conflicts,
                    created_at=now,
                    hlc=mut.hlc,
                )
            )
            new_row = row_from_document(result.document, result.field_versions, now)
            txn.update_session(new_row, row, encoded=encoded)
            events = analytics.mutation_events(
                user_id, session_id, mut, row.document, result.document, now
            )
            if events:
                txn.insert_events(events)
            history.after_update_txn(txn, new_row, history.policy_for(self))
        return Outcome(
            "applied",
            session_id,
            result.version,
            advance(),
            ops=result.ops,
            conflicts=conflicts,
            document=result.document,
            row=new_row,
            logged=new_row is not row,
        )

    def _check_size(self, before: dict[str, Any], after: dict[str, Any]) -> str:
        """Refuse a document over the limit, unless the change makes it smaller (so a session
        stored before the limit was lowered can still be trimmed). Returns `after` encoded as
        the store writes it."""
        encoded, size = dump_json_sized(after)
        if size > self.max_document_bytes and size > encoded_size(before):
            raise DocumentTooLarge(
                f"this change would make the session {size:,} bytes, over its limit of "
                f"{self.max_document_bytes:,}; remove content (large text fields, data) first",
                size=size,
                limit=self.max_document_bytes,
            )
        return encoded

    def _extra_txn(self, txn: Txn, session_id: str, mut: Mutation) -> dict[str, Any]:
        if mut.name == history.RESTORE:
            return history.restore_extra_txn(txn, session_id, mut.args)
        if mut.name != "conflict.resolve" or not isinstance(mut.args, dict):
            return {}
        cid = mut.args.get("conflictId")
        conflict = txn.get_conflict(cid) if isinstance(cid, str) else None
        if conflict is None or conflict.session_id != session_id:
            return {}
        return {
            "conflict": {
                "id": conflict.id,
                "path": conflict.path,
                "yours": conflict.yours,
                "theirs": conflict.theirs,
                "status": conflict.status,
            }
        }

    def _effects_txn(
        self, txn: Txn, session_id: str, effects: Sequence[dict[str, Any]], now: datetime
    ) -> None:
        for effect in effects:
            if effect["kind"] == "step_duration":
                txn.record_step_duration(
                    StepDurationRow(
                        session_id=session_id,
                        step=effect["step"],
                        duration_ms=int(effect["duration_ms"] or 0),
                        recorded_at=now,
                        template=effect.get("template"),
                        quick_create=bool(effect.get("quick_create")),
                    )
                )
            elif effect["kind"] == "conflict_resolved":
                conflict = txn.get_conflict(effect["conflict_id"])
                if conflict is not None:
                    txn.update_conflict(
                        dataclasses.replace(
                            conflict,
                            status="resolved",
                            resolved_at=now,
                            resolution={"choice": effect["choice"], "value": effect["value"]},
                        )
                    )

    def command(
        self,
        user_id: str,
        session_id: str,
        name: str,
        args: dict[str, Any] | None = None,
        base_version: int | None = None,
    ) -> Outcome:
        """Apply a server-numbered mutation (REST convenience routes); raise its error."""
        outcome = self.mutate(user_id, session_id, Mutation("", 0, name, args or {}, base_version))
        if outcome.error is not None:
            raise outcome.error
        return outcome

    def _notify(self, session_id: str, version: int) -> None:
        for listener in list(self.listeners):
            listener(session_id, version)
