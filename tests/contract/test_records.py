"""Contract: users, tokens, the mutation log, clients, conflicts and step durations."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest

from cvsession.store import ClientRow, DuplicateKey, Store

from .factories import T0, Rows, at


def test_user_round_trip_and_duplicate(store: Store, rows: Rows) -> None:
    """A user reads back equal; a second insert of its id raises DuplicateKey."""
    user = rows.user(display_name="Zoë \U0001f600")
    with store.transaction() as txn:
        txn.insert_user(user)
        with pytest.raises(DuplicateKey):
            txn.insert_user(rows.user(display_name="other"))
    with store.read() as txn:
        assert user == txn.get_user("u1")
        assert None is txn.get_user("u2")


def test_token_round_trip_with_optional_times(store: Store, rows: Rows) -> None:
    """Tokens keep kind, label and optional expiry/use times; missing ones are None."""
    full = rows.token("h1", kind="pairing", expires_at=at(10), used_at=at(5), label="phone")
    bare = rows.token("h2", kind="guest")
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_token(full)
        txn.insert_token(bare)
        with pytest.raises(DuplicateKey):
            txn.insert_token(rows.token("h1"))
    with store.read() as txn:
        assert full == txn.get_token("h1")
        assert bare == txn.get_token("h2")
        assert None is txn.get_token("h3")


def test_mark_token_used_succeeds_once_and_delete_removes(store: Store, rows: Rows) -> None:
    """mark_token_used returns True the first time only, keeping the first time; delete works."""
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_token(rows.token())
    with store.transaction() as txn:
        assert True is txn.mark_token_used("h1", at(1))
        assert False is txn.mark_token_used("h1", at(2))
        assert False is txn.mark_token_used("missing", at(2))
    with store.transaction() as txn:
        assert at(1) == txn.get_token("h1").used_at  # type: ignore[union-attr]
        txn.delete_token("h1")
        txn.delete_token("h1")  # deleting twice is harmless
        assert None is txn.get_token("h1")


def test_mark_token_used_is_true_exactly_once_under_concurrency(store: Store, rows: Rows) -> None:
    """Eight threads racing to use one token: exactly one is told it won."""
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_token(rows.token())
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def redeem() -> None:
        barrier.wait()
        with store.transaction() as txn:
            results.append(txn.mark_token_used("h1", datetime.now(UTC)))

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [False] * 7 + [True] == sorted(results)


def test_log_append_round_trip_and_duplicate(seeded: Store, rows: Rows) -> None:
    """Log entries read back equal; a repeated (session, version) raises DuplicateKey."""
    entry = rows.log(args=[1, "\x00", {"k": None}], conflicts=[{"path": "/title"}], hlc="")
    with seeded.transaction() as txn:
        txn.append_log(entry)
        with pytest.raises(DuplicateKey):
            txn.append_log(rows.log(name="other"))
    with seeded.read() as txn:
        assert [entry] == txn.log_since("s1", 0)


def test_log_since_is_ascending_exclusive_and_limited(seeded: Store, rows: Rows) -> None:
    """log_since returns versions above the given one, ascending, at most `limit`."""
    with seeded.transaction() as txn:
        for version in (3, 1, 5, 2, 4):
            txn.append_log(rows.log(version=version))
    with seeded.read() as txn:
        assert [1, 2, 3, 4, 5] == [e.version for e in txn.log_since("s1", 0)]
        assert [3, 4] == [e.version for e in txn.log_since("s1", 2, limit=2)]
        assert [] == txn.log_since("s1", 5)
        assert [] == txn.log_since("other", 0)


def test_client_versions_are_the_clients_own_versions_after_a_base(
    seeded: Store, rows: Rows
) -> None:
    """client_versions lists the versions above `after` that one client produced."""
    with seeded.transaction() as txn:
        for version, client in ((1, "a"), (2, "b"), (3, "a"), (4, "a"), (5, "b")):
            txn.append_log(rows.log(version=version, client_id=client))
    with seeded.read() as txn:
        assert frozenset({3, 4}) == txn.client_versions("s1", "a", 1)
        assert frozenset({5}) == txn.client_versions("s1", "b", 2)
        assert frozenset() == txn.client_versions("s1", "zz", 0)
        assert frozenset() == txn.client_versions("other", "a", 0)


def test_log_min_version_follows_truncation(seeded: Store, rows: Rows) -> None:
    """log_min_version is None for an empty log and the oldest kept version after compaction."""
    with seeded.transaction() as txn:
        assert None is txn.log_min_version("s1")
        for version in range(1, 6):
            txn.append_log(rows.log(version=version))
        assert 1 == txn.log_min_version("s1")
        assert 3 == txn.truncate_log("s1", 4)
        assert 4 == txn.log_min_version("s1")
        assert [4, 5] == [e.version for e in txn.log_since("s1", 0)]


def test_upsert_client_inserts_then_overwrites(store: Store) -> None:
    """upsert_client creates a client and later replaces every field of it."""
    first = ClientRow("c1", "u1", 1, T0, "g1")
    second = ClientRow("c1", "u1", 7, at(3), "g2")
    with store.transaction() as txn:
        assert None is txn.get_client("c1")
        txn.upsert_client(first)
        assert first == txn.get_client("c1")
    with store.transaction() as txn:
        txn.upsert_client(second)
    with store.read() as txn:
        assert second == txn.get_client("c1")


def test_advance_client_moves_only_an_in_order_client_of_its_user(store: Store) -> None:
    """advance_client moves lastMutationID by one for the right user and keeps the group;
    a gap, a replay, another user or an unknown client change nothing."""
    with store.transaction() as txn:
        assert not txn.advance_client("c1", "u1", 1, T0)
        assert None is txn.get_client("c1")
        txn.upsert_client(ClientRow("c1", "u1", 4, T0, "g1"))
        assert not txn.advance_client("c1", "u1", 4, at(1))
        assert not txn.advance_client("c1", "u1", 7, at(1))
        assert not txn.advance_client("c1", "u2", 5, at(1))
        assert ClientRow("c1", "u1", 4, T0, "g1") == txn.get_client("c1")
        assert txn.advance_client("c1", "u1", 5, at(2))
    with store.read() as txn:
        assert ClientRow("c1", "u1", 5, at(2), "g1") == txn.get_client("c1")


def test_conflict_insert_get_update_and_duplicate(seeded: Store, rows: Rows) -> None:
    """Conflicts round-trip with JSON values; update resolves; duplicates raise DuplicateKey."""
    conflict = rows.conflict(yours=None, theirs=["a", {"b": 1.5}])
    resolved = dataclasses.replace(
        conflict, status="resolved", resolution={"choice": "value", "value": "x"}, resolved_at=at(2)
    )
    with seeded.transaction() as txn:
        txn.insert_conflict(conflict)
        assert conflict == txn.get_conflict("k1")
        with pytest.raises(DuplicateKey):
            txn.insert_conflict(conflict)
        txn.update_conflict(resolved)
    with seeded.read() as txn:
        assert resolved == txn.get_conflict("k1")
        assert None is txn.get_conflict("k2")
    with pytest.raises(KeyError), seeded.transaction() as txn:
        txn.update_conflict(rows.conflict("ghost"))


def test_list_conflicts_oldest_first_and_by_status(seeded: Store, rows: Rows) -> None:
    """list_conflicts orders by creation time and filters by status when asked."""
    with seeded.transaction() as txn:
        txn.insert_session(rows.session("s2"))
        txn.insert_conflict(rows.conflict("k3", created_at=at(3)))
        txn.insert_conflict(rows.conflict("k1", created_at=at(1), status="resolved"))
        txn.insert_conflict(rows.conflict("k2", created_at=at(2)))
        txn.insert_conflict(rows.conflict("k9", "s2"))
    with seeded.read() as txn:
        assert ["k1", "k2", "k3"] == [c.id for c in txn.list_conflicts("s1")]
        assert ["k2", "k3"] == [c.id for c in txn.list_conflicts("s1", status="open")]
        assert ["k1"] == [c.id for c in txn.list_conflicts("s1", status="resolved")]
        assert [] == txn.list_conflicts("nope")


def test_step_duration_stats_sorted_per_step(seeded: Store, rows: Rows) -> None:
    """Stats group durations by step, each list ascending; template/quick_create are accepted."""
    with seeded.read() as txn:
        assert {} == txn.step_duration_stats()
    with seeded.transaction() as txn:
        for step, ms in (("upload", 300), ("analysis", 50), ("upload", 100), ("upload", 200)):
            txn.record_step_duration(rows.duration(step, ms, template="modern", quick_create=True))
    with seeded.read() as txn:
        assert {"analysis": [50], "upload": [100, 200, 300]} == txn.step_duration_stats()


def test_step_duration_stats_keep_the_newest_thousand(seeded: Store, rows: Rows) -> None:
    """Only the 1,000 most recently recorded durations of a step count."""
    with seeded.transaction() as txn:
        # The five oldest recordings are the five longest durations.
        for i in range(1005):
            txn.record_step_duration(rows.duration(ms=10_000 - i, recorded_at=at(i)))
    with seeded.read() as txn:
        stats = txn.step_duration_stats()["upload"]
    assert list(range(10_000 - 1004, 10_000 - 4)) == stats


def test_session_versions_reports_existing_sessions_only(seeded: Store, rows: Rows) -> None:
    """session_versions maps each existing id to its version and skips unknown ids."""
    with seeded.transaction() as txn:
        row = txn.get_session("s1")
        assert row is not None
        txn.update_session(dataclasses.replace(row, version=7))
    with seeded.read() as txn:
        assert {"s1": 7} == txn.session_versions(["s1", "nope", "s1"])
        assert {} == txn.session_versions([])
