"""The sync WebSocket's read-ahead (api/ws.py Inbox): frames are read while a push commits, and
consecutive pushes that continue each other are applied as one, answers in frame order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cvsession.api import ws
from tests.integration.conftest import User
from tests.integration.test_ws import connect, mutation


def push(*ids: int) -> ws.Push:
    return ws.Push(type="push", mutations=[ws.MutationIn(id=i, name="form.setField") for i in ids])


def ids(mutations: list[ws.MutationIn]) -> list[int]:
    return [m.id for m in mutations]


def test_merge_joins_only_pushes_that_continue_the_ids() -> None:
    async def scenario() -> list[Any]:
        inbox = ws.Inbox(64)
        for item in (push(2), push(3, 4), push(6), push(7), {"type": "error"}, push(8)):
            await inbox.put(item)
        first = inbox.merge(push(1))  # 2 and 3-4 continue it; 6 leaves a gap
        second = inbox.merge(await inbox.get())  # 6 then 7; an error frame stops the run
        rest = [await inbox.get(), await inbox.get()]
        return [ids(first), ids(second), rest[0], ids(rest[1].mutations), len(inbox.items)]

    first, second, error, last, left = asyncio.run(scenario())
    assert [1, 2, 3, 4] == first
    assert [6, 7] == second
    assert {"type": "error"} == error
    assert [8] == last
    assert 0 == left


def test_merge_stops_at_the_inline_size_and_leaves_resends_alone() -> None:
    async def scenario() -> list[list[int]]:
        inbox = ws.Inbox(64)
        for n in range(2, 13):
            await inbox.put(push(n))
        await inbox.put(push(3))  # a resend of an id already taken: handled on its own
        merged = []
        while inbox.items:
            merged.append(ids(inbox.merge(await inbox.get())))
        return merged

    merged = asyncio.run(scenario())
    assert ws.MERGE_MUTATIONS == len(merged[0])
    assert list(range(2, 2 + ws.MERGE_MUTATIONS)) == merged[0]
    assert list(range(2 + ws.MERGE_MUTATIONS, 13)) == merged[1]
    assert [3] == merged[2]


def test_a_push_larger_than_the_merge_size_is_applied_alone() -> None:
    async def scenario() -> list[int]:
        inbox = ws.Inbox(64)
        await inbox.put(push(11))
        return ids(inbox.merge(push(*range(1, 11))))

    assert list(range(1, 11)) == asyncio.run(scenario())


def test_reading_waits_when_the_inbox_is_full_and_close_drains() -> None:
    async def scenario() -> tuple[bool, bool, list[Any]]:
        inbox = ws.Inbox(2)
        await inbox.put("a")
        await inbox.put("b")
        third = asyncio.create_task(inbox.put("c"))
        await asyncio.sleep(0.05)
        blocked = not third.done()
        assert "a" == await inbox.get()
        await asyncio.wait_for(third, 1)
        inbox.close()
        got = [await inbox.get(), await inbox.get(), await inbox.get()]
        return blocked, third.done(), got

    blocked, done, got = asyncio.run(scenario())
    assert blocked and done
    assert ["b", "c", None] == got


def test_reading_waits_when_the_inbox_holds_a_frames_worth_of_text() -> None:
    """Read-ahead is capped by text too (a parsed frame can be many times its text): past
    `max_bytes` reading waits, but an empty inbox always takes the next frame, however large."""

    async def scenario() -> tuple[bool, int, bool, bool]:
        inbox = ws.Inbox(16, max_bytes=100)
        await asyncio.wait_for(inbox.put("small", 60), 1)
        second = asyncio.create_task(inbox.put("next", 60))
        await asyncio.sleep(0.05)
        blocked = not second.done()
        assert "small" == await inbox.get()
        await asyncio.wait_for(second, 1)
        held_bytes = inbox.bytes
        assert "next" == await inbox.get()
        await asyncio.wait_for(inbox.put("huge", 500), 1)  # empty: taken at once
        after = asyncio.create_task(inbox.put("tiny", 1))
        await asyncio.sleep(0.05)
        return blocked, held_bytes, inbox.bytes == 500, not after.done()

    blocked, held_bytes, huge_in, tiny_waits = asyncio.run(scenario())
    assert blocked and 60 == held_bytes
    assert huge_in and tiny_waits
    assert ws.MAX_MESSAGE_BYTES == ws.INBOX_BYTES


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Hold the connection's first push until `want` more frames are waiting in its inbox,
    and record the mutation ids of every push the hub is asked to apply."""
    state: dict[str, Any] = {"calls": [], "want": 0, "inboxes": []}
    real_push = ws._push

    class Recorded(ws.Inbox):
        def __init__(self, limit: int, max_bytes: int) -> None:
            super().__init__(limit, max_bytes)
            state["inboxes"].append(self)

    async def slow_push(hub: Any, member: Any, pushed: list[ws.MutationIn]) -> None:
        state["calls"].append(ids(pushed))
        if len(state["calls"]) == 1:
            deadline = time.monotonic() + 10
            while max(len(i.items) for i in state["inboxes"]) < state["want"]:
                assert time.monotonic() < deadline, "the frames never reached the inbox"
                await asyncio.sleep(0.01)
        await real_push(hub, member, pushed)

    monkeypatch.setattr(ws, "Inbox", Recorded)
    monkeypatch.setattr(ws, "_push", slow_push)
    return state


def test_a_burst_of_pushes_is_applied_once_in_order_in_fewer_units(
    alice: User, held: dict[str, Any]
) -> None:
    """One-mutation pushes sent while the first one is held: the ones read ahead (a full
    inbox) are applied as merged units of at most MERGE_MUTATIONS, each acked once, and the
    other device sees every version in order."""
    n = 1 + ws.INBOX_FRAMES
    sid = alice.new_session()["id"]
    held["want"] = ws.INBOX_FRAMES
    with connect(alice, sid) as a, connect(alice, sid) as b:
        a.hello("dev-a")
        b.hello("dev-b")
        for i in range(1, n + 1):
            a.send({"type": "push", "mutations": [mutation(i, "t", i)]})
        acks = []
        while not acks or acks[-1] < n:
            acks.append(a.until("ack")["lastMutationID"])
        cookies = [0]
        while cookies[-1] < n:
            patch = b.until("patch")
            assert cookies[-1] == patch["baseCookie"]
            cookies.append(patch["cookie"])
    size = ws.MERGE_MUTATIONS
    expected = [[1]] + [list(range(s, min(s + size, n + 1))) for s in range(2, n + 1, size)]
    assert len(expected) < n
    assert expected == held["calls"]
    assert [c[-1] for c in expected] == acks
    assert [0] + [c[-1] for c in expected] == cookies
    document = alice.get(f"/api/sessions/{sid}").json()
    assert n == document["version"]
    assert n == document["forms"]["f"]["fields"]["t"]["value"]
    for version in range(1, n):  # one version per mutation, in the order sent
        at = alice.get(f"/api/sessions/{sid}/versions/{version}").json()
        assert version == at["forms"]["f"]["fields"]["t"]["value"]


def test_answers_keep_frame_order_around_refused_frames(alice: User, held: dict[str, Any]) -> None:
    """A bad frame between two pushes is answered between their acks, and splits the run."""
    sid = alice.new_session()["id"]
    held["want"] = 3
    with connect(alice, sid) as sock:
        sock.hello("c1")
        sock.seen.clear()
        sock.send({"type": "push", "mutations": [mutation(1, "x", 1)]})
        sock.send("{not json")
        sock.send({"type": "push", "mutations": [mutation(2, "x", 2)]})
        sock.send({"type": "push", "mutations": [mutation(3, "x", 3)]})
        sock.until("ack", lastMutationID=3)
    answers = [(m["type"], m.get("lastMutationID", m.get("code"))) for m in sock.seen]
    answers = [a for a in answers if a[0] in ("ack", "error")]
    assert [("ack", 1), ("error", "bad_json"), ("ack", 3)] == answers
    assert [[1], [2, 3]] == held["calls"]
