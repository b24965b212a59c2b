"""The Python client SDK: sessions kept durable locally and synced over the WebSocket protocol.

    async with Client("http://127.0.0.1:8000", token=TOKEN, path="client.db") as client:
        session = client.session(session_id)
        await session.mutate("session.setTitle", {"title": "My CV"})
        await session.wait_synced()

`SyncClient` runs the same client on a background thread for scripts. The wire protocol is
docs/protocol.md; this package imports only `cvsession.core` (it is an edge; nothing imports it).
"""

from cvsession.client.backoff import Backoff
from cvsession.client.client import Client
from cvsession.client.hlc import HybridClock, parse_hlc
from cvsession.client.replica import (
    Acked,
    ConflictEvent,
    ErrorEvent,
    Patched,
    PresenceEvent,
    Replica,
)
from cvsession.client.session import SessionHandle
from cvsession.client.store import ClientStore, OutboxEntry, StoreInUse
from cvsession.client.sync import SyncClient, SyncSession

__all__ = [
    "Acked",
    "Backoff",
    "Client",
    "ClientStore",
    "ConflictEvent",
    "ErrorEvent",
    "HybridClock",
    "OutboxEntry",
    "Patched",
    "PresenceEvent",
    "Replica",
    "SessionHandle",
    "StoreInUse",
    "SyncClient",
    "SyncSession",
    "parse_hlc",
]
