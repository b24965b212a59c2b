"""Contract: document snapshots (history) and the keyset page of session versions."""

from __future__ import annotations

import pytest

from cvsession.store import Store, open_store
from cvsession.store import migrations as migrations_module
from cvsession.store.migrations import LATEST_VERSION, MIGRATIONS

from .factories import T0, Rows, at

DOC = {"id": "s1", "title": "Zoë \U0001f600 \x00", "n": [1, 2.5, None, True], "z": {}, "a": 1}
FIELDS = {"/title": 3, "/forms/a~1b": 2}


def test_snapshot_round_trip_at_or_before(seeded: Store) -> None:
    """A snapshot reads back byte-exact; lookups find the newest at or below the version."""
    with seeded.transaction() as txn:
        txn.insert_snapshot("s1", 0, {"v": 0}, {}, T0)
        txn.insert_snapshot("s1", 10, DOC, FIELDS, at(1))
    with seeded.read() as txn:
        assert (10, DOC, FIELDS) == txn.snapshot_at_or_before("s1", 10)
        assert list(DOC) == list(txn.snapshot_at_or_before("s1", 15)[1])  # type: ignore[index]
        assert (0, {"v": 0}, {}) == txn.snapshot_at_or_before("s1", 9)
        assert None is txn.snapshot_at_or_before("s1", -1)
        assert None is txn.snapshot_at_or_before("other", 10)


def test_insert_snapshot_is_idempotent_per_version(seeded: Store) -> None:
    """Inserting the same version again raises nothing and keeps the first snapshot."""
    with seeded.transaction() as txn:
        txn.insert_snapshot("s1", 5, {"first": True}, {}, T0)
        txn.insert_snapshot("s1", 5, {"first": False}, {"/x": 1}, at(1))
    with seeded.transaction() as txn:
        txn.insert_snapshot("s1", 5, {"first": False}, {}, at(2))
    with seeded.read() as txn:
        assert (5, {"first": True}, {}) == txn.snapshot_at_or_before("s1", 5)
        assert [5] == txn.snapshot_versions("s1")


def test_snapshot_versions_and_delete_before(seeded: Store, rows: Rows) -> None:
    """Versions list ascending per session; delete_snapshots_before drops only older ones."""
    with seeded.transaction() as txn:
        txn.insert_session(rows.session("s2"))
        for version in (200, 0, 100, 300):
            txn.insert_snapshot("s1", version, {"v": version}, {}, T0)
        txn.insert_snapshot("s2", 0, {}, {}, T0)
    with seeded.transaction() as txn:
        assert [0, 100, 200, 300] == txn.snapshot_versions("s1")
        assert 2 == txn.delete_snapshots_before("s1", 200)
        assert 0 == txn.delete_snapshots_before("s1", 200)
    with seeded.read() as txn:
        assert [200, 300] == txn.snapshot_versions("s1")
        assert [0] == txn.snapshot_versions("s2")
        assert [] == txn.snapshot_versions("missing")


def test_deleting_a_session_deletes_its_snapshots(seeded: Store, rows: Rows) -> None:
    """delete_session cascades to the session's snapshots and leaves other sessions' alone."""
    with seeded.transaction() as txn:
        txn.insert_session(rows.session("s2"))
        txn.insert_snapshot("s1", 0, {}, {}, T0)
        txn.insert_snapshot("s2", 0, {}, {}, T0)
        assert True is txn.delete_session("s1")
    with seeded.read() as txn:
        assert [] == txn.snapshot_versions("s1")
        assert [0] == txn.snapshot_versions("s2")


def test_snapshot_writes_refused_through_read(seeded: Store) -> None:
    """insert_snapshot and delete_snapshots_before raise RuntimeError in a read-only block."""
    with seeded.read() as txn:
        with pytest.raises(RuntimeError):
            txn.insert_snapshot("s1", 1, {}, {}, T0)
        with pytest.raises(RuntimeError):
            txn.delete_snapshots_before("s1", 1)


def test_session_version_page_walks_every_session_by_id(seeded: Store, rows: Rows) -> None:
    """Keyset pages return (id, version) in id order after the given id, clamped to 1..500."""
    with seeded.transaction() as txn:
        for i in range(2, 8):
            txn.insert_session(rows.session(f"s{i}", version=i * 10))
    with seeded.read() as txn:
        assert [("s1", 0), ("s2", 20), ("s3", 30)] == txn.session_version_page("", 3)
        assert [("s4", 40), ("s5", 50)] == txn.session_version_page("s3", 2)
        assert [("s7", 70)] == txn.session_version_page("s6", 0)
        assert [] == txn.session_version_page("s7")


def test_migration_2_snapshots_existing_sessions(
    store_url: str, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading from version 1 snapshots every session at its current version."""
    store = open_store(store_url)
    try:
        monkeypatch.setattr(migrations_module, "MIGRATIONS", MIGRATIONS[:1])
        assert 1 == store.migrate()
        session = rows.session(version=7, field_versions={"/title": 7})
        with store.transaction() as txn:
            txn.insert_user(rows.user())
            txn.insert_session(session)
        monkeypatch.undo()
        assert LATEST_VERSION == store.migrate()
        with store.read() as txn:
            expected = (7, session.document, {"/title": 7})
            assert expected == txn.snapshot_at_or_before("s1", 7)
    finally:
        store.close()
