"""Contract: upload records on every backend."""

from __future__ import annotations

import pytest

from cvsession.store import DuplicateKey, Store, UploadRow

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
