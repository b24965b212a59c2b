"""Shared fixtures: database URLs for each backend and a migrated `store` over both.

PostgreSQL and Redis are used for real when reachable on 127.0.0.1. When they are not, their
tests are skipped, unless `CI` is set or `CVSESSION_REQUIRE_SERVICES=1`, in which case they fail:
CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from cvsession.store import Store, open_store

# The server's periodic retention pass is off in tests (and in servers they start) unless a
# test turns it on.
os.environ.setdefault("CVSESSION_RETENTION_INTERVAL_MINUTES", "0")

PG_SERVER = "postgresql://127.0.0.1:5432"
PG_DATABASE = "cvsession_test"  # the only database the tests create or touch
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15


def _services_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("CVSESSION_REQUIRE_SERVICES") == "1"


def _unavailable(message: str) -> NoReturn:
    if _services_required():
        pytest.fail(f"{message} (required because CI or CVSESSION_REQUIRE_SERVICES=1 is set)")
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite URL for a fresh file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'cvsession.db'}"


@pytest.fixture(scope="session")
def postgres_database_url() -> str:
    """The URL of the `cvsession_test` database, created through `postgres` if missing."""
    import psycopg
    from psycopg import errors, sql

    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}".strip())
    with admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,))
        if found.fetchone() is None:
            # Another test run may create it first.
            with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))
    return f"{PG_SERVER}/{PG_DATABASE}"


@pytest.fixture
def postgres_url(postgres_database_url: str) -> Iterator[str]:
    """A PostgreSQL URL selecting a fresh schema of its own, dropped after the test."""
    import psycopg
    from psycopg import sql

    schema = f"t_{secrets.token_hex(6)}"
    yield f"{postgres_database_url}?schema={schema}"
    with psycopg.connect(postgres_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of Redis database 15, after a raw PING shows the server answers."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        _unavailable(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {exc}")
    if not reply.startswith(b"+PONG"):
        _unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT} answered PING with {reply!r}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A URL for an empty database of each backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store of each backend, closed afterwards."""
    opened = open_store(store_url)
    try:
        opened.migrate()
        yield opened
    finally:
        opened.close()
