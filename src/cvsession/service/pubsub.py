"""Fan-out between server processes: a "session X changed" poke, never the data itself.

Receivers read what changed from the database, so a lost message costs at most the delay until
the next poke or the hub's periodic sweep, and loses nothing. Presence, which lives only in
memory, also travels here (each process republishes its own every few seconds).

`LocalPubSub` (one process, the default) and `RedisPubSub` (several processes) share the
`PubSub` interface, chosen by `open_pubsub(url)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)
CHANNEL = "cvsession:sync"

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class PubSub(Protocol):
    """Publish small JSON messages to every server process (this one excluded)."""

    server_id: str
    # Whether anything leaves this process (a hub skips publishing when nothing would).
    remote: bool

    async def start(self, handler: Handler) -> None:
        """Begin delivering other processes' messages to `handler`."""

    async def publish(self, message: dict[str, Any]) -> None:
        """Send `message`; best effort (a lost message is recovered by the sweep)."""

    async def stop(self) -> None: ...


class LocalPubSub:
    """A single process: nothing to send anywhere."""

    remote = False

    def __init__(self) -> None:
        self.server_id = uuid.uuid4().hex[:12]

    async def start(self, handler: Handler) -> None:
        return None

    async def publish(self, message: dict[str, Any]) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisPubSub:
    """Redis pub/sub on one channel; reconnects with backoff when the connection drops."""

    remote = True

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        import redis.asyncio as redis

        self.server_id = uuid.uuid4().hex[:12]
        self.url = url
        self.channel = channel
        self._redis = redis.from_url(url)
        self._task: asyncio.Task[None] | None = None
        self.received = 0
        self.published = 0

    async def start(self, handler: Handler) -> None:
        self._task = asyncio.create_task(self._listen(handler), name="cvsession-redis-sub")

    async def publish(self, message: dict[str, Any]) -> None:
        payload = orjson.dumps({**message, "server": self.server_id})
        try:
            await self._redis.publish(self.channel, payload)
            self.published += 1
        except Exception as exc:  # best effort by design
            log.warning("redis publish failed: %s", exc)

    async def _listen(self, handler: Handler) -> None:
        delay = 0.1
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.channel)
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        data = orjson.loads(message["data"])
                    except orjson.JSONDecodeError:
                        continue
                    if not isinstance(data, dict) or data.get("server") == self.server_id:
                        continue
                    self.received += 1
                    await handler(data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect and carry on
                log.warning("redis subscription lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._redis.aclose()


def open_pubsub(url: str) -> PubSub:
    """`""`/`local` → in-process; `redis://…` → Redis."""
    if not url or url == "local":
        return LocalPubSub()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisPubSub(url)
    raise ValueError(f"unsupported pub/sub URL {url!r} (use redis://host:port/db)")
