"""Metrics from real events: scripted journeys through the API, then /metrics and the summary."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cvsession.api.app import create_app
from cvsession.config import Settings
from tests.clock import Clock
from tests.integration.conftest import BASE, User, new_user

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)
ALL_STEPS = ("upload", "processing", "analysis", "features", "templates", "preview", "results")


@dataclasses.dataclass
class World:
    client: TestClient
    clock: Clock
    admin: User
    alice: User
    bob: User


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """An app on a fresh SQLite store with a test clock, an administrator, alice and bob."""
    clock = Clock(T0)  # the server's clock, moved by the test
    settings = Settings(data_dir=tmp_path / "data", identity_rate_per_minute=10_000, jobs_mode="0")
    with TestClient(create_app(settings, clock=clock), base_url=BASE) as client:
        admin, alice, bob = new_user(client), new_user(client), new_user(client)
        client.cookies.clear()  # bearer tokens only, unless a test sets the cookie itself
        svc = client.app.state.services  # type: ignore[attr-defined]
        svc.settings = dataclasses.replace(settings, admin_users=(admin.user_id,))
        yield World(client, clock, admin, alice, bob)


def push(user: User, sid: str, client_id: str, *mutations: dict[str, Any]) -> Any:
    return user.post(
        f"/api/sessions/{sid}/mutations", json={"clientID": client_id, "mutations": list(mutations)}
    )


def set_field(mid: int, value: str, base: int | None = None, hlc: str = "") -> dict[str, Any]:
    return {
        "id": mid,
        "name": "form.setField",
        "baseVersion": base,
        "hlc": hlc,
        "args": {"form": "contact", "field": "email", "value": value},
    }


def event(user: User, kind: str, sid: str | None, **data: Any) -> Any:
    return user.post("/api/events", json={"kind": kind, "sessionId": sid, "data": data})


def summary(user: User, **params: str) -> dict[str, Any]:
    response = user.get("/metrics/summary", params=params)
    assert 200 == response.status_code, response.text
    body: dict[str, Any] = response.json()
    return body


def journeys(w: World) -> dict[str, str]:
    """Create, complete, pause and resume, abandon, conflict, reject, gap and offline replay."""
    done, resumed, abandoned = (w.alice.new_session()["id"] for _ in range(3))
    w.bob.new_session()
    assert 200 == w.alice.post(f"/api/sessions/{done}/steps/upload/complete").status_code
    assert 200 == w.alice.post(f"/api/sessions/{resumed}/pause").status_code
    w.clock.advance(days=8)  # `abandoned` stays idle from here on

    for step in ALL_STEPS[1:]:
        assert 200 == w.alice.post(f"/api/sessions/{done}/steps/{step}/complete").status_code
    assert 200 == w.alice.post(f"/api/sessions/{done}/steps/keywords/skip").status_code
    assert 200 == w.alice.post(f"/api/sessions/{done}/complete").status_code

    assert 200 == w.alice.post(f"/api/sessions/{resumed}/resume").status_code
    offered = {"recommendedStep": "upload", "recommendedSubstep": "file-select",
               "confidence": 0.25, "estimatedMinutes": 29}  # fmt: skip
    assert 201 == event(w.alice, "resume.restored", resumed, ms=800, step="upload",
                        intact=True).status_code  # fmt: skip
    assert 201 == event(w.alice, "resume.offered", resumed, **offered).status_code
    assert 201 == event(w.alice, "resume.taken", resumed, step="upload", substep=None,
                        fromRecommendation=True).status_code  # fmt: skip
    # A second visit the next day: restored with lost state, the user went elsewhere.
    w.clock.advance(days=1)
    assert 201 == event(w.alice, "resume.offered", resumed, **offered).status_code
    assert 201 == event(w.alice, "resume.restored", resumed, ms=2400, step="analysis",
                        intact=False).status_code  # fmt: skip
    assert 201 == event(w.alice, "resume.taken", resumed, step="analysis", substep=None,
                        fromRecommendation=False).status_code  # fmt: skip

    # Sync: two clients edit the same field from version v; the second is a conflict.
    version = w.alice.get(f"/api/sessions/{resumed}").json()["version"]
    assert 200 == push(w.alice, resumed, "c1", set_field(1, "a@x.org", version)).status_code
    assert 200 == push(w.alice, resumed, "c2", set_field(1, "b@x.org", version)).status_code
    # A replay (duplicate), a refused mutation (rejected), then a gap.
    refused = {"id": 2, "name": "step.complete", "args": {"step": "preview"}}
    assert (
        200 == push(w.alice, resumed, "c1", set_field(1, "a@x.org", version), refused).status_code
    )
    assert 409 == push(w.alice, resumed, "c1", set_field(9, "late")).status_code
    # Offline replay: two edits stamped 5 minutes ago arrive now.
    stamp = f"{w.clock.ms() - 300_000}-0-c3"
    assert (
        200
        == push(
            w.alice, resumed, "c3", set_field(1, "x", hlc=stamp), set_field(2, "y", hlc=stamp)
        ).status_code
    )
    assert 201 == event(w.alice, "offline.replayed", None, count=2, offlineMs=300_000).status_code
    return {"done": done, "resumed": resumed, "abandoned": abandoned}


def test_journeys_are_counted_exactly_in_the_summary(world: World) -> None:
    """Each scripted journey shows up in the owner's summary with exact counts and rates."""
    journeys(world)
    body = summary(world.alice)
    assert "own" == body["scope"]
    sessions = body["sessions"]
    assert (3, 1, 1, 1) == (
        sessions["created"], sessions["resumed"], sessions["completed"], sessions["abandoned"]
    )  # fmt: skip
    assert {"draft": 1, "in_progress": 1, "completed": 1} == {
        k: v for k, v in sessions["byStatus"].items() if v
    }
    funnel = {s["step"]: s for s in body["funnel"]["steps"]}
    assert 3 == body["funnel"]["cohort"]
    assert (1, round(1 / 3, 4)) == (funnel["upload"]["completed"], funnel["upload"]["rate"])
    assert (0, 1) == (funnel["keywords"]["completed"], funnel["keywords"]["skipped"])
    assert 1 == funnel["completed"]["completed"]
    assert {"upload": 1} == body["exitSteps"]
    assert "upload" == body["mostCommonExitStep"]
    resume = body["resume"]
    assert (2, 1, 0.5) == (resume["offered"], resume["succeeded"], resume["successRate"])
    assert (2, 1) == (resume["restored"], resume["restoredIntact"])
    assert {"count": 2, "p50": 800.0, "p95": 2400.0, "max": 2400.0} == resume["timeToResumeMs"]
    assert (2, 1, 0.5) == (
        resume["taken"], resume["takenFromRecommendation"], resume["acceptanceRate"]
    )  # fmt: skip
    assert [
        {"day": "2030-01-09", "offered": 1, "succeeded": 1, "successRate": 1.0},
        {"day": "2030-01-10", "offered": 1, "succeeded": 0, "successRate": 0.0},
    ] == resume["daily"]
    # Pushes: conflict pair (2), replay + refused (1 duplicate, 1 rejected), gap, offline (2).
    assert {
        "pushes": 5, "attempts": 6, "successes": 4, "duplicates": 1, "conflicts": 1,
        "rejected": 1, "gaps": 1, "reliability": round(4 / 6, 4),
    } == body["sync"]  # fmt: skip
    offline = body["offline"]
    assert (1, 2, 300_000.0) == (
        offline["server"]["replays"], offline["server"]["mutations"],
        offline["server"]["offlineMs"]["max"],
    )  # fmt: skip
    assert (1, 2) == (offline["browser"]["replays"], offline["browser"]["mutations"])
    assert None is body["propagation"]  # per process: administrators only


def test_admin_sees_every_user_and_a_window(world: World) -> None:
    """An administrator's summary covers every user; since/until narrow it to a time range."""
    journeys(world)
    body = summary(world.admin)
    assert ("global", 4, 2) == (
        body["scope"], body["sessions"]["created"], body["sessions"]["abandoned"]
    )  # fmt: skip
    assert {"bob": 1} == {"bob": summary(world.bob)["sessions"]["created"]}
    later = summary(world.admin, since=(T0 + timedelta(days=9)).isoformat())
    assert (0, 1, 1) == (
        later["sessions"]["created"], later["resume"]["offered"], later["sync"]["conflicts"]
    )  # fmt: skip
    early = summary(world.admin, until=(T0 + timedelta(days=1)).isoformat())
    assert (4, 0) == (early["sessions"]["created"], early["sync"]["pushes"])
    assert (
        422
        == world.admin.get(
            "/metrics/summary", params={"since": T0.isoformat(), "until": T0.isoformat()}
        ).status_code
    )


def test_abandonment_threshold_is_a_query_parameter(world: World) -> None:
    """Sessions idle for longer than abandonDays and not finished count as abandoned."""
    sid = world.alice.new_session()["id"]
    world.clock.advance(days=3)
    assert 0 == summary(world.alice)["sessions"]["abandoned"]
    assert 1 == summary(world.alice, abandonDays="2")["sessions"]["abandoned"]
    assert 200 == world.alice.post(f"/api/sessions/{sid}/steps/upload/complete").status_code
    assert 0 == summary(world.alice, abandonDays="2")["sessions"]["abandoned"]


def test_prometheus_endpoint_is_admin_only_and_has_the_series(world: World) -> None:
    """/metrics answers administrators (bearer) with every series; others get 403 or 401."""
    journeys(world)
    sid = world.alice.new_session()["id"]
    with world.alice.client.websocket_connect(
        f"/api/sessions/{sid}/ws", headers=world.alice.headers
    ) as ws, world.alice.client.websocket_connect(
        f"/api/sessions/{sid}/ws", headers=world.alice.headers
    ) as other:  # fmt: skip
        for sock, cid in ((ws, "w1"), (other, "w2")):
            sock.send_text(json.dumps({"type": "hello", "clientID": cid, "schemaVersion": 1}))
            for _ in range(3):  # welcome, patch, ack
                sock.receive_text()
        ws.send_text(json.dumps({"type": "push", "mutations": [set_field(1, "z")]}))
        while (patch := json.loads(other.receive_text()))["type"] != "patch":
            pass
        assert "z" in json.dumps(patch["ops"])
        while json.loads(ws.receive_text())["type"] != "ack":
            pass
    assert 403 == world.alice.get("/metrics").status_code
    assert 401 == world.client.get("/metrics").status_code
    response = world.admin.get("/metrics")
    assert 200 == response.status_code
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for series in (
        "cvsession_sync_pushes_total 6.0",
        "cvsession_sync_attempts_total 7.0",
        "cvsession_sync_successes_total 5.0",
        "cvsession_sync_conflicts_total 1.0",
        "cvsession_sync_rejected_total 1.0",
        "cvsession_sync_gaps_total 1.0",
        'cvsession_sessions{status="completed"} 1.0',
        'cvsession_events{kind="session.created"} 5.0',
        'cvsession_sync_push_ack_seconds_count{transport="ws"} 1.0',
        'cvsession_sync_push_ack_seconds_count{transport="http"} 5.0',
    ):
        assert series in text.splitlines(), series
    assert "cvsession_sync_propagation_seconds_count 2.0" in text.splitlines()
    propagation = summary(world.admin)["propagation"]
    assert 2 == propagation["count"]
    assert 2 == sum(propagation["histogram"]["counts"])
    assert len(propagation["histogram"]["boundsMs"]) + 1 == len(propagation["histogram"]["counts"])


def test_a_cookie_is_never_an_admin_credential(world: World) -> None:
    """An administrator signed in by cookie gets their own summary and no /metrics."""
    world.client.cookies.set("cvsession_token", world.admin.token)
    try:
        assert 403 == world.client.get("/metrics").status_code
        assert "own" == world.client.get("/metrics/summary").json()["scope"]
    finally:
        world.client.cookies.clear()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "resume.clicked", "sessionId": None, "data": {}}, 422),
        ({"kind": "resume.taken", "data": {"step": "upload", "fromRecommendation": True}}, 422),
        ({"kind": "offline.replayed", "data": {"count": -1, "offlineMs": 5}}, 422),
        ({"kind": "offline.replayed", "data": {"count": 1, "offlineMs": 5, "extra": 1}}, 422),
        ({"kind": "offline.replayed", "data": {"count": "1", "offlineMs": 5}}, 422),
        ({"kind": "offline.replayed", "value": 6, "data": {"count": 1, "offlineMs": 5}}, 422),
        ({"kind": "offline.replayed", "value": 5, "data": {"count": 1, "offlineMs": 5}}, 201),
        ({"kind": "offline.replayed", "data": {"count": 1, "offlineMs": 5}, "x": 1}, 422),
    ],
)
def test_event_bodies_are_validated(world: World, body: dict[str, Any], status: int) -> None:
    """Unknown kinds, missing sessions, bad or extra fields and a wrong value are refused."""
    response = world.alice.post("/api/events", json=body)
    assert status == response.status_code, response.text
    if status >= 400:
        assert "application/problem+json" == response.headers["content-type"]


def test_event_places_must_exist_and_sessions_be_the_callers(world: World) -> None:
    """Steps and substeps come from the catalogue; another user's session is a 404."""
    sid = world.alice.new_session()["id"]
    bad_step = event(world.alice, "resume.restored", sid, ms=5, step="nowhere", intact=True)
    assert 422 == bad_step.status_code
    bad_sub = event(world.alice, "resume.taken", sid, step="upload", substep="cv-review",
                    fromRecommendation=False)  # fmt: skip
    assert 422 == bad_sub.status_code
    assert 404 == event(world.bob, "resume.restored", sid, ms=5, step="upload",
                        intact=True).status_code  # fmt: skip
    assert 404 == event(world.bob, "resume.restored", "s_missing", ms=5, step="upload",
                        intact=True).status_code  # fmt: skip
    assert 401 == world.client.post("/api/events", json={"kind": "resume.taken"}).status_code
    assert 0 == summary(world.bob)["resume"]["restored"]


def test_events_are_size_and_rate_limited(world: World) -> None:
    """A body over 4 KiB is 413; past 120 events a minute a user gets 429."""
    big = {"kind": "offline.replayed", "data": {"count": 1, "offlineMs": 5, "pad": "x" * 5000}}
    assert 413 == world.alice.post("/api/events", json=big).status_code
    ok = {"kind": "offline.replayed", "data": {"count": 1, "offlineMs": 5}}
    statuses = [world.alice.post("/api/events", json=ok).status_code for _ in range(121)]
    assert [201] * 120 + [429] == statuses
    assert 201 == world.bob.post("/api/events", json=ok).status_code
