"""Random interleavings of local edits, remote edits, deliveries and reconnects."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvsession.client.hlc import parse_hlc
from cvsession.client.replica import Replica
from cvsession.client.store import ClientStore
from cvsession.core import handlers
from cvsession.core.errors import DomainError
from cvsession.core.mutations import Mutation
from tests.unit.client.conftest import SID, ScriptedServer, make_replica

EDITS = [
    ("session.setTitle", {"title": "A"}),
    ("session.setTitle", {"title": "B"}),
    ("target.set", {"role": "Chef"}),
    ("form.setField", {"form": "f", "field": "x", "value": 1}),
    ("step.recordTime", {"step": "upload", "ms": 10}),
    ("ui.set", {"values": {"panel": "open"}}),
    ("step.complete", {"step": "preview"}),  # refused: prerequisites missing
]

operation = st.one_of(
    st.tuples(st.just("local"), st.integers(0, len(EDITS) - 1)),
    st.tuples(st.just("remote"), st.integers(0, len(EDITS) - 1)),
    st.tuples(st.just("deliver"), st.booleans()),
    st.tuples(st.just("reconnect"), st.just(0)),
    st.tuples(st.just("settle"), st.just(0)),
)


def folded(replica: Replica) -> Any:
    """confirmed + settling + outbox, applied in order, failures skipped."""
    if replica.confirmed is None or replica.cookie is None:
        return None
    state, version = replica.confirmed, replica.cookie
    for entry in [e for e, _ in replica.settling] + replica.outbox:
        now = datetime.fromtimestamp(parse_hlc(entry.hlc).ms / 1000, UTC)
        mut = Mutation(replica.client_id, entry.id, entry.name, entry.args, None, entry.hlc)
        try:
            result = handlers.apply_mutation(state, {}, version, mut, now)
        except DomainError:
            continue
        state, version = result.document, result.version
    return state


class Link:
    """What the server has sent on the current connection, to build the next patch from."""

    def __init__(self, replica: Replica, server: ScriptedServer) -> None:
        self.replica, self.server = replica, server
        self.reconnect()

    def reconnect(self) -> None:
        hello = self.replica.hello()
        self.cookie = hello["cookie"]
        self.doc = self.replica.confirmed if self.cookie is not None else None
        self.send_patch()
        self.replica.receive({"type": "ack", "lastMutationID": self.last})

    @property
    def last(self) -> int:
        return self.server.last.get(self.replica.client_id, 0)

    def send_patch(self) -> None:
        message = self.server.patch_from(self.cookie, self.doc)
        self.cookie, self.doc = self.server.version, self.server.doc
        self.replica.receive(message)

    def deliver(self, ack_first: bool) -> None:
        errors = []
        for frame in self.replica.push_frames():
            for m in json.loads(frame)["mutations"]:
                error = self.server.apply(self.replica.client_id, m["id"], m["name"], m["args"])
                if error:
                    errors.append(error)
        for error in errors:
            self.replica.receive(error)
        if ack_first:
            self.replica.receive({"type": "ack", "lastMutationID": self.last})
            self.send_patch()
        else:
            self.send_patch()
            self.replica.receive({"type": "ack", "lastMutationID": self.last})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=25))
def test_displayed_is_confirmed_plus_outbox_and_converges(ops: list[tuple[str, int]]) -> None:
    """After every step the displayed state is confirmed + pending re-applied, the store agrees,
    and once everything is delivered the client holds exactly the server's document."""
    with tempfile.TemporaryDirectory() as tmp:
        store = ClientStore(Path(tmp) / "c.db")
        try:
            server = ScriptedServer()
            replica = make_replica(store)
            link = Link(replica, server)
            remote_id = 0
            for kind, arg in ops:
                if kind == "local":
                    replica.mutate(*EDITS[arg])
                elif kind == "remote":
                    remote_id += 1
                    server.apply("other", remote_id, *EDITS[arg])
                    link.send_patch()
                elif kind == "deliver":
                    link.deliver(ack_first=bool(arg))
                elif kind == "reconnect":
                    replica.disconnected()
                    link.reconnect()
                else:
                    replica.settle(now=float("inf"))
                assert folded(replica) == replica.state
                assert replica.outbox == store.outbox(SID)
                assert (replica.cookie, replica.confirmed) == store.load(SID)
            link.deliver(ack_first=False)
            replica.settle(now=float("inf"))
            assert [] == replica.outbox
            assert server.doc == replica.confirmed == replica.state
            assert replica.synced
        finally:
            store.close()
