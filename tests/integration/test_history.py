"""History and recovery over HTTP: field history, past versions, restores, compaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cvsession.api.app import Services
from cvsession.cli import main
from cvsession.config import Settings
from cvsession.core.mutations import Mutation
from cvsession.service import history
from cvsession.service.history import HistoryPolicy
from tests.integration.conftest import User, make_client, new_user

FORM = "/api/sessions/{sid}/forms/contact"


def set_email(user: User, sid: str, value: str) -> dict[str, Any]:
    response = user.put(f"/api/sessions/{sid}/forms/contact/fields/email", json={"value": value})
    assert 200 == response.status_code, response.text
    doc: dict[str, Any] = response.json()
    return doc


def version_doc(user: User, sid: str, version: int) -> dict[str, Any]:
    response = user.get(f"/api/sessions/{sid}/versions/{version}")
    assert 200 == response.status_code, response.text
    doc: dict[str, Any] = response.json()
    return doc


def restore(user: User, sid: str, **body: Any) -> Any:
    return user.post(f"/api/sessions/{sid}/restore", json=body)


def configure(client: TestClient, snapshot_every: int, keep_versions: int) -> None:
    sessions = client.app.state.services.sessions  # type: ignore[attr-defined]
    history.configure(sessions, HistoryPolicy(snapshot_every, keep_versions))


def test_field_history_lists_the_old_values(alice: User) -> None:
    """GET /history for a field lists each change with the value it replaced."""
    sid = alice.new_session()["id"]
    for value in ("a@x", "b@x", "c@x"):
        set_email(alice, sid, value)
    path = "/forms/contact/fields/email/value"
    changes = alice.get(f"/api/sessions/{sid}/history", params={"path": path}).json()["changes"]
    replaced = [(c["version"], c["old"], c["value"]) for c in changes if c["op"] == "replace"]
    assert [(2, "a@x", "b@x"), (3, "b@x", "c@x")] == replaced


def test_versions_endpoint_returns_the_document_as_it_was(alice: User) -> None:
    """GET /versions/N returns the session at N; /versions gives the retained range."""
    sid = alice.new_session(title="t")["id"]
    at_1 = set_email(alice, sid, "a@x")
    set_email(alice, sid, "b@x")
    assert at_1 == version_doc(alice, sid, 1)
    assert {"oldest": 0, "current": 2} == alice.get(f"/api/sessions/{sid}/versions").json()
    future = alice.get(f"/api/sessions/{sid}/versions/3")
    assert (422, "invalid_input") == (future.status_code, future.json()["code"])


def test_restore_a_field_to_version_n(alice: User) -> None:
    """Restoring a field gives it the value it had at N; other fields keep theirs."""
    sid = alice.new_session()["id"]
    set_email(alice, sid, "a@x")  # v1
    set_email(alice, sid, "b@x")  # v2
    alice.put(f"/api/sessions/{sid}/forms/contact/fields/phone", json={"value": "123"})  # v3
    path = "/forms/contact/fields/email"
    response = restore(alice, sid, version=1, path=path)
    assert 200 == response.status_code, response.text
    doc = response.json()
    at_1 = version_doc(alice, sid, 1)
    assert at_1["forms"]["contact"]["fields"]["email"] == doc["forms"]["contact"]["fields"]["email"]
    assert "123" == doc["forms"]["contact"]["fields"]["phone"]["value"]
    assert (4, '"4"') == (doc["version"], response.headers["etag"])


def test_restore_a_form_to_version_n(alice: User) -> None:
    """Restoring a form (even one reset since) gives it back as it was at N."""
    sid = alice.new_session()["id"]
    alice.put(FORM.format(sid=sid), json={"fields": {"a": {"value": 1}, "b": {"value": 2}}})
    alice.put(FORM.format(sid=sid), json={"fields": {"a": {"value": 9}}})
    alice.delete(FORM.format(sid=sid))
    response = restore(alice, sid, version=1, path="/forms/contact", scope="form")
    assert 200 == response.status_code, response.text
    assert version_doc(alice, sid, 1)["forms"] == response.json()["forms"]
    assert 1 == alice.get(FORM.format(sid=sid)).json()["fields"]["a"]["value"]


def test_restore_the_whole_session_to_version_n(alice: User) -> None:
    """A whole-session restore equals the document at N except identity and bookkeeping."""
    sid = alice.new_session(title="first")["id"]
    set_email(alice, sid, "a@x")  # v1
    alice.post(f"/api/sessions/{sid}/steps/upload/complete")  # v2
    alice.put(f"/api/sessions/{sid}/template", json={"template": "modern"})  # v3
    alice.post(f"/api/sessions/{sid}/pause")  # v4
    response = restore(alice, sid, version=1)
    assert 200 == response.status_code, response.text
    kept = {"version", "lastActiveAt"}
    at_1 = {k: v for k, v in version_doc(alice, sid, 1).items() if k not in kept}
    assert at_1 == {k: v for k, v in response.json().items() if k not in kept}
    assert ("draft", []) == (response.json()["status"], response.json()["completedSteps"])


def test_the_restore_is_itself_in_the_log(alice: User) -> None:
    """Pull after a restore shows its ops; history names it; it can be restored away."""
    sid = alice.new_session()["id"]
    set_email(alice, sid, "a@x")  # v1
    set_email(alice, sid, "b@x")  # v2
    restore(alice, sid, version=1, path="/forms/contact/fields/email/value")  # v3
    pulled = alice.get(f"/api/sessions/{sid}/pull", params={"cookie": 2}).json()
    assert 3 == pulled["cookie"]
    email = [op for op in pulled["ops"] if op["path"].endswith("/email/value")]
    assert [{"op": "replace", "path": "/forms/contact/fields/email/value", "value": "a@x"}] == email
    changes = alice.get(f"/api/sessions/{sid}/history", params={"since": 2}).json()["changes"]
    assert {"history.restore"} == {c["name"] for c in changes}
    undo = restore(alice, sid, version=2, path="/forms/contact/fields/email/value").json()
    assert ("b@x", 4) == (undo["forms"]["contact"]["fields"]["email"]["value"], undo["version"])


def test_restore_with_nothing_different_is_a_no_op(alice: User) -> None:
    """Restoring to the current state answers the session unchanged, at the same version."""
    sid = alice.new_session()["id"]
    set_email(alice, sid, "a@x")
    response = restore(alice, sid, version=1, path="/forms/contact")
    assert (200, 1) == (response.status_code, response.json()["version"])
    assert 1 == alice.get(f"/api/sessions/{sid}/pull").json()["cookie"]


def test_restore_refuses_paths_outside_the_restorable_roots(alice: User) -> None:
    """Workflow state cannot be restored by path: 422 naming the restorable roots."""
    sid = alice.new_session()["id"]
    set_email(alice, sid, "a@x")
    response = restore(alice, sid, version=0, path="/status")
    assert (422, "invalid_input") == (response.status_code, response.json()["code"])
    assert "restorable roots" in response.json()["detail"]


def test_compaction_keeps_the_horizon_and_refuses_older(client: TestClient, alice: User) -> None:
    """After compaction versions from the horizon rebuild; older ones answer 410 with a reason."""
    configure(client, snapshot_every=4, keep_versions=6)
    sid = alice.new_session()["id"]
    docs = {i: set_email(alice, sid, f"v{i}@x") for i in range(1, 17)}
    assert {"oldest": 8, "current": 16} == alice.get(f"/api/sessions/{sid}/versions").json()
    retained = range(8, 17)
    assert {v: docs[v] for v in retained} == {v: version_doc(alice, sid, v) for v in retained}
    gone = alice.get(f"/api/sessions/{sid}/versions/7")
    assert (410, "history_unavailable", 8) == (
        gone.status_code,
        gone.json()["code"],
        gone.json()["oldest"],
    )
    assert gone.headers["content-type"].startswith("application/problem+json")
    refused = restore(alice, sid, version=3, path="/forms/contact")
    assert (410, "history_unavailable") == (refused.status_code, refused.json()["code"])
    pulled = alice.get(f"/api/sessions/{sid}/pull", params={"cookie": 2}).json()
    assert True is pulled["reset"]  # the log before the horizon is gone: pull resets


def test_deleting_a_session_deletes_its_snapshots(client: TestClient, alice: User) -> None:
    """DELETE removes the session's snapshots along with it."""
    configure(client, snapshot_every=2, keep_versions=100)
    sid = alice.new_session()["id"]
    for i in range(5):
        set_email(alice, sid, f"{i}@x")
    store = client.app.state.services.store  # type: ignore[attr-defined]
    with store.read() as txn:
        assert [0, 2, 4] == txn.snapshot_versions(sid)
    assert 204 == alice.delete(f"/api/sessions/{sid}").status_code
    with store.read() as txn:
        assert [] == txn.snapshot_versions(sid)


@pytest.mark.postgres
def test_history_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    """Versions and restores work the same on the PostgreSQL store."""
    with make_client(tmp_path, postgres_url) as client:
        user = new_user(client)
        sid = user.new_session()["id"]
        set_email(user, sid, "a@x")
        set_email(user, sid, "b@x")
        doc = restore(user, sid, version=1).json()
        assert version_doc(user, sid, 1)["forms"] == doc["forms"]
        assert {"oldest": 0, "current": 3} == user.get(f"/api/sessions/{sid}/versions").json()


def test_cli_compact_applies_the_keep_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cvsession sessions compact --keep-versions 0` cuts each log at its newest snapshot."""
    data = tmp_path / "data"
    svc = Services.open(Settings(data_dir=data))
    try:
        history.configure(svc.sessions, HistoryPolicy(snapshot_every=3, keep_versions=100))
        user = svc.identity.create_user().user_id
        sid = svc.sessions.create(user).id
        for i in range(1, 8):
            svc.sessions.mutate(user, sid, Mutation("c", i, "data.put", {"value": i}))
    finally:
        svc.close()
    assert 0 == main(["sessions", "compact", "--keep-versions", "0", "--data-dir", str(data)])
    assert "compacted history: 6 log entries removed\n" == capsys.readouterr().out
    svc = Services.open(Settings(data_dir=data))
    try:
        with svc.store.read() as txn:
            assert ([6], 7) == (txn.snapshot_versions(sid), txn.log_min_version(sid))
    finally:
        svc.close()
