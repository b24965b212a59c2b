"""Contract: versioned migrations, idempotent and safe to run concurrently; store URLs."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from cvsession.store import Store, open_store
from cvsession.store.migrations import LATEST_VERSION, MIGRATIONS


def applied_versions(store: Store) -> list[int]:
    with store.read() as txn:
        rows = txn.fetchall("SELECT version FROM schema_migrations ORDER BY version")  # type: ignore[attr-defined]
    return [int(r[0]) for r in rows]


def test_migration_list_is_ordered_and_covers_both_dialects() -> None:
    """Versions run 1, 2, 3, ... and every migration has DDL for SQLite and PostgreSQL."""
    assert list(range(1, len(MIGRATIONS) + 1)) == [m.version for m in MIGRATIONS]
    assert [] == [m.version for m in MIGRATIONS if not (m.sqlite and m.postgres)]


def test_fresh_database_has_schema_version_zero(store_url: str) -> None:
    """Before migrate() the schema version is 0; migrate() returns and records the latest."""
    store = open_store(store_url)
    try:
        assert 0 == store.schema_version()
        assert LATEST_VERSION == store.migrate()
        assert LATEST_VERSION == store.schema_version()
    finally:
        store.close()


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    """A second migrate() returns the same version and applies nothing again."""
    before = applied_versions(store)
    assert LATEST_VERSION == store.migrate()
    assert before == applied_versions(store)
    assert list(range(1, LATEST_VERSION + 1)) == before


def test_concurrent_migrate_from_threads(store_url: str) -> None:
    """Four stores migrating the same fresh database at once all succeed, once each."""
    stores = [open_store(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results: list[int | BaseException] = []

    def run(store: Store) -> None:
        barrier.wait()
        try:
            results.append(store.migrate())
        except BaseException as exc:  # reported below
            results.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [LATEST_VERSION] * len(stores) == results
        assert list(range(1, LATEST_VERSION + 1)) == applied_versions(stores[0])
    finally:
        for s in stores:
            s.close()


@pytest.mark.slow
def test_concurrent_migrate_from_processes(store_url: str) -> None:
    """Three processes migrating the same fresh database at once all succeed, once each."""
    code = (
        "import sys; from cvsession.store import open_store; "
        "print(open_store(sys.argv[1]).migrate())"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, store_url], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [0, 0, 0] == [p.returncode for p in procs]
    assert [str(LATEST_VERSION)] * 3 == outputs
    store = open_store(store_url)
    try:
        assert list(range(1, LATEST_VERSION + 1)) == applied_versions(store)
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/x.db",
        "sqlite:///x.db?mode=ro",
        "mysql://localhost/db",
        "x.db",
        "postgresql://localhost/db?schema=bad-name",
        "postgresql://localhost/db?schema=a;drop",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    """open_store raises ValueError for unsupported or malformed URLs, before connecting."""
    with pytest.raises(ValueError):
        open_store(url)
