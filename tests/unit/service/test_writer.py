"""The write path (service/writer.py): group commit on the writer thread, and inline batches
on the event loop for SQLite with only the COMMIT on a thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cvsession.service.writer import Writer
from cvsession.store.base import Txn
from cvsession.store.sqlite import OpenWrite, SQLiteStore
from tests.contract.factories import Rows

rows = Rows()
alive: list[Txn] = []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "w.db") as s:
        s.migrate()
        yield s


@pytest.fixture
def inline(store: SQLiteStore) -> Iterator[Writer]:
    with Writer(store, inline=True) as w:
        yield w


def user_unit(user_id: str, seen: list[tuple[str, int]] | None = None) -> Any:
    """A unit inserting one user; records (thread name, id of its transaction)."""

    def unit(txn: Txn) -> str:
        if seen is not None:
            seen.append((threading.current_thread().name, id(txn)))
            alive.append(txn)  # so that no later transaction gets the same id()
        txn.insert_user(rows.user(user_id))
        return user_id

    return unit


def elsewhere(fn: Any) -> Any:
    """fn() on a thread of its own."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def committed(store: SQLiteStore, user_id: str) -> bool:
    with store.read() as txn:
        return txn.get_user(user_id) is not None


def test_inline_units_run_on_the_loop_in_batches_and_answer_after_the_commit(
    store: SQLiteStore, inline: Writer
) -> None:
    seen: list[tuple[str, int]] = []

    async def main() -> list[str]:
        loop_thread = threading.current_thread().name
        results = await asyncio.gather(*(inline.arun(user_unit(f"u{i}", seen)) for i in range(40)))
        # Every result arrived after its commit: a fresh snapshot holds all 40.
        assert all(committed(store, f"u{i}") for i in range(40))
        assert {name for name, _ in seen} == {loop_thread}
        return list(results)

    assert asyncio.run(main()) == [f"u{i}" for i in range(40)]
    # Gathered in one loop turn: batches of at most inline_batch (32), so two transactions.
    assert len({txn for _, txn in seen}) == 2


def test_inline_unit_that_raises_is_undone_alone(store: SQLiteStore, inline: Writer) -> None:
    """Inline units run without savepoints: a raising unit rolls the batch back and the writer
    thread runs it again, each unit in its savepoint, so only that unit fails."""
    seen: list[tuple[str, int]] = []

    def bad(txn: Txn) -> None:
        txn.insert_user(rows.user("bad"))
        raise ValueError("no")

    async def main() -> list[Any]:
        return await asyncio.gather(
            inline.arun(user_unit("a", seen)), inline.arun(bad), inline.arun(user_unit("b", seen)),
            return_exceptions=True,
        )  # fmt: skip

    a, failure, b = asyncio.run(main())
    assert (a, b) == ("a", "b")
    assert isinstance(failure, ValueError)
    assert committed(store, "a") and committed(store, "b") and not committed(store, "bad")
    assert [name for name, _ in seen] == ["MainThread", "cvsession-writer-0", "cvsession-writer-0"]
    with store.read() as txn:  # each applied once
        assert txn.fetchall("SELECT COUNT(*) FROM users WHERE id IN ('a', 'b')")[0][0] == 2


def test_large_units_go_to_the_writer_thread(store: SQLiteStore, inline: Writer) -> None:
    seen: list[tuple[str, int]] = []
    asyncio.run(inline.arun(user_unit("big", seen), small=False))
    assert seen[0][0] == "cvsession-writer-0"
    assert committed(store, "big")


def test_loop_never_waits_for_a_threads_write(store: SQLiteStore, inline: Writer) -> None:
    """While another thread holds the store, inline units go to the writer thread and the
    loop keeps running; they commit once the store is free."""
    held = elsewhere(store.begin_write)
    assert held is not None
    seen: list[tuple[str, int]] = []

    async def main() -> None:
        pushed = asyncio.ensure_future(inline.arun(user_unit("x", seen)))
        for _ in range(20):  # the loop turns: the flush did not block it on the store's lock
            await asyncio.sleep(0.005)
        assert not pushed.done()
        await asyncio.get_running_loop().run_in_executor(None, held.rollback)
        assert await pushed == "x"

    asyncio.run(main())
    assert seen[0][0] == "cvsession-writer-0"
    assert committed(store, "x")


def test_failed_inline_commit_is_retried_once_on_the_thread(
    store: SQLiteStore, inline: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient COMMIT failure rolls back; the writer thread runs the units again, so each
    is applied exactly once."""
    real = OpenWrite.commit
    failures = [sqlite3.OperationalError("disk I/O error")]

    def flaky(self: OpenWrite) -> None:
        if failures:
            self.rollback()
            raise failures.pop()
        real(self)

    monkeypatch.setattr(OpenWrite, "commit", flaky)
    seen: list[tuple[str, int]] = []
    assert asyncio.run(inline.arun(user_unit("once", seen))) == "once"
    assert [name for name, _ in seen] == ["MainThread", "cvsession-writer-0"]
    with store.read() as txn:
        assert txn.fetchall("SELECT COUNT(*) FROM users WHERE id = 'once'")[0][0] == 1


def test_inline_batches_belong_to_one_loop_at_a_time(store: SQLiteStore, inline: Writer) -> None:
    """A unit awaited on a second loop while the first has inline work in hand goes to the
    writer thread; once the first loop is idle, another loop may batch inline."""
    seen: list[tuple[str, int]] = []

    async def other_loop() -> str:
        return await inline.arun(user_unit("other", seen))

    async def main() -> None:
        first = asyncio.ensure_future(inline.arun(user_unit("first", seen)))
        await asyncio.sleep(0)  # queued; its flush waits for this loop's next turn
        # This loop is blocked until the other loop's unit is done, so "first" is still in hand.
        assert elsewhere(lambda: asyncio.run(other_loop())) == "other"
        assert await first == "first"

    asyncio.run(main())
    assert seen[0][0] == "cvsession-writer-0"  # "other", while "first" waited inline
    assert seen[1][0] == "MainThread"
    later: list[tuple[str, int]] = []
    asyncio.run(inline.arun(user_unit("later", later)))
    assert later[0][0] == "MainThread"  # a new loop, the old one idle: inline again


def test_inline_commit_still_happens_while_the_committer_shuts_down(
    store: SQLiteStore, inline: Writer
) -> None:
    """A batch flushed while stop() is shutting the committer down commits on the loop
    instead of leaving the store's write lock held."""
    assert inline._committer is not None
    inline._committer.shutdown(wait=True)
    assert asyncio.run(inline.arun(user_unit("late"))) == "late"
    assert committed(store, "late")
    again = store.begin_write(wait=False)  # the lock was released
    assert again is not None
    again.rollback()


def test_without_inline_every_unit_runs_on_the_writer_thread(store: SQLiteStore) -> None:
    seen: list[tuple[str, int]] = []
    with Writer(store) as writer:
        asyncio.run(writer.arun(user_unit("t", seen)))
        assert writer.run(user_unit("s", seen)) == "s"
    assert [name for name, _ in seen] == ["cvsession-writer-0"] * 2


def test_begin_write_without_waiting_and_commit_from_another_thread(store: SQLiteStore) -> None:
    first = store.begin_write()
    assert first is not None
    try:
        first.txn.insert_user(rows.user("split"))
        with pytest.raises(RuntimeError):
            store.begin_write()  # not re-entrant on this thread: it would deadlock
        assert elsewhere(lambda: store.begin_write(wait=False)) is None  # held
    finally:
        elsewhere(first.commit)
    assert committed(store, "split")
    with pytest.raises(RuntimeError):
        first.commit()  # once only
    second = store.begin_write(wait=False)  # released by the other thread's commit
    assert second is not None
    second.rollback()


def test_loop_never_waits_for_another_processs_write(
    tmp_path: Path, store: SQLiteStore, inline: Writer
) -> None:
    """Another connection to the file (a CLI command beside the server) holds the write lock:
    `begin_write(wait=False)` answers None at once instead of sitting in the busy timeout, and
    an inline unit goes to the writer thread, which waits and commits once the file is free."""
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert store.begin_write(wait=False) is None  # BUSY at once, not after the timeout
        timeout_ms = store._writer.execute("PRAGMA busy_timeout").fetchone()[0]
        assert int(store._busy_timeout * 1000) == timeout_ms  # restored for the other writes
        seen: list[tuple[str, int]] = []

        async def main() -> None:
            pushed = asyncio.ensure_future(inline.arun(user_unit("p", seen)))
            for _ in range(20):  # the loop keeps turning while the file is locked
                await asyncio.sleep(0.005)
            assert not pushed.done()
            other.execute("COMMIT")
            assert await pushed == "p"

        asyncio.run(main())
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert seen[0][0] == "cvsession-writer-0"
    assert committed(store, "p")
    again = store.begin_write(wait=False)  # the file is free again
    assert again is not None
    again.rollback()
