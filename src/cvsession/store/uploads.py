"""Upload records: which stored file belongs to which session (the bytes live on disk).

The SQL transaction class (store/sql.py) implements the Txn methods with these helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cvsession.store.part import column_types

UPLOAD_COLUMNS = "id, session_id, owner_id, filename, kind, size, sha256, storage_name, created_at"


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    session_id: str
    owner_id: str
    filename: str  # as the client named it; display only, never a path
    kind: str  # "pdf" | "docx" | "text", from the content
    size: int
    sha256: str
    storage_name: str  # random name of the file under the data directory's uploads folder
    created_at: datetime


def migration_sql(dialect: str) -> tuple[str, ...]:
    """DDL of the uploads table (migration 3)."""
    return (
        _create_table(dialect, "uploads", ("pdf", "docx")),
        "CREATE INDEX uploads_session ON uploads (session_id, created_at)",
    )


def text_kind_migration_sql(dialect: str) -> tuple[str, ...]:
    """Allow the `text` kind (migration 5): pasted CVs are stored as UTF-8 text uploads."""
    if dialect == "postgres":
        return (
            "ALTER TABLE uploads DROP CONSTRAINT uploads_kind_check",
            "ALTER TABLE uploads ADD CONSTRAINT uploads_kind_check "
            "CHECK (kind IN ('pdf', 'docx', 'text'))",
        )
    # SQLite cannot alter a CHECK constraint: rebuild the table (nothing references it).
    return (
        _create_table(dialect, "uploads_new", ("pdf", "docx", "text")),
        f"INSERT INTO uploads_new ({UPLOAD_COLUMNS}) SELECT {UPLOAD_COLUMNS} FROM uploads",
        "DROP TABLE uploads",
        "ALTER TABLE uploads_new RENAME TO uploads",
        "CREATE INDEX uploads_session ON uploads (session_id, created_at)",
    )


def _create_table(dialect: str, name: str, kinds: tuple[str, ...]) -> str:
    text, integer = column_types(dialect)
    allowed = ", ".join(f"'{k}'" for k in kinds)
    return f"""CREATE TABLE {name} (
            id {text} PRIMARY KEY,
            session_id {text} NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            owner_id {text} NOT NULL,
            filename TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ({allowed})),
            size {integer} NOT NULL,
            sha256 TEXT NOT NULL,
            storage_name TEXT NOT NULL,
            created_at {integer} NOT NULL
        )"""
