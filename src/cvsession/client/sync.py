"""`SyncClient`: the async `Client` on a background event-loop thread, for scripts.

    with SyncClient("http://127.0.0.1:8000", token=TOKEN, path="client.db") as client:
        session = client.session(session_id)
        session.mutate("session.setTitle", {"title": "My CV"})
        session.wait_synced()

Every call hops onto the loop thread and waits for the answer. Callbacks run on the loop
thread, so they must be quick and must not call back into the blocking API.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from cvsession.client.client import Client
from cvsession.client.replica import ConflictEvent, ErrorEvent, Patched
from cvsession.client.session import SessionHandle

T = TypeVar("T")


class SyncClient:
    """A blocking facade over `Client`; takes the same arguments. Starts on construction."""

    def __init__(self, url: str, *, path: str | Path, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="cvsession-client", daemon=True
        )
        self._thread.start()
        try:
            self._client = self._run(self._make(url, path, options))
            self._run(self._client.start())
        except BaseException:
            self._shutdown_loop()
            raise
        self._sessions: dict[str, SyncSession] = {}

    @staticmethod
    async def _make(url: str, path: str | Path, options: dict[str, Any]) -> Client:
        return Client(url, path=path, **options)  # built on the loop thread that will drive it

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _call(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self._run(call())

    @property
    def client(self) -> Client:
        """The underlying async client (use it only from the loop thread)."""
        return self._client

    @property
    def client_id(self) -> str:
        return self._client.client_id

    def session(self, session_id: str) -> SyncSession:
        if session_id not in self._sessions:
            handle = self._call(lambda: self._client.session(session_id))
            self._sessions[session_id] = SyncSession(self, handle)
        return self._sessions[session_id]

    def offline(self) -> None:
        self._call(self._client.offline)

    def online(self) -> None:
        self._call(self._client.online)

    def close(self) -> None:
        """Stop the client (queued mutations stay on disk) and its thread."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.stop())
        finally:
            self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncSession:
    """A blocking facade over `SessionHandle`."""

    def __init__(self, owner: SyncClient, handle: SessionHandle) -> None:
        self._owner = owner
        self.handle = handle

    @property
    def session_id(self) -> str:
        return self.handle.session_id

    @property
    def state(self) -> Any:
        return self._owner._call(lambda: self.handle.state)

    @property
    def confirmed(self) -> Any:
        return self._owner._call(lambda: self.handle.confirmed)

    @property
    def cookie(self) -> int | None:
        return self._owner._call(lambda: self.handle.cookie)

    @property
    def pending(self) -> int:
        return self._owner._call(lambda: self.handle.pending)

    @property
    def presence(self) -> list[dict[str, Any]]:
        return self._owner._call(lambda: list(self.handle.presence))

    def mutate(self, name: str, args: Any = None) -> int:
        return self._owner._run(self.handle.mutate(name, args))

    def set_presence(self, step: str, substep: str | None = None) -> None:
        self._owner._run(self.handle.set_presence(step, substep))

    def wait_synced(self, timeout: float = 10.0) -> None:
        self._owner._run(self.handle.wait_synced(timeout))

    def wait_for(self, predicate: Callable[[SessionHandle], bool], timeout: float = 10.0) -> None:
        self._owner._run(self.handle.wait_for(predicate, timeout))

    def disconnect(self) -> None:
        self._owner._call(self.handle.disconnect)

    def connect(self) -> None:
        self._owner._call(self.handle.connect)

    def on_patch(self, callback: Callable[[Patched], Any]) -> Callable[[Patched], Any]:
        return self._owner._call(lambda: self.handle.on_patch(callback))

    def on_conflict(
        self, callback: Callable[[ConflictEvent], Any]
    ) -> Callable[[ConflictEvent], Any]:
        return self._owner._call(lambda: self.handle.on_conflict(callback))

    def on_presence(
        self, callback: Callable[[list[dict[str, Any]]], Any]
    ) -> Callable[[list[dict[str, Any]]], Any]:
        return self._owner._call(lambda: self.handle.on_presence(callback))

    def on_error(self, callback: Callable[[ErrorEvent], Any]) -> Callable[[ErrorEvent], Any]:
        return self._owner._call(lambda: self.handle.on_error(callback))
