"""SQLite backend specifics: durability PRAGMAs, file handling and URL parsing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from cvsession.store import open_store
from cvsession.store.sqlite import SQLiteStore, parse_sqlite_url

from .factories import Rows


def test_pragmas_are_in_force(sqlite_url: str) -> None:
    """Writer and readers run with WAL, synchronous=FULL, foreign keys and a 10 s busy timeout."""
    store = open_store(sqlite_url)
    assert isinstance(store, SQLiteStore)
    try:
        store.migrate()
        with store.transaction() as txn:
            pragmas = [
                txn.fetchall(f"PRAGMA {name}")[0][0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
            assert ["wal", 2, 1, 10_000] == pragmas
        with store.read() as txn:
            pragmas = [
                txn.fetchall(f"PRAGMA {name}")[0][0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "query_only")
            ]
            assert ["wal", 2, 1, 1] == pragmas
    finally:
        store.close()


def test_foreign_keys_are_enforced(sqlite_url: str, rows: Rows) -> None:
    """A session whose owner does not exist is refused."""
    store = open_store(sqlite_url)
    try:
        store.migrate()
        with pytest.raises(sqlite3.IntegrityError), store.transaction() as txn:
            txn.insert_session(rows.session(owner_id="nobody"))
    finally:
        store.close()


def test_committed_write_survives_reopen_without_close(tmp_path: Path, rows: Rows) -> None:
    """A commit is in the file before transaction() returns: a new instance reads it back."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    writer = open_store(url)
    writer.migrate()
    with writer.transaction() as txn:
        txn.insert_user(rows.user())
    reader = open_store(url)  # the first instance is deliberately still open
    try:
        with reader.read() as txn:
            assert rows.user() == txn.get_user("u1")
    finally:
        reader.close()
        writer.close()


def test_parent_directories_are_created(tmp_path: Path) -> None:
    """Opening a file in missing directories creates them."""
    path = tmp_path / "a" / "b" / "c.db"
    store = open_store(f"sqlite:///{path}")
    try:
        assert 1 <= store.migrate()
        assert path.exists()
    finally:
        store.close()


def test_url_forms() -> None:
    """Three slashes give a relative path, four an absolute one; the store keeps its URL."""
    assert Path("data/x.db") == parse_sqlite_url("sqlite:///data/x.db")
    assert Path("/tmp/x.db") == parse_sqlite_url("sqlite:////tmp/x.db")


def test_relative_url_opens_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqlite:///rel.db creates rel.db in the working directory."""
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///sub/rel.db")
    try:
        store.migrate()
        assert "sqlite:///sub/rel.db" == store.url
        assert (tmp_path / "sub" / "rel.db").exists()
    finally:
        store.close()


def test_closed_store_refuses_use(sqlite_url: str) -> None:
    """After close() (which may be repeated) transactions raise RuntimeError."""
    store = open_store(sqlite_url)
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"), store.transaction():
        pass


def test_reader_connections_stay_bounded_when_threads_come_and_go(sqlite_url: str) -> None:
    """Reads from 40 short-lived threads, 20 at a time, leave at most 8 idle connections."""
    store = SQLiteStore(parse_sqlite_url(sqlite_url), max_idle_readers=8)
    try:
        store.migrate()
        barrier = threading.Barrier(20)

        def read() -> None:
            with store.read() as txn:
                txn.get_user("u1")
                barrier.wait()  # all 20 hold a reader at once

        for _ in range(2):
            threads = [threading.Thread(target=read) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert 8 == len(store._idle_readers)
    finally:
        store.close()


def test_commits_are_checkpointed_in_the_background_and_close_stops_it(
    sqlite_url: str, rows: Rows
) -> None:
    """After commits the WAL is copied into the database file by the checkpoint thread (the
    writer's own threshold stays high), and close() stops that thread."""

    def checkpointers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "cvsession-checkpoint"}

    others = checkpointers()
    store = open_store(sqlite_url)
    assert isinstance(store, SQLiteStore)
    try:
        store.migrate()
        with store.transaction() as txn:
            assert [(16384,)] == txn.fetchall("PRAGMA wal_autocheckpoint")
            assert [(2,)] == txn.fetchall("PRAGMA temp_store")  # memory
            txn.insert_user(rows.user())
        path = parse_sqlite_url(sqlite_url)
        for _ in range(100):
            if b"u1" in path.read_bytes():
                break
            threading.Event().wait(0.05)
        assert b"u1" in path.read_bytes()  # in the main file, not only in the WAL
        mine = checkpointers() - others
        assert 1 == len(mine)
    finally:
        store.close()
    assert not any(t.is_alive() for t in mine)
