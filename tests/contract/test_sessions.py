"""Contract: session rows, their JSON document and timestamps, on every backend."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from cvsession.store import DuplicateKey, SessionQuery, Store

from .factories import T0, Rows, at

BLNS = Path(__file__).parents[2].joinpath("..", "shared", "testdata", "blns.json").resolve()


def blns() -> list[str]:
    return list(json.loads(BLNS.read_text(encoding="utf-8")))


def test_insert_then_get_returns_equal_row(store: Store, rows: Rows) -> None:
    """A session reads back equal to what was inserted, every field included."""
    row = rows.session(version=3, field_versions={"/title": 2, "/cv/basics/name": 3})
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_session(row)
    with store.read() as txn:
        assert row == txn.get_session("s1")


def test_get_missing_session_returns_none(store: Store) -> None:
    """get_session of an unknown id is None, with or without for_update."""
    with store.transaction() as txn:
        assert None is txn.get_session("nope")
        assert None is txn.get_session("nope", for_update=True)


def test_insert_duplicate_session_raises_and_keeps_transaction_usable(
    seeded: Store, rows: Rows
) -> None:
    """A colliding session id raises DuplicateKey; the transaction can still commit other work."""
    with seeded.transaction() as txn:
        with pytest.raises(DuplicateKey):
            txn.insert_session(rows.session(title="other"))
        txn.insert_session(rows.session("s2"))
    with seeded.read() as txn:
        assert "CV s1" == txn.get_session("s1").title  # type: ignore[union-attr]
        assert txn.get_session("s2") is not None


def test_update_overwrites_every_column(seeded: Store, rows: Rows) -> None:
    """update_session replaces document, columns, version and field_versions."""
    with seeded.transaction() as txn:
        txn.insert_user(rows.user("u2"))
    new = rows.session(
        owner_id="u2",
        status="paused",
        current_step="analysis",
        title="Renamed",
        created_at=at(-5),
        last_active_at=at(9),
        updated_at=at(10),
        version=7,
        schema_version=2,
        document={"title": "Renamed", "n": [1, 2, 3]},
        field_versions={"/title": 7},
    )
    with seeded.transaction() as txn:
        txn.update_session(new)
    with seeded.read() as txn:
        assert new == txn.get_session("s1")


def test_update_with_previous_writes_the_same_row(seeded: Store, rows: Rows) -> None:
    """update_session given the stored row as `previous` reads back exactly as a full update,
    and the searchable columns (status, folded title, owner) follow."""
    with seeded.transaction() as txn:
        txn.insert_user(rows.user("u2"))
    with seeded.read() as txn:
        stored = txn.get_session("s1")
    assert stored is not None
    changes: list[dict[str, Any]] = [
        {"last_active_at": at(3), "updated_at": at(3)},
        {"status": "paused", "title": "Ünïcode TITLE"},
        {"owner_id": "u2", "created_at": at(-9), "schema_version": 4, "current_step": "features"},
    ]
    for version, change in enumerate(changes, start=stored.version + 1):
        document = {**stored.document, "n": version}
        new = dataclasses.replace(stored, version=version, document=document, **change)
        with seeded.transaction() as txn:
            txn.update_session(new, stored)
        with seeded.read() as txn:
            assert new == txn.get_session("s1")
            query = SessionQuery(owner_id=new.owner_id, statuses=(new.status,), text=new.title[-3:])
            assert [new] == txn.list_sessions(query)
        stored = new


def test_update_missing_session_raises_key_error(store: Store, rows: Rows) -> None:
    """update_session of an unknown id raises KeyError instead of silently doing nothing."""
    with pytest.raises(KeyError), store.transaction() as txn:
        txn.update_session(rows.session("ghost"))


def test_delete_session_reports_whether_it_existed(seeded: Store) -> None:
    """delete_session returns True once, then False; the row is gone."""
    with seeded.transaction() as txn:
        assert True is txn.delete_session("s1")
        assert False is txn.delete_session("s1")
    with seeded.read() as txn:
        assert None is txn.get_session("s1")


def test_delete_session_cascades_to_log_conflicts_and_durations(seeded: Store, rows: Rows) -> None:
    """Deleting a session deletes its log, conflicts and step durations, not other sessions'."""
    with seeded.transaction() as txn:
        txn.insert_session(rows.session("s2"))
        for sid in ("s1", "s2"):
            txn.append_log(rows.log(sid, 1))
            txn.insert_conflict(rows.conflict(f"k-{sid}", sid))
            txn.record_step_duration(rows.duration(session_id=sid))
    with seeded.transaction() as txn:
        txn.delete_session("s1")
    with seeded.read() as txn:
        assert [] == txn.log_since("s1", 0)
        assert None is txn.get_conflict("k-s1")
        assert {"upload": [1000]} == txn.step_duration_stats()
        assert 1 == len(txn.log_since("s2", 0))
        assert txn.get_conflict("k-s2") is not None


def test_document_round_trips_every_blns_string_as_value_and_key(seeded: Store, rows: Rows) -> None:
    """Every naughty string survives byte-exact as a value and as a key, key order kept."""
    strings = blns()
    document = {
        "values": strings,
        "keys": {s: i for i, s in enumerate(strings)},
        "nested": {s: {s: s} for s in strings[:50]},
    }
    with seeded.transaction() as txn:
        txn.update_session(rows.session(document=document, field_versions={s: 1 for s in strings}))
    with seeded.read() as txn:
        got = txn.get_session("s1")
    assert got is not None
    assert strings == got.document["values"]
    assert list(document["keys"]) == list(got.document["keys"])
    assert orjson.dumps(document) == orjson.dumps(got.document)
    assert list({s: 1 for s in strings}) == list(got.field_versions)


def test_document_round_trips_awkward_json_values(seeded: Store, rows: Rows) -> None:
    """U+0000, controls, astral characters, 64-bit ints and floats come back exactly."""
    document = {
        "nul": "a\x00b",
        "\x00key": "\x01\x1f\x7f",
        "astral": "\U0001f600\U0010ffff",
        "big": 2**63 - 1,
        "small": -(2**63),
        "float": 0.1 + 0.2,
        "tiny": 5e-324,
        "empty": {"": [[], {}, "", 0, False, None]},
        "z": 1,
        "a": 2,
    }
    with seeded.transaction() as txn:
        txn.update_session(rows.session(document=document))
    with seeded.read() as txn:
        got = txn.get_session("s1")
    assert got is not None
    assert orjson.dumps(document) == orjson.dumps(got.document)
    keys = ["nul", "\x00key", "astral", "big", "small", "float", "tiny", "empty", "z", "a"]
    assert keys == list(got.document)


def test_document_with_non_json_value_is_refused(seeded: Store, rows: Rows) -> None:
    """A datetime inside a document raises TypeError rather than coming back as a string."""
    with pytest.raises(TypeError), seeded.transaction() as txn:
        txn.update_session(rows.session(document={"at": T0}))


def test_every_blns_string_round_trips_as_title_and_is_searchable(store: Store, rows: Rows) -> None:
    """Titles keep every naughty string exactly and `text` finds each by itself."""
    strings = blns()
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        for i, title in enumerate(strings):
            txn.insert_session(rows.session(f"s{i:04d}", title=title))
    with store.read() as txn:
        got = txn.list_sessions(SessionQuery(order_by="created_at", limit=500))
        got += txn.list_sessions(SessionQuery(order_by="created_at", limit=500, offset=500))
        assert sorted(strings) == sorted(r.title for r in got)
        for i, title in enumerate(strings):
            if title:
                query = SessionQuery(text=title, limit=500)
                found = {r.id for r in txn.list_sessions(query)}
                if txn.count_sessions(query) > 500:
                    query = dataclasses.replace(query, offset=500)
                    found |= {r.id for r in txn.list_sessions(query)}
                assert f"s{i:04d}" in found, title


def test_nul_in_text_column_or_key_is_refused(seeded: Store, rows: Rows) -> None:
    """U+0000 in a plain text value or lookup key raises ValueError on every backend."""
    with pytest.raises(ValueError, match="U\\+0000"), seeded.transaction() as txn:
        txn.insert_session(rows.session("s2", title="a\x00b"))
    with pytest.raises(ValueError, match="U\\+0000"), seeded.read() as txn:
        txn.get_session("s1\x00")
    with pytest.raises(ValueError, match="U\\+0000"), seeded.read() as txn:
        txn.list_sessions(SessionQuery(text="\x00"))


def test_timestamps_round_trip_to_the_millisecond_as_aware_utc(store: Store, rows: Rows) -> None:
    """Datetimes come back as aware UTC, equal to the input truncated to the millisecond."""
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2026, 11, 25, 14, 0, 0, 123999, tzinfo=plus_two)
    active = datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC)  # before the epoch
    updated = datetime(2999, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        row = rows.session(created_at=created, last_active_at=active, updated_at=updated)
        txn.insert_session(row)
    with store.read() as txn:
        got = txn.get_session("s1")
    assert got is not None
    assert datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC) == got.created_at
    assert datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) == got.last_active_at
    assert updated == got.updated_at
    for value in (got.created_at, got.last_active_at, got.updated_at):
        assert UTC == value.tzinfo


def test_naive_datetime_is_refused(store: Store, rows: Rows) -> None:
    """A naive datetime raises ValueError instead of being guessed at."""
    with pytest.raises(ValueError, match="naive"), store.transaction() as txn:
        txn.insert_user(dataclasses.replace(rows.user(), created_at=datetime(2026, 1, 1)))
