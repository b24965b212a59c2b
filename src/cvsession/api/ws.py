"""The sync WebSocket (docs/protocol.md): authentication, Origin, limits, message validation.

Everything past validation is the hub's business (cvsession.service.sync).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from cvsession.api import auth
from cvsession.api.problems import BadJSON, parse_strict
from cvsession.core.document import SCHEMA_VERSION
from cvsession.core.errors import DomainError, NotFound
from cvsession.core.mutations import Mutation
from cvsession.service import analytics
from cvsession.service.sessions import INLINE_PUSH_MUTATIONS
from cvsession.service.sync import Member, error_message

router = APIRouter()
log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
HELLO_TIMEOUT = 10.0
RATE_PER_SECOND = 50.0
RATE_BURST = 100.0
CLIENT_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
# Frames read and validated ahead of the one being handled, per connection (Inbox): at most
# this many, and at most one frame's worth of text (parsed, a frame can be ~25x larger).
INBOX_FRAMES = 2 * INLINE_PUSH_MUTATIONS
INBOX_BYTES = MAX_MESSAGE_BYTES
# Consecutive pushes waiting in the inbox are applied as one up to this many mutations: still a
# unit small enough to be written on the event loop (service.sessions.INLINE_PUSH_MUTATIONS).
MERGE_MUTATIONS = INLINE_PUSH_MUTATIONS


class MutationIn(BaseModel):
    id: int = Field(ge=1, le=2**62)
    name: str = Field(min_length=1, max_length=64)
    args: Any = None
    baseVersion: int | None = Field(default=None, ge=0)
    hlc: str = Field(default="", max_length=128)


class Hello(BaseModel):
    type: Literal["hello"]
    clientID: str = Field(pattern=CLIENT_ID)
    clientGroupID: str = Field(default="", max_length=64)
    cookie: int | None = Field(default=None, ge=0)
    lastMutationID: int = Field(default=0, ge=0)
    schemaVersion: int = SCHEMA_VERSION
    device: str = Field(default="", max_length=64)
    # The client's wall clock (ms since the epoch) when it sent this: corrects the ages of
    # mutations it made offline, which are stamped with that clock (docs/protocol.md).
    now: int | None = Field(default=None, ge=0, le=analytics.MAX_CLIENT_MS)


class Push(BaseModel):
    type: Literal["push"]
    mutations: list[MutationIn] = Field(min_length=1, max_length=500)


class Presence(BaseModel):
    type: Literal["presence"]
    step: str | None = Field(default=None, max_length=64)
    substep: str | None = Field(default=None, max_length=64)
    device: str | None = Field(default=None, max_length=64)


class Ping(BaseModel):
    type: Literal["ping"]


ClientMessage = TypeAdapter(Annotated[Hello | Push | Presence | Ping, Field(discriminator="type")])


class SocketPeer:
    """Adapts a Starlette WebSocket to the hub's Peer protocol."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.websocket.send_text(orjson.dumps(message).decode())

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


class Bucket:
    """Token bucket: `rate` per second sustained, `burst` at once."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.stamp = burst, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _origin_ok(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser; the caller must then use a bearer token
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    own = f"{scheme}://{websocket.headers.get('host', '')}"
    return origin == own or origin in allowed


async def _refuse(websocket: WebSocket, code: str, message: str, close: int) -> None:
    await websocket.send_text(orjson.dumps(error_message(code, message)).decode())
    await websocket.close(close, code)


async def _receive(websocket: WebSocket) -> str | None:
    """The next text frame; None when the peer went away. Binary frames raise BadJSON."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    if message.get("text") is not None:
        text: str = message["text"]
        return text
    raise BadJSON("binary frames are not part of the protocol; send JSON text")


def _parse(text: str) -> Any:
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise OverflowError
    return ClientMessage.validate_python(parse_strict(text.encode("utf-8")))


@router.websocket("/api/sessions/{session_id}/ws")
async def sync_socket(websocket: WebSocket, session_id: str) -> None:
    svc = websocket.app.state.services
    hub = websocket.app.state.hub
    await websocket.accept()
    token = auth.bearer_token(websocket)
    via_cookie = token is None
    if token is None:
        token = websocket.cookies.get(auth.COOKIE)
    user_id = await anyio.to_thread.run_sync(svc.identity.authenticate, token) if token else None
    if user_id is None:
        await _refuse(websocket, "unauthenticated", "sign in first", 4401)
        return
    has_origin = websocket.headers.get("origin") is not None
    if not _origin_ok(websocket, svc.settings.allowed_origins) or (via_cookie and not has_origin):
        await _refuse(websocket, "forbidden_origin", "this origin may not connect", 4403)
        return
    try:
        await anyio.to_thread.run_sync(svc.sessions.get, user_id, session_id)
    except NotFound:
        await _refuse(websocket, "not_found", "no such session", 4404)
        return

    try:
        text = await asyncio.wait_for(_receive(websocket), HELLO_TIMEOUT)
        hello = _parse(text) if text is not None else None
    except ValidationError as exc:
        if _is_hello(exc):  # a hello, but not a valid one: say what is wrong with it
            await _refuse(websocket, "bad_message", _first_error(exc), 4400)
            return
        hello = None
    except (TimeoutError, BadJSON, OverflowError):
        hello = None
    except WebSocketDisconnect:
        return
    if not isinstance(hello, Hello):
        await _refuse(websocket, "hello_required", "the first message must be hello", 4400)
        return
    if hello.schemaVersion != SCHEMA_VERSION:
        await _refuse(
            websocket, "schema_version", f"this server speaks schemaVersion {SCHEMA_VERSION}", 4400
        )
        return
    try:
        last = await anyio.to_thread.run_sync(svc.sessions.check_client, user_id, hello.clientID)
    except DomainError as exc:
        await _refuse(websocket, exc.code, exc.message, 4403)
        return

    member = Member(
        SocketPeer(websocket),
        session_id,
        user_id,
        hello.clientID,
        hello.clientGroupID,
        hello.device,
        cookie=-1 if hello.cookie is None else hello.cookie,
        clock_offset_ms=analytics.clock_offset(svc.sessions.clock(), hello.now),
    )
    inbox = Inbox(INBOX_FRAMES, INBOX_BYTES)
    reader: asyncio.Task[None] | None = None
    try:
        await hub.join(member, last)  # inside: a join that fails part way is still left
        reader = asyncio.create_task(_read(websocket, member, inbox))
        while not member.closed:
            item = await inbox.get()
            if item is None:  # the connection is gone
                break
            if isinstance(item, dict):  # a frame refused by the reader: answered in order
                hub.send(member, item)
            elif isinstance(item, Push):
                await _push(hub, member, inbox.merge(item))
            else:
                await _dispatch(hub, member, item)
    except WebSocketDisconnect:
        pass
    finally:
        try:
            if reader is not None:
                reader.cancel()
                (outcome,) = await asyncio.gather(reader, return_exceptions=True)
                if isinstance(outcome, Exception) and not isinstance(outcome, WebSocketDisconnect):
                    log.error("reading from %s failed", member.client_id, exc_info=outcome)
        finally:
            await hub.leave(member)


class Inbox:
    """Frames read ahead of the one being handled: at most `limit` frames and `max_bytes` of
    frame text (one frame of any size when it is empty); past that, reading waits.

    While a push commits, the connection's next frames are read and parsed; consecutive pushes
    waiting here are then applied as one (`merge`), so a client sending faster than the server
    commits gets fewer, larger transactions, patches and acks instead of a growing backlog.
    """

    def __init__(self, limit: int, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.items: deque[Any] = deque()
        self._sizes: deque[int] = deque()
        self.bytes = 0
        self.closed = False
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()

    def _full(self, size: int) -> bool:
        if not self.items:
            return False
        return len(self.items) >= self.limit or self.bytes + size > self.max_bytes

    async def put(self, item: Any, size: int = 0) -> None:
        """Queue `item`, read from a frame of `size` bytes, once there is room for it."""
        while self._full(size) and not self.closed:
            self._space.clear()
            await self._space.wait()
        self.items.append(item)
        self._sizes.append(size)
        self.bytes += size
        self._ready.set()

    def _pop(self) -> Any:
        self.bytes -= self._sizes.popleft()
        self._space.set()
        return self.items.popleft()

    def close(self) -> None:
        """No more frames: `get` answers None once the ones read are handled."""
        self.closed = True
        self._ready.set()
        self._space.set()

    async def get(self) -> Any:
        while not self.items:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._pop()

    def merge(self, push: Push) -> list[MutationIn]:
        """`push`'s mutations and those of the pushes queued right behind it that continue them.

        Only a push whose first id follows the last one taken is joined, and only up to
        MERGE_MUTATIONS in all, so the result is exactly what a client batching its outbox would
        have sent in one frame; anything else (a gap, a resend, a large push) is handled alone.
        """
        mutations = list(push.mutations)
        while self.items and isinstance(self.items[0], Push):
            following: list[MutationIn] = self.items[0].mutations
            if len(mutations) + len(following) > MERGE_MUTATIONS:
                break
            if following[0].id != mutations[-1].id + 1:
                break
            self._pop()
            mutations.extend(following)
        return mutations


async def _read(websocket: WebSocket, member: Member, inbox: Inbox) -> None:
    """Read, limit and validate the member's frames into `inbox` until the connection ends."""
    bucket = Bucket(RATE_PER_SECOND, RATE_BURST)
    try:
        while not member.closed:
            size = 0
            try:
                text = await _receive(websocket)
                if text is None:
                    break
                size = len(text)
                if not bucket.take():
                    item: Any = error_message("rate_limited", "slow down", retryable=True)
                else:
                    item = _parse(text)
            except OverflowError:
                item = error_message(
                    "too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes"
                )
            except BadJSON as exc:
                item = error_message("bad_json", str(exc))
            except ValidationError as exc:
                item = error_message("bad_message", _first_error(exc))
            await inbox.put(item, size)
    except WebSocketDisconnect:
        pass
    finally:
        inbox.close()


async def _push(hub: Any, member: Member, pushed: list[MutationIn]) -> None:
    mutations = [
        Mutation(
            member.client_id, m.id, m.name, {} if m.args is None else m.args, m.baseVersion, m.hlc
        )
        for m in pushed
    ]
    try:
        await hub.push(member, mutations)
    except DomainError as exc:
        hub.send(member, error_message(exc.code, exc.message))
    except Exception:  # nothing was acknowledged; the client resends
        hub.send(member, error_message("internal", "the server failed; resend", retryable=True))


async def _dispatch(hub: Any, member: Member, message: Any) -> None:
    if isinstance(message, Presence):
        await hub.set_presence(member, message.step, message.substep, message.device)
    elif isinstance(message, Ping):
        hub.heartbeat(member)
        hub.send(member, {"type": "pong"})
    else:  # a second hello
        hub.send(member, error_message("bad_message", "hello was already received"))


def _is_hello(exc: ValidationError) -> bool:
    """The message failed validation as a hello (the discriminator chose that branch)."""
    return any(e.get("loc", ())[:1] == ("hello",) for e in exc.errors())


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
