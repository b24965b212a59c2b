"""Public read-only links to a session's generated CV (docs/decisions/0025).

The owner creates a link for one template; whoever has its URL sees the newest HTML that a
job rendered for that template, and nothing else (no document, no uploads, no other
templates). The token is 32 random bytes shown once; the database keeps only its SHA-256, so
a link cannot be rebuilt from a backup or a leaked database. Revoking is immediate.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cvsession.core import catalogue
from cvsession.core.errors import DomainError, IllegalTransition, InvalidInput, NotFound
from cvsession.service.sessions import SessionService
from cvsession.service.writer import Writer
from cvsession.store.base import Store, Txn
from cvsession.store.codec import from_ms, to_ms
from cvsession.store.jobs import ArtifactRow
from cvsession.store.shares import ShareLinkRow

MAX_ACTIVE_LINKS = 10
MAX_EXPIRY_DAYS = 365
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet, no padding.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
LINK_ID = re.compile(r"sl_[0-9a-f]{32}")


class ShareLinkLimit(DomainError):
    code = "share_link_limit"
    status = 429


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def selected_template(document: dict[str, Any]) -> str:
    """The session's chosen template, or the catalogue's first when none is chosen yet."""
    selected = (document.get("template") or {}).get("selected")
    return str(selected) if selected in catalogue.TEMPLATES else next(iter(catalogue.TEMPLATES))


class ShareService:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        sessions: SessionService,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.writer = writer
        self.sessions = sessions
        self.clock = clock

    def create(
        self,
        user_id: str,
        session_id: str,
        template: str | None = None,
        expires_in_days: int | None = None,
    ) -> tuple[ShareLinkRow, str]:
        """Create a link and return it with its token (the only time the token exists).

        With `expires_in_days` (1 to MAX_EXPIRY_DAYS) the link stops working that many days
        from now; without, it works until revoked. 404 for a session that is not the user's,
        422 for an unknown template or an expiry out of range, 429 when the session already has
        `MAX_ACTIVE_LINKS` active (unrevoked, unexpired) links.
        """
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise InvalidInput(
                f"a link expires in 1 to {MAX_EXPIRY_DAYS} days", expiresInDays=expires_in_days
            )
        token = secrets.token_urlsafe(32)

        def txn_fn(txn: Txn) -> ShareLinkRow:
            row = self.sessions.owned(txn, user_id, session_id, for_update=True)
            if row.status == "expired":
                raise IllegalTransition(
                    "the session has expired and is waiting to be deleted; it cannot be shared",
                    session_status="expired",
                )
            tid = selected_template(row.document) if template is None else template
            if tid not in catalogue.TEMPLATES:
                raise InvalidInput(
                    "unknown template", template=tid[:80], allowed=sorted(catalogue.TEMPLATES)
                )
            now = from_ms(to_ms(self.clock()))  # as stored: the answer matches later lists
            if len(txn.list_share_links(session_id, active_at=now)) >= MAX_ACTIVE_LINKS:
                raise ShareLinkLimit(
                    f"a session has at most {MAX_ACTIVE_LINKS} active share links: "
                    "revoke one first",
                    limit=MAX_ACTIVE_LINKS,
                )
            link = ShareLinkRow(
                id="sl_" + uuid.uuid4().hex,
                session_id=session_id,
                owner_id=user_id,
                token_hash=token_hash(token),
                template=tid,
                created_at=now,
                expires_at=None
                if expires_in_days is None
                else now + timedelta(days=expires_in_days),
            )
            txn.insert_share_link(link)
            return link

        return self.writer.run(txn_fn, (session_id,)), token

    def list(self, user_id: str, session_id: str) -> list[ShareLinkRow]:
        """The session's active links (unrevoked, unexpired), oldest first."""
        with self.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            return txn.list_share_links(session_id, active_at=self.clock())

    def revoke(self, user_id: str, session_id: str, link_id: str) -> None:
        """Revoke the link; 404 unless it is an active (unrevoked, unexpired) link of this
        user's session, as listed."""

        def txn_fn(txn: Txn) -> None:
            self.sessions.owned(txn, user_id, session_id)
            now = self.clock()
            link = txn.get_share_link(link_id) if LINK_ID.fullmatch(link_id) else None
            if link is None or link.session_id != session_id or not link.active_at(now):
                raise NotFound("no such share link", link_id=link_id[:80])
            txn.revoke_share_link(link_id, now)

        self.writer.run(txn_fn, (session_id,))

    def view(self, token: str) -> tuple[ShareLinkRow, ArtifactRow]:
        """The link and the newest HTML rendered for its template; counts one view.

        NotFound for a malformed, unknown, revoked or expired token or an expired session (all
        alike, and a malformed token never reaches the database), and for a link whose CV has
        not been generated yet.
        """
        if not TOKEN.fullmatch(token):
            raise NotFound("no such share link")
        with self.store.read() as txn:
            # Revoked, past its expiry, or its session expired (waiting for deletion): as if it
            # never existed.
            link = txn.live_share_link(token_hash(token), self.clock())
            if link is None:
                raise NotFound("no such share link")
            artifact = txn.latest_artifact(link.session_id, f"cv-{link.template}.html")
        if artifact is None:
            raise NotFound(
                "this CV has not been generated yet: its owner needs to generate it first",
                reason="not_generated",
            )
        # Only the link's own row changes: no session lock, so views never wait for edits.
        self.writer.run(lambda txn: txn.record_share_view(link.id, self.clock()))
        return link, artifact
