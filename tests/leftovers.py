"""Scan every column of every table for values: proves a deletion left nothing behind.

The schema is introspected, not listed, so a table added later that keeps a session's or a
user's data and is not deleted with it makes the deletion tests fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cvsession.store import Store


def columns(store: Store) -> dict[str, list[str]]:
    """Table -> column names, from the database's own catalogue."""
    with store.read() as txn:
        raw: Any = txn
        if store.url.startswith("sqlite"):
            tables = [
                str(r[0])
                for r in raw.fetchall(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
            return {
                t: [str(c[1]) for c in raw.fetchall(f'PRAGMA table_info("{t}")')] for t in tables
            }
        out: dict[str, list[str]] = {}
        for table, column in raw.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ):
            out.setdefault(str(table), []).append(str(column))
        return out


def occurrences(store: Store, needles: Iterable[str]) -> dict[str, int]:
    """ "table.column" -> rows whose value (as text) contains any of `needles`."""
    found: dict[str, int] = {}
    needles = [n for n in needles if n]
    schema = columns(store)
    with store.read() as txn:
        raw: Any = txn
        for table, cols in schema.items():
            for col in cols:
                for needle in needles:
                    sql = f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{col}" AS TEXT) LIKE ?'
                    count = int(raw.fetchall(sql, [f"%{needle}%"])[0][0])
                    if count:
                        key = f"{table}.{col}"
                        found[key] = found.get(key, 0) + count
    return found
