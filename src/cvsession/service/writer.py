"""The write path: one writer thread per process that batches units of work into one commit.

Group commit: the writer takes every unit waiting in its queue (up to `max_batch`), runs each in
its own savepoint of one transaction, commits once, and only then resolves the units' futures.
A unit that raises is rolled back alone and its future carries the exception; a failed commit
fails every unit of the batch. So nothing is acknowledged before it is durable, and a burst of
N writes costs one fsync instead of N.

Sessions named by the batch are locked in sorted order before any unit runs, so two writer
threads or processes sharing PostgreSQL cannot deadlock on each other's batches over sessions
(a deadlock elsewhere, e.g. on client rows, is retried).

Inline mode (SQLite): small async units run on the event loop that awaits them instead of
crossing to the writer thread, and only the COMMIT (the fsync) goes to a thread. On SQLite a
unit is local work (microseconds per statement), and a thread in between costs more than the
work: every statement releases the GIL and must win it back from the busy loop, and every
result crosses back through the loop's wake-up pipe. While a batch's commit is in flight the
loop serves its sockets and gathers the next batch, so batches grow with the load and a burst
still costs one fsync per batch. Batches are capped (`inline_batch` units of a few mutations
each) so the loop is never held for long, and when a thread's batch holds the store the loop
does not wait for it: its batch goes to the writer thread instead. Inline units run without
a savepoint each; if one raises, the batch is rolled back and the writer thread runs it again
(each unit in its savepoint), so a failing unit is still undone alone. Decision 0026.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cvsession.store.base import Store, Txn
from cvsession.store.sqlite import OpenWrite

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Unit(Generic[T]):
    """A unit of work and where its outcome goes: a thread's Future, or an asyncio future
    resolved on its loop (all of a batch's async units in one wake-up of that loop)."""

    fn: Callable[[Txn], T]
    lock_sessions: tuple[str, ...]
    future: Future[T] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    afuture: asyncio.Future[T] | None = None


_STOP: Any = object()


class Writer:
    """Serialises and batches writes to a store. Use `start()`/`stop()` or `with`."""

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 256,
        retries: int = 3,
        threads: int = 1,
        inline: bool = False,
        inline_batch: int = 32,
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.retries = retries
        self.inline = inline and hasattr(store, "begin_write")  # SQLite
        self.inline_batch = inline_batch
        # SQLite has one writer at a time, so one thread; PostgreSQL commits concurrent
        # transactions, so several threads hide its round trips (rows lock per session).
        self.threads = threads
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._pending: list[_Unit[Any]] = []  # inline units waiting for the loop's next turn
        self._flush_scheduled = False
        self._committing: asyncio.Future[None] | None = None  # an inline batch's commit
        self._inline_loop: asyncio.AbstractEventLoop | None = None  # whose batches those are
        # The inline batches' commits, one at a time (the store's write lock is held meanwhile).
        self._committer: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._run, name=f"cvsession-writer-{i}", daemon=True)
                for i in range(self.threads)
            ]
            for thread in self._threads:
                thread.start()
            if self.inline:
                self._committer = ThreadPoolExecutor(1, thread_name_prefix="cvsession-commit")

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._committer is not None:
            self._committer.shutdown(wait=True)  # an inline commit in flight finishes
            self._committer = None

    def __enter__(self) -> Writer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(self, fn: Callable[[Txn], T], lock_sessions: tuple[str, ...] = ()) -> Future[T]:
        """Queue `fn` to run inside a write transaction; the future resolves after the commit."""
        if not self._threads:
            raise RuntimeError("the writer is not running")
        future: Future[T] = Future()
        self._queue.put(_Unit(fn, lock_sessions, future))
        return future

    def run(self, fn: Callable[[Txn], T], lock_sessions: tuple[str, ...] = ()) -> T:
        """Run `fn` in a write transaction and wait for the durable result."""
        return self.submit(fn, lock_sessions).result()

    async def arun(
        self, fn: Callable[[Txn], T], lock_sessions: tuple[str, ...] = (), *, small: bool = True
    ) -> T:
        """`run` for a coroutine: the result arrives on this loop after the commit.

        In inline mode a `small` unit (a few statements) runs on this loop; others, which
        would hold the loop too long, go to the writer thread.
        """
        if not self._threads:
            raise RuntimeError("the writer is not running")
        loop = asyncio.get_running_loop()
        afuture: asyncio.Future[T] = loop.create_future()
        unit = _Unit(fn, lock_sessions, None, loop, afuture)
        # Inline batches belong to one loop at a time (the one serving the sockets); a unit
        # awaited on another loop while that one has work in hand goes to the thread.
        idle = not self._pending and self._committing is None and not self._flush_scheduled
        if self._committer is not None and small and (idle or self._inline_loop is loop):
            self._inline_loop = loop
            self._pending.append(unit)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush)
        else:
            self._queue.put(unit)
        return await afuture

    def _flush(self) -> None:
        """Run the inline units queued since the last batch on this loop; commit off-loop."""
        self._flush_scheduled = False
        if self._committing is not None or not self._pending:
            return  # the commit in flight flushes again when it completes
        batch = self._pending[: self.inline_batch]
        del self._pending[: self.inline_batch]
        begin = getattr(self.store, "begin_write", None)
        try:
            write: OpenWrite | None = begin(wait=False) if begin is not None else None
        except Exception:
            log.warning("inline write could not begin; handing it to the writer thread")
            write = None
        if write is None:  # a thread's batch holds the store: never wait for it on the loop
            self._to_thread(batch)
            self._flush_later()
            return
        try:
            write.txn.lock_sessions(sorted({s for u in batch for s in u.lock_sessions}))
            # Optimistically without a savepoint per unit (two statements and a context manager
            # each, ~10% of a push's cost here): units rarely raise, and when one does the
            # batch is rolled back and the writer thread runs it again, each unit in its own
            # savepoint, so the failing unit is still undone alone.
            results = [(True, unit.fn(write.txn)) for unit in batch]
        except Exception:
            write.rollback()
            self._to_thread(batch)
            self._flush_later()
            return
        except BaseException:
            write.rollback()  # never leave the store's write lock held
            raise
        loop = asyncio.get_running_loop()
        try:
            committing = loop.run_in_executor(self._committer, write.commit)
        except RuntimeError:  # the committer is shutting down (stop()): commit right here
            committing = loop.create_future()
            try:
                write.commit()
                committing.set_result(None)
            except Exception as exc:
                committing.set_exception(exc)
        self._committing = committing
        committing.add_done_callback(lambda done: self._committed(done, batch, results))

    def _committed(
        self,
        done: asyncio.Future[None],
        batch: list[_Unit[Any]],
        results: list[tuple[bool, Any]],
    ) -> None:
        self._committing = None
        exc = None if done.cancelled() else done.exception()
        if done.cancelled():
            exc = RuntimeError("the commit was cancelled")
        if exc is None:
            _settle(batch, results)
        elif isinstance(exc, Exception) and _transient(exc):
            log.warning("inline commit failed (%s); the writer thread retries it", exc)
            self._to_thread(batch)
        else:
            log.error("inline commit of %d failed", len(batch), exc_info=exc)
            _settle(batch, [(False, exc)] * len(batch))
        self._flush_later()

    def _flush_later(self) -> None:
        if self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _to_thread(self, batch: list[_Unit[Any]]) -> None:
        if not self._threads:
            _settle(batch, [(False, RuntimeError("the writer is not running"))] * len(batch))
            return
        for unit in batch:
            self._queue.put(unit)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Unit[Any]] = [first]
            # With several threads, take a fair share of what waits so the others get work too.
            limit = min(self.max_batch, 1 + self._queue.qsize() // self.threads)
            while len(batch) < limit:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Unit[Any]]) -> None:
        for attempt in range(self.retries + 1):
            try:
                with self.store.transaction() as txn:
                    txn.lock_sessions(sorted({s for u in batch for s in u.lock_sessions}))
                    results = _run_units(txn, batch)
            except Exception as exc:
                if attempt < self.retries and _transient(exc):
                    log.warning("write batch failed (%s); retrying", exc)
                    continue
                log.exception("write batch of %d failed", len(batch))
                _settle(batch, [(False, exc)] * len(batch))
                return
            _settle(batch, results)
            return


def _run_units(txn: Txn, batch: list[_Unit[Any]]) -> list[tuple[bool, Any]]:
    """Run each unit in its own savepoint: one that raises is undone alone."""
    results: list[tuple[bool, Any]] = []
    for unit in batch:
        try:
            with txn.savepoint():
                results.append((True, unit.fn(txn)))
        except Exception as exc:
            results.append((False, exc))
    return results


def _settle(batch: list[_Unit[Any]], results: list[tuple[bool, Any]]) -> None:
    """Hand each unit its outcome; async units get theirs in one callback per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for unit, (ok, value) in zip(batch, results, strict=True):
        if unit.future is not None:
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)
        elif unit.loop is not None and unit.afuture is not None:
            by_loop.setdefault(unit.loop, []).append((unit.afuture, ok, value))
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, outcomes in by_loop.items():
        if loop is running:  # an inline batch: no need to go through the wake-up pipe
            _resolve(outcomes)
            continue
        # A closed loop has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, outcomes)


def _resolve(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for afuture, ok, value in outcomes:
        if afuture.done():  # cancelled by its waiter
            continue
        if ok:
            afuture.set_result(value)
        else:
            afuture.set_exception(value)


def _transient(exc: Exception) -> bool:
    """Deadlocks, serialisation failures and lost connections are worth a retry."""
    name = type(exc).__name__
    return name in {
        "DeadlockDetected",
        "SerializationFailure",
        "OperationalError",
        "ConnectionTimeout",
    }
