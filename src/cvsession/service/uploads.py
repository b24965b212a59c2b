"""Uploaded CV files: recognised by content, stored under random names, owned, deleted with
their session.

The bytes live in `<data dir>/uploads/<random name>` (mode 0600, never served directly: a
download goes through the owner check); the database keeps who owns which file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from cvsession.core.errors import NotFound
from cvsession.processing import detect
from cvsession.service.sessions import Purged, SessionService
from cvsession.service.writer import Writer
from cvsession.store.base import Store, Txn
from cvsession.store.uploads import UploadRow

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text": "text/plain; charset=utf-8",
}
MAX_FILENAME = 255


class UploadService:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        sessions: SessionService,
        root: Path,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.writer = writer
        self.sessions = sessions
        self.root = root
        self.clock = clock
        # Deletes deleted jobs' durable workflows (inputs, step outputs); set by the edges,
        # which may import the job engine (docs/decisions/0022).
        self.forget_jobs: Callable[[Sequence[str]], None] | None = None

    def save(self, user_id: str, session_id: str, filename: str, data: bytes) -> UploadRow:
        """Check the file by its content, store it, and record it for the session's owner."""
        self.sessions.get(user_id, session_id)  # 404 before any work for a foreign session
        kind = detect.detect_kind(data)
        if kind == "docx":
            detect.check_docx(data)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        storage_name = secrets.token_hex(16)
        path = self.root / storage_name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            row = UploadRow(
                id="up_" + uuid.uuid4().hex,
                session_id=session_id,
                owner_id=user_id,
                filename=_display_name(filename),
                kind=kind,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                storage_name=storage_name,
                created_at=self.clock(),
            )

            def txn_fn(txn: Txn) -> None:
                self.sessions.owned(txn, user_id, session_id, for_update=True)
                txn.insert_upload(row)

            self.writer.run(txn_fn, (session_id,))
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return row

    def list(self, user_id: str, session_id: str) -> list[UploadRow]:
        with self.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            return txn.list_uploads(session_id)

    def get(self, user_id: str, session_id: str, upload_id: str) -> UploadRow:
        """The upload's record; NotFound unless it is this user's, in this session."""
        return self._owned(user_id, session_id, upload_id)

    def read(self, user_id: str, session_id: str, upload_id: str) -> tuple[UploadRow, bytes]:
        row = self._owned(user_id, session_id, upload_id)
        return row, (self.root / row.storage_name).read_bytes()

    def delete(self, user_id: str, session_id: str, upload_id: str) -> None:
        row = self._owned(user_id, session_id, upload_id)
        self.writer.run(lambda txn: txn.delete_upload(row.id), (session_id,))
        with contextlib.suppress(FileNotFoundError):
            (self.root / row.storage_name).unlink()

    def delete_session(self, user_id: str, session_id: str) -> Purged:
        """Delete a session and, once that is durable, its files and job workflows."""
        purged = self.sessions.delete(user_id, session_id)
        self.remove_files(purged)
        return purged

    def remove_files(self, *purged: Purged) -> None:
        """Remove what deleted sessions owned outside the database (listed in the deleting
        transaction, so an upload committed just before is not missed)."""
        for name in (n for p in purged for n in p.storage_names):
            with contextlib.suppress(FileNotFoundError):
                (self.root / name).unlink()
        job_ids = [j for p in purged for j in p.job_ids]
        if job_ids and self.forget_jobs is not None:
            self.forget_jobs(job_ids)

    def _owned(self, user_id: str, session_id: str, upload_id: str) -> UploadRow:
        with self.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            row = txn.get_upload(upload_id)
        if row is None or row.session_id != session_id or row.owner_id != user_id:
            raise NotFound("no such upload", upload_id=upload_id[:80])
        return row


def _display_name(filename: str) -> str:
    """A name to show: the last path part, without control characters, bounded."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:MAX_FILENAME] or "upload"
