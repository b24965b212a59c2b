"""The client's local SQLite store: identity, outbox and documents survive a reopen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cvsession.client.store import ClientStore, StoreInUse


def test_client_id_is_generated_once_and_persisted(db_path: Path) -> None:
    """A reopened store has the same clientID and clientGroupID, valid on the wire."""
    first = ClientStore(db_path)
    ids = (first.client_id, first.client_group_id)
    first.close()
    second = ClientStore(db_path)
    assert ids == (second.client_id, second.client_group_id)
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", second.client_id)
    second.close()


def test_ids_are_client_wide_and_survive_a_reopen(db_path: Path) -> None:
    """Mutation ids count 1, 2, 3… across sessions and continue after a reopen."""
    store = ClientStore(db_path)
    assert 1 == store.append("a", "ui.set", {"values": {}}, 0, "1-0-c").id
    assert 2 == store.append("b", "ui.set", {"values": {}}, None, "1-1-c").id
    store.close()
    store = ClientStore(db_path)
    assert 3 == store.append("a", "ui.set", {}, 0, "1-2-c").id
    assert [1, 3] == [e.id for e in store.outbox("a")]
    assert ["a", "b"] == store.pending_sessions()
    assert "1-2-c" == store.hlc
    store.close()


def test_ids_never_fall_behind_the_acknowledged_one(store: ClientStore) -> None:
    """An id the server has acknowledged is never issued again."""
    store.record_ack(41)
    assert 42 == store.append("a", "ui.set", {}, 0, "1-0-c").id


def test_drop_removes_only_that_sessions_acked_entries(store: ClientStore) -> None:
    """Dropping up to an id keeps later entries and other sessions' entries."""
    for session in ("a", "b", "a"):
        store.append(session, "ui.set", {}, 0, "1-0-c")
    store.drop("a", 2)
    assert [(e.session_id, e.id) for e in store.outbox()] == [("b", 2), ("a", 3)]
    assert 2 == store.last_acked
    assert 2 == store.first_pending_elsewhere("a")
    assert 3 == store.first_pending_elsewhere("b")


def test_documents_save_load_and_forget(store: ClientStore) -> None:
    """The confirmed document and cookie round-trip; a None cookie forgets them."""
    assert None is store.load("a")
    store.save("a", 7, {"title": "x"}, 0)
    assert (7, {"title": "x"}) == store.load("a")
    store.save("a", None, None, 0)
    assert None is store.load("a")


def test_non_json_args_are_refused(store: ClientStore) -> None:
    """NaN and non-JSON values never reach the outbox (the server would refuse them)."""
    with pytest.raises(ValueError):
        store.append("a", "ui.set", {"x": float("nan")}, 0, "1-0-c")
    with pytest.raises(TypeError):
        store.append("a", "ui.set", {"x": object()}, 0, "1-0-c")
    assert [] == store.outbox()


def test_a_second_live_store_on_the_same_file_is_refused(store: ClientStore) -> None:
    """Two clients on one file would share a clientID: the second is refused."""
    with pytest.raises(StoreInUse):
        ClientStore(store.path)


def test_file_uses_wal_and_full_sync(store: ClientStore) -> None:
    """Durability settings: WAL journal, synchronous=FULL."""
    conn = store._conn
    assert "wal" == conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert 2 == conn.execute("PRAGMA synchronous").fetchone()[0]
