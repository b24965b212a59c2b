"""Contract: list_sessions and count_sessions filters, ordering and paging."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cvsession.store import ORDER_FIELDS, SessionQuery, Store

from .factories import Rows, at

# id, owner, status, step, title, created (min), active (min), updated (min)
SEED = [
    ("a", "u1", "draft", "upload", "Data Engineer", 0, 50, 5),
    ("b", "u1", "in_progress", "analysis", "data scientist", 10, 40, 15),
    ("c", "u1", "paused", "features", "100% Rust_dev", 20, 30, 25),
    ("d", "u1", "completed", "completed", "1000 Rustxdev", 30, 20, 35),
    ("e", "u1", "failed", "processing", "ÉCOLE Normale", 40, 10, 45),
    ("f", "u1", "expired", "upload", "Straße", 50, 10, 55),
    ("g", "u1", "processing", "processing", "back\\slash", 60, 0, 65),
    ("x", "u2", "draft", "upload", "Data Engineer (other owner)", 0, 50, 5),
]


@pytest.fixture
def listed(store: Store, rows: Rows) -> Store:
    """A store with the SEED sessions of owners u1 and u2."""
    with store.transaction() as txn:
        txn.insert_user(rows.user("u1"))
        txn.insert_user(rows.user("u2"))
        for sid, owner, status, step, title, created, active, updated in SEED:
            row = rows.session(
                sid,
                owner,
                status=status,
                current_step=step,
                title=title,
                created_at=at(created),
                last_active_at=at(active),
                updated_at=at(updated),
            )
            txn.insert_session(row)
    return store


def ids(store: Store, **kw: Any) -> list[str]:
    """Ids listed for owner u1 and `kw`; also checks count_sessions against the full list."""
    query = SessionQuery(**{"owner_id": "u1", **kw})
    with store.read() as txn:
        found = [r.id for r in txn.list_sessions(query)]
        everything = txn.list_sessions(dataclasses.replace(query, limit=500, offset=0))
        assert len(everything) == txn.count_sessions(query)
    return found


def test_default_lists_owner_sessions_most_recently_active_first(listed: Store) -> None:
    """Without filters: the owner's sessions, last_active_at descending, id breaking ties."""
    assert ["a", "b", "c", "d", "f", "e", "g"] == ids(listed)


def test_owner_none_lists_every_owner(listed: Store) -> None:
    """owner_id=None does not filter by owner."""
    assert ["x", "a"] == ids(listed, owner_id=None, limit=2)


def test_filter_by_statuses(listed: Store) -> None:
    """statuses keeps sessions whose status is in the list."""
    assert ["a", "d"] == ids(listed, statuses=["completed", "draft"])


def test_filter_by_steps(listed: Store) -> None:
    """steps keeps sessions whose current_step is in the list."""
    assert ["a", "f", "e", "g"] == ids(listed, steps=("upload", "processing"))


def test_filter_by_created_range_is_half_open(listed: Store) -> None:
    """created_from is inclusive and created_to exclusive."""
    assert ["b", "c", "d"] == ids(listed, created_from=at(10), created_to=at(40))


def test_filter_by_active_range_is_half_open(listed: Store) -> None:
    """active_from is inclusive and active_to exclusive."""
    assert ["d", "f", "e"] == ids(listed, active_from=at(10), active_to=at(30))


def test_filter_resumable_true_and_false(listed: Store) -> None:
    """resumable selects draft/in_progress/processing/paused; False selects the rest."""
    assert ["a", "b", "c", "g"] == ids(listed, resumable=True)
    assert ["d", "f", "e"] == ids(listed, resumable=False)


def test_text_is_case_insensitive_substring(listed: Store) -> None:
    """text matches anywhere in the title, ignoring case, including non-ASCII case."""
    assert ["a", "b"] == ids(listed, text="DATA")
    assert ["e"] == ids(listed, text="école")
    assert ["f"] == ids(listed, text="STRASSE")


def test_text_wildcards_are_literal(listed: Store) -> None:
    """% , _ and backslash in the user's text match only themselves."""
    assert ["c"] == ids(listed, text="100%")
    assert ["c"] == ids(listed, text="rust_dev")
    assert ["g"] == ids(listed, text="k\\s")
    assert ["c"] == ids(listed, text="t_d")
    assert [] == ids(listed, text="_x")


def test_filters_combine_with_and(listed: Store) -> None:
    """Several filters all apply."""
    assert ["b"] == ids(listed, resumable=True, text="data", statuses=["in_progress", "paused"])


@pytest.mark.parametrize("order_by", ORDER_FIELDS)
def test_every_order_field_sorts_both_ways_with_id_tie_break(listed: Store, order_by: str) -> None:
    """Each ORDER_FIELDS column sorts ascending and descending, ties broken by id."""
    values = {
        "last_active_at": {s[0]: s[6] for s in SEED},
        "created_at": {s[0]: s[5] for s in SEED},
        "updated_at": {s[0]: s[7] for s in SEED},
        "title": {s[0]: s[4] for s in SEED},
        "status": {s[0]: s[2] for s in SEED},
        "current_step": {s[0]: s[3] for s in SEED},
    }[order_by]
    mine = sorted(sid for sid in values if sid != "x")
    expected = sorted(mine, key=lambda sid: (values[sid], sid))
    assert expected == ids(listed, order_by=order_by, descending=False)
    assert expected[::-1] == ids(listed, order_by=order_by, descending=True)


def test_unknown_order_field_is_refused(listed: Store) -> None:
    """order_by outside ORDER_FIELDS raises ValueError (it never reaches SQL)."""
    with pytest.raises(ValueError, match="order_by"):
        ids(listed, order_by="title; DROP TABLE sessions")


def test_limit_and_offset_page_through(listed: Store) -> None:
    """limit and offset return consecutive pages; count ignores them."""
    query = {"order_by": "created_at", "descending": False, "limit": 3}
    pages = [ids(listed, **query, offset=offset) for offset in (0, 3, 6)]
    assert [["a", "b", "c"], ["d", "e", "f"], ["g"]] == pages
    with listed.read() as txn:
        assert 7 == txn.count_sessions(SessionQuery(owner_id="u1", limit=1, offset=5))
        assert 8 == txn.count_sessions(SessionQuery())


def test_limit_is_clamped_to_1_through_500(store: Store, rows: Rows) -> None:
    """limit below 1 means 1 and above 500 means 500; a negative offset means 0."""
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        for i in range(501):
            txn.insert_session(rows.session(f"s{i:03d}"))
    with store.read() as txn:
        assert 1 == len(txn.list_sessions(SessionQuery(limit=0)))
        assert 1 == len(txn.list_sessions(SessionQuery(limit=-5, offset=-3)))
        assert 500 == len(txn.list_sessions(SessionQuery(limit=10_000)))
        assert 501 == txn.count_sessions(SessionQuery(owner_id="u1"))
