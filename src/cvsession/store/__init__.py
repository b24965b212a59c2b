"""Durable storage: the `Store` interface and `open_store(url)`, which picks the backend.

`sqlite:///relative/path.db` or `sqlite:////absolute/path.db` opens the embedded `SQLiteStore`;
`postgresql://...` (or `postgres://...`) opens `PostgresStore`. Drivers are imported only when
their backend is chosen.
"""

from __future__ import annotations

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
    Store,
    TokenRow,
    Txn,
    UserRow,
)
from cvsession.store.events import EventRow, Window
from cvsession.store.jobs import FINAL_JOB_STATUSES, ArtifactRow, JobRow, WorkerRow
from cvsession.store.shares import ShareLinkRow
from cvsession.store.uploads import UploadRow

__all__ = [
    "FINAL_JOB_STATUSES",
    "ORDER_FIELDS",
    "RESUMABLE_STATUSES",
    "ArtifactRow",
    "ClientRow",
    "ConflictRow",
    "DuplicateKey",
    "EventRow",
    "JobRow",
    "LogEntry",
    "SessionQuery",
    "SessionRow",
    "ShareLinkRow",
    "StepDurationRow",
    "Store",
    "TokenRow",
    "Txn",
    "UploadRow",
    "UserRow",
    "Window",
    "WorkerRow",
    "open_store",
]


def open_store(url: str) -> Store:
    """Open the store at `url` (not migrated: call `migrate()`); raises ValueError if unknown."""
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        from cvsession.store.sqlite import SQLiteStore, parse_sqlite_url

        return SQLiteStore(parse_sqlite_url(url))
    if scheme in ("postgresql", "postgres"):
        from cvsession.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///path.db or postgresql://...")
