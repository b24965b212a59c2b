"""The client's durable local state: identity, outbox and confirmed documents, in one SQLite file.

Everything the client must not lose lives here, so a new `Client` on the same file resumes with
the same clientID, the same queued mutations and the last confirmed documents, and works offline.
Writes are committed with WAL and `synchronous=FULL`: once `append` returns, the mutation
survives a crash or power loss.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock, one client per file by rule
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE documents (
        session_id TEXT PRIMARY KEY,
        cookie INTEGER NOT NULL,
        document TEXT NOT NULL
    )""",
    """CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        name TEXT NOT NULL,
        args TEXT NOT NULL,
        base_version INTEGER,
        hlc TEXT NOT NULL
    )""",
    "CREATE INDEX outbox_session ON outbox (session_id, id)",
)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A mutation made locally and not yet acknowledged by the server."""

    session_id: str
    id: int
    name: str
    args: Any
    base_version: int | None
    hlc: str

    def to_wire(self) -> dict[str, Any]:
        """The mutation as it travels in a `push` (docs/protocol.md)."""
        return {
            "id": self.id,
            "name": self.name,
            "args": self.args,
            "baseVersion": self.base_version,
            "hlc": self.hlc,
        }


def dumps(value: Any) -> str:
    """Strict, compact JSON (no NaN or Infinity: the server refuses them)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def new_client_id() -> str:
    """A fresh clientID: 128 random bits, within the protocol's alphabet."""
    return "py-" + secrets.token_hex(16)


class StoreInUse(RuntimeError):
    """Another live client holds this file."""


class ClientStore:
    """One client's SQLite file. Safe to call from several threads (one lock, one connection).

    One open store per file at a time: two live clients on one file would share a clientID and
    number their mutations from the same counter, so the store takes an advisory lock on
    `<path>.lock` and raises `StoreInUse` if another holds it. The lock dies with the process.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lockfile = self._take_lock()
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._migrate()
        self.client_id = self._meta("client_id") or ""
        self.client_group_id = self._meta("client_group_id") or ""

    def _take_lock(self) -> IO[str] | None:
        if fcntl is None:
            return None
        lockfile = open(  # noqa: SIM115 - held open for the store's lifetime
            os.fspath(self.path) + ".lock", "a+", encoding="utf-8"
        )
        try:
            fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lockfile.close()
            raise StoreInUse(f"{self.path} is used by another live client") from None
        return lockfile

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._lockfile is not None:
                self._lockfile.close()  # releases the lock
                self._lockfile = None

    @contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._txn() as conn:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} was written by a newer client (v{version})")
            if version == 0:
                for statement in _SCHEMA:
                    conn.execute(statement)
                defaults = {
                    "client_id": new_client_id(),
                    "client_group_id": new_client_id(),
                    "next_mutation_id": "1",
                    "last_acked": "0",
                    "hlc": "",
                }
                conn.executemany("INSERT INTO meta VALUES (?, ?)", defaults.items())
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # identity and counters ---------------------------------------------------------------------
    @property
    def last_acked(self) -> int:
        """The highest lastMutationID the server has acknowledged to this client."""
        return int(self._meta("last_acked") or 0)

    @property
    def hlc(self) -> str:
        """The last HLC stamp issued, so the clock stays monotonic across restarts."""
        return self._meta("hlc") or ""

    @property
    def next_mutation_id(self) -> int:
        return int(self._meta("next_mutation_id") or 1)

    def record_ack(self, last_mutation_id: int) -> None:
        """Raise `last_acked` to `last_mutation_id` (never lowers it)."""
        with self._txn() as conn:
            self._raise_acked_txn(conn, last_mutation_id)

    @staticmethod
    def _raise_acked_txn(conn: sqlite3.Connection, last_mutation_id: int) -> None:
        conn.execute(
            "UPDATE meta SET value = CAST(MAX(CAST(value AS INTEGER), ?) AS TEXT)"
            " WHERE key = 'last_acked'",
            (last_mutation_id,),
        )

    # outbox ------------------------------------------------------------------------------------
    def append(
        self, session_id: str, name: str, args: Any, base_version: int | None, hlc: str
    ) -> OutboxEntry:
        """Number a new mutation and queue it, atomically and durably; return the entry.

        Ids are the client's, shared by all sessions it edits (the server keeps one
        lastMutationID per client). Raises ValueError if `args` is not strict JSON.
        """
        encoded = dumps(args)
        with self._txn() as conn:
            (next_id,) = conn.execute(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_mutation_id'"
            ).fetchone()
            # Never reuse an id the server has seen, even if the counter was somehow behind.
            mutation_id = max(int(next_id), self._acked_txn(conn) + 1)
            conn.execute(
                "INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?)",
                (mutation_id, session_id, name, encoded, base_version, hlc),
            )
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'next_mutation_id'", (str(mutation_id + 1),)
            )
            conn.execute("UPDATE meta SET value = ? WHERE key = 'hlc'", (hlc,))
        return OutboxEntry(session_id, mutation_id, name, json.loads(encoded), base_version, hlc)

    @staticmethod
    def _acked_txn(conn: sqlite3.Connection) -> int:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'last_acked'").fetchone()
        return int(value)

    def outbox(self, session_id: str | None = None) -> list[OutboxEntry]:
        """Queued mutations in id order, of one session or of all."""
        sql = "SELECT session_id, id, name, args, base_version, hlc FROM outbox"
        params: tuple[str, ...] = ()
        if session_id is not None:
            sql += " WHERE session_id = ?"
            params = (session_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", params).fetchall()
        return [OutboxEntry(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def pending_sessions(self) -> list[str]:
        """Sessions with queued mutations, in the order of their oldest one."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT session_id FROM outbox GROUP BY session_id ORDER BY MIN(id)"
            ).fetchall()
        return [r[0] for r in rows]

    def first_pending_elsewhere(self, session_id: str) -> int | None:
        """The oldest queued id of any other session: pushes of `session_id` must stop below it.

        The server refuses gaps in a client's ids, so a session cannot get ahead of an older
        mutation queued for another session.
        """
        with self._lock:
            (value,) = self._conn.execute(
                "SELECT MIN(id) FROM outbox WHERE session_id != ?", (session_id,)
            ).fetchone()
        return None if value is None else int(value)

    def drop(self, session_id: str, upto: int) -> None:
        """Remove the session's entries with id <= `upto` (acknowledged by the server)."""
        with self._txn() as conn:
            conn.execute("DELETE FROM outbox WHERE session_id = ? AND id <= ?", (session_id, upto))
            self._raise_acked_txn(conn, upto)

    # confirmed documents -----------------------------------------------------------------------
    def load(self, session_id: str) -> tuple[int, Any] | None:
        """The confirmed document of a session and its cookie, if one was ever received."""
        with self._lock:
            row = self._conn.execute(
                "SELECT cookie, document FROM documents WHERE session_id = ?", (session_id,)
            ).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def save(self, session_id: str, cookie: int | None, document: Any, drop_upto: int) -> None:
        """Store the confirmed document at `cookie` and drop entries <= `drop_upto`, atomically.

        A None cookie forgets the document (the next hello asks for a full reset).
        """
        with self._txn() as conn:
            if cookie is None:
                conn.execute("DELETE FROM documents WHERE session_id = ?", (session_id,))
            else:
                conn.execute(
                    "INSERT INTO documents VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE"
                    " SET cookie = excluded.cookie, document = excluded.document",
                    (session_id, cookie, dumps(document)),
                )
            if drop_upto > 0:
                conn.execute(
                    "DELETE FROM outbox WHERE session_id = ? AND id <= ?", (session_id, drop_upto)
                )
                self._raise_acked_txn(conn, drop_upto)
