"""Contract: atomicity, savepoints, row locking, read-only snapshots and misuse."""

from __future__ import annotations

import contextlib
import dataclasses
import threading

import pytest

from cvsession.store import DuplicateKey, Store, open_store

from .factories import Rows


class Boom(Exception):
    pass


def test_commit_makes_writes_visible_to_later_reads(store: Store, rows: Rows) -> None:
    """Writes are visible to read() once the transaction block has exited."""
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_session(rows.session())
    with store.read() as txn:
        assert "s1" == txn.get_session("s1").id  # type: ignore[union-attr]


def test_exception_rolls_back_everything(store: Store, rows: Rows) -> None:
    """An exception inside transaction() propagates and leaves no trace of the block."""
    with pytest.raises(Boom), store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_session(rows.session())
        txn.append_log(rows.log())
        raise Boom
    with store.read() as txn:
        assert None is txn.get_user("u1")
        assert None is txn.get_session("s1")
        assert [] == txn.log_since("s1", 0)


def test_failed_statement_rolls_back_earlier_writes(store: Store, rows: Rows) -> None:
    """A DuplicateKey escaping the block undoes the writes made before it."""
    with store.transaction() as txn:
        txn.insert_user(rows.user())
    with pytest.raises(DuplicateKey), store.transaction() as txn:
        txn.insert_user(rows.user("u2"))
        txn.insert_user(rows.user("u1"))
    with store.read() as txn:
        assert None is txn.get_user("u2")


def test_savepoint_rollback_undoes_only_the_inner_unit(seeded: Store, rows: Rows) -> None:
    """A failing savepoint is undone alone; work before and after it commits."""
    with seeded.transaction() as txn:
        txn.append_log(rows.log(version=1))
        with pytest.raises(Boom), txn.savepoint():
            txn.append_log(rows.log(version=2))
            txn.update_session(rows.session(title="inner"))
            raise Boom
        with txn.savepoint():
            txn.append_log(rows.log(version=3))
        txn.append_log(rows.log(version=4))
    with seeded.read() as txn:
        assert [1, 3, 4] == [e.version for e in txn.log_since("s1", 0)]
        assert "CV s1" == txn.get_session("s1").title  # type: ignore[union-attr]


def test_many_savepoints_in_a_row_and_nested(seeded: Store, rows: Rows) -> None:
    """Hundreds of savepoints in one transaction (a group commit), some nested and some rolled
    back, keep exactly the writes of the units that succeeded."""
    with seeded.transaction() as txn:
        for version in range(1, 301):
            with contextlib.suppress(Boom), txn.savepoint():
                txn.append_log(rows.log(version=version))
                if version % 3 == 0:
                    with contextlib.suppress(Boom), txn.savepoint():
                        txn.append_log(rows.log(version=version + 1000))
                        raise Boom
                if version % 5 == 0:
                    raise Boom
    with seeded.read() as txn:
        kept = [e.version for e in txn.log_since("s1", 0, 10_000)]
    assert [v for v in range(1, 301) if v % 5] == kept


def test_nested_savepoints_roll_back_independently(seeded: Store, rows: Rows) -> None:
    """An inner savepoint failing inside an outer one keeps the outer unit's other writes."""
    with seeded.transaction() as txn, txn.savepoint():
        txn.append_log(rows.log(version=1))
        with pytest.raises(Boom), txn.savepoint():
            txn.append_log(rows.log(version=2))
            raise Boom
        txn.append_log(rows.log(version=3))
    with seeded.read() as txn:
        assert [1, 3] == [e.version for e in txn.log_since("s1", 0)]


def test_duplicate_inside_savepoint_leaves_transaction_usable(seeded: Store, rows: Rows) -> None:
    """Group commit: a unit failing with DuplicateKey is undone and the batch still commits."""
    with seeded.transaction() as txn:
        with pytest.raises(DuplicateKey), txn.savepoint():
            txn.append_log(rows.log(version=1))
            txn.append_log(rows.log(version=1))
        txn.append_log(rows.log(version=2))
    with seeded.read() as txn:
        assert [2] == [e.version for e in txn.log_since("s1", 0)]


@pytest.mark.parametrize("lock", ["for_update", "lock_sessions"])
def test_locks_serialise_read_modify_write(seeded: Store, lock: str) -> None:
    """Two threads doing 50 locked increments each of one session lose no update."""
    per_thread = 50
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                with seeded.transaction() as txn:
                    if lock == "lock_sessions":
                        txn.lock_sessions(["s1"])
                    row = txn.get_session("s1", for_update=lock == "for_update")
                    assert row is not None
                    count = row.document.get("count", 0) + 1
                    doc = {**row.document, "count": count}
                    txn.update_session(
                        dataclasses.replace(row, version=row.version + 1, document=doc)
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [] == errors
    with seeded.read() as txn:
        row = txn.get_session("s1")
    assert row is not None
    assert (2 * per_thread, 2 * per_thread) == (row.version, row.document["count"])


def test_read_refuses_writes(seeded: Store, rows: Rows) -> None:
    """Writing through read() raises RuntimeError and changes nothing; for_update is ignored."""
    with seeded.read() as txn:
        with pytest.raises(RuntimeError, match="read"):
            txn.insert_user(rows.user("u2"))
        with pytest.raises(RuntimeError, match="read"):
            txn.delete_session("s1")
        assert txn.get_session("s1", for_update=True) is not None  # no lock, no error
    with seeded.read() as txn:
        assert None is txn.get_user("u2")
        assert txn.get_session("s1") is not None


def test_read_sees_committed_data_only(seeded: Store, rows: Rows) -> None:
    """A read() during an open transaction does not see that transaction's writes."""
    with seeded.transaction() as txn:
        txn.insert_user(rows.user("u2"))
        with seeded.read() as reader:
            assert None is reader.get_user("u2")
    with seeded.read() as reader:
        assert reader.get_user("u2") is not None


def test_read_is_one_snapshot(seeded: Store, rows: Rows) -> None:
    """A read() block keeps seeing the state at its first query, despite later commits."""
    with seeded.read() as reader:
        assert None is reader.get_user("u2")
        done = threading.Event()

        def write() -> None:
            with seeded.transaction() as txn:
                txn.insert_user(rows.user("u2"))
            done.set()

        threading.Thread(target=write).start()
        assert done.wait(10)
        assert None is reader.get_user("u2")
    with seeded.read() as reader:
        assert reader.get_user("u2") is not None


def test_nested_transaction_is_refused(store: Store) -> None:
    """transaction() inside transaction() on one thread raises instead of deadlocking."""
    with store.transaction(), pytest.raises(RuntimeError, match="savepoint"), store.transaction():
        pass


def test_txn_is_unusable_after_its_block(seeded: Store) -> None:
    """Keeping a Txn past its block and using it raises RuntimeError."""
    with seeded.transaction() as txn:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        txn.get_session("s1")


def test_committed_write_is_visible_from_a_new_store(store_url: str, rows: Rows) -> None:
    """A second store opened on the same database sees what the first committed."""
    first = open_store(store_url)
    try:
        first.migrate()
        with first.transaction() as txn:
            txn.insert_user(rows.user())
    finally:
        first.close()
    second = open_store(store_url)
    try:
        with second.read() as txn:
            assert rows.user() == txn.get_user("u1")
    finally:
        second.close()
