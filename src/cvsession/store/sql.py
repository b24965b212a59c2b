"""The SQL both backends share: row codecs, the session query builder and `SQLTxn`.

Statements are written once with `?` placeholders; a backend subclasses `SQLTxn` and supplies
`execute`/`fetchall` (PostgreSQL rewrites `?` to `%s`, so no statement may hold a literal `?`
or `%`). Every value comes in as a parameter; the only identifiers built from input are
column names taken from the `ORDER_FIELDS` whitelist.

Encodings, identical on both backends:

- JSON columns are TEXT written by orjson, not jsonb: jsonb rejects U+0000 and reorders keys,
  and we need byte-exact round trips of arbitrary user strings. Values must be plain JSON
  (dict with str keys, list, str, int within 64 bits, float, bool, None); anything else raises
  `TypeError`. NaN and infinities are not JSON and are written as null (orjson's behaviour).
- Timestamps are integer milliseconds since the Unix epoch. Rows carry aware UTC datetimes;
  sub-millisecond parts are truncated (floored) on write. A naive datetime raises `ValueError`.
- Plain TEXT values (ids, titles, statuses, lookup keys, ...) containing U+0000 raise
  `ValueError` on both backends, because PostgreSQL text cannot hold it. JSON columns can
  (orjson escapes it). Subclasses pass every parameter list through `check_params`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, cast

from cvsession.store.base import (
    ORDER_FIELDS,
    RESUMABLE_STATUSES,
    ClientRow,
    ConflictRow,
    DuplicateKey,
    LogEntry,
    SessionQuery,
    SessionRow,
    StepDurationRow,
    TokenRow,
    UserRow,
)
from cvsession.store.codec import (
    dump_json,
    from_ms,
    load_json,
    opt_from_ms,
    opt_to_ms,
    to_ms,
)
from cvsession.store.events import EventsTxn
from cvsession.store.flags import FlagsTxn
from cvsession.store.jobs import JobsTxn
from cvsession.store.shares import SharesTxn
from cvsession.store.uploads import UPLOAD_COLUMNS, UploadRow

MAX_LIMIT = 500
Row = tuple[Any, ...]
STATS_PER_STEP = 1000


def check_params(params: Sequence[Any]) -> Sequence[Any]:
    """Refuse U+0000 in any text parameter, on every backend alike (PostgreSQL cannot bind it).

    JSON parameters pass: orjson escapes U+0000.
    """
    for value in params:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text columns and lookup keys cannot hold U+0000")
    return params


def fold(value: str) -> str:
    """The case-folded form kept in `sessions.title_fold` and used for `SessionQuery.text`."""
    return value.casefold()


def like_contains(needle: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching `needle` literally as a substring."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def clamp_limit(limit: int) -> int:
    return max(1, min(MAX_LIMIT, limit))


def session_where(query: SessionQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for a `SessionQuery`."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.owner_id is not None:
        clauses.append("owner_id = ?")
        params.append(query.owner_id)
    for column, values in (("status", query.statuses), ("current_step", query.steps)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    for column, low, high in (
        ("created_at", query.created_from, query.created_to),
        ("last_active_at", query.active_from, query.active_to),
    ):
        if low is not None:
            clauses.append(f"{column} >= ?")
            params.append(to_ms(low))
        if high is not None:
            clauses.append(f"{column} < ?")
            params.append(to_ms(high))
    if query.resumable is not None:
        negate = "" if query.resumable else "NOT "
        clauses.append(f"status {negate}IN ({', '.join('?' * len(RESUMABLE_STATUSES))})")
        params.extend(RESUMABLE_STATUSES)
    if query.text:
        clauses.append("title_fold LIKE ? ESCAPE '\\'")
        params.append(like_contains(fold(query.text)))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def session_order(query: SessionQuery) -> str:
    """ORDER BY for a `SessionQuery`; the column comes from the whitelist, id breaks ties."""
    if query.order_by not in ORDER_FIELDS:
        raise ValueError(f"order_by must be one of {ORDER_FIELDS}, not {query.order_by!r}")
    direction = "DESC" if query.descending else "ASC"
    return f" ORDER BY {query.order_by} {direction}, id {direction}"


SESSION_COLUMNS = (
    "id, owner_id, status, current_step, title, created_at, last_active_at, updated_at, "
    "version, schema_version, document, field_versions"
)
LOG_COLUMNS = (
    "session_id, version, client_id, mutation_id, name, args, ops, conflicts, created_at, hlc"
)
CONFLICT_COLUMNS = (
    "id, session_id, path, yours, theirs, version, client_id, mutation_id, status, created_at, "
    "resolution, resolved_at"
)
TOKEN_COLUMNS = "token_hash, user_id, kind, created_at, expires_at, used_at, label"


def session_params(row: SessionRow, encoded: str | None = None) -> list[Any]:
    """Parameters in SESSION_COLUMNS order followed by title_fold; `encoded` is the document
    already encoded by `dump_json`, if known."""
    return [
        row.id,
        row.owner_id,
        row.status,
        row.current_step,
        row.title,
        to_ms(row.created_at),
        to_ms(row.last_active_at),
        to_ms(row.updated_at),
        row.version,
        row.schema_version,
        dump_json(row.document) if encoded is None else encoded,
        dump_json(row.field_versions),
        fold(row.title),
    ]


_SESSION_SETTABLE = [*SESSION_COLUMNS.split(", "), "title_fold"]
# The columns an UPDATE may set (all but id), as indexes into session_params, each with the
# SessionRow attribute it comes from; None marks the JSON columns, always written (comparing
# them would cost more than writing them).
_SESSION_UPDATABLE_ATTRS: tuple[tuple[int, str | None], ...] = tuple(
    (i, None if c in ("document", "field_versions") else "title" if c == "title_fold" else c)
    for i, c in enumerate(_SESSION_SETTABLE)
    if i > 0
)
_SESSION_UPDATABLE = tuple(i for i, _ in _SESSION_UPDATABLE_ATTRS)


@functools.cache
def _update_sql(columns: tuple[int, ...]) -> str:
    sets = ", ".join(f"{_SESSION_SETTABLE[i]} = ?" for i in columns)
    return f"UPDATE sessions SET {sets} WHERE id = ?"


def session_from(r: Row) -> SessionRow:
    return SessionRow(
        id=r[0],
        owner_id=r[1],
        status=r[2],
        current_step=r[3],
        title=r[4],
        created_at=from_ms(r[5]),
        last_active_at=from_ms(r[6]),
        updated_at=from_ms(r[7]),
        version=r[8],
        schema_version=r[9],
        document=load_json(r[10]),
        field_versions=load_json(r[11]),
    )


def log_from(r: Row) -> LogEntry:
    return LogEntry(
        session_id=r[0],
        version=r[1],
        client_id=r[2],
        mutation_id=r[3],
        name=r[4],
        args=load_json(r[5]),
        ops=load_json(r[6]),
        conflicts=load_json(r[7]),
        created_at=from_ms(r[8]),
        hlc=r[9],
    )


def conflict_params(c: ConflictRow) -> list[Any]:
    """Parameters in CONFLICT_COLUMNS order."""
    return [
        c.id,
        c.session_id,
        c.path,
        dump_json(c.yours),
        dump_json(c.theirs),
        c.version,
        c.client_id,
        c.mutation_id,
        c.status,
        to_ms(c.created_at),
        dump_json(c.resolution),
        opt_to_ms(c.resolved_at),
    ]


def conflict_from(r: Row) -> ConflictRow:
    return ConflictRow(
        id=r[0],
        session_id=r[1],
        path=r[2],
        yours=load_json(r[3]),
        theirs=load_json(r[4]),
        version=r[5],
        client_id=r[6],
        mutation_id=r[7],
        status=r[8],
        created_at=from_ms(r[9]),
        resolution=load_json(r[10]),
        resolved_at=opt_from_ms(r[11]),
    )


def token_from(r: Row) -> TokenRow:
    return TokenRow(
        token_hash=r[0],
        user_id=r[1],
        kind=r[2],
        created_at=from_ms(r[3]),
        expires_at=opt_from_ms(r[4]),
        used_at=opt_from_ms(r[5]),
        label=r[6],
    )


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _upload_from(r: Row) -> UploadRow:
    return UploadRow(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        int(r[5]),
        str(r[6]),
        str(r[7]),
        from_ms(int(r[8])),
    )


class SQLTxn(JobsTxn, FlagsTxn, EventsTxn, SharesTxn):
    """The dialect-neutral `Txn`. Subclasses bind it to one connection of their driver."""

    # Appended to SELECTs that lock the row ("" where the whole database is locked anyway).
    for_update_clause: ClassVar[str] = ""

    def __init__(self, *, readonly: bool) -> None:
        self.readonly = readonly
        self._closed = False
        self._savepoints = 0
        self._deferred_events = []

    # --- driver hooks ---------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query; return its rows."""
        raise NotImplementedError

    # --- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Called by the store when the transaction ends; later use is a bug."""
        self._closed = True

    def check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Txn's transaction has ended")

    def _fetchone(self, sql: str, params: Sequence[Any]) -> Row | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def _write(self) -> None:
        if self.readonly:
            raise RuntimeError("cannot write through Store.read(); use Store.transaction()")

    def _insert(self, table: str, columns: str, params: Sequence[Any], what: str) -> None:
        # ON CONFLICT DO NOTHING keeps the transaction usable after a collision on PostgreSQL
        # (a raised unique violation would abort it), so DuplicateKey behaves alike everywhere.
        self._write()
        values = _marks(len(params))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"
        if self.execute(sql, params) == 0:
            raise DuplicateKey(f"{what} already exists")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self.check_open()
        # Named by nesting depth, not by count: a batch runs hundreds of savepoints one after
        # another, and a handful of distinct statements stay in the driver's statement cache.
        self._savepoints += 1
        name = f"cvs_sp{self._savepoints}"
        deferred = len(self._deferred_events)
        try:
            self.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                del self._deferred_events[deferred:]
                self.execute(f"ROLLBACK TO SAVEPOINT {name}")
                self.execute(f"RELEASE SAVEPOINT {name}")
                raise
            self.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._savepoints -= 1

    # --- users and tokens -------------------------------------------------------------------

    def insert_user(self, user: UserRow) -> None:
        params = [user.id, to_ms(user.created_at), user.display_name]
        self._insert("users", "id, created_at, display_name", params, f"user {user.id!r}")

    def get_user(self, user_id: str) -> UserRow | None:
        r = self._fetchone("SELECT id, created_at, display_name FROM users WHERE id = ?", [user_id])
        return None if r is None else UserRow(id=r[0], created_at=from_ms(r[1]), display_name=r[2])

    def insert_token(self, token: TokenRow) -> None:
        params = [
            token.token_hash,
            token.user_id,
            token.kind,
            to_ms(token.created_at),
            opt_to_ms(token.expires_at),
            opt_to_ms(token.used_at),
            token.label,
        ]
        self._insert("tokens", TOKEN_COLUMNS, params, "token")

    def get_token(self, token_hash: str) -> TokenRow | None:
        r = self._fetchone(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?", [token_hash])
        return None if r is None else token_from(r)

    def mark_token_used(self, token_hash: str, used_at: datetime) -> bool:
        self._write()
        sql = "UPDATE tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
        return self.execute(sql, [to_ms(used_at), token_hash]) == 1

    def delete_token(self, token_hash: str) -> None:
        self._write()
        self.execute("DELETE FROM tokens WHERE token_hash = ?", [token_hash])

    def delete_user(self, user_id: str) -> bool:
        self._write()
        # clients.user_id has no foreign key (a client row may predate its user's first
        # session), so it is deleted here; tokens and sessions cascade from users.
        self.execute("DELETE FROM clients WHERE user_id = ?", [user_id])
        return self.execute("DELETE FROM users WHERE id = ?", [user_id]) == 1

    # --- sessions -----------------------------------------------------------------------------

    def insert_session(self, row: SessionRow) -> None:
        columns = SESSION_COLUMNS + ", title_fold"
        self._insert("sessions", columns, session_params(row), f"session {row.id!r}")

    def lock_sessions(self, session_ids: Sequence[str]) -> None:
        if not self.for_update_clause or self.readonly:
            return
        for session_id in session_ids:
            self._fetchone(
                f"SELECT id FROM sessions WHERE id = ?{self.for_update_clause}", [session_id]
            )

    def get_session(self, session_id: str, *, for_update: bool = False) -> SessionRow | None:
        lock = self.for_update_clause if for_update and not self.readonly else ""
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?{lock}"
        r = self._fetchone(sql, [session_id])
        return None if r is None else session_from(r)

    def update_session(
        self, row: SessionRow, previous: SessionRow | None = None, *, encoded: str | None = None
    ) -> None:
        self._write()
        params = session_params(row, encoded)
        if previous is None:
            changed = _SESSION_UPDATABLE
        else:
            # Only the columns that differ: an indexed column named in SET costs an index
            # update even when its value stays the same.
            changed = tuple(
                i
                for i, attr in _SESSION_UPDATABLE_ATTRS
                if attr is None or getattr(row, attr) != getattr(previous, attr)
            )
        if self.execute(_update_sql(changed), [*(params[i] for i in changed), row.id]) == 0:
            raise KeyError(row.id)

    def delete_session(self, session_id: str) -> bool:
        self._write()
        return self.execute("DELETE FROM sessions WHERE id = ?", [session_id]) == 1

    def session_job_ids(self, session_id: str) -> list[str]:
        sql = "SELECT id FROM jobs WHERE session_id = ? ORDER BY created_at, id"
        return [str(r[0]) for r in self.fetchall(sql, [session_id])]

    def list_sessions(self, query: SessionQuery) -> list[SessionRow]:
        where, params = session_where(query)
        order = session_order(query)
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions{where}{order} LIMIT ? OFFSET ?"
        params += [clamp_limit(query.limit), max(0, query.offset)]
        return [session_from(r) for r in self.fetchall(sql, params)]

    def count_sessions(self, query: SessionQuery) -> int:
        where, params = session_where(query)
        r = self._fetchone(f"SELECT COUNT(*) FROM sessions{where}", params)
        return int(cast(Row, r)[0])

    # --- mutation log ---------------------------------------------------------------------------

    def append_log(self, entry: LogEntry) -> None:
        params = [
            entry.session_id,
            entry.version,
            entry.client_id,
            entry.mutation_id,
            entry.name,
            dump_json(entry.args),
            dump_json(entry.ops),
            dump_json(entry.conflicts),
            to_ms(entry.created_at),
            entry.hlc,
        ]
        what = f"log entry {entry.session_id!r} v{entry.version}"
        self._insert("mutation_log", LOG_COLUMNS, params, what)

    def log_since(self, session_id: str, version: int, limit: int = 1000) -> list[LogEntry]:
        sql = (
            f"SELECT {LOG_COLUMNS} FROM mutation_log WHERE session_id = ? AND version > ? "
            "ORDER BY version LIMIT ?"
        )
        return [log_from(r) for r in self.fetchall(sql, [session_id, version, max(0, limit)])]

    def client_versions(self, session_id: str, client_id: str, after: int) -> frozenset[int]:
        sql = (
            "SELECT version FROM mutation_log WHERE session_id = ? AND version > ? "
            "AND client_id = ?"
        )
        return frozenset(int(r[0]) for r in self.fetchall(sql, [session_id, after, client_id]))

    def session_versions(self, session_ids: Sequence[str]) -> dict[str, int]:
        if len(session_ids) == 1:  # the common case (a push checking its cached row)
            sql = "SELECT version FROM sessions WHERE id = ?"
            one = self._fetchone(sql, session_ids)
            return {} if one is None else {session_ids[0]: int(one[0])}
        ids = list(dict.fromkeys(session_ids))[:1000]
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self.fetchall(f"SELECT id, version FROM sessions WHERE id IN ({marks})", ids)
        return {str(r[0]): int(r[1]) for r in rows}

    def log_min_version(self, session_id: str) -> int | None:
        sql = "SELECT MIN(version) FROM mutation_log WHERE session_id = ?"
        r = self._fetchone(sql, [session_id])
        return None if r is None or r[0] is None else int(r[0])

    def truncate_log(self, session_id: str, before_version: int) -> int:
        self._write()
        sql = "DELETE FROM mutation_log WHERE session_id = ? AND version < ?"
        return self.execute(sql, [session_id, before_version])

    # --- uploads ----------------------------------------------------------------------------

    def insert_upload(self, upload: UploadRow) -> None:
        params = [
            upload.id,
            upload.session_id,
            upload.owner_id,
            upload.filename,
            upload.kind,
            upload.size,
            upload.sha256,
            upload.storage_name,
            to_ms(upload.created_at),
        ]
        self._insert("uploads", UPLOAD_COLUMNS, params, f"upload {upload.id!r}")

    def get_upload(self, upload_id: str) -> UploadRow | None:
        r = self._fetchone(f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ?", [upload_id])
        return None if r is None else _upload_from(r)

    def list_uploads(self, session_id: str) -> list[UploadRow]:
        sql = f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE session_id = ? ORDER BY created_at, id"
        return [_upload_from(r) for r in self.fetchall(sql, [session_id])]

    def delete_upload(self, upload_id: str) -> bool:
        self._write()
        return self.execute("DELETE FROM uploads WHERE id = ?", [upload_id]) > 0

    # --- snapshots --------------------------------------------------------------------------

    def insert_snapshot(
        self,
        session_id: str,
        version: int,
        document: dict[str, Any],
        field_versions: dict[str, int],
        created_at: datetime,
    ) -> None:
        self._write()
        sql = (
            "INSERT INTO snapshots (session_id, version, document, field_versions, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        params = [
            session_id,
            version,
            dump_json(document),
            dump_json(field_versions),
            to_ms(created_at),
        ]
        self.execute(sql, params)

    def snapshot_at_or_before(
        self, session_id: str, version: int
    ) -> tuple[int, dict[str, Any], dict[str, int]] | None:
        sql = (
            "SELECT version, document, field_versions FROM snapshots "
            "WHERE session_id = ? AND version <= ? ORDER BY version DESC LIMIT 1"
        )
        r = self._fetchone(sql, [session_id, version])
        return None if r is None else (int(r[0]), load_json(r[1]), load_json(r[2]))

    def snapshot_versions(self, session_id: str) -> list[int]:
        sql = "SELECT version FROM snapshots WHERE session_id = ? ORDER BY version"
        return [int(r[0]) for r in self.fetchall(sql, [session_id])]

    def delete_snapshots_before(self, session_id: str, version: int) -> int:
        self._write()
        sql = "DELETE FROM snapshots WHERE session_id = ? AND version < ?"
        return self.execute(sql, [session_id, version])

    def session_version_page(self, after_id: str, limit: int = 500) -> list[tuple[str, int]]:
        sql = "SELECT id, version FROM sessions WHERE id > ? ORDER BY id LIMIT ?"
        rows = self.fetchall(sql, [after_id, clamp_limit(limit)])
        return [(str(r[0]), int(r[1])) for r in rows]

    # --- clients ------------------------------------------------------------------------------

    def get_client(self, client_id: str) -> ClientRow | None:
        sql = (
            "SELECT client_id, user_id, last_mutation_id, updated_at, client_group_id "
            "FROM clients WHERE client_id = ?"
        )
        r = self._fetchone(sql, [client_id])
        if r is None:
            return None
        return ClientRow(
            client_id=r[0],
            user_id=r[1],
            last_mutation_id=r[2],
            updated_at=from_ms(r[3]),
            client_group_id=r[4],
        )

    def upsert_client(self, client: ClientRow) -> None:
        self._write()
        sql = (
            "INSERT INTO clients (client_id, user_id, last_mutation_id, updated_at, "
            "client_group_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET "
            "user_id = excluded.user_id, last_mutation_id = excluded.last_mutation_id, "
            "updated_at = excluded.updated_at, client_group_id = excluded.client_group_id"
        )
        params = [
            client.client_id,
            client.user_id,
            client.last_mutation_id,
            to_ms(client.updated_at),
            client.client_group_id,
        ]
        self.execute(sql, params)

    def advance_client(
        self, client_id: str, user_id: str, last_mutation_id: int, updated_at: datetime
    ) -> bool:
        self._write()
        sql = (
            "UPDATE clients SET last_mutation_id = ?, updated_at = ? "
            "WHERE client_id = ? AND user_id = ? AND last_mutation_id = ?"
        )
        params = [last_mutation_id, to_ms(updated_at), client_id, user_id, last_mutation_id - 1]
        return self.execute(sql, params) == 1

    # --- conflicts ----------------------------------------------------------------------------

    def insert_conflict(self, conflict: ConflictRow) -> None:
        params = conflict_params(conflict)
        self._insert("conflicts", CONFLICT_COLUMNS, params, f"conflict {conflict.id!r}")

    def get_conflict(self, conflict_id: str) -> ConflictRow | None:
        sql = f"SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE id = ?"
        r = self._fetchone(sql, [conflict_id])
        return None if r is None else conflict_from(r)

    def update_conflict(self, conflict: ConflictRow) -> None:
        self._write()
        params = conflict_params(conflict)
        sets = ", ".join(f"{c} = ?" for c in CONFLICT_COLUMNS.split(", ")[1:])
        sql = f"UPDATE conflicts SET {sets} WHERE id = ?"
        if self.execute(sql, [*params[1:], params[0]]) == 0:
            raise KeyError(conflict.id)

    def list_conflicts(self, session_id: str, *, status: str | None = None) -> list[ConflictRow]:
        sql = f"SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE session_id = ?"
        params: list[Any] = [session_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY created_at, id"
        return [conflict_from(r) for r in self.fetchall(sql, params)]

    # --- step durations -----------------------------------------------------------------------

    def record_step_duration(self, row: StepDurationRow) -> None:
        self._write()
        sql = (
            "INSERT INTO step_durations (session_id, step, duration_ms, recorded_at, template, "
            "quick_create) VALUES (?, ?, ?, ?, ?, ?)"
        )
        params = [
            row.session_id,
            row.step,
            row.duration_ms,
            to_ms(row.recorded_at),
            row.template,
            bool(row.quick_create),
        ]
        self.execute(sql, params)

    def step_duration_stats(self) -> dict[str, list[int]]:
        sql = (
            "SELECT step, duration_ms FROM (SELECT step, duration_ms, ROW_NUMBER() OVER "
            "(PARTITION BY step ORDER BY recorded_at DESC, id DESC) AS rn FROM step_durations) "
            "newest WHERE rn <= ? ORDER BY step, duration_ms"
        )
        stats: dict[str, list[int]] = {}
        for step, duration in self.fetchall(sql, [STATS_PER_STEP]):
            stats.setdefault(step, []).append(int(duration))
        return stats
