"""Stored feature flags: one row per flag an operator has set, overriding its built-in default.

The definition is a JSON object (see `cvsession.core.flags.definition_json`); the store does
not interpret it, so the flag model can grow without a migration. Deleting a row puts a
built-in flag back to its default (and removes a flag that is not built in).

`FlagsTxn` is mixed into the SQL transaction class (store/sql.py); its methods are part of `Txn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cvsession.store.codec import dump_json, from_ms, load_json, to_ms
from cvsession.store.part import SQLTxnPart, column_types


@dataclass(frozen=True, slots=True)
class FlagRow:
    name: str
    definition: dict[str, Any]
    updated_at: datetime


def migration_sql(dialect: str) -> tuple[str, ...]:
    """DDL of the feature flag table (migration 6)."""
    text, integer = column_types(dialect)
    return (
        f"""CREATE TABLE feature_flags (
            name {text} PRIMARY KEY,
            definition TEXT NOT NULL,
            updated_at {integer} NOT NULL
        )""",
    )


class FlagsTxn(SQLTxnPart):
    """The feature flag half of `Txn`, written against the `SQLTxn` plumbing it is mixed into."""

    def get_flag(self, name: str) -> FlagRow | None:
        rows = self.fetchall(
            "SELECT name, definition, updated_at FROM feature_flags WHERE name = ?", [name]
        )
        return _flag_from(rows[0]) if rows else None

    def list_flags(self) -> list[FlagRow]:
        rows = self.fetchall("SELECT name, definition, updated_at FROM feature_flags ORDER BY name")
        return [_flag_from(r) for r in rows]

    def put_flag(self, flag: FlagRow) -> None:
        """Insert or replace the flag's row."""
        self._write()
        self.execute(
            "INSERT INTO feature_flags (name, definition, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, "
            "updated_at = excluded.updated_at",
            [flag.name, dump_json(flag.definition), to_ms(flag.updated_at)],
        )

    def delete_flag(self, name: str) -> bool:
        self._write()
        return self.execute("DELETE FROM feature_flags WHERE name = ?", [name]) > 0


def _flag_from(r: tuple[Any, ...]) -> FlagRow:
    return FlagRow(str(r[0]), load_json(str(r[1])), from_ms(int(r[2])))
