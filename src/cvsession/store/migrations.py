"""Versioned schema migrations, one ordered list with the DDL of both dialects side by side.

Each `Migration` carries its SQLite and its PostgreSQL statements so the two cannot drift apart
in numbering; `schema_migrations(version, name, applied_at)` records what has been applied.
Migrations only ever get appended: never edit one that has shipped.

The caller runs `migrate_txn` inside one write transaction that already excludes other
migrators (SQLite: BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock), so two processes
migrating at once apply each step exactly once. DDL is transactional on both databases: a
failing migration leaves the previous version intact.

Column conventions: timestamps are BIGINT epoch milliseconds; JSON is TEXT written by orjson;
PostgreSQL text columns that are sorted or compared use COLLATE "C" so that ordering is by code
point, as in SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cvsession.store import events, flags, jobs, shares, uploads
from cvsession.store.codec import to_ms
from cvsession.store.sql import SQLTxn

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


_INDEXES = (
    # list_sessions for one owner, per ORDER BY column; id is the tie-breaker.
    "CREATE INDEX sessions_owner_active ON sessions (owner_id, last_active_at, id)",
    "CREATE INDEX sessions_owner_status_active ON sessions (owner_id, status, last_active_at, id)",
    "CREATE INDEX sessions_owner_created ON sessions (owner_id, created_at, id)",
    "CREATE INDEX sessions_owner_updated ON sessions (owner_id, updated_at, id)",
    # Sweeps across owners (expiry of idle sessions).
    "CREATE INDEX sessions_active ON sessions (last_active_at)",
    "CREATE INDEX tokens_user ON tokens (user_id)",
    "CREATE INDEX clients_user ON clients (user_id)",
    "CREATE INDEX conflicts_session ON conflicts (session_id, created_at, id)",
    "CREATE INDEX step_durations_step ON step_durations (step, recorded_at)",
    # Also serves ON DELETE CASCADE from sessions.
    "CREATE INDEX step_durations_session ON step_durations (session_id)",
)

_SQLITE_0001 = (
    """CREATE TABLE users (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        display_name TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('guest', 'bearer', 'pairing')),
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        used_at INTEGER,
        label TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        current_step TEXT NOT NULL,
        title TEXT NOT NULL,
        title_fold TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_active_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        schema_version INTEGER NOT NULL,
        document TEXT NOT NULL,
        field_versions TEXT NOT NULL
    )""",
    """CREATE TABLE mutation_log (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        mutation_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        args TEXT NOT NULL,
        ops TEXT NOT NULL,
        conflicts TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        hlc TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (session_id, version)
    ) WITHOUT ROWID""",
    """CREATE TABLE clients (
        client_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        client_group_id TEXT NOT NULL DEFAULT '',
        last_mutation_id INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )""",
    """CREATE TABLE conflicts (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        yours TEXT NOT NULL,
        theirs TEXT NOT NULL,
        version INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        mutation_id INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
        created_at INTEGER NOT NULL,
        resolution TEXT NOT NULL,
        resolved_at INTEGER
    )""",
    """CREATE TABLE step_durations (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        step TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        template TEXT,
        quick_create INTEGER NOT NULL DEFAULT 0
    )""",
    *_INDEXES,
)

_POSTGRES_0001 = (
    """CREATE TABLE users (
        id TEXT COLLATE "C" PRIMARY KEY,
        created_at BIGINT NOT NULL,
        display_name TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE tokens (
        token_hash TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('guest', 'bearer', 'pairing')),
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        used_at BIGINT,
        label TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE sessions (
        id TEXT COLLATE "C" PRIMARY KEY,
        owner_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        status TEXT COLLATE "C" NOT NULL,
        current_step TEXT COLLATE "C" NOT NULL,
        title TEXT COLLATE "C" NOT NULL,
        title_fold TEXT COLLATE "C" NOT NULL,
        created_at BIGINT NOT NULL,
        last_active_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        version BIGINT NOT NULL,
        schema_version INTEGER NOT NULL,
        document TEXT NOT NULL,
        field_versions TEXT NOT NULL
    )""",
    """CREATE TABLE mutation_log (
        session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        version BIGINT NOT NULL,
        client_id TEXT COLLATE "C" NOT NULL,
        mutation_id BIGINT NOT NULL,
        name TEXT NOT NULL,
        args TEXT NOT NULL,
        ops TEXT NOT NULL,
        conflicts TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        hlc TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (session_id, version)
    )""",
    """CREATE TABLE clients (
        client_id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL,
        client_group_id TEXT COLLATE "C" NOT NULL DEFAULT '',
        last_mutation_id BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )""",
    """CREATE TABLE conflicts (
        id TEXT COLLATE "C" PRIMARY KEY,
        session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        path TEXT COLLATE "C" NOT NULL,
        yours TEXT NOT NULL,
        theirs TEXT NOT NULL,
        version BIGINT NOT NULL,
        client_id TEXT COLLATE "C" NOT NULL,
        mutation_id BIGINT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
        created_at BIGINT NOT NULL,
        resolution TEXT NOT NULL,
        resolved_at BIGINT
    )""",
    """CREATE TABLE step_durations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        step TEXT COLLATE "C" NOT NULL,
        duration_ms BIGINT NOT NULL,
        recorded_at BIGINT NOT NULL,
        template TEXT,
        quick_create BOOLEAN NOT NULL DEFAULT FALSE
    )""",
    *_INDEXES,
)

# Snapshots of a session's document every N versions, so that any retained version can be
# rebuilt from the nearest snapshot plus the log after it, and the log before the oldest kept
# snapshot can be compacted away. Existing sessions get a snapshot of their current state, so
# their history is reconstructible from the upgrade on.
_BACKFILL_SNAPSHOTS = (
    "INSERT INTO snapshots (session_id, version, document, field_versions, created_at) "
    "SELECT id, version, document, field_versions, updated_at FROM sessions"
)
_SQLITE_0002 = (
    """CREATE TABLE snapshots (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        field_versions TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, version)
    ) WITHOUT ROWID""",
    _BACKFILL_SNAPSHOTS,
)
_POSTGRES_0002 = (
    """CREATE TABLE snapshots (
        session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        version BIGINT NOT NULL,
        document TEXT NOT NULL,
        field_versions TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, version)
    )""",
    _BACKFILL_SNAPSHOTS,
)

# Every mutation moves a session's updated_at and last_active_at, and each index holding one
# of them costs a B-tree delete and insert per mutation (docs/decisions/0018). These two serve
# only per-owner lists ordered by updated_at or filtered by status, which now read the owner's
# sessions through sessions_owner_active (status filtered on the way, updated_at sorted as
# title already is): the default most-recently-active lists stay indexed.
_LEAN_SESSION_INDEXES = (
    "DROP INDEX IF EXISTS sessions_owner_status_active",
    "DROP INDEX IF EXISTS sessions_owner_updated",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", _SQLITE_0001, _POSTGRES_0001),
    Migration(2, "snapshots", _SQLITE_0002, _POSTGRES_0002),
    Migration(3, "uploads", uploads.migration_sql("sqlite"), uploads.migration_sql("postgres")),
    Migration(4, "jobs", jobs.migration_sql("sqlite"), jobs.migration_sql("postgres")),
    Migration(
        5,
        "text-uploads",
        uploads.text_kind_migration_sql("sqlite"),
        uploads.text_kind_migration_sql("postgres"),
    ),
    Migration(6, "feature_flags", flags.migration_sql("sqlite"), flags.migration_sql("postgres")),
    Migration(7, "events", events.migration_sql("sqlite"), events.migration_sql("postgres")),
    Migration(8, "lean-session-indexes", _LEAN_SESSION_INDEXES, _LEAN_SESSION_INDEXES),
    Migration(9, "share-links", shares.migration_sql("sqlite"), shares.migration_sql("postgres")),
    Migration(
        10,
        "share-link-expiry",
        shares.expiry_migration_sql("sqlite"),
        shares.expiry_migration_sql("postgres"),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

_CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
)


def current_version_txn(txn: SQLTxn) -> int:
    """The highest applied version; the ledger table must exist."""
    rows = txn.fetchall("SELECT MAX(version) FROM schema_migrations")
    return int(rows[0][0] or 0)


def migrate_txn(txn: SQLTxn, dialect: Dialect) -> int:
    """Apply pending migrations inside the caller's exclusive transaction; return the version.

    A database already newer than this code is left alone (its version is returned), so an
    older process can keep running during a rolling upgrade.
    """
    txn.execute(_CREATE_LEDGER)
    version = current_version_txn(txn)
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        for statement in migration.statements(dialect):
            txn.execute(statement)
        txn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            [migration.version, migration.name, to_ms(datetime.now(UTC))],
        )
        version = migration.version
    return version
