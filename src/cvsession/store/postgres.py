"""`PostgresStore`: the scale-out backend, on psycopg 3 and a psycopg_pool connection pool.

Write transactions run at READ COMMITTED; `get_session(for_update=True)` takes a row lock
(`SELECT ... FOR UPDATE`) so read-modify-write cycles on one session serialise across processes.
`read()` is a REPEATABLE READ, READ ONLY transaction: one snapshot for the whole block.
synchronous_commit is left at the server default (on), so a returned commit is durable.

URL: any libpq URL (`postgresql://` or `postgres://`) plus optional query parameters that are
removed before the rest reaches libpq:

- `schema=NAME`: use (and on `migrate()`, create) this schema; every pooled connection gets
  `search_path` set to it. Tests use it to isolate themselves.
- `pool_min_size=N`, `pool_max_size=N`: pool bounds (defaults 1 and 8).

A connection that breaks is discarded by the pool when returned (and connections are checked
before being handed out), so one failure never poisons later transactions.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg_pool import ConnectionPool

from cvsession.store import migrations
from cvsession.store.base import DuplicateKey
from cvsession.store.sql import Row, SQLTxn, check_params

DEFAULT_MIN_SIZE = 1
DEFAULT_MAX_SIZE = 8
_SCHEMA_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def parse_postgres_url(url: str) -> tuple[str, dict[str, str]]:
    """Split our options off a PostgreSQL URL: (conninfo for libpq, {option: value})."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in ("schema", "pool_min_size", "pool_max_size"):
            ours[key] = value
        else:
            theirs.append((key, value))
    schema = ours.get("schema")
    if schema is not None and not _SCHEMA_RE.fullmatch(schema):
        raise ValueError(f"schema must match {_SCHEMA_RE.pattern}: {schema!r}")
    conninfo = urlunsplit(parts._replace(query=urlencode(theirs)))
    return conninfo, ours


def _to_pyformat(statement: str) -> str:
    # Statements never contain a literal "?" or "%" (see cvsession.store.sql).
    return statement.replace("?", "%s")


class PostgresTxn(SQLTxn):
    for_update_clause: ClassVar[str] = " FOR UPDATE"
    json_number_sql: ClassVar[str] = "CAST(({col})::json ->> '{key}' AS DOUBLE PRECISION)"

    def __init__(self, conn: psycopg.Connection[Row], *, readonly: bool) -> None:
        super().__init__(readonly=readonly)
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.check_open()
        try:
            return self._conn.execute(_to_pyformat(sql), check_params(params)).rowcount
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKey(str(exc)) from exc

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.check_open()
        return self._conn.execute(_to_pyformat(sql), check_params(params)).fetchall()


class PostgresStore:
    """A `Store` on PostgreSQL; see the module docstring for the URL options."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        timeout: float = 30.0,
        check: bool = True,
    ) -> None:
        conninfo, options = parse_postgres_url(url)
        self.url = url
        self.schema: str | None = options.get("schema")
        if min_size is None:
            min_size = int(options.get("pool_min_size", DEFAULT_MIN_SIZE))
        if max_size is None:
            max_size = int(options.get("pool_max_size", DEFAULT_MAX_SIZE))
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max(min_size, max_size),
            timeout=timeout,
            open=False,
            configure=self._configure,
            check=ConnectionPool.check_connection if check else None,
            name="cvsession-store",
        )
        self._local = threading.local()
        self._pool.open(wait=True, timeout=timeout)

    def _configure(self, conn: psycopg.Connection[Row]) -> None:
        if self.schema is not None:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            conn.commit()

    @contextmanager
    def transaction(self) -> Iterator[PostgresTxn]:
        if getattr(self._local, "in_transaction", False):
            # As on SQLite: a second transaction on this thread could wait on the first's locks.
            raise RuntimeError("transaction() is not re-entrant; use Txn.savepoint()")
        self._local.in_transaction = True
        try:
            # The pool's context commits on normal exit, rolls back otherwise, and replaces
            # the connection if it broke.
            with self._pool.connection() as conn:
                txn = PostgresTxn(conn, readonly=False)
                try:
                    yield txn
                    txn.flush_deferred()
                finally:
                    txn.close()
        finally:
            self._local.in_transaction = False

    @contextmanager
    def read(self) -> Iterator[PostgresTxn]:
        with self._pool.connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            txn = PostgresTxn(conn, readonly=True)
            try:
                yield txn
            finally:
                txn.close()

    def _lock_key(self) -> int:
        # One advisory lock per schema, so isolated schemas migrate independently.
        digest = hashlib.blake2b(f"cvsession.migrate:{self.schema}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)

    def migrate(self) -> int:
        with self._pool.connection() as conn:
            # Held until commit: concurrent migrators (other processes) wait here.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key(),))
            if self.schema is not None:
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
                conn.execute(create.format(sql.Identifier(self.schema)))
            txn = PostgresTxn(conn, readonly=False)
            try:
                return migrations.migrate_txn(txn, "postgres")
            finally:
                txn.close()

    def schema_version(self) -> int:
        with self.read() as txn:
            exists = txn.fetchall("SELECT to_regclass('schema_migrations') IS NOT NULL")
            return migrations.current_version_txn(txn) if exists[0][0] else 0

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
