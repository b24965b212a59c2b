"""The sync WebSocket (docs/protocol.md): authentication, Origin, limits, message validation.

Everything past validation is the hub's business (cvsession.service.sync).
"""

from __future__ import annotations

import asyncio
import time
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
from cvsession.service.sync import Member, error_message

router = APIRouter()

MAX_MESSAGE_BYTES = 64 * 1024
HELLO_TIMEOUT = 10.0
RATE_PER_SECOND = 50.0
RATE_BURST = 100.0
CLIENT_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


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
    await hub.join(member, last)
    bucket = Bucket(RATE_PER_SECOND, RATE_BURST)
    try:
        while not member.closed:
            try:
                text = await _receive(websocket)
                if text is None:
                    break
                if not bucket.take():
                    hub.send(member, error_message("rate_limited", "slow down", retryable=True))
                    continue
                message = _parse(text)
            except OverflowError:
                hub.send(
                    member,
                    error_message(
                        "too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes"
                    ),
                )
                continue
            except BadJSON as exc:
                hub.send(member, error_message("bad_json", str(exc)))
                continue
            except ValidationError as exc:
                hub.send(member, error_message("bad_message", _first_error(exc)))
                continue
            await _dispatch(hub, member, message)
    except WebSocketDisconnect:
        pass
    finally:
        await hub.leave(member)


async def _dispatch(hub: Any, member: Member, message: Any) -> None:
    if isinstance(message, Push):
        mutations = [
            Mutation(
                member.client_id,
                m.id,
                m.name,
                {} if m.args is None else m.args,
                m.baseVersion,
                m.hlc,
            )
            for m in message.mutations
        ]
        try:
            await hub.push(member, mutations)
        except DomainError as exc:
            hub.send(member, error_message(exc.code, exc.message))
        except Exception:  # nothing was acknowledged; the client resends
            hub.send(member, error_message("internal", "the server failed; resend", retryable=True))
    elif isinstance(message, Presence):
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
