"""Row builders and fixed instants for the store contract suite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cvsession.store import (
    ConflictRow,
    LogEntry,
    SessionRow,
    StepDurationRow,
    TokenRow,
    UserRow,
)

T0 = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """T0 plus `minutes` (whole milliseconds)."""
    return T0 + timedelta(milliseconds=round(minutes * 60_000))


class Rows:
    """Builders with sensible defaults; keyword arguments override fields."""

    def user(self, id: str = "u1", **kw: Any) -> UserRow:
        return UserRow(**{"id": id, "created_at": T0, "display_name": "Ada", **kw})

    def token(self, token_hash: str = "h1", user_id: str = "u1", **kw: Any) -> TokenRow:
        fields = {"token_hash": token_hash, "user_id": user_id, "kind": "bearer"}
        return TokenRow(**{**fields, "created_at": T0, **kw})

    def session(self, id: str = "s1", owner_id: str = "u1", **kw: Any) -> SessionRow:
        fields: dict[str, Any] = {
            "id": id,
            "owner_id": owner_id,
            "status": "in_progress",
            "current_step": "upload",
            "title": f"CV {id}",
            "created_at": T0,
            "last_active_at": T0,
            "updated_at": T0,
            "version": 0,
            "schema_version": 1,
            "document": {"id": id, "title": f"CV {id}", "steps": {"upload": {"completion": 0}}},
            "field_versions": {"/title": 0},
        }
        return SessionRow(**{**fields, **kw})

    def log(self, session_id: str = "s1", version: int = 1, **kw: Any) -> LogEntry:
        fields: dict[str, Any] = {
            "session_id": session_id,
            "version": version,
            "client_id": "c1",
            "mutation_id": version,
            "name": "setField",
            "args": {"path": "/title", "value": f"v{version}"},
            "ops": [{"op": "replace", "path": "/title", "value": f"v{version}", "old": "x"}],
            "conflicts": [],
            "created_at": at(version),
            "hlc": f"0000000{version}:0000:c1",
        }
        return LogEntry(**{**fields, **kw})

    def conflict(self, id: str = "k1", session_id: str = "s1", **kw: Any) -> ConflictRow:
        fields: dict[str, Any] = {
            "id": id,
            "session_id": session_id,
            "path": "/title",
            "yours": "mine",
            "theirs": {"v": [1, 2.5, None]},
            "version": 3,
            "client_id": "c1",
            "mutation_id": 7,
            "status": "open",
            "created_at": T0,
        }
        return ConflictRow(**{**fields, **kw})

    def duration(self, step: str = "upload", ms: int = 1000, **kw: Any) -> StepDurationRow:
        fields = {"session_id": "s1", "step": step, "duration_ms": ms, "recorded_at": T0}
        return StepDurationRow(**{**fields, **kw})
