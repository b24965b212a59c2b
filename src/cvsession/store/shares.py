"""Public read-only links to a session's generated CV (docs/decisions/0025).

A link is found by the SHA-256 of its token; the token itself is never stored, so nobody
reading the database can open a link. Revoking keeps the row (with `revoked_at`) so the
owner's export still shows the link existed; deleting the session deletes its links.

`SharesTxn` is mixed into the SQL transaction class (store/sql.py); its methods are part of `Txn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cvsession.store.codec import from_ms, opt_from_ms, opt_to_ms, to_ms
from cvsession.store.part import SQLTxnPart, column_types

SHARE_COLUMNS = (
    "id, session_id, owner_id, token_hash, template, created_at, revoked_at, last_viewed_at, "
    "views, expires_at"
)


@dataclass(frozen=True, slots=True)
class ShareLinkRow:
    id: str
    session_id: str
    owner_id: str
    token_hash: str  # SHA-256 hex of the token
    template: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_viewed_at: datetime | None = None
    views: int = 0
    expires_at: datetime | None = None  # None: until revoked (or its session expires)

    def active_at(self, now: datetime) -> bool:
        """Unrevoked and not past its expiry at `now` (the rule `_ACTIVE` states in SQL)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def migration_sql(dialect: str) -> tuple[str, ...]:
    """DDL of the share link table (migration 9)."""
    text, integer = column_types(dialect)
    return (
        f"""CREATE TABLE share_links (
            id {text} PRIMARY KEY,
            session_id {text} NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            owner_id {text} NOT NULL,
            token_hash {text} NOT NULL UNIQUE,
            template TEXT NOT NULL,
            created_at {integer} NOT NULL,
            revoked_at {integer},
            last_viewed_at {integer},
            views {integer} NOT NULL DEFAULT 0
        )""",
        # Listing a session's links; also serves ON DELETE CASCADE from sessions.
        "CREATE INDEX share_links_session ON share_links (session_id, created_at, id)",
    )


def expiry_migration_sql(dialect: str) -> tuple[str, ...]:
    """Migration 10: a link may expire on its own."""
    _, integer = column_types(dialect)
    return (f"ALTER TABLE share_links ADD COLUMN expires_at {integer}",)


# Unrevoked and not past its expiry at the bound time.
_ACTIVE = " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"


class SharesTxn(SQLTxnPart):
    """The share link half of `Txn`, written against the `SQLTxn` plumbing it is mixed into."""

    def insert_share_link(self, link: ShareLinkRow) -> None:
        params = [
            link.id,
            link.session_id,
            link.owner_id,
            link.token_hash,
            link.template,
            to_ms(link.created_at),
            opt_to_ms(link.revoked_at),
            opt_to_ms(link.last_viewed_at),
            link.views,
            opt_to_ms(link.expires_at),
        ]
        self._insert("share_links", SHARE_COLUMNS, params, f"share link {link.id!r}")

    def get_share_link(self, link_id: str) -> ShareLinkRow | None:
        rows = self.fetchall(f"SELECT {SHARE_COLUMNS} FROM share_links WHERE id = ?", [link_id])
        return _link_from(rows[0]) if rows else None

    def live_share_link(self, token_hash: str, now: datetime) -> ShareLinkRow | None:
        sql = (
            f"SELECT {SHARE_COLUMNS} FROM share_links WHERE token_hash = ?{_ACTIVE} "
            "AND EXISTS (SELECT 1 FROM sessions s "
            "WHERE s.id = share_links.session_id AND s.status <> 'expired')"
        )
        rows = self.fetchall(sql, [token_hash, to_ms(now)])
        return _link_from(rows[0]) if rows else None

    def list_share_links(
        self, session_id: str, *, active_at: datetime | None = None
    ) -> list[ShareLinkRow]:
        where = "" if active_at is None else _ACTIVE
        params: list[Any] = [session_id] if active_at is None else [session_id, to_ms(active_at)]
        sql = (
            f"SELECT {SHARE_COLUMNS} FROM share_links WHERE session_id = ?{where} "
            "ORDER BY created_at, id"
        )
        return [_link_from(r) for r in self.fetchall(sql, params)]

    def revoke_share_link(self, link_id: str, now: datetime) -> bool:
        self._write()
        sql = "UPDATE share_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        return self.execute(sql, [to_ms(now), link_id]) == 1

    def record_share_view(self, link_id: str, now: datetime) -> bool:
        self._write()
        sql = (
            "UPDATE share_links SET views = views + 1, last_viewed_at = ? "
            "WHERE id = ? AND revoked_at IS NULL"
        )
        return self.execute(sql, [to_ms(now), link_id]) == 1


def _link_from(r: tuple[Any, ...]) -> ShareLinkRow:
    return ShareLinkRow(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        from_ms(int(r[5])),
        opt_from_ms(r[6]),
        opt_from_ms(r[7]),
        int(r[8]),
        opt_from_ms(r[9]),
    )
