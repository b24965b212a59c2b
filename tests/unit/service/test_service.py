"""The service layer with an injectable clock: retention expiry, recorded durations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cvsession.api.app import Services
from cvsession.config import Settings
from cvsession.core.errors import IllegalTransition
from cvsession.service.retention import RetentionPolicy, RetentionService
from cvsession.store.base import SessionQuery
from tests.clock import Clock


@pytest.fixture
def svc(tmp_path: Path, clock: Clock) -> Iterator[Services]:
    services = Services.open(Settings(data_dir=tmp_path), clock=clock)
    yield services
    services.close()


def test_expire_marks_exactly_the_idle_sessions(svc: Services, clock: Clock) -> None:
    """Drafts idle past 30 days and completed sessions past 90 expire; nothing else does."""
    user = svc.identity.create_user().user_id
    old_draft = svc.sessions.create(user, title="old draft").id
    clock.advance(days=20)
    young_draft = svc.sessions.create(user, title="young draft").id
    done = svc.sessions.create(user, title="done").id
    for step in (
        "upload",
        "processing",
        "analysis",
        "features",
        "templates",
        "preview",
        "results",
        "keywords",
        "completed",
    ):
        svc.sessions.command(user, done, "step.complete", {"step": step})
    clock.advance(days=15)  # old draft idle 35 days, young 15, done 15
    retention = RetentionService(
        svc.sessions,
        svc.uploads,
        RetentionPolicy({"draft": timedelta(days=30), "completed": timedelta(days=90)}),
    )
    assert 1 == len(retention.run(delete=False).expired)
    statuses = {sid: svc.sessions.get(user, sid).status for sid in (old_draft, young_draft, done)}
    assert {old_draft: "expired", young_draft: "draft", done: "completed"} == statuses
    clock.advance(days=80)
    assert 2 == len(retention.run(delete=False).expired)
    _, total = svc.sessions.search(user, SessionQuery(statuses=("expired",)))
    assert 3 == total


def test_expired_session_refuses_changes(svc: Services, clock: Clock) -> None:
    """An expired session can be read but not changed."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    clock.advance(days=31)
    policy = RetentionPolicy({"draft": timedelta(days=30)})
    RetentionService(svc.sessions, svc.uploads, policy).run(delete=False)
    with pytest.raises(IllegalTransition):
        svc.sessions.command(user, sid, "step.enter", {"step": "upload"})
    assert "expired" == svc.sessions.get(user, sid).status


def test_time_spent_is_measured_from_entering_a_step(svc: Services, clock: Clock) -> None:
    """Entering a step and completing it 4 minutes later records 4 minutes on that step."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    svc.sessions.command(user, sid, "step.enter", {"step": "upload"})
    clock.advance(minutes=4)
    svc.sessions.command(user, sid, "step.complete", {"step": "upload"})
    doc = svc.sessions.get(user, sid).document
    assert 4 * 60_000 == doc["steps"]["upload"]["timeSpentMs"]
    assert "processing" == doc["currentStep"]


def test_recommendation_uses_recorded_durations_once_there_are_enough(
    svc: Services, clock: Clock
) -> None:
    """With five recorded upload durations of 10 minutes, the estimate switches to them."""
    user = svc.identity.create_user().user_id
    for _ in range(5):
        sid = svc.sessions.create(user).id
        svc.sessions.command(user, sid, "step.enter", {"step": "upload"})
        clock.advance(minutes=10)
        svc.sessions.command(user, sid, "step.complete", {"step": "upload"})
    svc.sessions._durations = None  # drop the brief cache
    fresh = svc.sessions.create(user).id
    rec = svc.sessions.recommendation(user, fresh)
    catalogue_only = svc.sessions.recommendation(user, fresh)
    assert rec.estimate_source in ("recorded", "mixed")
    assert 10 * 5 == sorted(svc.sessions.step_durations()["upload"])[0] // 60_000 * 5
    assert rec.estimated_minutes == catalogue_only.estimated_minutes
