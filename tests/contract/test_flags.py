"""Contract: stored feature flags on every backend."""

from __future__ import annotations

import pytest

from cvsession.store import Store
from cvsession.store.flags import FlagRow

from .factories import T0, at

DEFINITION = {
    "description": "Zoë\u0000 ✓",
    "enabled": False,
    "rollout": 25,
    "allow": ["u1", "u2"],
    "deny": [],
}


def test_flag_round_trips_and_lists_by_name(store: Store) -> None:
    """A flag's JSON definition and time come back byte-for-byte; list is ordered by name."""
    with store.transaction() as txn:
        txn.put_flag(FlagRow("offline", DEFINITION, T0))
        txn.put_flag(FlagRow("cross-device-sync", {"rollout": 0}, at(1)))
    with store.read() as txn:
        assert FlagRow("offline", DEFINITION, T0) == txn.get_flag("offline")
        assert ["cross-device-sync", "offline"] == [r.name for r in txn.list_flags()]
        assert txn.get_flag("resume-dialog") is None


def test_put_replaces_the_definition_and_time(store: Store) -> None:
    """A second put of the same name overwrites it: one row, the newest definition."""
    with store.transaction() as txn:
        txn.put_flag(FlagRow("offline", DEFINITION, T0))
    with store.transaction() as txn:
        txn.put_flag(FlagRow("offline", {"rollout": 5}, at(2)))
    with store.read() as txn:
        assert [FlagRow("offline", {"rollout": 5}, at(2))] == txn.list_flags()


def test_delete_reports_whether_the_flag_existed(store: Store) -> None:
    """delete_flag returns True once, then False; the flag is gone."""
    with store.transaction() as txn:
        txn.put_flag(FlagRow("offline", DEFINITION, T0))
        assert True is txn.delete_flag("offline")
        assert False is txn.delete_flag("offline")
    with store.read() as txn:
        assert [] == txn.list_flags()


def test_a_rolled_back_put_leaves_nothing(store: Store) -> None:
    """A flag written in a transaction that fails is not stored."""
    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.put_flag(FlagRow("offline", DEFINITION, T0))
        raise RuntimeError("boom")
    with store.read() as txn:
        assert txn.get_flag("offline") is None


def test_flags_cannot_be_written_through_a_read(store: Store) -> None:
    """put_flag and delete_flag through Store.read() raise RuntimeError."""
    with store.read() as txn:
        with pytest.raises(RuntimeError):
            txn.put_flag(FlagRow("offline", DEFINITION, T0))
        with pytest.raises(RuntimeError):
            txn.delete_flag("offline")
