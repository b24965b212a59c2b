"""The write path: one writer thread per process that batches units of work into one commit.

Group commit: the writer takes every unit waiting in its queue (up to `max_batch`), runs each in
its own savepoint of one transaction, commits once, and only then resolves the units' futures.
A unit that raises is rolled back alone and its future carries the exception; a failed commit
fails every unit of the batch. So nothing is acknowledged before it is durable, and a burst of
N writes costs one fsync instead of N.

Sessions named by the batch are locked in sorted order before any unit runs, so two writer
threads or processes sharing PostgreSQL cannot deadlock on each other's batches over sessions
(a deadlock elsewhere, e.g. on client rows, is retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cvsession.store.base import Store, Txn

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
        self, store: Store, *, max_batch: int = 256, retries: int = 3, threads: int = 1
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.retries = retries
        # SQLite has one writer at a time, so one thread; PostgreSQL commits concurrent
        # transactions, so several threads hide its round trips (rows lock per session).
        self.threads = threads
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._run, name=f"cvsession-writer-{i}", daemon=True)
                for i in range(self.threads)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads = []

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

    async def arun(self, fn: Callable[[Txn], T], lock_sessions: tuple[str, ...] = ()) -> T:
        """`run` for a coroutine: the result arrives on this loop after the commit."""
        if not self._threads:
            raise RuntimeError("the writer is not running")
        loop = asyncio.get_running_loop()
        afuture: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Unit(fn, lock_sessions, None, loop, afuture))
        return await afuture

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
            results: list[tuple[bool, Any]] = []
            try:
                with self.store.transaction() as txn:
                    txn.lock_sessions(sorted({s for u in batch for s in u.lock_sessions}))
                    for unit in batch:
                        try:
                            with txn.savepoint():
                                results.append((True, unit.fn(txn)))
                        except Exception as exc:
                            results.append((False, exc))
            except Exception as exc:
                if attempt < self.retries and _transient(exc):
                    log.warning("write batch failed (%s); retrying", exc)
                    continue
                log.exception("write batch of %d failed", len(batch))
                _settle(batch, [(False, exc)] * len(batch))
                return
            _settle(batch, results)
            return


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
    for loop, outcomes in by_loop.items():
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
