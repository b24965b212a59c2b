"""One session's WebSocket: hello, pushes, heartbeat, and reconnection with jittered backoff.

The `Connection` moves frames between the socket and its `Replica` and acts on the replica's
`Resync` (replace the socket now) and `Resend` (push again, after a backoff when asked). It
reports every event to the owner's `on_event`. Going offline aborts the socket the way a lost
network does; nothing is lost because entries leave the outbox only when acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from cvsession.client.backoff import Backoff
from cvsession.client.replica import ErrorEvent, Event, Replica, Resend, Resync
from cvsession.client.store import dumps

log = logging.getLogger("cvsession.client")

# Close codes after which reconnecting cannot help (docs/protocol.md, "Error codes").
FATAL_CLOSE_CODES = {
    4400: "schema_version",
    4401: "unauthenticated",
    4403: "forbidden",
    4404: "not_found",
}
FATAL_HTTP_STATUS = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}


@dataclass
class ConnectOptions:
    """How a client connects; the defaults follow docs/protocol.md."""

    token: str | None = None
    device: str | None = "python"
    heartbeat: float = 15.0  # seconds between `ping`s
    # Without any frame for heartbeat + heartbeat_timeout the socket is presumed dead: a lost
    # network does not always close it (a browser's offline mode holds frames, NOTES.md).
    heartbeat_timeout: float = 20.0
    open_timeout: float = 10.0
    max_message_bytes: int = 64 * 1024 * 1024  # a reset carries the whole document
    backoff: Callable[[], Backoff] = field(default=Backoff)
    extra_headers: dict[str, str] = field(default_factory=dict)


def ws_url(base_url: str, session_id: str) -> str:
    """The session's WebSocket URL from the server's base URL (http, https, ws or wss)."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
    path = parts.path.rstrip("/") + f"/api/sessions/{quote(session_id, safe='')}/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class Connection:
    """Keep one session's socket up while started and online."""

    def __init__(
        self,
        replica: Replica,
        url: str,
        options: ConnectOptions,
        on_event: Callable[[Event], None],
        on_state: Callable[[], None],
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        self.replica = replica
        self.url = url
        self.options = options
        self.on_event = on_event
        self.on_state = on_state  # connected or disconnected
        self.wall_ms = wall_ms  # the client's clock, told to the server in hello
        self.backoff = options.backoff()
        self.connected = False
        self.fatal: str | None = None  # why we gave up, after a refusal reconnecting cannot fix
        self.last_error: str | None = None
        self._online = asyncio.Event()
        self._online.set()
        self._wake = asyncio.Event()  # something to push
        self._interrupt = asyncio.Event()  # cut a backoff sleep short (online(), stop())
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._resync = False
        self._hold_until = 0.0  # no pushes before this (monotonic): a retryable refusal
        self._last_rx = 0.0
        self._server_error: str | None = None  # the code of the last connection-level error
        self._presence_sent = False
        self.presence: dict[str, Any] | None = None  # resent after every reconnect

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"cvsession-ws-{self.replica.session_id}"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def go_offline(self) -> None:
        """Drop the socket as a lost network would, and do not reconnect until `go_online`."""
        self._online.clear()
        self._abort()

    def go_online(self) -> None:
        """Reconnect now, with a fresh backoff."""
        self.backoff.reset()
        self._online.set()
        self._interrupt.set()

    @property
    def online(self) -> bool:
        return self._online.is_set()

    def poke(self) -> None:
        """New entries may be pushable (a local edit, or another session's entry was acked)."""
        self._wake.set()

    async def send(self, message: dict[str, Any]) -> bool:
        """Send a message now if connected; return whether it was sent."""
        ws = self._ws
        if ws is None or not self.replica.handshake_done:
            return False
        try:
            await ws.send(dumps(message))
        except ConnectionClosed:
            return False
        return True

    # the loop ----------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._online.wait()
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                status = exc.response.status_code
                self.last_error = f"HTTP {status}"
                if status in FATAL_HTTP_STATUS:
                    self._give_up(FATAL_HTTP_STATUS[status], f"the server refused: HTTP {status}")
                    return
            except ConnectionClosed as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code in FATAL_CLOSE_CODES:
                    self._give_up(FATAL_CLOSE_CODES[code], exc.rcvd.reason if exc.rcvd else "")
                    return
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
                if self.connected:
                    self.connected = False
                    self.replica.disconnected()
                    self.on_state()
            if self.fatal is not None:
                return
            if self._resync:
                self._resync = False
                delay = self.backoff.initial * self.backoff.random()
            else:
                delay = self.backoff.next()
            self._interrupt.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interrupt.wait(), delay)

    async def _connect_once(self) -> None:
        headers = dict(self.options.extra_headers)
        if self.options.token:
            headers["Authorization"] = f"Bearer {self.options.token}"
        async with connect(
            self.url,
            additional_headers=headers,
            compression=None,  # the server turns per-message compression off
            open_timeout=self.options.open_timeout,
            ping_interval=None,  # our own `ping` messages keep the session's presence alive
            max_size=self.options.max_message_bytes,
            close_timeout=2,
        ) as ws:
            if not self._online.is_set():
                return
            self._ws = ws
            self.connected = True
            self._server_error = None
            self._presence_sent = False
            self._last_rx = time.monotonic()
            self.on_state()
            with contextlib.suppress(ConnectionClosed):  # a refusal may already be on its way
                now = self.wall_ms() if self.wall_ms is not None else None
                await ws.send(dumps(self.replica.hello(self.options.device, now)))
            writer = asyncio.create_task(self._writer(ws))
            heartbeat = asyncio.create_task(self._heartbeat(ws))
            try:
                await self._reader(ws)
            finally:
                writer.cancel()
                heartbeat.cancel()
                await asyncio.gather(writer, heartbeat, return_exceptions=True)
            code = ws.close_code
            if code in FATAL_CLOSE_CODES and not self._resync:
                self._give_up(FATAL_CLOSE_CODES[code], ws.close_reason or f"closed with {code}")

    async def _reader(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._last_rx = time.monotonic()
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("ignoring a frame that is not JSON from %s", self.url)
                    continue
                if not isinstance(message, dict):
                    continue
                for event in self.replica.receive(message):
                    if isinstance(event, Resync):
                        self._resync = True
                    elif isinstance(event, ErrorEvent) and event.mutation_id is None:
                        self._server_error = event.code
                    elif isinstance(event, Resend):
                        if event.backoff:
                            self._hold_until = time.monotonic() + self.backoff.next()
                        self._wake.set()
                    self.on_event(event)
                if message.get("type") == "ack":
                    self.backoff.reset()  # a full round trip worked
                    if self.replica.settling:
                        loop = asyncio.get_running_loop()
                        loop.call_later(self.replica.settle_seconds + 0.01, self._settle)
                    await self._after_ack(ws)
                if self._resync:
                    return
        except ConnectionClosed:
            return

    async def _after_ack(self, ws: ClientConnection) -> None:
        self._wake.set()
        if self.presence is not None and not self._presence_sent:
            self._presence_sent = True
            await ws.send(dumps({"type": "presence", **self.presence}))

    async def _writer(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._wake.wait()
                self._wake.clear()
                if not self.replica.handshake_done:
                    continue  # pushed once the hello's ack arrives
                hold = self._hold_until - time.monotonic()
                if hold > 0:
                    await asyncio.sleep(hold)
                for frame in self.replica.push_frames():
                    await ws.send(frame)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        interval = self.options.heartbeat
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                if time.monotonic() - self._last_rx > interval + self.options.heartbeat_timeout:
                    self.last_error = "heartbeat timeout"
                    self._abort()
                    return
                await ws.send('{"type":"ping"}')

    # helpers -----------------------------------------------------------------------------------
    def _settle(self) -> None:
        if self.replica.settle():
            self.on_state()

    def _abort(self) -> None:
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    def _give_up(self, code: str, message: str) -> None:
        # The server usually said why in an `error` before closing; report the refusal once.
        self.fatal = self._server_error or code
        if self._server_error is None:
            self.on_event(ErrorEvent(code, message, False))
