"""The plumbing that the halves of `Txn` kept in their own modules (jobs, feature flags,
events, share links) use of the `SQLTxn` they are mixed into (store/sql.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def column_types(dialect: str) -> tuple[str, str]:
    """(text, integer) column types of a table DDL: PostgreSQL text compares by code point
    (COLLATE "C", as SQLite does) and its timestamps in ms need BIGINT."""
    if dialect == "postgres":
        return 'TEXT COLLATE "C"', "BIGINT"
    return "TEXT", "INTEGER"


class SQLTxnPart:
    """Declares what a `Txn` half may call; `SQLTxn` and its drivers provide it."""

    _deferred_events: list[Any]  # EventRow, inserted by `flush_deferred` before the commit

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _write(self) -> None:
        raise NotImplementedError

    def _insert(self, table: str, columns: str, params: Sequence[Any], what: str) -> None:
        raise NotImplementedError
