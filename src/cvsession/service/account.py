"""A person's data as a whole: "export my data" and "delete everything".

The export holds, per session, the document, its CV as JSON Resume, the retained history (the
oldest retained snapshot and every log entry after it, so replaying the log over the snapshot
rebuilds every retained version), conflicts, uploads (bytes on request), jobs, generated
files and share links (without tokens, which are never kept). Deleting everything removes
every session as a session delete does (rows, files, job workflows, share links), then the
user with its tokens, clients and analytics events, so its credentials stop working
and nothing keyed by it is left.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from datetime import datetime
from typing import Any

from cvsession.core.errors import NotFound
from cvsession.processing import render
from cvsession.service.identity import Identity
from cvsession.service.sessions import (
    Purged,
    SessionService,
    export_payload,
    oldest_snapshot_txn,
    purge_txn,
)
from cvsession.service.uploads import UploadService
from cvsession.store.base import SessionQuery, Txn

FORMAT = "cvsession-export/1"
CONFIRMATION = "delete everything"
BATCH = 50  # sessions deleted per transaction


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class AccountService:
    def __init__(self, sessions: SessionService, uploads: UploadService, identity: Identity):
        self.sessions = sessions
        self.uploads = uploads
        self.identity = identity
        self.store = sessions.store

    def session_ids(self, txn: Txn, user_id: str) -> list[str]:
        ids: list[str] = []
        while True:
            query = SessionQuery(
                owner_id=user_id, order_by="created_at", descending=False, limit=500,
                offset=len(ids),
            )  # fmt: skip
            page = [row.id for row in txn.list_sessions(query)]
            ids += page
            if len(page) < 500:
                return ids

    def owned_session_ids(self, user_id: str) -> list[str]:
        with self.store.read() as txn:
            return self.session_ids(txn, user_id)

    def export(self, user_id: str, *, files: bool = False) -> dict[str, Any]:
        """Everything kept for `user_id`, read in one snapshot; file bytes (base64) if `files`."""
        with self.store.read() as txn:
            user = txn.get_user(user_id)
            if user is None:
                raise NotFound("no such user")
            ids = self.session_ids(txn, user_id)
            sessions = [self._session_txn(txn, sid, files) for sid in ids]
        return {
            "format": FORMAT,
            "exportedAt": self.sessions.clock().isoformat(),
            "user": {
                "id": user.id,
                "createdAt": user.created_at.isoformat(),
                "displayName": user.display_name,
            },
            "sessions": sessions,
        }

    def _session_txn(self, txn: Txn, session_id: str, files: bool) -> dict[str, Any]:
        row = txn.get_session(session_id)
        if row is None:  # cannot happen inside one snapshot; keeps mypy honest
            raise NotFound("no such session", session_id=session_id)
        entries = txn.log_since(session_id, 0, 10_000_000)
        snapshot = oldest_snapshot_txn(txn, session_id)
        out = export_payload(row, entries, txn.list_conflicts(session_id), snapshot)
        cv = row.document.get("cv")
        out["jsonResume"] = json.loads(render.export_json_resume(cv)) if cv else None
        uploads = []
        for u in txn.list_uploads(session_id):
            item = _jsonable(dataclasses.asdict(u))
            del item["storage_name"]  # our random file name: not the person's data
            if files:
                try:
                    data = (self.uploads.root / u.storage_name).read_bytes()
                except FileNotFoundError:
                    item["content"] = None
                else:
                    item["content"] = base64.b64encode(data).decode("ascii")
            uploads.append(item)
        out["uploads"] = uploads
        out["jobs"] = [
            _jsonable(dataclasses.asdict(j)) for j in txn.list_jobs(session_id, limit=500)
        ]
        artifacts = []
        for a in txn.list_artifacts(session_id):
            full = txn.get_artifact(a.id) if files else None
            item = _jsonable(dataclasses.asdict(full or a))
            if full is None:
                del item["content"]
            artifacts.append(item)
        out["artifacts"] = artifacts
        # Without token hashes: a link's token is never kept, and its hash is no use to anyone.
        out["shareLinks"] = [
            {
                "id": link.id,
                "template": link.template,
                "createdAt": link.created_at.isoformat(),
                "revokedAt": _jsonable(link.revoked_at),
                "lastViewedAt": _jsonable(link.last_viewed_at),
                "views": link.views,
                "expiresAt": _jsonable(link.expires_at),
            }
            for link in txn.list_share_links(session_id)
        ]
        return out

    def delete_everything(self, user_id: str) -> list[str]:
        """Delete every session of `user_id` with its files, then the user, its tokens and
        clients; return the deleted session ids. Idempotent (a second call deletes nothing)."""
        deleted: list[str] = []
        while True:
            with self.store.read() as txn:
                ids = self.session_ids(txn, user_id)[:BATCH]
            if not ids:
                break
            batch = functools.partial(self._purge_txn, user_id=user_id, ids=ids)
            deleted += self._after(self.sessions.writer.run(batch, tuple(ids)))

        def last_txn(txn: Txn) -> list[Purged]:
            # Sessions created meanwhile go too, in the transaction that deletes the user.
            purged = self._purge_txn(txn, user_id, self.session_ids(txn, user_id))
            txn.delete_user_events(user_id)  # analytics outlive a session, not its owner
            txn.delete_user(user_id)
            return purged

        deleted += self._after(self.sessions.writer.run(last_txn))
        self.identity.forget_user(user_id)
        return deleted

    def _purge_txn(self, txn: Txn, user_id: str, ids: list[str]) -> list[Purged]:
        txn.lock_sessions(ids)
        out = []
        for sid in ids:
            row = txn.get_session(sid, for_update=True)
            if row is not None and row.owner_id == user_id:
                out.append(purge_txn(txn, row))
        return out

    def _after(self, purged: list[Purged]) -> list[str]:
        for p in purged:
            self.sessions.forget_deleted(p.session_id)
        self.uploads.remove_files(*purged)
        return [p.session_id for p in purged]
