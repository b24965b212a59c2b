"""Contract: job records, dependencies, artifacts, the step cache and worker heartbeats."""

from __future__ import annotations

import dataclasses

import pytest

from cvsession.store import ArtifactRow, DuplicateKey, JobRow, Store, WorkerRow

from .factories import T0, Rows, at


@pytest.fixture
def seeded(store: Store, rows: Rows) -> Store:
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_session(rows.session())
        txn.insert_session(rows.session("s2"))
    return store


def job(job_id: str, **kw: object) -> JobRow:
    fields: dict[str, object] = {
        "id": job_id,
        "session_id": "s1",
        "owner_id": "u1",
        "type": "cv-processing",
        "status": "queued",
        "priority": 0,
        "params": {"uploadId": "up_1", "text": "Zo\u00eb \u2013 \x00"},
        "created_at": T0,
        "updated_at": T0,
        **kw,
    }
    return JobRow(**fields)  # type: ignore[arg-type]


def test_job_round_trip_with_dependencies_and_update(seeded: Store) -> None:
    """A job and its ordered dependencies round-trip; update changes the mutable columns."""
    first = job("j1")
    second = job("j2", dependencies=("j1",), priority=5, max_retries=1, created_at=at(1))
    third = job("j3", dependencies=("j2", "j1"), type="template-application", created_at=at(2))
    with seeded.transaction() as txn:
        for j in (first, second, third):
            txn.insert_job(j)
    with seeded.read() as txn:
        assert third == txn.get_job("j3")
        assert [first, second, third] == txn.list_jobs("s1")
        assert [second, third] == txn.dependants("j1")
        assert [] == txn.list_jobs("s2")
        assert None is txn.get_job("nope")
    done = dataclasses.replace(
        second,
        status="completed",
        progress=100,
        phase="generate",
        started_at=at(1),
        completed_at=at(3),
        updated_at=at(3),
        error={"code": "x", "message": "m", "retryable": False},
        result={"artifacts": ["a.html"]},
        control="",
        dispatched=True,
        retry_count=1,
    )
    with seeded.transaction() as txn:
        txn.update_job(done)
        with pytest.raises(DuplicateKey):
            txn.insert_job(job("j1"))
        with pytest.raises(KeyError):
            txn.update_job(job("missing"))
    with seeded.read() as txn:
        assert done == txn.get_job("j2")
        assert [120_000] == txn.job_durations("cv-processing")
        assert [] == txn.job_durations("feature-generation")
        assert ["j1", "j3"] == [j.id for j in txn.jobs_with_status(["queued"])]
        assert ["j1", "j3"] == [j.id for j in txn.list_jobs("s1", unfinished=True)]
        assert ["j2", "j3"] == [j.id for j in txn.list_jobs("s1", limit=2)]
        assert ["j2"] == [j.id for j in txn.jobs_with_status(["completed"], dispatched=True)]
        assert [] == txn.jobs_with_status(["completed"], dispatched=False)


def test_artifacts_cache_and_deletion_with_the_session(seeded: Store) -> None:
    """Artifacts replace by id and list without content; the cache keeps the first value;
    deleting the session deletes its jobs, their edges, artifacts and cache."""
    with seeded.transaction() as txn:
        txn.insert_job(job("j1"))
        txn.insert_job(job("j2", dependencies=("j1",)))
        txn.put_artifact(ArtifactRow("j1.0", "j1", "s1", "cv.html", "text/html", "<p>1</p>", T0))
        txn.put_artifact(ArtifactRow("j1.0", "j1", "s1", "cv.html", "text/html", "<p>2</p>", T0))
        txn.cache_put("j1", "parse.model", {"basics": {"name": "A"}}, T0)
        txn.cache_put("j1", "parse.model", {"basics": {"name": "B"}}, T0)
    with seeded.read() as txn:
        assert (
            "<p>2</p>"
            == (txn.get_artifact("j1.0") or ArtifactRow("", "", "", "", "", "", T0)).content
        )
        assert [("j1.0", "")] == [(a.id, a.content) for a in txn.list_artifacts("s1")]
        assert {"basics": {"name": "A"}} == txn.cache_get("j1", "parse.model")
        assert None is txn.cache_get("j1", "other")
    with seeded.transaction() as txn:
        assert txn.delete_session("s1")
    with seeded.read() as txn:
        assert (None, None, [], None) == (
            txn.get_job("j1"),
            txn.get_artifact("j1.0"),
            txn.dependants("j1"),
            txn.cache_get("j1", "parse.model"),
        )


def test_worker_heartbeats(seeded: Store) -> None:
    """A heartbeat inserts then refreshes; delete_worker only removes a worker that is stale."""
    with seeded.transaction() as txn:
        txn.heartbeat(WorkerRow("w1", at(0), at(0), {"pid": 1}))
        txn.heartbeat(WorkerRow("w1", at(5), at(4), {"pid": 2}))
        txn.heartbeat(WorkerRow("w2", at(1), at(1)))
    with seeded.read() as txn:
        assert [WorkerRow("w1", at(5), at(0), {"pid": 2}), WorkerRow("w2", at(1), at(1))] == (
            txn.list_workers()
        )
    with seeded.transaction() as txn:
        assert not txn.delete_worker("w1", at(0))
        assert txn.delete_worker("w2", at(1))
    with seeded.read() as txn:
        assert ["w1"] == [w.executor_id for w in txn.list_workers()]
