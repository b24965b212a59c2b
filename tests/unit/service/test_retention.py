"""Retention with an injectable clock: expiry per status, deletion after the grace period."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cvsession.api.app import Services
from cvsession.config import Settings
from cvsession.core.mutations import Mutation
from cvsession.jobs.records import JobRecords
from cvsession.service.retention import (
    Candidate,
    RetentionPolicy,
    RetentionReport,
    RetentionService,
)
from cvsession.store import ArtifactRow, open_store
from tests.clock import Clock
from tests.leftovers import columns, occurrences

DAY = timedelta(days=1)
KEEP = {"draft": 30, "in_progress": 60, "paused": 60, "failed": 30, "completed": 90}
SESSION_TABLES = {
    "mutation_log", "snapshots", "conflicts", "step_durations", "uploads", "jobs",
    "job_artifacts", "share_links",
}  # fmt: skip

# Analytics events keep the session id on purpose (store/events.py): figures about deleted
# sessions survive them; they go with the user ("delete everything").
SURVIVORS = {"events"}


def open_services(tmp_path: Path, clock: Clock, url: str = "", **kw: Any) -> Services:
    settings = Settings(data_dir=tmp_path / "data", jobs_mode="0", **kw)
    store = open_store(url) if url else None
    return Services.open(settings, store=store, clock=clock)


@pytest.fixture
def svc(tmp_path: Path, clock: Clock) -> Iterator[Services]:
    services = open_services(tmp_path, clock)
    yield services
    services.close()


@pytest.fixture
def both(tmp_path: Path, clock: Clock, store_url: str) -> Iterator[Services]:
    """Services on SQLite and on PostgreSQL."""
    services = open_services(tmp_path, clock, store_url)
    yield services
    services.close()


def retention(
    svc: Services, keep: dict[str, int] | None = None, grace: int = 14
) -> RetentionService:
    days = KEEP if keep is None else keep
    policy = RetentionPolicy({s: timedelta(days=d) for s, d in days.items()}, grace * DAY)
    return RetentionService(svc.sessions, svc.uploads, policy)


def put_status(svc: Services, sid: str, status: str) -> None:
    """Set a session's status as stored (there is no user action that fails a session)."""

    def txn_fn(txn: Any) -> None:
        row = txn.get_session(sid, for_update=True)
        doc = {**row.document, "status": status, "version": row.version + 1}
        txn.update_session(dataclasses.replace(row, status=status, version=row.version + 1,
                                               document=doc))  # fmt: skip

    svc.writer.run(txn_fn, (sid,))


def status(svc: Services, sid: str) -> str | None:
    with svc.store.read() as txn:
        row = txn.get_session(sid)
    return None if row is None else row.status


def rich_session(svc: Services, user: str, title: str) -> dict[str, Any]:
    """A session owning a row in every session-owned table, and an uploaded file."""
    sessions = svc.sessions
    sid = sessions.create(user, title=title).id
    upload = svc.uploads.save(user, sid, "cv.txt", f"Ada Lovelace {title}\nEngineer\n".encode())
    sessions.command(user, sid, "step.enter", {"step": "upload"})
    sessions.command(user, sid, "step.complete", {"step": "upload"})  # a step duration
    set_field = "form.setField"
    sessions.mutate(user, sid, Mutation(f"c-{title}", 1, set_field,
                                        {"form": "f", "field": "x", "value": 1}, 0))  # fmt: skip
    sessions.mutate(user, sid, Mutation(f"d-{title}", 1, set_field,
                                        {"form": "f", "field": "x", "value": 2}, 0))  # fmt: skip
    assert sessions.conflicts(user, sid)
    records = JobRecords(sessions, sessions.clock)
    job = records.create(user, sid, "cv-processing", {"uploadId": upload.id})
    now = sessions.clock()
    with svc.store.transaction() as txn:
        txn.put_artifact(ArtifactRow(f"a-{sid}", job.id, sid, "cv.html", "text/html", "<p/>", now))
        txn.cache_put(job.id, "phase:parse", {"cv": title}, now)
    link, _ = svc.shares.create(user, sid)
    return {
        "id": sid,
        "link": link.id,
        "upload": upload,
        "job": job.id,
        "file": svc.uploads.root / upload.storage_name,
    }


@pytest.mark.parametrize("state", sorted(KEEP))
def test_each_status_expires_the_day_after_its_period(
    svc: Services, clock: Clock, state: str
) -> None:
    """A day before its status's period the session is kept; a day after it is expired."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    if state != "draft":
        put_status(svc, sid, state)
    clock.advance(days=KEEP[state] - 1)
    assert ([], []) == (retention(svc).run().expired, retention(svc).run().deleted)
    assert state == status(svc, sid)
    clock.advance(days=2)
    assert [sid] == retention(svc).run().expired
    assert "expired" == status(svc, sid)
    with svc.store.read() as txn:
        assert "server.expire" == txn.log_since(sid, 0)[-1].name  # logged: clients see it


def test_processing_sessions_are_not_expired_by_default(svc: Services, clock: Clock) -> None:
    """A session whose job runs has no retention period unless one is configured."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    put_status(svc, sid, "processing")
    clock.advance(days=3650)
    assert [] == retention(svc).run().expired


def test_grace_deletes_exactly_the_expired_session(both: Services, clock: Clock) -> None:
    """After the grace period the expired session and everything it owns are gone from every
    table and from disk; other sessions, of its owner and of others, keep every row."""
    svc = both
    alice = svc.identity.create_user().user_id
    bob = svc.identity.create_user().user_id
    doomed = rich_session(svc, alice, "doomed")
    clock.advance(days=40)  # doomed's draft... in progress for 40 days: within 60
    put_status(svc, doomed["id"], "failed")  # failed: 30 days, from now
    kept_own = rich_session(svc, alice, "kept-own")
    kept_other = rich_session(svc, bob, "kept-other")
    tables = columns(svc.store)
    assert SESSION_TABLES <= {t for t, cols in tables.items() if "session_id" in cols}
    before = {s["id"]: occurrences(svc.store, [s["id"]]) for s in (kept_own, kept_other)}

    clock.advance(days=31)
    report = retention(svc).run()
    assert ([doomed["id"]], []) == (report.expired, report.deleted)
    clock.advance(days=13)
    assert [] == retention(svc).run().deleted  # 13 days expired: within the grace period
    assert "expired" == status(svc, doomed["id"])
    clock.advance(days=2)
    assert [doomed["id"]] == retention(svc).run().deleted

    needles = [
        doomed["id"], doomed["job"], doomed["upload"].id, f"a-{doomed['id']}", doomed["link"],
    ]  # fmt: skip
    left = occurrences(svc.store, needles)
    assert {} == {k: n for k, n in left.items() if k.partition(".")[0] not in SURVIVORS}
    assert not doomed["file"].exists()
    for s in (kept_own, kept_other):
        assert before[s["id"]] == occurrences(svc.store, [s["id"]])
        assert s["file"].exists()
    assert {"in_progress"} == {status(svc, kept_own["id"]), status(svc, kept_other["id"])}
    assert [] == retention(svc).run().deleted  # idempotent


def test_zero_keeps_forever(svc: Services, clock: Clock) -> None:
    """Retention 0 never expires; grace 0 never deletes an expired session."""
    user = svc.identity.create_user().user_id
    draft = svc.sessions.create(user).id
    done = svc.sessions.create(user).id
    put_status(svc, done, "expired")
    clock.advance(days=3650)
    report = retention(svc, {"draft": 0}, grace=0).run()
    assert ([], []) == (report.expired, report.deleted)
    assert ("draft", "expired") == (status(svc, draft), status(svc, done))


def test_a_session_touched_after_the_decision_is_kept(svc: Services, clock: Clock) -> None:
    """Decisions are re-checked in the acting transaction: a draft edited after it was listed
    is not expired, and an expired session changed after it was listed is not deleted."""
    user = svc.identity.create_user().user_id
    draft = svc.sessions.create(user).id
    old = svc.sessions.create(user).id
    clock.advance(days=31)
    retention(svc).run()
    assert "expired" == status(svc, old) and "expired" == status(svc, draft)
    fresh = svc.sessions.create(user).id
    clock.advance(days=31)
    service = retention(svc)
    stale: dict[str, list[Candidate]] = {
        "draft": service.candidates("draft", clock() - 30 * DAY),
        "expired": service.candidates("expired", clock() - 14 * DAY),
    }
    assert ([fresh], {old, draft}) == (
        [c.session_id for c in stale["draft"]],
        {c.session_id for c in stale["expired"]},
    )
    svc.sessions.command(user, fresh, "session.setTitle", {"title": "still here"})
    put_status(svc, old, "expired")  # another process wrote to it since (new version)
    service.candidates = lambda status, before: stale.get(status, [])  # type: ignore[method-assign]
    report = service.run()
    assert ([], [draft]) == (report.expired, report.deleted)
    assert ("draft", "expired", None) == (status(svc, fresh), status(svc, old), status(svc, draft))


def test_dry_run_changes_nothing_and_tells_what_a_run_does(svc: Services, clock: Clock) -> None:
    """A dry run lists what the real run then does, and writes nothing."""
    user = svc.identity.create_user().user_id
    ids = [svc.sessions.create(user).id for _ in range(3)]
    clock.advance(days=31)
    retention(svc).run()  # all three expired
    more = svc.sessions.create(user).id
    clock.advance(days=31)
    versions = svc.sessions.versions([*ids, more])
    dry = retention(svc).run(dry_run=True)
    assert (True, [more], sorted(ids)) == (dry.dry_run, dry.expired, sorted(dry.deleted))
    assert versions == svc.sessions.versions([*ids, more])
    real = retention(svc).run()
    assert (dry.expired, sorted(dry.deleted)) == (real.expired, sorted(real.deleted))


def test_concurrent_passes_act_once_per_session(
    both: Services, clock: Clock, tmp_path: Path, store_url: str
) -> None:
    """Passes run at once by two processes' services expire and delete each session once."""
    user = both.identity.create_user().user_id
    ids = {both.sessions.create(user).id for _ in range(40)}
    other = open_services(tmp_path, clock, store_url)
    try:
        for days in (31, 15):
            clock.advance(days=days)
            reports: list[RetentionReport] = []

            def run(s: Services, into: list[RetentionReport] = reports) -> None:
                into.append(retention(s).run())

            threads = [threading.Thread(target=run, args=(s,)) for s in (both, other)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            acted = [sid for r in reports for sid in (r.expired if days == 31 else r.deleted)]
            assert sorted(ids) == sorted(acted)  # every session once, none twice
    finally:
        other.close()
    assert {} == both.sessions.versions(sorted(ids))
