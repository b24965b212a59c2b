"""Contract: upload records on every backend, and the migration that added text uploads."""

from __future__ import annotations

import pytest

from cvsession.store import DuplicateKey, Store, UploadRow, migrations, open_store

from .factories import T0, Rows


@pytest.fixture
def seeded(store: Store, rows: Rows) -> Store:
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_session(rows.session())
    return store


def upload(upload_id: str, **kw: object) -> UploadRow:
    fields: dict[str, object] = {
        "id": upload_id,
        "session_id": "s1",
        "owner_id": "u1",
        "filename": "cv.pdf",
        "kind": "pdf",
        "size": 1234,
        "sha256": "ab" * 32,
        "storage_name": "f" * 32,
        "created_at": T0,
        **kw,
    }
    return UploadRow(**fields)  # type: ignore[arg-type]


def test_upload_round_trip_list_and_duplicate(seeded: Store) -> None:
    """Uploads round-trip, list oldest first, and a repeated id raises DuplicateKey."""
    first = upload("up1")
    second = upload("up2", filename="Lebenslauf \u2013 \u00fc.docx", kind="docx")
    with seeded.transaction() as txn:
        txn.insert_upload(second)
        txn.insert_upload(first)
    with seeded.read() as txn:
        assert first == txn.get_upload("up1")
        assert ["up1", "up2"] == [u.id for u in txn.list_uploads("s1")]
        assert txn.get_upload("nope") is None
    with pytest.raises(DuplicateKey), seeded.transaction() as txn:
        txn.insert_upload(first)


def test_uploads_go_with_their_session(seeded: Store) -> None:
    """Deleting the session deletes its upload records; delete_upload reports existence."""
    with seeded.transaction() as txn:
        txn.insert_upload(upload("up1"))
        txn.insert_upload(upload("up2"))
        assert txn.delete_upload("up2") is True
        assert txn.delete_upload("up2") is False
    with seeded.transaction() as txn:
        txn.delete_session("s1")
    with seeded.read() as txn:
        assert txn.get_upload("up1") is None


def test_text_kind_is_stored_and_unknown_kinds_are_refused(seeded: Store) -> None:
    """A pasted CV (kind text) round-trips; a kind outside pdf/docx/text violates the schema."""
    pasted = upload("up1", filename="pasted.txt", kind="text")
    with seeded.transaction() as txn:
        txn.insert_upload(pasted)
    with seeded.read() as txn:
        assert pasted == txn.get_upload("up1")
    with pytest.raises(Exception, match=r"(?i)check"), seeded.transaction() as txn:
        txn.insert_upload(upload("up2", kind="exe"))


def test_text_kind_migration_keeps_existing_uploads(
    store_url: str, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at schema 4 with uploads migrates to allow text and keeps its rows."""
    older = tuple(m for m in migrations.MIGRATIONS if m.version <= 4)
    store = open_store(store_url)
    try:
        with monkeypatch.context() as patched:
            patched.setattr(migrations, "MIGRATIONS", older)
            assert older[-1].version == store.migrate()
        with store.transaction() as txn:
            txn.insert_user(rows.user())
            txn.insert_session(rows.session())
            txn.insert_upload(upload("up1", kind="docx"))
        assert migrations.LATEST_VERSION == store.migrate()
        with store.transaction() as txn:
            txn.insert_upload(upload("up2", kind="text"))
        with store.read() as txn:
            assert ["docx", "text"] == [u.kind for u in txn.list_uploads("s1")]
        with store.transaction() as txn:
            txn.delete_session("s1")
        with store.read() as txn:
            assert [] == txn.list_uploads("s1")
    finally:
        store.close()
