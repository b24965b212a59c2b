"""Upload records: which stored file belongs to which session (the bytes live on disk).

The SQL transaction class (store/sql.py) implements the Txn methods with these helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

UPLOAD_COLUMNS = "id, session_id, owner_id, filename, kind, size, sha256, storage_name, created_at"


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    session_id: str
    owner_id: str
    filename: str  # as the client named it; display only, never a path
    kind: str  # "pdf" | "docx", from the content
    size: int
    sha256: str
    storage_name: str  # random name of the file under the data directory's uploads folder
    created_at: datetime


def migration_sql(dialect: str) -> tuple[str, ...]:
    """DDL of the uploads table (migration 3)."""
    text = 'TEXT COLLATE "C"' if dialect == "postgres" else "TEXT"
    integer = "BIGINT" if dialect == "postgres" else "INTEGER"
    return (
        f"""CREATE TABLE uploads (
            id {text} PRIMARY KEY,
            session_id {text} NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            owner_id {text} NOT NULL,
            filename TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pdf', 'docx')),
            size {integer} NOT NULL,
            sha256 TEXT NOT NULL,
            storage_name TEXT NOT NULL,
            created_at {integer} NOT NULL
        )""",
        "CREATE INDEX uploads_session ON uploads (session_id, created_at)",
    )
