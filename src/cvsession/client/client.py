"""`Client`: one clientID, one local store, one WebSocket per session it syncs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from cvsession.client.backoff import Backoff
from cvsession.client.connection import Connection, ConnectOptions, ws_url
from cvsession.client.hlc import HybridClock
from cvsession.client.replica import (
    MAX_FRAME_BYTES,
    MAX_PUSH_MUTATIONS,
    SETTLE_SECONDS,
    Replica,
)
from cvsession.client.session import SessionHandle
from cvsession.client.store import ClientStore


class Client:
    """The async client: keeps sessions durable locally and synced with a cvsession server.

    Use as `async with Client(url, token=..., path=...) as c:` or with `start()` / `stop()`.
    The local store at `path` (SQLite) holds the clientID, the outbox and the confirmed
    documents, so a new `Client` on the same file resumes where the last one stopped, and reads
    and edits work offline. `start()` reconnects every session that still has queued mutations:
    nothing queued waits for the caller to reopen its session.
    """

    def __init__(
        self,
        url: str,
        *,
        path: str | Path,
        token: str | None = None,
        device: str | None = "python",
        heartbeat: float = 15.0,
        heartbeat_timeout: float = 20.0,
        open_timeout: float = 10.0,
        backoff: Callable[[], Backoff] = Backoff,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_push_mutations: int = MAX_PUSH_MUTATIONS,
        settle_seconds: float = SETTLE_SECONDS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.options = ConnectOptions(
            token=token,
            device=device,
            heartbeat=heartbeat,
            heartbeat_timeout=heartbeat_timeout,
            open_timeout=open_timeout,
            backoff=backoff,
        )
        self.store = ClientStore(path)
        self.clock = HybridClock(self.store.client_id, self.store.hlc, wall=wall)
        self._frame_limits = (max_frame_bytes, max_push_mutations)
        self._settle_seconds = settle_seconds
        self._sessions: dict[str, SessionHandle] = {}
        self._connections: dict[str, Connection] = {}
        self._online = True
        self._started = False
        self._closed = False

    @property
    def client_id(self) -> str:
        return self.store.client_id

    @property
    def client_group_id(self) -> str:
        return self.store.client_group_id

    @property
    def sessions(self) -> dict[str, SessionHandle]:
        return dict(self._sessions)

    @property
    def is_online(self) -> bool:
        return self._online

    # lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect every opened session and every session with queued mutations."""
        if self._closed:
            raise RuntimeError("this client was stopped; open a new Client on the same path")
        self._started = True
        for session_id in self.store.pending_sessions():
            self.session(session_id)
        for connection in self._connections.values():
            connection.start()

    async def stop(self) -> None:
        """Close every connection and the local store. Queued mutations stay queued on disk."""
        if self._closed:
            return
        self._closed = True
        self._started = False
        for connection in self._connections.values():
            await connection.stop()
        self.store.close()

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # sessions ----------------------------------------------------------------------------------
    def session(self, session_id: str) -> SessionHandle:
        """The handle of a session (the same one on every call); connects it if started."""
        handle = self._sessions.get(session_id)
        if handle is not None:
            return handle
        if self._closed:
            raise RuntimeError("this client was stopped")
        max_bytes, max_mutations = self._frame_limits
        replica = Replica(
            self.store,
            session_id,
            self.clock,
            max_frame_bytes=max_bytes,
            max_push_mutations=max_mutations,
            settle_seconds=self._settle_seconds,
        )
        handle = SessionHandle(self, replica, ws_url(self.url, session_id))
        connection = handle._connection
        self._sessions[session_id] = handle
        self._connections[session_id] = connection
        if not self._online:
            connection.go_offline()
        if self._started:
            connection.start()
        return handle

    # network -----------------------------------------------------------------------------------
    def offline(self) -> None:
        """Drop every socket as a lost network would; edits keep queueing until `online()`."""
        self._online = False
        for connection in self._connections.values():
            connection.go_offline()

    def online(self) -> None:
        """Reconnect every session now, with a fresh backoff."""
        self._online = True
        for connection in self._connections.values():
            connection.go_online()

    def _outbox_changed(self) -> None:
        # An acknowledged entry may unblock another session's pushes (ids are client-wide).
        for connection in self._connections.values():
            connection.poke()

    def __repr__(self) -> str:
        state = "stopped" if self._closed else "started" if self._started else "new"
        return f"<Client {self.client_id} {self.url} {state}>"
