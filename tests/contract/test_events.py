"""Contract: analytics events and the aggregate queries metrics are computed from."""

from __future__ import annotations

import dataclasses

import pytest

from cvsession.store import EventRow, StepDurationRow, Store, Window

from .factories import T0, Rows, at


def ev(kind: str, minutes: float, **kw: object) -> EventRow:
    fields: dict[str, object] = {"user_id": "u1", "session_id": "s1", **kw}
    return EventRow(kind, at=at(minutes), **fields)  # type: ignore[arg-type]


def test_events_round_trip_oldest_first_with_ids(seeded: Store) -> None:
    """Inserted events read back equal (ids assigned, increasing), oldest first, JSON intact."""
    events = [
        ev("resume.offered", 2, value=0.5, data={"recommendedStep": "upload", "z": "\x00é"}),
        ev("sync.push", 1, value=3, data={"applied": 2}),
        ev("offline.replayed", 3, session_id=None, value=None),
    ]
    with seeded.transaction() as txn:
        txn.insert_events(events)
        txn.insert_events([])
    with seeded.read() as txn:
        rows = txn.event_rows(["resume.offered", "sync.push", "offline.replayed"])
    assert [events[1], events[0], events[2]] == [dataclasses.replace(r, id=None) for r in rows]
    by_id = sorted(rows, key=lambda r: r.id or 0)
    assert events == [dataclasses.replace(r, id=None) for r in by_id]  # ids in insertion order


def test_deferred_events_are_inserted_at_commit_and_follow_savepoints(seeded: Store) -> None:
    """Deferred events land with the commit (after those inserted directly); a savepoint that
    rolls back drops those deferred inside it; a rolled-back transaction drops them all."""
    with seeded.transaction() as txn:
        txn.defer_events([ev("sync.push", 1, value=1)])
        assert txn.event_rows(["sync.push"]) == []  # not yet: one statement at the commit
        with pytest.raises(ValueError), txn.savepoint():
            txn.defer_events([ev("sync.push", 2, value=2)])
            raise ValueError
        with txn.savepoint():
            txn.defer_events([ev("sync.push", 3, value=3)])
        txn.insert_events([ev("session.resumed", 0)])
    with pytest.raises(RuntimeError), seeded.transaction() as txn:
        txn.defer_events([ev("sync.push", 4, value=4)])
        raise RuntimeError
    with seeded.read() as txn:
        rows = sorted(txn.event_rows(["sync.push", "session.resumed"]), key=lambda r: r.id or 0)
        with pytest.raises(RuntimeError):
            txn.defer_events([ev("sync.push", 5)])  # a read cannot write
    assert [(r.kind, r.value) for r in rows] == [
        ("session.resumed", None),
        ("sync.push", 1),
        ("sync.push", 3),
    ]


def test_deferred_event_that_cannot_be_written_undoes_the_commit(seeded: Store) -> None:
    """The deferred insert is part of the commit: if it fails nothing of the transaction is
    kept, and the store stays usable."""
    with pytest.raises(TypeError), seeded.transaction() as txn:
        txn.insert_events([ev("session.resumed", 0)])
        txn.defer_events([ev("sync.push", 1, data={"bad": object()})])
    with seeded.transaction() as txn:
        txn.insert_events([ev("session.resumed", 1)])
    with seeded.read() as txn:
        rows = txn.event_rows(["sync.push", "session.resumed"])
    assert [(r.kind, r.at) for r in rows] == [("session.resumed", at(1))]


def test_event_queries_respect_kind_window_and_user(seeded: Store) -> None:
    """Totals, field sums, distinct sessions and rows honour [since, until) and the user."""
    with seeded.transaction() as txn:
        txn.insert_events(
            [
                ev("sync.push", 0, value=2, data={"applied": 2, "gap": 0}),
                ev("sync.push", 5, value=3, data={"applied": 1, "gap": 1}),
                ev("sync.push", 10, value=7, data={"applied": 7}),
                ev("sync.push", 5, user_id="u2", session_id="s9", value=100, data={"applied": 9}),
                ev("session.resumed", 5),
                ev("resume.restored", 6),
                ev("resume.restored", 6, session_id="s2"),
            ]
        )
    window = Window(at(0), at(10), "u1")
    with seeded.read() as txn:
        assert {"sync.push": (2, 5.0)} == txn.event_totals(["sync.push", "x"], window)
        assert {"sync.push": (4, 112.0)} == txn.event_totals(["sync.push"])
        assert {"applied": 3.0, "gap": 1.0, "conflicts": 0.0} == txn.event_field_sums(
            "sync.push", ["applied", "gap", "conflicts"], window
        )
        assert {"applied": 0.0} == txn.event_field_sums("nothing", ["applied"])
        kinds = ["session.resumed", "resume.restored"]
        assert 2 == txn.event_distinct_sessions(kinds, window)
        assert 1 == txn.event_distinct_sessions(kinds, Window(at(5), at(6)))
        assert [at(5)] == [r.at for r in txn.event_rows(["sync.push"], Window(at(1), at(10), "u1"))]
        assert [at(5), at(10)] == [
            r.at for r in txn.event_rows(["sync.push"], Window(user_id="u1"), limit=2)
        ]
        assert {
            "resume.restored": 2,
            "session.resumed": 1,
            "sync.push": 4,
        } == txn.event_kind_counts()
        with pytest.raises(ValueError):
            txn.event_totals([])
        with pytest.raises(ValueError):
            txn.event_field_sums("sync.push", ["a') --"])
    with seeded.transaction() as txn:
        assert 6 == txn.delete_user_events("u1")
    with seeded.read() as txn:
        assert {"sync.push": 1} == txn.event_kind_counts()


def test_events_outlive_their_session(seeded: Store) -> None:
    """Deleting a session keeps its events (figures survive retention); nothing cascades."""
    with seeded.transaction() as txn:
        txn.insert_events([ev("session.created", 0)])
        txn.delete_session("s1")
    with seeded.read() as txn:
        assert {"session.created": (1, 0.0)} == txn.event_totals(["session.created"])


def test_events_cannot_be_written_through_a_read(seeded: Store) -> None:
    """insert_events through Store.read() raises RuntimeError."""
    with seeded.read() as txn, pytest.raises(RuntimeError):
        txn.insert_events([ev("session.created", 0)])


def test_session_counts_funnel_and_duration_segments(store: Store, rows: Rows) -> None:
    """Sessions group by status or step; the funnel counts completions of the cohort."""
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_user(rows.user("u2"))
        txn.insert_session(rows.session("s1", status="draft", current_step="upload"))
        txn.insert_session(rows.session("s2", status="completed", current_step="completed",
                                        last_active_at=at(60)))  # fmt: skip
        txn.insert_session(rows.session("s3", owner_id="u2", status="draft",
                                        current_step="analysis", created_at=at(60)))  # fmt: skip
        for sid, step, ms, template, quick in (
            ("s1", "upload", 10, None, False),
            ("s2", "upload", 30, None, True),
            ("s2", "upload", 20, None, True),
            ("s2", "templates", 50, "modern", False),
        ):
            txn.record_step_duration(StepDurationRow(sid, step, ms, T0, template, quick))
    with store.read() as txn:
        assert {"draft": 2, "completed": 1} == txn.session_counts("status")
        assert {"upload": 1} == txn.session_counts(
            "current_step", user_id="u1", statuses=["draft"], active_to=at(1)
        )
        assert {"completed": 1} == txn.session_counts("status", active_from=at(30))
        with pytest.raises(ValueError):
            txn.session_counts("title")
        assert (2, {"upload": 2, "templates": 1}) == txn.step_funnel(Window(until=at(30)))
        assert (1, {}) == txn.step_funnel(Window(user_id="u2"))
        assert {
            ("upload", None, False): [10],
            ("upload", None, True): [20, 30],
            ("templates", "modern", False): [50],
        } == txn.step_duration_segments()
        assert [] == txn.job_outcomes()
