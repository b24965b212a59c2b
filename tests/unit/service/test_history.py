"""The history service: rebuilding past versions, periodic snapshots, compaction, policy."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cvsession.api.app import Services
from cvsession.config import Settings
from cvsession.core.errors import HistoryUnavailable, InvalidInput, NotFound
from cvsession.core.mutations import Mutation
from cvsession.service import history
from cvsession.service.history import HistoryPolicy, HistoryService
from cvsession.store import Store


@pytest.fixture
def svc(tmp_path: Path, store: Store) -> Iterator[Services]:
    """Services over each store backend, snapshotting every 5 versions and keeping 10."""
    services = Services.open(Settings(data_dir=tmp_path), store=store)
    history.configure(services.sessions, HistoryPolicy(snapshot_every=5, keep_versions=10))
    yield services
    services.close()


def random_mutation(rng: random.Random, i: int) -> tuple[str, dict[str, Any]]:
    """One of a mix of mutations that together emit add, replace, remove, move and copy ops."""
    form, name = rng.choice("ab"), rng.choice("xyz")
    choices: list[tuple[str, dict[str, Any]]] = [
        ("form.setField", {"form": form, "field": name, "value": rng.randint(0, 3)}),
        ("form.reset", {"form": form}),
        ("cv.setField", {"path": f"/basics/{name}", "value": rng.choice([None, f"n{i}"])}),
        ("ui.set", {"values": {name: rng.choice([None, i])}}),
        ("data.put", {"value": {"list": list(range(rng.randint(0, 3))), "i": i}}),
        ("template.select", {"template": rng.choice(["modern", "classic"])}),
        ("patch", {"root": "/data", "ops": [{"op": "copy", "from": "/i", "path": "/j"}]}),
        ("patch", {"root": "/data", "ops": [{"op": "move", "from": "/j", "path": "/k"}]}),
        ("step.complete", {"step": "upload"}),
        ("session.pause", {}),
        ("session.resume", {}),
    ]
    return rng.choice(choices)


def drive(svc: Services, user: str, sid: str, n: int, seed: int = 7) -> dict[int, Any]:
    """Apply random mutations until `n` new versions; return the document at each version."""
    rng = random.Random(seed)
    start = svc.sessions.get(user, sid).document
    docs = {start["version"]: start}
    client = f"c{seed}"
    mid = 0
    while max(docs) < start["version"] + n:
        mid += 1
        name, args = random_mutation(rng, mid)
        outcome = svc.sessions.mutate(user, sid, Mutation(client, mid, name, args))
        if outcome.status == "applied" and outcome.document is not None:
            docs[outcome.version] = outcome.document
    return docs


def test_every_retained_version_rebuilds_exactly(svc: Services) -> None:
    """Each retained version (a restore among them) rebuilds to the document stored then."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user, title="t").id
    docs = drive(svc, user, sid, 18)
    hist = HistoryService(svc.sessions)
    docs[19] = hist.restore(user, sid, 12).document
    docs.update(drive(svc, user, sid, 5, seed=9))
    oldest, current = hist.retained(user, sid)
    assert (10, 24) == (oldest, current)  # newest snapshot at or below 24 - 10
    rebuilt = {v: hist.document_at(user, sid, v) for v in range(oldest, current + 1)}
    assert {v: docs[v] for v in range(oldest, current + 1)} == rebuilt


def test_snapshots_every_n_versions_and_compaction_on_snapshot(svc: Services) -> None:
    """Snapshots land at 0 and every 5 versions; taking one compacts log and older snapshots."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    with svc.store.read() as txn:
        assert [0] == txn.snapshot_versions(sid)
    drive(svc, user, sid, 12)
    with svc.store.read() as txn:
        assert [0, 5, 10] == txn.snapshot_versions(sid)
        assert 1 == txn.log_min_version(sid)
    drive(svc, user, sid, 8, seed=8)  # now at version 20
    with svc.store.read() as txn:
        assert [10, 15, 20] == txn.snapshot_versions(sid)
        assert 11 == txn.log_min_version(sid)


def test_compacted_versions_answer_history_unavailable(svc: Services) -> None:
    """A version before the horizon raises HistoryUnavailable naming the oldest kept one."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    drive(svc, user, sid, 21)
    hist = HistoryService(svc.sessions)
    with pytest.raises(HistoryUnavailable) as info:
        hist.document_at(user, sid, 9)
    assert (410, 10) == (info.value.status, info.value.detail["oldest"])
    assert 10 == hist.document_at(user, sid, 10)["version"]


def test_compact_all_applies_a_tighter_policy_to_every_session(svc: Services) -> None:
    """compact_all with keep 0 cuts each session's log at its newest snapshot."""
    user = svc.identity.create_user().user_id
    sids = [svc.sessions.create(user).id for _ in range(3)]
    all_docs = [drive(svc, user, sid, 13, seed=i) for i, sid in enumerate(sids)]
    removed = HistoryService(svc.sessions).compact_all(keep_versions=0)
    assert 3 * 10 == removed  # log entries 1..10 of each session (horizon 10)
    hist = HistoryService(svc.sessions)
    for sid, docs in zip(sids, all_docs, strict=True):
        assert (10, 13) == hist.retained(user, sid)
        assert docs[11] == hist.document_at(user, sid, 11)
    assert 0 == hist.compact_all(keep_versions=0)


def test_future_versions_and_foreign_sessions_are_refused(svc: Services) -> None:
    """A version the session has not reached is invalid; another owner's session is NotFound."""
    user = svc.identity.create_user().user_id
    other = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    hist = HistoryService(svc.sessions)
    with pytest.raises(InvalidInput, match="does not exist"):
        hist.document_at(user, sid, 1)
    with pytest.raises(NotFound):
        hist.document_at(other, sid, 0)
    with pytest.raises(NotFound):
        hist.retained(other, sid)


def test_restore_through_the_service_is_a_logged_mutation(svc: Services) -> None:
    """HistoryService.restore applies history.restore and the log records it."""
    user = svc.identity.create_user().user_id
    sid = svc.sessions.create(user).id
    docs = drive(svc, user, sid, 6)
    hist = HistoryService(svc.sessions)
    outcome = hist.restore(user, sid, 2)
    assert outcome.document is not None
    assert docs[2]["forms"] == outcome.document["forms"]
    _, entries, _ = svc.sessions.log_since(user, sid, 6)
    assert ["history.restore"] == [e.name for e in entries]
    with pytest.raises(InvalidInput, match="does not exist"):
        hist.restore(user, sid, 99)


def test_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CVSESSION_SNAPSHOT_EVERY and CVSESSION_LOG_KEEP_VERSIONS set the policy; bad ones fail."""
    monkeypatch.setenv("CVSESSION_SNAPSHOT_EVERY", "7")
    monkeypatch.setenv("CVSESSION_LOG_KEEP_VERSIONS", "70")
    assert HistoryPolicy(7, 70) == HistoryPolicy.from_settings(Settings())
    assert HistoryPolicy(100, 1000) == HistoryPolicy()
    with pytest.raises(ValueError):
        HistoryPolicy(snapshot_every=0)
    with pytest.raises(ValueError):
        HistoryPolicy(keep_versions=-1)
