"""PostgreSQL backend specifics: schema isolation, URL options and broken connections."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from cvsession.store import open_store
from cvsession.store.postgres import PostgresStore, parse_postgres_url

from .factories import Rows

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    """A migrated PostgresStore in the test's own schema."""
    store = open_store(postgres_url)
    assert isinstance(store, PostgresStore)
    try:
        store.migrate()
        yield store
    finally:
        store.close()


def test_url_options_are_stripped_and_others_kept() -> None:
    """schema and pool options are ours; every other query parameter reaches libpq."""
    conninfo, options = parse_postgres_url(
        "postgres://u@h:5/db?connect_timeout=5&schema=s1&pool_max_size=3&sslmode=disable"
    )
    assert "postgres://u@h:5/db?connect_timeout=5&sslmode=disable" == conninfo
    assert {"schema": "s1", "pool_max_size": "3"} == options


def test_schema_holds_the_tables_and_search_path_is_set(
    pg: PostgresStore, postgres_database_url: str
) -> None:
    """migrate() creates the URL's schema and its tables there; pooled connections use it."""
    with psycopg.connect(postgres_database_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name",
            (pg.schema,),
        ).fetchall()
    expected = [
        "clients",
        "conflicts",
        "events",
        "feature_flags",
        "job_artifacts",
        "job_cache",
        "job_dependencies",
        "jobs",
        "mutation_log",
        "schema_migrations",
        "sessions",
        "share_links",
        "snapshots",
        "step_durations",
        "tokens",
        "uploads",
        "users",
        "workers",
    ]
    assert expected == [t[0] for t in tables]
    with pg.read() as txn:
        assert pg.schema == txn.fetchall("SELECT current_schema()")[0][0]


def test_broken_connection_is_discarded(pg: PostgresStore, rows: Rows) -> None:
    """A connection killed mid-transaction fails that transaction only; the next one works."""
    with pytest.raises(psycopg.OperationalError), pg.transaction() as txn:
        pid = txn.fetchall("SELECT pg_backend_pid()")[0][0]
        with psycopg.connect(pg.url.partition("?")[0], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        txn.insert_user(rows.user())
    for _ in range(3):
        with pg.transaction() as txn:
            assert pid != txn.fetchall("SELECT pg_backend_pid()")[0][0]
    with pg.read() as txn:
        assert None is txn.get_user("u1")


def test_foreign_keys_are_enforced(pg: PostgresStore, rows: Rows) -> None:
    """A session whose owner does not exist is refused."""
    with pytest.raises(psycopg.errors.ForeignKeyViolation), pg.transaction() as txn:
        txn.insert_session(rows.session(owner_id="nobody"))


def test_pool_size_options_are_applied(postgres_url: str) -> None:
    """pool_min_size / pool_max_size in the URL size the pool."""
    store = PostgresStore(postgres_url + "&pool_min_size=2&pool_max_size=3")
    try:
        stats = store._pool.get_stats()
        assert (2, 3) == (stats["pool_min"], stats["pool_max"])
    finally:
        store.close()
