"""`SessionHandle`: what an integrator holds for one session — state, edits, waits, callbacks."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from cvsession.client.connection import Connection
from cvsession.client.replica import (
    Acked,
    ConflictEvent,
    ErrorEvent,
    Event,
    Patched,
    PresenceEvent,
    Replica,
)
from cvsession.client.store import OutboxEntry

if TYPE_CHECKING:
    from cvsession.client.client import Client

log = logging.getLogger("cvsession.client")

T = TypeVar("T")
Callback = Callable[[T], Any]  # may return an awaitable, which is run as a task


class SessionHandle:
    """One session of a `Client`: the displayed state, local edits, and the server's news.

    `state` is the confirmed document with the pending mutations applied optimistically;
    `confirmed` is the server's document at `cookie`. Both are shared, read-only values: copy
    before modifying. Callbacks run on the client's event loop, in the order events arrive.
    """

    def __init__(self, client: Client, replica: Replica, url: str) -> None:
        self._client = client
        self._replica = replica
        self._connection = Connection(
            replica,
            url,
            client.options,
            on_event=self._on_event,
            on_state=self._changed,
            wall_ms=client.clock.wall_ms,
        )
        self._waiters: set[asyncio.Future[None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._patch_callbacks: list[Callback[Patched]] = []
        self._conflict_callbacks: list[Callback[ConflictEvent]] = []
        self._presence_callbacks: list[Callback[list[dict[str, Any]]]] = []
        self._error_callbacks: list[Callback[ErrorEvent]] = []
        self.conflicts: list[ConflictEvent] = []  # every conflict reported on this handle
        self.errors: list[ErrorEvent] = []  # every error reported on this handle

    # reading -----------------------------------------------------------------------------------
    @property
    def session_id(self) -> str:
        return self._replica.session_id

    @property
    def state(self) -> Any:
        """The displayed document (None until a first document arrived, ever)."""
        return self._replica.state

    @property
    def confirmed(self) -> Any:
        return self._replica.confirmed

    @property
    def cookie(self) -> int | None:
        return self._replica.cookie

    @property
    def pending(self) -> int:
        """How many mutations wait in the outbox for the server's acknowledgement."""
        return len(self._replica.outbox)

    @property
    def outbox(self) -> list[OutboxEntry]:
        return list(self._replica.outbox)

    @property
    def local_errors(self) -> dict[int, str]:
        """Pending mutations that failed when applied locally (left out of `state`), by id."""
        return dict(self._replica.local_errors)

    @property
    def presence(self) -> list[dict[str, Any]]:
        return self._replica.presence

    @property
    def connected(self) -> bool:
        return self._connection.connected

    @property
    def synced(self) -> bool:
        """Connected, caught up with the server, and nothing pending."""
        return self._connection.connected and self._replica.synced

    @property
    def fatal(self) -> str | None:
        """The error code after which this session stopped reconnecting (e.g. `not_found`)."""
        return self._connection.fatal

    # editing -----------------------------------------------------------------------------------
    async def mutate(self, name: str, args: Any = None) -> int:
        """Queue a named mutation durably, apply it optimistically, push it; return its id.

        Works offline: the mutation waits in the outbox until a connection pushes it. Raises
        ValueError for an unknown or server-only name, non-JSON arguments, or a mutation larger
        than one push frame.
        """
        entry = self._replica.mutate(name, {} if args is None else args)
        self._connection.poke()
        self._changed()
        return entry.id

    async def set_presence(self, step: str, substep: str | None = None) -> None:
        """Tell the others where this client is; repeated after every reconnect."""
        presence: dict[str, Any] = {"step": step, "substep": substep}
        if self._client.options.device:
            presence["device"] = self._client.options.device
        self._connection.presence = presence
        await self._connection.send({"type": "presence", **presence})

    # waiting -----------------------------------------------------------------------------------
    async def wait_for(
        self, predicate: Callable[[SessionHandle], bool], timeout: float | None = 10.0
    ) -> None:
        """Return once `predicate(self)` holds; raise TimeoutError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not predicate(self):
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"session {self.session_id}: condition not met in time")
                await asyncio.wait_for(waiter, remaining)
            finally:
                self._waiters.discard(waiter)

    async def wait_synced(self, timeout: float | None = 10.0) -> None:
        """Return once connected, caught up and with an empty outbox (every edit acked)."""
        await self.wait_for(lambda h: h.synced, timeout)

    # connection --------------------------------------------------------------------------------
    def disconnect(self) -> None:
        """Drop this session's socket (as a lost network would) and stay offline."""
        self._connection.go_offline()

    def connect(self) -> None:
        """Come back online: reconnect now (once the client is started)."""
        self._connection.go_online()

    # callbacks ---------------------------------------------------------------------------------
    def on_patch(self, callback: Callback[Patched]) -> Callback[Patched]:
        """Call `callback(event)` after each server patch was applied (usable as a decorator)."""
        self._patch_callbacks.append(callback)
        return callback

    def on_conflict(self, callback: Callback[ConflictEvent]) -> Callback[ConflictEvent]:
        """Call `callback(conflict)` for each stale edit the server kept aside (both values)."""
        self._conflict_callbacks.append(callback)
        return callback

    def on_presence(
        self, callback: Callback[list[dict[str, Any]]]
    ) -> Callback[list[dict[str, Any]]]:
        """Call `callback(clients)` whenever the set of connected clients changes."""
        self._presence_callbacks.append(callback)
        return callback

    def on_error(self, callback: Callback[ErrorEvent]) -> Callback[ErrorEvent]:
        """Call `callback(error)` for refused mutations and connection-level errors."""
        self._error_callbacks.append(callback)
        return callback

    # plumbing ----------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if isinstance(event, Patched):
            self._emit(self._patch_callbacks, event)
            if event.dropped:
                self._client._outbox_changed()
        elif isinstance(event, Acked):
            if event.dropped:
                self._client._outbox_changed()
        elif isinstance(event, ConflictEvent):
            self.conflicts.append(event)
            self._emit(self._conflict_callbacks, event)
        elif isinstance(event, ErrorEvent):
            self.errors.append(event)
            self._emit(self._error_callbacks, event)
        elif isinstance(event, PresenceEvent):
            self._emit(self._presence_callbacks, event.clients)
        self._changed()

    def _changed(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _emit(self, callbacks: list[Callback[T]], value: T) -> None:
        for callback in list(callbacks):
            try:
                result = callback(value)
            except Exception:
                log.exception("a %s callback failed", self.session_id)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a %s callback failed", self.session_id, exc_info=task.exception())
