"""`SQLiteStore`: the embedded default backend, on the standard library's sqlite3.

One file, WAL journal, `synchronous=FULL` (a commit is on disk before `transaction()` returns, so
an acknowledged write survives a crash or power loss), foreign keys on, busy timeout 10 s.

Concurrency: one write connection guarded by a lock; every write runs in `BEGIN IMMEDIATE`, so
the write lock is taken up front and read-modify-write cycles cannot interleave (which also
makes `for_update` a no-op here). `read()` borrows a query-only connection from a small pool
(opened on demand, up to `max_idle_readers` kept); WAL readers see the last commit and never
block the writer. The pool is not per thread because worker threads come and go (anyio retires
idle ones after seconds) and per-thread connections would leak file descriptors. Other
processes on the same file are serialised by SQLite's own locking, up to the busy timeout.

Checkpoints (copying the WAL into the database file) run on a background thread with its own
connection after commits, not inside the writer's commit; the writer checkpoints itself only
past 64 MiB of WAL. See docs/decisions/0018-write-path.md.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from cvsession.store import migrations
from cvsession.store.base import DuplicateKey
from cvsession.store.sql import Row, SQLTxn, check_params

BUSY_TIMEOUT_S = 10.0
MAX_IDLE_READERS = 32
WRITER_CACHE_KIB = 64 * 1024
# The checkpointer runs at most this often; commits in between are checkpointed together.
CHECKPOINT_PAUSE_S = 0.05
# The writer checkpoints inside a commit only if the WAL grows past this many pages (64 MiB),
# that is when the checkpointer cannot keep up; otherwise the checkpointer does it.
WRITER_AUTOCHECKPOINT_PAGES = 16384
log = logging.getLogger(__name__)
_DUPLICATE_ERRORS = ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE")


def parse_sqlite_url(url: str) -> Path:
    """The file path of a `sqlite:///relative.db` or `sqlite:////absolute.db` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a SQLite URL (expected sqlite:///path): {url!r}")
    path = url[len(prefix) :]
    if "?" in path or "#" in path:
        raise ValueError(f"SQLite URLs take no query or fragment: {url!r}")
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ValueError(
            f"the SQLite store needs a file path (in-memory databases are not supported): {url!r}"
        )
    return Path(path)


class SQLiteTxn(SQLTxn):
    def __init__(self, conn: sqlite3.Connection, *, readonly: bool) -> None:
        super().__init__(readonly=readonly)
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.check_open()
        try:
            return self._conn.execute(sql, check_params(params)).rowcount
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname in _DUPLICATE_ERRORS:
                raise DuplicateKey(str(exc)) from exc
            raise

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.check_open()
        return self._conn.execute(sql, check_params(params)).fetchall()


class OpenWrite:
    """A write transaction begun by `SQLiteStore.begin_write`: run statements on `txn`, then
    `commit()` (durable when it returns) or `rollback()`, exactly once; either releases the
    store's write lock. A failed commit rolls back."""

    __slots__ = ("_done", "_store", "txn")

    def __init__(self, store: SQLiteStore, txn: SQLiteTxn) -> None:
        self._store, self.txn, self._done = store, txn, False

    def commit(self) -> None:
        self._end(True)

    def rollback(self) -> None:
        self._end(False)

    def _end(self, commit: bool) -> None:
        if self._done:
            raise RuntimeError("this write has already ended")
        self._done = True
        self._store._end_write(self.txn, commit)


class SQLiteStore:
    """A `Store` in one SQLite file; parent directories are created."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = BUSY_TIMEOUT_S,
        max_idle_readers: int = MAX_IDLE_READERS,
    ) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._busy_timeout = busy_timeout
        self._max_idle_readers = max_idle_readers
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._writer_thread: int | None = None
        self._idle_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._writer = self._connect(readonly=False)
        self._checkpointer = _Checkpointer(self._connect_checkpointer)

    def _connect(self, *, readonly: bool) -> sqlite3.Connection:
        # isolation_level=None: the driver never opens transactions behind our back; we issue
        # BEGIN/COMMIT/SAVEPOINT ourselves. check_same_thread=False: connections move between
        # threads (the writer under the lock, readers through the pool).
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if not readonly:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise RuntimeError(f"could not enable WAL on {self.path} (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
            if not readonly:
                # A group commit runs hundreds of units, each in a savepoint, and dirties a
                # few thousand pages. With the defaults SQLite writes every page a savepoint
                # touches to a statement journal in a temporary file, and spills dirty pages
                # to the WAL before the commit once 2 MiB of cache is full. Neither affects
                # durability (the WAL commit is what makes a write durable; both journals are
                # only for rolling back inside the open transaction), so keep them in memory.
                conn.execute("PRAGMA temp_store = MEMORY")
                conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
                conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES}")
            conn.execute("PRAGMA foreign_keys = ON")
            if readonly:
                conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_checkpointer(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._readers_lock:
            conn = self._idle_readers.pop() if self._idle_readers else None
        if conn is None:
            conn = self._connect(readonly=True)
        try:
            yield conn
        finally:
            keep = False
            if not conn.in_transaction:  # else the ROLLBACK failed: do not reuse it
                with self._readers_lock:
                    keep = not self._closed and len(self._idle_readers) < self._max_idle_readers
                    if keep:
                        self._idle_readers.append(conn)
            if not keep:
                conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("store is closed")

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTxn]:
        write = self.begin_write()
        assert write is not None  # waited for the lock
        try:
            yield write.txn
        except BaseException:
            write.rollback()
            raise
        write.commit()

    def begin_write(self, *, wait: bool = True) -> OpenWrite | None:
        """Open a write transaction and hold the store's write lock until its `commit()` or
        `rollback()`, which may be called from another thread (the event loop runs a batch and
        a thread waits for its fsync).

        With `wait=False`, None if another write holds the lock: one of this store's, or another
        process's write to the file (a CLI command beside the server), which is not waited for
        either (the event loop must not sit in the busy timeout).

        `transaction()` is this, committed at the end of its block.
        """
        self._check_open()
        if self._writer_thread == threading.get_ident():
            # The lock is not re-entrant: a nested transaction() would deadlock.
            raise RuntimeError("transaction() is not re-entrant; use Txn.savepoint()")
        if not self._write_lock.acquire(blocking=wait):
            return None
        try:
            self._writer_thread = threading.get_ident()
            if wait:
                self._writer.execute("BEGIN IMMEDIATE")
            elif not self._begin_now():
                self._writer_thread = None
                self._write_lock.release()
                return None
        except BaseException:
            self._writer_thread = None
            self._write_lock.release()
            raise
        return OpenWrite(self, SQLiteTxn(self._writer, readonly=False))

    def _begin_now(self) -> bool:
        """BEGIN IMMEDIATE without the busy timeout: False if another connection writes."""
        conn = self._writer
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        return True

    def _end_write(self, txn: SQLiteTxn, commit: bool) -> None:
        conn = self._writer
        try:
            if commit:
                txn.flush_deferred()
                txn.close()
                conn.execute("COMMIT")
                self._checkpointer.poke()
        finally:
            txn.close()  # whatever happened, this Txn is spent
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            finally:
                self._writer_thread = None
                self._write_lock.release()

    @contextmanager
    def read(self) -> Iterator[SQLiteTxn]:
        self._check_open()
        with self._reader() as conn:
            conn.execute("BEGIN")  # deferred: the snapshot starts at the first query
            txn = SQLiteTxn(conn, readonly=True)
            try:
                yield txn
            finally:
                txn.close()
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def migrate(self) -> int:
        with self.transaction() as txn:
            return migrations.migrate_txn(txn, "sqlite")

    def schema_version(self) -> int:
        with self.read() as txn:
            exists = txn.fetchall(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            )
            return migrations.current_version_txn(txn) if exists else 0

    def close(self) -> None:
        with self._readers_lock:
            if self._closed:
                return
            self._closed = True
            readers, self._idle_readers = self._idle_readers, []
        for conn in readers:
            conn.close()
        self._checkpointer.stop()
        with self._write_lock:
            self._writer.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Checkpointer:
    """Copies committed WAL frames into the database file on its own thread and connection.

    With SQLite's default, the commit that takes the WAL past 1,000 pages also checkpoints,
    inside the writer's critical section; a group commit of a few hundred mutations crosses
    that nearly every time. Here the writer only pokes, and a PASSIVE checkpoint (which never
    waits for, nor blocks, readers and the writer) runs on the other core. Durability does not
    depend on it: a commit is durable once its WAL frames are synced.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def poke(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(
                        target=self._run, name="cvsession-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                self._wake.wait()
                if self._stopping:
                    return
                self._wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    log.warning("background WAL checkpoint failed", exc_info=True)
                time.sleep(CHECKPOINT_PAUSE_S)
        finally:
            conn.close()
