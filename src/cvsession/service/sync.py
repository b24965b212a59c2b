"""Real-time sync: rooms of connected clients per session, patches, acks, conflicts, presence.

The hub is framework-free: a connection is anything with `send_json` and `close` (`Peer`), so
the WebSocket edge stays thin. Everything a client learns about the document comes from the
database (the mutation log), never from the message that announced a change: a poke from this
process, from another one over pub/sub, or from the periodic sweep all lead to the same read, so a
lost poke delays a patch by at most one sweep and loses nothing.

Each member has its own outgoing queue and sender task, so one slow client never holds up the
others; a client that falls too far behind is disconnected and catches up from its cookie.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio

from cvsession.core.errors import DomainError, NotFound
from cvsession.core.mutations import Mutation
from cvsession.service.metrics import Latency
from cvsession.service.pubsub import LocalPubSub, PubSub
from cvsession.service.sessions import SessionService
from cvsession.store.base import LogEntry

log = logging.getLogger(__name__)

PRESENCE_TTL = 30.0
PRESENCE_REPUBLISH = 10.0
MAX_QUEUE = 1000
MAX_PATCH_ENTRIES = 5000
RECENT_ENTRIES = 64
COMMIT_TIMES = 256  # commit times kept per room, for the propagation latency of its patches
READ_THREADS = 4  # the hub's database reads share a few threads (and reader connections)


class Peer(Protocol):
    async def send_json(self, message: dict[str, Any]) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class Member:
    """One connected client in one session's room."""

    peer: Peer
    session_id: str
    user_id: str
    client_id: str
    client_group_id: str = ""
    device: str = ""
    cookie: int = -1  # version this client holds; -1: nothing yet (reset)
    step: str | None = None
    substep: str | None = None
    last_seen: float = field(default_factory=time.monotonic)
    # Changes committed before the client joined reach it as catch-up, not propagation.
    joined: float = field(default_factory=time.monotonic)
    needs_patch: bool = True
    clock_offset_ms: int = 0  # server's clock minus the client's, from its hello (0: unknown)
    # A message, and the latency to observe once it is sent (with the start of the interval).
    queue: asyncio.Queue[tuple[dict[str, Any], Latency | None, float] | None] = field(
        default_factory=lambda: asyncio.Queue(MAX_QUEUE)
    )
    sender: asyncio.Task[None] | None = None
    closed: bool = False

    def presence(self) -> dict[str, Any]:
        return {
            "clientID": self.client_id,
            "device": self.device,
            "step": self.step,
            "substep": self.substep,
            "lastSeen": datetime.fromtimestamp(
                time.time() - (time.monotonic() - self.last_seen), UTC
            ).isoformat(),
        }


@dataclass(eq=False)
class Room:
    session_id: str
    members: set[Member] = field(default_factory=set)
    version: int = -1  # the newest version this process has delivered
    refreshing: bool = False
    dirty: bool = False
    remote_presence: dict[str, tuple[float, list[dict[str, Any]]]] = field(default_factory=dict)
    presence_key: tuple[Any, ...] = ()
    recent: list[LogEntry] = field(default_factory=list)  # what this process last committed
    refreshed: asyncio.Condition = field(default_factory=asyncio.Condition)
    commits: dict[int, float] = field(default_factory=dict)  # version -> monotonic commit time

    def committed(self, version: int, at: float) -> None:
        self.commits.setdefault(version, at)
        if len(self.commits) > COMMIT_TIMES:
            for old in sorted(self.commits)[: len(self.commits) - COMMIT_TIMES]:
                del self.commits[old]

    def first_commit(self, cookie: int, version: int, since: float = 0.0) -> float | None:
        """When the oldest change a patch from `cookie` to `version` carries was committed,
        counting only changes committed at or after `since` (when the receiver joined)."""
        times = [t for v, t in self.commits.items() if cookie < v <= version and t >= since]
        return min(times) if times else None


class SyncHub:
    """All rooms of this process. Use `start()`/`stop()` or `async with`."""

    def __init__(
        self,
        sessions: SessionService,
        pubsub: PubSub | None = None,
        *,
        sweep_seconds: float = 2.0,
        presence_ttl: float = PRESENCE_TTL,
    ) -> None:
        self.sessions = sessions
        self.pubsub = pubsub or LocalPubSub()
        self.sweep_seconds = sweep_seconds
        self.presence_ttl = presence_ttl
        self.rooms: dict[str, Room] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._last_republish = 0.0
        self.patches_sent = 0
        self._reads = anyio.CapacityLimiter(READ_THREADS)
        self.metrics = sessions.metrics
        # Called with the id of a user deleted in any process (e.g. to drop cached tokens).
        self.user_listeners: list[Callable[[str], None]] = []

    async def __aenter__(self) -> SyncHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.sessions.listeners.append(self._changed_threadsafe)
        await self.pubsub.start(self._remote)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="cvsession-sync-sweep")

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.sessions.listeners.remove(self._changed_threadsafe)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for room in list(self.rooms.values()):
            for member in list(room.members):
                await self.leave(member, close=(1001, "server shutting down"))
        await self.pubsub.stop()

    # membership --------------------------------------------------------------------------------
    async def join(self, member: Member, last_mutation_id: int) -> None:
        """Add a member: welcome, catch-up patch, ack and presence follow in that order."""
        room = self.rooms.get(member.session_id)
        if room is None:
            room = self.rooms[member.session_id] = Room(member.session_id)
        room.members.add(member)
        member.sender = asyncio.create_task(self._send_loop(member))
        self.send(
            member,
            {
                "type": "welcome",
                "sessionID": member.session_id,
                "clientID": member.client_id,
                "protocol": 1,
                "serverTime": datetime.now(UTC).isoformat(),
            },
        )
        await self.refresh(room)
        self.send(member, {"type": "ack", "lastMutationID": last_mutation_id})
        await self._presence_changed(room)

    async def leave(self, member: Member, close: tuple[int, str] | None = None) -> None:
        room = self.rooms.get(member.session_id)
        if room is not None:
            room.members.discard(member)
            if not room.members:
                del self.rooms[member.session_id]  # idle rooms go: memory stays flat
            else:
                await self._presence_changed(room)
        if not member.closed:
            member.closed = True
            with contextlib.suppress(asyncio.QueueFull):
                member.queue.put_nowait(None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await member.peer.close(*close)
        if member.sender is not None and member.sender is not asyncio.current_task():
            member.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await member.sender

    def send(
        self,
        member: Member,
        message: dict[str, Any],
        latency: Latency | None = None,
        since: float | None = None,
    ) -> None:
        """Queue a message; a member that cannot keep up is disconnected (it will catch up).

        With `latency`, the time from `since` (monotonic) to the message being written to the
        connection is observed.
        """
        if member.closed:
            return
        try:
            member.queue.put_nowait((message, latency if since is not None else None, since or 0))
        except asyncio.QueueFull:
            log.warning("client %s is too slow; disconnecting", member.client_id)
            member.closed = True
            asyncio.get_running_loop().create_task(member.peer.close(4008, "too slow"))

    async def _send_loop(self, member: Member) -> None:
        while True:
            item = await member.queue.get()
            if item is None:
                return
            message, latency, since = item
            try:
                await member.peer.send_json(message)
            except Exception:  # the connection is gone; the edge cleans up
                member.closed = True
                return
            if latency is not None:
                latency.observe(time.monotonic() - since)

    # changes -----------------------------------------------------------------------------------
    def _changed_threadsafe(self, session_id: str, version: int) -> None:
        """SessionService listener: may run on a worker thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        at = (time.monotonic(), time.time() * 1000)  # just committed
        if running is loop:
            self._changed(session_id, version, at)
        else:
            loop.call_soon_threadsafe(self._changed, session_id, version, at)

    def _changed(self, session_id: str, version: int, at: tuple[float, float]) -> None:
        room = self.rooms.get(session_id)
        if room is not None:
            room.committed(version, at[0])
        self.poke(session_id, version)
        if self.pubsub.remote:  # a task per commit is not free: only when it goes somewhere
            message = {"kind": "change", "session": session_id, "version": version, "at": at[1]}
            asyncio.get_running_loop().create_task(self.pubsub.publish(message))

    def poke(self, session_id: str, version: int | None = None) -> None:
        """Something changed in `session_id` (at `version`, if known): bring its room's
        members up to date, unless this process has already delivered that version."""
        room = self.rooms.get(session_id)
        if room is not None and (version is None or version > room.version):
            asyncio.get_running_loop().create_task(self.refresh(room, version))

    async def refresh(self, room: Room, target: int | None = None) -> None:
        """Send each member the patch from its cookie to the current version (coalesced)."""
        if target is not None and room.version >= target:
            return  # delivered meanwhile (by the push that caused the poke)
        if room.refreshing:
            room.dirty = True
            return
        room.refreshing = True
        try:
            while True:
                room.dirty = False
                await self._refresh_once(room)
                if not room.dirty:
                    return
        finally:
            room.refreshing = False
            async with room.refreshed:
                room.refreshed.notify_all()

    async def deliver(self, room: Room, member: Member, version: int) -> None:
        """Return once `member` has been sent the patch up to `version` (or cannot be)."""
        for _ in range(10):
            if member.closed or member.cookie >= version or member not in room.members:
                return
            if room.refreshing:
                room.dirty = True
                async with room.refreshed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(room.refreshed.wait(), 5.0)
            else:
                await self.refresh(room)

    async def _refresh_once(self, room: Room) -> None:
        members = [m for m in room.members if not m.closed]
        if not members:
            return
        oldest = min(max(m.cookie, 0) for m in members)

        def needs_document(version: int, entries: list[LogEntry], log_min: int | None) -> bool:
            return any(not _covered(m.cookie, version, entries, log_min) for m in members)

        try:
            version, entries, log_min, document = await anyio.to_thread.run_sync(
                lambda: self.sessions.changes_since(
                    room.session_id, oldest, MAX_PATCH_ENTRIES, needs_document
                ),
                limiter=self._reads,
            )
        except NotFound:
            for member in members:
                self.send(member, error_message("not_found", "the session was deleted"))
                await self.leave(member, close=(4404, "not found"))
            return
        room.version = max(room.version, version)
        for member in members:
            if member.cookie >= version and not member.needs_patch:
                continue  # already there (a push delivered it from memory)
            message = patch_since(member.cookie, version, document, entries, log_min)
            since = room.first_commit(member.cookie, version, member.joined)
            member.cookie = version
            member.needs_patch = False
            self.send(member, message, self.metrics.propagation, since)
            self.patches_sent += 1

    # pushes and presence -----------------------------------------------------------------------
    async def push(self, member: Member, mutations: Sequence[Mutation]) -> None:
        """Apply a member's mutations; answer conflicts, errors and the ack."""
        member.last_seen = received = time.monotonic()
        outcomes, gap = await self.sessions.apush(
            member.user_id, member.session_id, mutations, member.clock_offset_ms
        )
        committed = time.monotonic()
        last: int | None = None
        room = self.rooms.get(member.session_id)
        for mut, outcome in zip(mutations, outcomes, strict=False):
            last = outcome.last_mutation_id
            for c in outcome.conflicts:
                message = {"type": "conflict", "mutationID": mut.id, "clientID": mut.client_id, **c}
                for other in room.members if room else [member]:
                    self.send(other, message)
            if outcome.error is not None:
                self.send(
                    member,
                    error_message(
                        outcome.error.code,
                        outcome.error.message,
                        mutation_id=mut.id,
                        detail=outcome.error.detail,
                    ),
                )
        applied = [o.version for o in outcomes if o.status == "applied"]
        fresh = [
            LogEntry(
                member.session_id,
                o.version,
                mut.client_id,
                mut.id,
                mut.name,
                mut.args,
                o.ops,
                o.conflicts,
                datetime.now(UTC),
                mut.hlc,
            )
            for mut, o in zip(mutations, outcomes, strict=False)
            if o.logged
        ]
        if room is not None and fresh:
            for entry in fresh:
                room.committed(entry.version, committed)
            await self._deliver_fresh(room, fresh)
        if room is not None and applied:
            # The pusher sees a mutation's effect (patch) before its acknowledgement (ack).
            await self.deliver(room, member, max(applied))
        if gap is not None:
            self.send(
                member,
                error_message(
                    "mutation_gap",
                    gap.message,
                    retryable=True,
                    mutation_id=gap.detail.get("received"),
                    detail=gap.detail,
                ),
            )
        if last is not None:
            ack = {"type": "ack", "lastMutationID": last}
            self.send(member, ack, self.metrics.push_ack["ws"], received)

    async def _deliver_fresh(self, room: Room, fresh: list[LogEntry]) -> None:
        """Send what this process just committed straight from memory.

        The entries are exactly what was logged, so members whose cookie they extend get their
        patch without a database read; anyone else is left to a refresh.
        """
        if room.recent and room.recent[-1].version + 1 == fresh[0].version:
            room.recent.extend(fresh)
        else:
            room.recent = list(fresh)
        del room.recent[:-RECENT_ENTRIES]
        top = fresh[-1].version
        lagging = False
        for member in room.members:
            if member.closed or member.needs_patch or member.cookie >= top:
                lagging = lagging or member.needs_patch
                continue
            if not _covered(member.cookie, top, room.recent, None):
                lagging = True
                continue
            since = room.first_commit(member.cookie, top, member.joined)
            message = patch_since(member.cookie, top, None, room.recent, None)
            self.send(member, message, self.metrics.propagation, since)
            member.cookie = top
            self.patches_sent += 1
        if not lagging:
            room.version = max(room.version, top)

    async def set_presence(
        self, member: Member, step: str | None, substep: str | None, device: str | None
    ) -> None:
        member.step, member.substep = step, substep
        if device is not None:
            member.device = device
        member.last_seen = time.monotonic()
        room = self.rooms.get(member.session_id)
        if room is not None:
            await self._presence_changed(room)

    def heartbeat(self, member: Member) -> None:
        member.last_seen = time.monotonic()

    def presence_list(self, room: Room) -> list[dict[str, Any]]:
        now = time.monotonic()
        local = [
            m.presence()
            for m in room.members
            if not m.closed and now - m.last_seen <= self.presence_ttl
        ]
        remote = [
            c
            for expires, clients in room.remote_presence.values()
            if expires > now
            for c in clients
        ]
        return sorted(local + remote, key=lambda c: (c["clientID"], c.get("device", "")))

    async def _presence_changed(self, room: Room, *, publish: bool = True) -> None:
        clients = self.presence_list(room)
        key = tuple((c["clientID"], c["device"], c["step"], c["substep"]) for c in clients)
        if key != room.presence_key:
            room.presence_key = key
            for member in room.members:
                self.send(member, {"type": "presence", "clients": clients})
        if publish:
            await self._publish_presence(room)

    async def _publish_presence(self, room: Room) -> None:
        now = time.monotonic()
        local = [
            m.presence()
            for m in room.members
            if not m.closed and now - m.last_seen <= self.presence_ttl
        ]
        await self.pubsub.publish(
            {"kind": "presence", "session": room.session_id, "clients": local}
        )

    # accounts ----------------------------------------------------------------------------------
    async def user_deleted(self, user_id: str) -> None:
        """A user was deleted here: end their connections in every process and tell the other
        processes to drop their cached tokens now rather than when the cache expires (a lost
        message still leaves them at most the cache's lifetime)."""
        await self._forget_user(user_id)
        if self.pubsub.remote:
            await self.pubsub.publish({"kind": "user.deleted", "user": user_id})

    async def _forget_user(self, user_id: str) -> None:
        for listener in list(self.user_listeners):
            listener(user_id)
        for room in list(self.rooms.values()):
            for member in [m for m in room.members if m.user_id == user_id]:
                await self.leave(member, close=(4401, "account deleted"))

    async def _remote(self, message: dict[str, Any]) -> None:
        """A message from another server process."""
        if message.get("kind") == "user.deleted" and isinstance(message.get("user"), str):
            await self._forget_user(message["user"])
            return
        session_id = message.get("session")
        room = self.rooms.get(session_id) if isinstance(session_id, str) else None
        if room is None:
            return
        if message.get("kind") == "change":
            version = message.get("version")
            at = message.get("at")
            if isinstance(version, int) and isinstance(at, int | float):
                # Another host's wall clock: skew shows up here (and never below zero).
                lag = max(0.0, time.time() - at / 1000)
                room.committed(version, time.monotonic() - lag)
            self.poke(room.session_id, version if isinstance(version, int) else None)
        elif message.get("kind") == "presence" and isinstance(message.get("clients"), list):
            server = str(message.get("server"))
            room.remote_presence[server] = (
                time.monotonic() + self.presence_ttl,
                list(message["clients"]),
            )
            await self._presence_changed(room, publish=False)

    # sweep ---------------------------------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep()
            except Exception:  # the sweep must outlive a bad moment
                log.exception("sync sweep failed")

    async def sweep(self) -> None:
        """Catch up rooms whose session moved without a poke; expire stale presence."""
        rooms = list(self.rooms.values())
        if not rooms:
            return
        versions: dict[str, int] = {}
        for start in range(0, len(rooms), 500):
            ids = [r.session_id for r in rooms[start : start + 500]]
            versions.update(
                await anyio.to_thread.run_sync(self.sessions.versions, ids, limiter=self._reads)
            )
        now = time.monotonic()
        republish = now - self._last_republish >= PRESENCE_REPUBLISH
        if republish:
            self._last_republish = now
        for room in rooms:
            if versions.get(room.session_id, -2) != room.version:
                await self.refresh(room)
            for server, (expires, _) in list(room.remote_presence.items()):
                if expires <= now:
                    del room.remote_presence[server]
            await self._presence_changed(room, publish=republish)

    def stats(self) -> dict[str, int]:
        return {
            "rooms": len(self.rooms),
            "members": sum(len(r.members) for r in self.rooms.values()),
            "patches": self.patches_sent,
        }


def _covered(cookie: int, version: int, entries: Sequence[LogEntry], log_min: int | None) -> bool:
    """Whether the logged entries take a reader at `cookie` exactly to `version`."""
    if cookie == version:
        return True
    return (
        0 <= cookie < version
        and bool(entries)
        and entries[0].version <= cookie + 1
        and entries[-1].version == version
        and (log_min is None or cookie + 1 >= log_min)
    )


def patch_since(
    cookie: int,
    version: int,
    document: dict[str, Any] | None,
    entries: Sequence[LogEntry],
    log_min: int | None,
) -> dict[str, Any]:
    """The patch message taking a reader at `cookie` to `version`: the logged ops, or a reset
    with the whole document when the log does not reach back to the cookie."""
    if not _covered(cookie, version, entries, log_min):
        if document is None:  # cannot happen: the document is read whenever a reset is due
            raise RuntimeError("a reset patch needs the document")
        return {
            "type": "patch",
            "baseCookie": cookie,
            "cookie": version,
            "reset": True,
            "ops": [{"op": "replace", "path": "", "value": document}],
            "lastMutationIDChanges": {},
        }
    ops: list[dict[str, Any]] = []
    changes: dict[str, int] = {}
    for entry in entries:
        if entry.version <= cookie or entry.version > version:
            continue
        for op in entry.ops:
            if "old" in op:  # the replaced value is for history, not for readers
                op = op.copy()
                del op["old"]
            ops.append(op)
        if entry.client_id:
            changes[entry.client_id] = max(changes.get(entry.client_id, 0), entry.mutation_id)
    if ops:
        ops.append({"op": "replace", "path": "/version", "value": version})
    return {
        "type": "patch",
        "baseCookie": cookie,
        "cookie": version,
        "reset": False,
        "ops": ops,
        "lastMutationIDChanges": changes,
    }


def error_message(
    code: str,
    message: str,
    *,
    retryable: bool = False,
    mutation_id: Any = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "error",
        "code": code,
        "message": message,
        "retryable": retryable,
    }
    if mutation_id is not None:
        out["mutationID"] = mutation_id
    for key, value in (detail or {}).items():
        if key not in out and isinstance(value, str | int | float | bool | list | type(None)):
            out[key] = value
    return out


__all__ = ["DomainError", "Member", "Peer", "Room", "SyncHub", "error_message"]
