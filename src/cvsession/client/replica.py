"""One session's sync state machine, independent of any transport (docs/protocol.md).

A `Replica` holds the confirmed document at its cookie and the ordered outbox of local mutations
(both durable in the `ClientStore`), and derives the displayed state: the confirmed document with
the outbox re-applied on top, using the same named-mutation handlers as the server. It turns
local edits into `push` frames and server messages into `Event`s; the connection layer only moves
frames and acts on `Resync` and `Resend`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonpatch
import jsonpointer

from cvsession.client.hlc import HybridClock, parse_hlc
from cvsession.client.store import ClientStore, OutboxEntry, dumps
from cvsession.core import handlers
from cvsession.core.handlers import SERVER_ONLY_PREFIX
from cvsession.core.mutations import Mutation

PROTOCOL_VERSION = 1
SCHEMA_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_PUSH_MUTATIONS = 500
# How long an acknowledged mutation stays in the displayed state waiting for the patch that
# carries its effect (see `Replica.settling`).
SETTLE_SECONDS = 2.0
_PUSH_HEAD = '{"type":"push","mutations":['
_PUSH_TAIL = "]}"
_PUSH_OVERHEAD = len(_PUSH_HEAD) + len(_PUSH_TAIL)


# events --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Welcome:
    session_id: str
    server_time: Any


@dataclass(frozen=True, slots=True)
class Patched:
    """The confirmed document moved from `base_cookie` to `cookie`."""

    base_cookie: int | None
    cookie: int
    ops: list[dict[str, Any]]
    reset: bool
    dropped: tuple[OutboxEntry, ...]


@dataclass(frozen=True, slots=True)
class Acked:
    """The server processed every mutation of this client up to `last_mutation_id`."""

    last_mutation_id: int
    dropped: tuple[OutboxEntry, ...]


@dataclass(frozen=True, slots=True)
class ConflictEvent:
    """A stale edit the server kept aside: both values, for the user to choose from."""

    id: str
    mutation_id: int | None
    client_id: str | None
    path: str
    yours: Any
    theirs: Any
    version: int | None
    entry: OutboxEntry | None  # our mutation that caused it, when it was ours


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """An `error` from the server (or a protocol violation noticed by the client)."""

    code: str
    message: str
    retryable: bool
    mutation_id: int | None = None
    entry: OutboxEntry | None = None  # the refused mutation, when it was ours
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    clients: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Resync:
    """The connection must be replaced: reconnect and say hello with the stored cookie."""

    reason: str


@dataclass(frozen=True, slots=True)
class Resend:
    """Push the outbox again from `sent_upto`, after a backoff delay if `backoff`."""

    backoff: bool


Event = Welcome | Patched | Acked | ConflictEvent | ErrorEvent | PresenceEvent | Resync | Resend


def _now_of(hlc: str) -> datetime:
    try:
        return datetime.fromtimestamp(parse_hlc(hlc).ms / 1000, UTC)
    except ValueError:
        return datetime.now(UTC)


class Replica:
    """The confirmed document, the outbox and the displayed state of one session.

    Not thread-safe: the owner (one event loop) calls it. Every change of the confirmed document
    or the outbox is written to the store before the call returns.
    """

    def __init__(
        self,
        store: ClientStore,
        session_id: str,
        clock: HybridClock,
        *,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_push_mutations: int = MAX_PUSH_MUTATIONS,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.client_id = store.client_id
        self.clock = clock
        self.max_frame_bytes = max_frame_bytes
        self.max_push_mutations = max_push_mutations
        loaded = store.load(session_id)
        self.cookie: int | None = None if loaded is None else loaded[0]
        self.confirmed: Any = None if loaded is None else loaded[1]
        self.outbox: list[OutboxEntry] = store.outbox(session_id)
        # Acknowledged mutations whose effect no patch has shown yet, with a deadline. The ack
        # may overtake the patch carrying the effect; dropping the entry at the ack would roll
        # its effect back until that patch arrives. They are kept in the displayed state (not on
        # disk: the server has them) until a patch names them in lastMutationIDChanges, the
        # server refused them, the next hello's catch-up, or the deadline (a no-op mutation
        # produces no patch at all).
        self.settling: list[tuple[OutboxEntry, float]] = []
        self.settle_seconds = settle_seconds
        self.refused: set[int] = set()  # ids the server refused with an `error`
        self.presence: list[dict[str, Any]] = []
        # Mutations whose optimistic application failed locally, with the reason.
        self._local_errors: dict[int, str] = {}
        self._now = 0.0
        self.sent_upto = 0  # highest id pushed on the current connection
        self.handshake_done = False  # the ack answering this connection's hello arrived
        self._state: Any = None
        self._state_version = 0
        self._stale = False  # the displayed state must be rebuilt before it is read
        self._rebuild()

    @property
    def state(self) -> Any:
        """The displayed document: the confirmed one with the outbox re-applied (None before
        the first patch). Rebuilt when read after patches and acks, not at each of them: a
        replay of thousands of queued edits would otherwise re-apply the whole outbox per
        frame."""
        if self._stale:
            self._rebuild_now()
        return self._state

    @property
    def local_errors(self) -> dict[int, str]:
        """Outbox ids whose optimistic application failed locally, with the reason."""
        if self._stale:
            self._rebuild_now()
        return self._local_errors

    # local edits -------------------------------------------------------------------------------
    def mutate(self, name: str, args: Any) -> OutboxEntry:
        """Queue a mutation durably and apply it to the displayed state; return its entry.

        Raises ValueError for a name no handler knows, a server-only name, arguments that are not
        strict JSON, or a mutation too large for one push frame (it could never be sent).
        """
        if name.startswith(SERVER_ONLY_PREFIX) or name not in handlers.handler_names():
            raise ValueError(f"unknown mutation {name!r}")
        probe = {"id": 2**62, "name": name, "args": args, "baseVersion": self.cookie, "hlc": ""}
        size = len(dumps(probe).encode()) + _PUSH_OVERHEAD + 64  # 64: room for the real hlc
        if size > self.max_frame_bytes:
            raise ValueError(f"mutation {name!r} is {size} bytes, above one push frame")
        entry = self.store.append(self.session_id, name, args, self.cookie, self.clock.now())
        shown = self.state  # brought up to date before the entry joins the outbox
        self.outbox.append(entry)
        if shown is not None:
            self._state, self._state_version = self._apply(shown, self._state_version, entry)
        return entry

    # connection lifecycle ----------------------------------------------------------------------
    def hello(self, device: str | None = None, now_ms: int | None = None) -> dict[str, Any]:
        """The first frame of a connection; everything pending will be pushed again after it.

        `now_ms`: the wall clock the HLC stamps come from (the server corrects offline ages)."""
        self.sent_upto = 0
        self.handshake_done = False
        message: dict[str, Any] = {
            "type": "hello",
            "clientID": self.client_id,
            "clientGroupID": self.store.client_group_id,
            "cookie": self.cookie,
            "lastMutationID": self.store.last_acked,
            "schemaVersion": SCHEMA_VERSION,
        }
        if device:
            message["device"] = device[:64]
        if now_ms is not None:
            message["now"] = now_ms
        return message

    def push_frames(self) -> list[str]:
        """Encode the outbox entries not yet pushed on this connection as `push` frames.

        Each frame holds at most `max_push_mutations` and `max_frame_bytes`. Pushing stops below
        the oldest entry queued for another session: the server refuses gaps in a client's ids.
        """
        gate = self.store.first_pending_elsewhere(self.session_id)
        frames: list[str] = []
        batch: list[str] = []
        size = _PUSH_OVERHEAD
        for entry in self.outbox:
            if entry.id <= self.sent_upto:
                continue
            if gate is not None and entry.id > gate:
                break
            encoded = dumps(entry.to_wire())
            extra = len(encoded.encode()) + (1 if batch else 0)
            if batch and (
                size + extra > self.max_frame_bytes or len(batch) >= self.max_push_mutations
            ):
                frames.append(_PUSH_HEAD + ",".join(batch) + _PUSH_TAIL)
                batch, size = [], _PUSH_OVERHEAD
                extra = len(encoded.encode())
            batch.append(encoded)
            size += extra
            self.sent_upto = entry.id
        if batch:
            frames.append(_PUSH_HEAD + ",".join(batch) + _PUSH_TAIL)
        return frames

    def disconnected(self) -> None:
        self.sent_upto = 0
        self.handshake_done = False

    @property
    def synced(self) -> bool:
        """Caught up: the hello was answered, nothing is pending, every ack's patch arrived."""
        return (
            self.handshake_done
            and not self.outbox
            and not self.settling
            and self.cookie is not None
        )

    def settle(self, now: float | None = None) -> bool:
        """Forget settling entries past their deadline; return whether the state changed."""
        now = time.monotonic() if now is None else now
        kept = [(e, deadline) for e, deadline in self.settling if deadline > now]
        if len(kept) == len(self.settling):
            return False
        self.settling = kept
        self._rebuild()
        return True

    # server messages ---------------------------------------------------------------------------
    def receive(self, message: dict[str, Any], now: float | None = None) -> list[Event]:
        """Apply one server message; return what the owner must report or do."""
        kind = message.get("type")
        handler = self._receivers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return []  # a newer server's message type: ignore it
        self._now = time.monotonic() if now is None else now
        try:
            return handler(self, message)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            error = ErrorEvent("bad_server_message", f"{kind}: {exc!r}", True, raw=message)
            return [error, Resync(f"malformed {kind} message")]

    def _on_welcome(self, message: dict[str, Any]) -> list[Event]:
        server_time = message.get("serverTime")
        if isinstance(server_time, int | float) and not isinstance(server_time, bool):
            self.clock.observe(int(server_time))
        elif isinstance(server_time, str):
            try:
                moment = datetime.fromisoformat(server_time.replace("Z", "+00:00"))
                self.clock.observe(int(moment.timestamp() * 1000))
            except ValueError:
                pass
        return [Welcome(str(message.get("sessionID", self.session_id)), server_time)]

    def _on_patch(self, message: dict[str, Any]) -> list[Event]:
        base = message.get("baseCookie")
        cookie = _int(message["cookie"])
        ops = message["ops"]
        if not isinstance(ops, list):
            raise TypeError("ops must be a list")
        reset = message.get("reset") is True
        if reset:
            document = _reset_document(ops)
        elif self.cookie is None or base != self.cookie:
            return [Resync(f"patch from {base} but our cookie is {self.cookie}")]
        else:
            try:
                document = jsonpatch.apply_patch(self.confirmed, ops, in_place=False)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                # Our copy disagrees with the server's: forget it and ask for the whole document.
                self.store.save(self.session_id, None, None, 0)
                self.cookie, self.confirmed = None, None
                return [Resync(f"patch does not apply: {exc}")]
        if isinstance(document, dict) and "version" in document:
            document["version"] = cookie  # the cookie travels beside the ops, not as one of them
        changes = message.get("lastMutationIDChanges") or {}
        upto = _int(changes.get(self.client_id, 0))
        self.store.save(self.session_id, cookie, document, upto)
        self.cookie, self.confirmed = cookie, document
        dropped = self._drop(upto)
        self.settling = [(e, d) for e, d in self.settling if e.id > upto]
        self._rebuild()
        return [Patched(_opt_int(base), cookie, ops, reset, dropped)]

    def _on_ack(self, message: dict[str, Any]) -> list[Event]:
        last = _int(message["lastMutationID"])
        self.store.drop(self.session_id, last)
        dropped = self._drop(last)
        self.sent_upto = max(self.sent_upto, last)
        if not self.handshake_done:
            # The hello's ack follows its catch-up patch, which holds every applied effect.
            self.handshake_done = True
            self.settling = []
        else:
            deadline = self._now + self.settle_seconds
            self.settling.extend((e, deadline) for e in dropped if e.id not in self.refused)
        self.refused -= {e.id for e in dropped}
        self._rebuild()
        return [Acked(last, dropped)]

    def _on_conflict(self, message: dict[str, Any]) -> list[Event]:
        mutation_id = _opt_int(message.get("mutationID"))
        client_id = message.get("clientID")
        entry = self._entry(mutation_id) if client_id == self.client_id else None
        event = ConflictEvent(
            id=str(message.get("id", "")),
            mutation_id=mutation_id,
            client_id=client_id if isinstance(client_id, str) else None,
            path=str(message["path"]),
            yours=message.get("yours"),
            theirs=message.get("theirs"),
            version=_opt_int(message.get("version")),
            entry=entry,
        )
        return [event]

    def _on_error(self, message: dict[str, Any]) -> list[Event]:
        code = str(message.get("code", "unknown"))
        retryable = message.get("retryable") is True
        mutation_id = _opt_int(message.get("mutationID"))
        entry = self._entry(mutation_id)
        event = ErrorEvent(
            code, str(message.get("message", "")), retryable, mutation_id, entry, message
        )
        events: list[Event] = [event]
        if entry is not None and not retryable:
            self.refused.add(entry.id)  # rolled back when the ack drops it
        if code == "mutation_gap":
            expected = _gap_expected(message)
            self.sent_upto = 0 if expected is None else min(self.sent_upto, expected - 1)
            events.append(Resend(backoff=False))
        elif code == "hello_required":
            events.append(Resync("the server did not see our hello"))
        elif retryable and mutation_id is None:
            # rate_limited, internal: the frame was dropped, so send everything again, later.
            self.sent_upto = 0
            events.append(Resend(backoff=True))
        return events

    def _on_presence(self, message: dict[str, Any]) -> list[Event]:
        clients = message["clients"]
        if not isinstance(clients, list):
            raise TypeError("clients must be a list")
        self.presence = clients
        return [PresenceEvent(clients)]

    def _on_pong(self, message: dict[str, Any]) -> list[Event]:
        return []

    _receivers: dict[str, Callable[[Replica, dict[str, Any]], list[Event]]] = {
        "welcome": _on_welcome,
        "patch": _on_patch,
        "ack": _on_ack,
        "conflict": _on_conflict,
        "error": _on_error,
        "presence": _on_presence,
        "pong": _on_pong,
    }

    # displayed state ---------------------------------------------------------------------------
    def _entry(self, mutation_id: int | None) -> OutboxEntry | None:
        return next((e for e in self.outbox if e.id == mutation_id), None)

    def _drop(self, upto: int) -> tuple[OutboxEntry, ...]:
        if not self.outbox or self.outbox[0].id > upto:
            return ()
        dropped = tuple(e for e in self.outbox if e.id <= upto)
        self.outbox = [e for e in self.outbox if e.id > upto]
        for entry in dropped:
            self._local_errors.pop(entry.id, None)
        return dropped

    def _rebuild(self) -> None:
        """The confirmed document or the outbox changed: rebuild the state when next read."""
        self._stale = True

    def _rebuild_now(self) -> None:
        """Displayed state = confirmed document + the outbox re-applied in order (the rebase)."""
        self._stale = False
        if self.confirmed is None or self.cookie is None:
            self._state, self._state_version = None, 0
            return
        state, version = self.confirmed, self.cookie
        for entry, _ in self.settling:
            state, version = self._apply(state, version, entry)
        for entry in self.outbox:
            state, version = self._apply(state, version, entry)
        self._state, self._state_version = state, version

    def _apply(self, state: Any, version: int, entry: OutboxEntry) -> tuple[Any, int]:
        """Apply one entry optimistically; a failing one is left out of the displayed state."""
        # Empty field versions and no baseVersion: the server decides conflicts, not us.
        mut = Mutation(self.client_id, entry.id, entry.name, entry.args, None, entry.hlc)
        try:
            result = handlers.apply_mutation(state, {}, version, mut, _now_of(entry.hlc))
        except Exception as exc:  # the server is the authority; locally we only skip it
            self._local_errors[entry.id] = f"{type(exc).__name__}: {exc}"
            return state, version
        self._local_errors.pop(entry.id, None)
        return result.document, result.version


def _reset_document(ops: list[Any]) -> Any:
    if len(ops) != 1 or ops[0].get("op") != "replace" or ops[0].get("path") != "":
        raise ValueError("a reset patch is one replace of the whole document")
    return copy.deepcopy(ops[0]["value"])


def _gap_expected(message: dict[str, Any]) -> int | None:
    for holder in (message, message.get("detail"), message.get("details")):
        if isinstance(holder, dict) and isinstance(holder.get("expected"), int):
            return int(holder["expected"])
    return None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)
