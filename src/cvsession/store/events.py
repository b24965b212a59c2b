"""Analytics events: an append-only record of what happened, and the queries metrics need.

`events(id, kind, user_id, session_id, at, value, data)` holds one row per recorded fact
(a session created, a push received, a resume reported by a browser, ...). Rows are never
updated; `session_id` is deliberately not a foreign key, so figures about deleted or expired
sessions survive them (`delete_user_events` is what "delete everything" calls).

The SQL transaction class (store/sql.py) mixes `EventsTxn` in, like `JobsTxn`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from cvsession.store.codec import dump_json, from_ms, load_json, to_ms
from cvsession.store.part import SQLTxnPart

EVENT_COLUMNS = "kind, user_id, session_id, at, value, data"
MAX_EVENT_ROWS = 100_000
SAMPLES_PER_SEGMENT = 1000
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class EventRow:
    kind: str  # e.g. "session.created", "sync.push", "resume.restored"
    user_id: str  # the session's owner, or the caller who reported it
    at: datetime
    session_id: str | None = None
    value: float | None = None  # the event's measure (ms, count, confidence), if it has one
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None  # assigned by the database


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range [since, until) and an optional owner, for every metrics query."""

    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None


def migration_sql(dialect: str) -> tuple[str, ...]:
    """DDL of the events table (migration 7)."""
    if dialect == "postgres":
        ident = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        text, integer, real = 'TEXT COLLATE "C"', "BIGINT", "DOUBLE PRECISION"
    else:
        ident, text, integer, real = "INTEGER PRIMARY KEY", "TEXT", "INTEGER", "REAL"
    return (
        f"""CREATE TABLE events (
            id {ident},
            kind {text} NOT NULL,
            user_id {text} NOT NULL,
            session_id {text},
            at {integer} NOT NULL,
            value {real},
            data TEXT NOT NULL
        )""",
        "CREATE INDEX events_kind_at ON events (kind, at)",
        "CREATE INDEX events_session ON events (session_id)",
    )


def _window(window: Window, column: str, user_column: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if window.since is not None:
        clauses.append(f"{column} >= ?")
        params.append(to_ms(window.since))
    if window.until is not None:
        clauses.append(f"{column} < ?")
        params.append(to_ms(window.until))
    if window.user_id is not None:
        clauses.append(f"{user_column} = ?")
        params.append(window.user_id)
    return "".join(f" AND {c}" for c in clauses), params


def _kinds(kinds: Sequence[str]) -> tuple[str, list[Any]]:
    if not kinds:
        raise ValueError("name at least one event kind")
    return f"kind IN ({', '.join('?' * len(kinds))})", list(kinds)


# Deferred events per INSERT statement (6 parameters each: well under SQLite's 32,766).
DEFERRED_CHUNK = 1000


class EventsTxn(SQLTxnPart):
    """The events half of `Txn`, written against the `SQLTxn` plumbing it is mixed into."""

    # A numeric field of a JSON TEXT column, per dialect: {col} and {key} are filled in.
    json_number_sql: ClassVar[str] = "CAST(json_extract({col}, '$.{key}') AS REAL)"

    # writes --------------------------------------------------------------------------------
    def insert_events(self, events: Sequence[EventRow]) -> None:
        """Append events in one statement (ids are assigned; any given `id` is ignored)."""
        if not events:
            return
        self._write()
        marks = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(events))
        params: list[Any] = []
        for e in events:
            params += [e.kind, e.user_id, e.session_id, to_ms(e.at), e.value, dump_json(e.data)]
        self.execute(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES {marks}", params)

    def defer_events(self, events: Sequence[EventRow]) -> None:
        self._write()
        self._deferred_events.extend(events)

    def flush_deferred(self) -> None:
        """Insert the deferred events; the store calls this just before it commits."""
        pending, self._deferred_events = self._deferred_events, []
        for start in range(0, len(pending), DEFERRED_CHUNK):
            self.insert_events(pending[start : start + DEFERRED_CHUNK])

    def delete_user_events(self, user_id: str) -> int:
        """Forget everything recorded about a user; return how many rows went."""
        self._write()
        return self.execute("DELETE FROM events WHERE user_id = ?", [user_id])

    # reads ---------------------------------------------------------------------------------
    def event_totals(
        self, kinds: Sequence[str], window: Window = Window()
    ) -> dict[str, tuple[int, float]]:
        """(count, sum of value) per kind among `kinds` in the window; absent kinds are left out."""
        where, params = _kinds(kinds)
        extra, more = _window(window, "at", "user_id")
        sql = f"SELECT kind, COUNT(*), SUM(value) FROM events WHERE {where}{extra} GROUP BY kind"
        return {str(k): (int(n), float(s or 0)) for k, n, s in self.fetchall(sql, [*params, *more])}

    def event_field_sums(
        self, kind: str, fields: Sequence[str], window: Window = Window()
    ) -> dict[str, float]:
        """Sum of each numeric `data` field of `kind`'s events in the window (0 when none)."""
        for name in fields:
            if not _FIELD.fullmatch(name):
                raise ValueError(f"not a field name: {name!r}")
        sums = ", ".join(
            f"SUM({self.json_number_sql.format(col='data', key=name)})" for name in fields
        )
        extra, params = _window(window, "at", "user_id")
        row = self.fetchall(f"SELECT {sums} FROM events WHERE kind = ?{extra}", [kind, *params])
        return {name: float(v or 0) for name, v in zip(fields, row[0], strict=True)}

    def event_distinct_sessions(self, kinds: Sequence[str], window: Window = Window()) -> int:
        """How many distinct sessions have an event of one of `kinds` in the window."""
        where, params = _kinds(kinds)
        extra, more = _window(window, "at", "user_id")
        sql = f"SELECT COUNT(DISTINCT session_id) FROM events WHERE {where}{extra}"
        return int(self.fetchall(sql, [*params, *more])[0][0])

    def event_rows(
        self, kinds: Sequence[str], window: Window = Window(), limit: int = MAX_EVENT_ROWS
    ) -> list[EventRow]:
        """Events of `kinds` in the window, oldest first, at most the newest `limit`."""
        where, params = _kinds(kinds)
        extra, more = _window(window, "at", "user_id")
        sql = (
            f"SELECT id, {EVENT_COLUMNS} FROM events WHERE {where}{extra} "
            "ORDER BY at DESC, id DESC LIMIT ?"
        )
        rows = self.fetchall(sql, [*params, *more, max(1, min(limit, MAX_EVENT_ROWS))])
        return [
            EventRow(
                kind=str(r[1]),
                user_id=str(r[2]),
                session_id=None if r[3] is None else str(r[3]),
                at=from_ms(int(r[4])),
                value=None if r[5] is None else float(r[5]),
                data=load_json(str(r[6])),
                id=int(r[0]),
            )
            for r in reversed(rows)
        ]

    def event_kind_counts(self) -> dict[str, int]:
        """Every kind ever recorded and its number of rows (a scrape-time gauge)."""
        rows = self.fetchall("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY kind")
        return {str(k): int(n) for k, n in rows}

    # sessions, step durations and jobs, aggregated -------------------------------------------
    def session_counts(
        self,
        column: str,
        *,
        user_id: str | None = None,
        statuses: Sequence[str] = (),
        active_from: datetime | None = None,
        active_to: datetime | None = None,
    ) -> dict[str, int]:
        """Sessions per value of `column` ("status" or "current_step"), filtered."""
        if column not in ("status", "current_step"):
            raise ValueError(f"cannot group sessions by {column!r}")
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if user_id is not None:
            clauses.append("owner_id = ?")
            params.append(user_id)
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if active_from is not None:
            clauses.append("last_active_at >= ?")
            params.append(to_ms(active_from))
        if active_to is not None:
            clauses.append("last_active_at < ?")
            params.append(to_ms(active_to))
        sql = (
            f"SELECT {column}, COUNT(*) FROM sessions WHERE {' AND '.join(clauses)} "
            f"GROUP BY {column}"
        )
        return {str(k): int(n) for k, n in self.fetchall(sql, params)}

    def step_funnel(self, window: Window = Window()) -> tuple[int, dict[str, int]]:
        """Sessions created in the window (the cohort), and how many of them completed each
        step (a recorded step duration is a completion)."""
        extra, params = _window(window, "created_at", "owner_id")
        cohort = self.fetchall(f"SELECT COUNT(*) FROM sessions WHERE 1 = 1{extra}", params)
        extra, params = _window(window, "s.created_at", "s.owner_id")
        sql = (
            "SELECT d.step, COUNT(DISTINCT d.session_id) FROM step_durations d "
            f"JOIN sessions s ON s.id = d.session_id WHERE 1 = 1{extra} GROUP BY d.step"
        )
        return int(cohort[0][0]), {str(s): int(n) for s, n in self.fetchall(sql, params)}

    def step_duration_segments(self) -> dict[tuple[str, str | None, bool], list[int]]:
        """Recorded durations in ms per (step, template, quick_create), each list sorted and
        holding the newest SAMPLES_PER_SEGMENT at most."""
        sql = (
            "SELECT step, template, quick_create, duration_ms FROM (SELECT step, template, "
            "quick_create, duration_ms, ROW_NUMBER() OVER (PARTITION BY step, template, "
            "quick_create ORDER BY recorded_at DESC, id DESC) AS rn FROM step_durations) newest "
            "WHERE rn <= ? ORDER BY duration_ms"
        )
        out: dict[tuple[str, str | None, bool], list[int]] = {}
        for step, template, quick, duration in self.fetchall(sql, [SAMPLES_PER_SEGMENT]):
            key = (str(step), None if template is None else str(template), bool(quick))
            out.setdefault(key, []).append(int(duration))
        return out

    def job_outcomes(self, window: Window = Window()) -> list[tuple[str, str, int | None, Any]]:
        """(type, status, run time in ms or None, error) of jobs that ended in the window."""
        extra, params = _window(window, "completed_at", "owner_id")
        sql = (
            "SELECT type, status, completed_at - started_at, error FROM jobs "
            f"WHERE status IN ('completed', 'failed') AND completed_at IS NOT NULL{extra}"
        )
        return [
            (
                str(t),
                str(s),
                None if d is None else int(d),
                None if e is None else load_json(str(e)),
            )
            for t, s, d, e in self.fetchall(sql, params)
        ]
