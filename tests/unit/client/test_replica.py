"""The transport-independent sync state machine, driven by scripted server messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cvsession.client.replica import (
    Acked,
    ConflictEvent,
    ErrorEvent,
    Patched,
    PresenceEvent,
    Replica,
    Resend,
    Resync,
)
from cvsession.client.store import ClientStore
from tests.unit.client.conftest import SID, ScriptedServer, make_replica

TITLE = "session.setTitle"


def synced_replica(store: ClientStore, server: ScriptedServer) -> Replica:
    """A replica that said hello and received the catch-up patch and ack."""
    replica = make_replica(store)
    replica.hello()
    replica.receive(server.patch_from(None, None))
    replica.receive({"type": "ack", "lastMutationID": server.last.get(store.client_id, 0)})
    return replica


def deliver(replica: Replica, server: ScriptedServer, *, ack_first: bool = False) -> list[Any]:
    """The server applies every pushed mutation, then sends its patch and ack."""
    old, cookie = server.doc, server.version
    events: list[Any] = []
    errors = []
    for frame in replica.push_frames():
        for m in json.loads(frame)["mutations"]:
            error = server.apply(replica.client_id, m["id"], m["name"], m["args"])
            if error:
                errors.append(error)
    for error in errors:
        events += replica.receive(error)
    ack = {"type": "ack", "lastMutationID": server.last.get(replica.client_id, 0)}
    patch = server.patch_from(cookie, old)
    for message in (ack, patch) if ack_first else (patch, ack):
        events += replica.receive(message)
    return events


def test_fresh_replica_says_hello_without_cookie(store: ClientStore) -> None:
    """A client that never synced asks for the whole document."""
    replica = make_replica(store)
    hello = replica.hello("laptop")
    assert {
        "type": "hello",
        "clientID": store.client_id,
        "clientGroupID": store.client_group_id,
        "cookie": None,
        "lastMutationID": 0,
        "schemaVersion": 1,
        "device": "laptop",
    } == hello
    assert None is replica.state
    assert 1_700_000_000_123 == replica.hello(None, 1_700_000_000_123)["now"]


def test_reset_patch_sets_the_confirmed_document(
    store: ClientStore, server: ScriptedServer
) -> None:
    """A reset replaces the document, sets the cookie, and is persisted."""
    replica = synced_replica(store, server)
    assert server.doc == replica.confirmed == replica.state
    assert 0 == replica.cookie
    assert (0, server.doc) == store.load(SID)
    assert replica.synced


def test_local_edit_is_optimistic_and_queued(store: ClientStore, server: ScriptedServer) -> None:
    """mutate() shows the edit at once, queues it durably, stamped with the cookie and an HLC."""
    replica = synced_replica(store, server)
    entry = replica.mutate(TITLE, {"title": "Mine"})
    assert (1, 0) == (entry.id, entry.base_version)
    assert "Mine" == replica.state["title"]
    assert "" == replica.confirmed["title"]
    assert [entry] == store.outbox(SID)
    assert not replica.synced


def test_acknowledged_edit_leaves_the_outbox(store: ClientStore, server: ScriptedServer) -> None:
    """The patch naming our id drops the entry; the state is then the server's."""
    replica = synced_replica(store, server)
    replica.mutate(TITLE, {"title": "Mine"})
    events = deliver(replica, server)
    assert [Patched, Acked] == [type(e) for e in events]
    assert [] == replica.outbox == store.outbox()
    assert server.doc == replica.state == replica.confirmed
    assert 1 == store.last_acked
    assert replica.synced


def test_remote_patch_rebases_pending_edits(store: ClientStore, server: ScriptedServer) -> None:
    """Another client's change arrives under our pending edit: both show, ours on top."""
    replica = synced_replica(store, server)
    replica.mutate(TITLE, {"title": "Mine"})
    old = server.doc
    server.apply("other", 1, "target.set", {"role": "Engineer"})
    replica.receive(server.patch_from(0, old))
    assert "Engineer" == replica.state["target"]["role"]
    assert "Mine" == replica.state["title"]
    assert "" == replica.confirmed["title"]
    assert 1 == replica.cookie == replica.confirmed["version"]
    assert 1 == len(replica.outbox)


def test_ack_before_patch_keeps_the_effect_until_the_patch(
    store: ClientStore, server: ScriptedServer
) -> None:
    """An ack that overtakes its patch does not flicker the edit away."""
    replica = synced_replica(store, server)
    replica.mutate(TITLE, {"title": "Mine"})
    old = server.doc
    replica.push_frames()
    server.apply(store.client_id, 1, TITLE, {"title": "Mine"})
    replica.receive({"type": "ack", "lastMutationID": 1})
    assert [] == replica.outbox
    assert "Mine" == replica.state["title"]
    assert not replica.synced
    replica.receive(server.patch_from(0, old))
    assert [] == replica.settling
    assert replica.synced
    assert server.doc == replica.state


def test_unconfirmed_ack_settles_after_the_deadline(
    store: ClientStore, server: ScriptedServer
) -> None:
    """A no-op mutation gets no patch: its settling entry goes at the deadline."""
    replica = synced_replica(store, server)
    replica.mutate(TITLE, {"title": ""})
    replica.receive({"type": "ack", "lastMutationID": 1}, now=100.0)
    assert 1 == len(replica.settling)
    assert not replica.settle(now=100.0 + replica.settle_seconds / 2)
    assert replica.settle(now=100.0 + replica.settle_seconds)
    assert replica.synced


def test_refused_edit_rolls_back(store: ClientStore, server: ScriptedServer) -> None:
    """A domain error names the mutation; the ack drops it and its effect disappears."""
    replica = synced_replica(store, server)
    replica.mutate("form.setField", {"form": "f", "field": "a", "value": 1})
    old = server.doc
    assert None is server.apply("other", 1, "server.expire", {})
    replica.receive(server.patch_from(0, old))  # expired: no more edits allowed
    replica.mutate(TITLE, {"title": "Late"})
    assert 1 == len(replica.local_errors)  # form.setField now fails locally: left out
    assert "f" not in replica.state["forms"]
    assert 2 == len(replica.outbox)  # but it stays queued until the server answers
    events = deliver(replica, server, ack_first=True)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert ["illegal_transition"] == [e.code for e in errors]
    assert [1] == [e.mutation_id for e in errors]
    assert "form.setField" == errors[0].entry.name if errors[0].entry else None
    assert [] == replica.outbox
    assert {} == replica.local_errors
    assert server.doc == replica.state


def test_conflict_reports_both_values(store: ClientStore, server: ScriptedServer) -> None:
    """A conflict message becomes an event with yours, theirs and our entry."""
    replica = synced_replica(store, server)
    entry = replica.mutate(TITLE, {"title": "Mine"})
    message = {
        "type": "conflict",
        "id": "c1",
        "mutationID": entry.id,
        "clientID": store.client_id,
        "path": "/title",
        "yours": "Mine",
        "theirs": "Theirs",
        "version": 3,
    }
    [event] = replica.receive(message)
    assert ConflictEvent("c1", 1, store.client_id, "/title", "Mine", "Theirs", 3, entry) == event


def test_cookie_mismatch_asks_for_a_resync(store: ClientStore, server: ScriptedServer) -> None:
    """A patch from another base than our cookie changes nothing and asks to reconnect."""
    replica = synced_replica(store, server)
    before = replica.state
    events = replica.receive(
        {"type": "patch", "baseCookie": 5, "cookie": 6, "ops": [], "lastMutationIDChanges": {}}
    )
    assert [Resync] == [type(e) for e in events]
    assert before is replica.state
    assert 0 == replica.cookie


def test_patch_that_does_not_apply_forgets_the_document(
    store: ClientStore, server: ScriptedServer
) -> None:
    """A patch our copy cannot take means our copy is wrong: resync from scratch."""
    replica = synced_replica(store, server)
    ops = [{"op": "remove", "path": "/no/such/path"}]
    events = replica.receive(
        {"type": "patch", "baseCookie": 0, "cookie": 1, "ops": ops, "lastMutationIDChanges": {}}
    )
    assert [Resync] == [type(e) for e in events]
    assert None is replica.hello()["cookie"]
    assert None is store.load(SID)


def test_gap_resends_from_the_expected_id(store: ClientStore, server: ScriptedServer) -> None:
    """mutation_gap rewinds to `expected` and asks for an immediate resend."""
    replica = synced_replica(store, server)
    for i in range(3):
        replica.mutate(TITLE, {"title": f"t{i}"})
    replica.push_frames()
    gap = {
        "type": "error",
        "code": "mutation_gap",
        "message": "gap",
        "retryable": True,
        "mutationID": 3,
        "expected": 2,
        "received": 3,
    }
    events = replica.receive(gap)
    assert Resend(backoff=False) == events[-1]
    [frame] = replica.push_frames()
    assert [2, 3] == [m["id"] for m in json.loads(frame)["mutations"]]


@pytest.mark.parametrize("code", ["rate_limited", "internal"])
def test_retryable_refusal_resends_everything_later(store: ClientStore, code: str) -> None:
    """rate_limited / internal: the frame was dropped; push it all again after a backoff."""
    replica = make_replica(store)
    replica.hello()
    replica.receive({"type": "ack", "lastMutationID": 0})
    replica.mutate(TITLE, {"title": "a"})
    replica.push_frames()
    events = replica.receive({"type": "error", "code": code, "message": "", "retryable": True})
    assert Resend(backoff=True) == events[-1]
    assert 1 == len(replica.push_frames())


def test_pushes_are_chunked_by_size_and_count(store: ClientStore) -> None:
    """Frames stay within the byte and count limits and carry every entry once, in order."""
    replica = make_replica(store, max_frame_bytes=4096, max_push_mutations=7)
    for i in range(60):
        replica.mutate("ui.set", {"values": {"k": "x" * (i * 7 % 300)}})
    frames = replica.push_frames()
    ids = [m["id"] for f in frames for m in json.loads(f)["mutations"]]
    assert list(range(1, 61)) == ids
    assert all(len(f.encode()) <= 4096 for f in frames)
    assert all(len(json.loads(f)["mutations"]) <= 7 for f in frames)
    assert [] == replica.push_frames()  # nothing twice on one connection


def test_default_limits_are_the_protocols(store: ClientStore) -> None:
    """At most 500 mutations and 64 KiB per push frame by default."""
    replica = make_replica(store)
    for _ in range(1200):
        replica.mutate("ui.set", {"values": {}})
    frames = replica.push_frames()
    assert [500, 500, 200] == [len(json.loads(f)["mutations"]) for f in frames]
    assert all(len(f.encode()) <= 64 * 1024 for f in frames)


def test_pushes_stop_below_another_sessions_older_entry(store: ClientStore) -> None:
    """Ids are client-wide: a session cannot push past an older entry of another session."""
    a, b = make_replica(store, "a"), make_replica(store, "b")
    b.mutate(TITLE, {"title": "b1"})
    a.mutate(TITLE, {"title": "a2"})
    b.mutate(TITLE, {"title": "b3"})
    assert [[1]] == [[m["id"] for m in json.loads(f)["mutations"]] for f in b.push_frames()]
    store.drop("a", 2)
    a._drop(2)
    assert [[3]] == [[m["id"] for m in json.loads(f)["mutations"]] for f in b.push_frames()]


@pytest.mark.parametrize(
    ("name", "args"),
    [("no.such", {}), ("server.expire", {}), ("ui.set", {"values": {"k": "x" * 70_000}})],
)
def test_unsendable_mutations_are_refused_at_once(
    store: ClientStore, name: str, args: dict[str, Any]
) -> None:
    """Unknown, server-only and oversized mutations never enter the outbox."""
    replica = make_replica(store)
    with pytest.raises(ValueError):
        replica.mutate(name, args)
    assert [] == store.outbox()


def test_restart_resumes_outbox_and_displayed_state(
    store: ClientStore, server: ScriptedServer
) -> None:
    """A replica rebuilt from a reopened store shows confirmed + outbox and resends it all."""
    replica = synced_replica(store, server)
    replica.mutate(TITLE, {"title": "Queued"})
    replica.mutate("target.set", {"role": "Chef"})
    path = store.path
    store.close()
    reopened = ClientStore(path)
    try:
        again = make_replica(reopened)
        assert (0, 2) == (again.cookie, len(again.outbox))
        assert ("Queued", "Chef") == (again.state["title"], again.state["target"]["role"])
        hello = again.hello()
        assert (0, 0) == (hello["cookie"], hello["lastMutationID"])
        again.receive({"type": "ack", "lastMutationID": 0})
        assert [1, 2] == [m["id"] for m in json.loads(again.push_frames()[0])["mutations"]]
        assert 3 == again.mutate(TITLE, {"title": "After"}).id
    finally:
        reopened.close()


def test_presence_and_unknown_messages(store: ClientStore) -> None:
    """Presence is kept and reported; an unknown type is ignored; a malformed one resyncs."""
    replica = make_replica(store)
    clients = [{"clientID": "x", "step": "upload"}]
    assert [PresenceEvent(clients)] == replica.receive({"type": "presence", "clients": clients})
    assert clients == replica.presence
    assert [] == replica.receive({"type": "future-thing"})
    events = replica.receive({"type": "ack"})
    assert [ErrorEvent, Resync] == [type(e) for e in events]
