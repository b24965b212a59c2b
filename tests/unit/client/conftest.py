"""Fixtures for the client's state machine: a store, a replica, and a scripted server model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from cvsession.client.hlc import HybridClock
from cvsession.client.replica import Replica
from cvsession.client.store import ClientStore
from cvsession.core import handlers
from cvsession.core.document import new_session_document
from cvsession.core.errors import DomainError
from cvsession.core.mutations import Mutation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SID = "s1"


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the client's loop)."""
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "client.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ClientStore]:
    """A fresh client store, closed afterwards."""
    opened = ClientStore(db_path)
    yield opened
    opened.close()


def make_replica(store: ClientStore, session_id: str = SID, **kw: Any) -> Replica:
    return Replica(store, session_id, HybridClock(store.client_id, store.hlc), **kw)


class ScriptedServer:
    """The server's side of one session, in memory: the same handlers, patches as RFC 6902 ops."""

    def __init__(self, session_id: str = SID) -> None:
        self.doc: dict[str, Any] = new_session_document(session_id, "u1", NOW)
        self.version = 0
        self.last: dict[str, int] = {}

    def apply(self, client_id: str, mid: int, name: str, args: Any) -> dict[str, Any] | None:
        """Apply one mutation; return the error message it earned, if refused."""
        if mid <= self.last.get(client_id, 0):
            return None  # a replay: acknowledged without effect
        self.last[client_id] = mid
        try:
            result = handlers.apply_mutation(
                self.doc, {}, self.version, Mutation(client_id, mid, name, args), NOW
            )
        except DomainError as exc:
            return {
                "type": "error",
                "code": exc.code,
                "message": exc.message,
                "retryable": False,
                "mutationID": mid,
            }
        self.doc, self.version = result.document, result.version
        return None

    def patch_from(self, cookie: int | None, old: dict[str, Any] | None) -> dict[str, Any]:
        """The patch message from (cookie, old) to the current document."""
        if cookie is None or old is None:
            return {
                "type": "patch",
                "baseCookie": -1 if cookie is None else cookie,
                "cookie": self.version,
                "reset": True,
                "ops": [{"op": "replace", "path": "", "value": self.doc}],
                "lastMutationIDChanges": dict(self.last),
            }
        return {
            "type": "patch",
            "baseCookie": cookie,
            "cookie": self.version,
            "reset": False,
            "ops": jsonpatch.make_patch(old, self.doc).patch,
            "lastMutationIDChanges": dict(self.last),
        }


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer()
