"""Feature flags over HTTP: evaluated flags, the admin API, no restart, and enforcement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cvsession.api.app import Services, create_app
from cvsession.cli import main
from cvsession.config import Settings
from tests.integration.conftest import BASE, User

ALL_ON = {
    "cross-device-sync": True,
    "offline": True,
    "resume-dialog": True,
    "checkpointed-processing": True,
}
PROBLEM = "application/problem+json"
CV_TEXT = "Ada Lovelace\nada@example.com\n\nExperience\nAnalyst, Engines Ltd, 1840-1843\n"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def admin_id(data_dir: Path) -> str:
    """An identity created before the server starts, as an operator would with `token`."""
    svc = Services.open(Settings(data_dir=data_dir))
    try:
        return svc.identity.create_user("bearer", "ops").user_id
    finally:
        svc.close()


@pytest.fixture
def client(data_dir: Path, admin_id: str) -> Iterator[TestClient]:
    """The app with `admin_id` listed in CVSESSION_ADMIN_USERS (and jobs off)."""
    settings = Settings(
        data_dir=data_dir,
        identity_rate_per_minute=10_000,
        jobs_mode="0",
        admin_users=(admin_id,),
    )
    with TestClient(create_app(settings), base_url=BASE) as c:
        yield c


@pytest.fixture
def admin(client: TestClient, admin_id: str) -> User:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    token = services.identity.issue_token(admin_id).token
    return User(client, admin_id, token)


def is_problem(response: Any, status: int, code: str | None = None) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and response.headers["content-type"].startswith(PROBLEM)
        and (code is None or body.get("code") == code)
    )


def test_every_user_gets_every_built_in_flag_on_by_default(alice: User) -> None:
    """GET /api/flags answers the caller's flags, all on, and is not cached."""
    response = alice.get("/api/flags")
    assert 200 == response.status_code
    assert {"flags": ALL_ON} == response.json()
    assert "no-store" == response.headers["cache-control"]


def test_flags_need_an_identity(client: TestClient) -> None:
    """An anonymous GET /api/flags is 401 problem+json."""
    assert is_problem(client.get("/api/flags"), 401, "unauthenticated")


def test_admin_lists_every_definition(admin: User) -> None:
    """The admin list shows each flag's definition, built-in ones at their default."""
    body = admin.get("/api/admin/flags").json()
    assert list(ALL_ON) == [f["name"] for f in body["flags"]]
    assert {
        "name": "offline",
        "enabled": True,
        "rollout": 100,
        "allow": [],
        "deny": [],
        "updatedAt": None,
        "builtIn": True,
    } == {k: v for k, v in body["flags"][1].items() if k != "description"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/admin/flags", None),
        ("PUT", "/api/admin/flags/offline", {"rollout": 0}),
        ("PUT", "/api/admin/flags/offline", {"rollout": "bad"}),
        ("DELETE", "/api/admin/flags/offline", None),
    ],
)
def test_non_admins_get_403_from_the_admin_api(
    alice: User, method: str, path: str, body: Any
) -> None:
    """A user not listed in CVSESSION_ADMIN_USERS gets 403 problem+json, whatever it sends."""
    response = alice.request(method, path, json=body)
    assert is_problem(response, 403, "forbidden"), response.text
    assert {"flags": ALL_ON} == alice.get("/api/flags").json()


def test_admin_cookie_is_not_an_admin_credential(client: TestClient, admin: User) -> None:
    """The admin API refuses the admin's identity presented as a browser cookie."""
    client.cookies.set("cvsession_token", admin.token)
    try:
        assert is_problem(client.get("/api/admin/flags"), 403, "forbidden")
    finally:
        client.cookies.clear()


def test_anonymous_admin_call_is_401(client: TestClient) -> None:
    """Without any credential the admin API answers 401 problem+json."""
    assert is_problem(client.get("/api/admin/flags"), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("name", "body", "status", "fragment"),
    [
        ("offline", {"rollout": 101}, 422, "rollout"),
        ("offline", {"rollout": 50.5}, 422, "rollout"),
        ("offline", {"rollout": "50"}, 422, "rollout"),
        ("offline", {"enabled": "yes"}, 422, "enabled"),
        ("offline", {"colour": "red"}, 422, "colour"),
        ("offline", {"allow": [""]}, 422, "allow"),
        ("offline", {"allow": ["u1"], "deny": ["u1"]}, 422, "both the allow and the deny"),
        ("Bad_Name", {"rollout": 1}, 422, "1 to 64 characters"),
        ("x" * 65, {"rollout": 1}, 422, "1 to 64 characters"),
    ],
)
def test_invalid_changes_are_problem_json_and_change_nothing(
    admin: User, name: str, body: dict[str, Any], status: int, fragment: str
) -> None:
    """Each invalid PUT is 422 problem+json pointing at the problem; nothing is stored."""
    response = admin.put(f"/api/admin/flags/{name}", json=body)
    assert is_problem(response, status), response.text
    assert fragment in response.text
    assert [None] * 4 == [f["updatedAt"] for f in admin.get("/api/admin/flags").json()["flags"]]


def test_a_change_applies_to_the_next_request_without_restart(
    admin: User, alice: User, bob: User
) -> None:
    """Set via the admin API, then each user's GET /api/flags reflects it at once."""
    put = admin.put("/api/admin/flags/resume-dialog", json={"rollout": 0, "allow": [alice.user_id]})
    assert 200 == put.status_code, put.text
    assert (0, [alice.user_id], False) == (
        put.json()["rollout"],
        put.json()["allow"],
        put.json()["updatedAt"] is None,
    )
    assert {**ALL_ON, "resume-dialog": True} == alice.get("/api/flags").json()["flags"]
    assert {**ALL_ON, "resume-dialog": False} == bob.get("/api/flags").json()["flags"]

    assert 200 == admin.put("/api/admin/flags/resume-dialog", json={"enabled": False}).status_code
    assert False is alice.get("/api/flags").json()["flags"]["resume-dialog"]

    assert 204 == admin.delete("/api/admin/flags/resume-dialog").status_code
    assert {"flags": ALL_ON} == bob.get("/api/flags").json()


def test_custom_flags_are_created_shipped_and_removed(admin: User, alice: User) -> None:
    """A new flag reaches GET /api/flags; DELETE removes it; deleting again is 404."""
    assert 200 == admin.put("/api/admin/flags/new-editor", json={"rollout": 100}).status_code
    assert True is alice.get("/api/flags").json()["flags"]["new-editor"]
    assert 204 == admin.delete("/api/admin/flags/new-editor").status_code
    assert {"flags": ALL_ON} == alice.get("/api/flags").json()
    assert is_problem(admin.delete("/api/admin/flags/new-editor"), 404, "not_found")


def test_a_change_made_by_the_cli_reaches_the_running_server(
    client: TestClient, data_dir: Path, alice: User, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cvsession flags set` on the server's database takes effect without a restart."""
    assert True is alice.get("/api/flags").json()["flags"]["offline"]  # now cached
    args = ["--data-dir", str(data_dir)]
    assert 0 == main(["flags", "set", "offline", "--deny", alice.user_id, *args])
    capsys.readouterr()
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    services.flags.monotonic = lambda: float("inf")  # the 2-second cache has expired
    assert False is alice.get("/api/flags").json()["flags"]["offline"]


# --- enforcement (docs/decisions/0021-feature-flags.md) ---------------------------------------


def _upload(user: User, sid: str) -> str:
    response = user.post(
        f"/api/sessions/{sid}/uploads", params={"filename": "cv.txt"}, content=CV_TEXT.encode()
    )
    assert 201 == response.status_code, response.text
    upload_id: str = response.json()["id"]
    return upload_id


def test_processing_off_refuses_new_jobs_with_feature_disabled(
    admin: User, alice: User, bob: User
) -> None:
    """With checkpointed-processing off for Alice only, her new jobs are 403 feature_disabled."""
    # Bob, with the flag on, passes the check and meets the engine, which is off here (503).
    assert (
        200
        == admin.put(
            "/api/admin/flags/checkpointed-processing", json={"deny": [alice.user_id]}
        ).status_code
    )
    sid, bob_sid = alice.new_session()["id"], bob.new_session()["id"]
    upload_id, bob_upload = _upload(alice, sid), _upload(bob, bob_sid)
    template_job = {"type": "template-application", "template": "modern"}

    processed = alice.post(f"/api/sessions/{sid}/uploads/{upload_id}/process", json={})
    submitted = alice.post(f"/api/sessions/{sid}/jobs", json=template_job)
    for response in (processed, submitted):
        assert is_problem(response, 403, "feature_disabled"), response.text
        assert "checkpointed-processing" == response.json()["feature"]
    assert 200 == alice.get(f"/api/sessions/{sid}/checkpoints").status_code  # reads still work

    bob_processed = bob.post(f"/api/sessions/{bob_sid}/uploads/{bob_upload}/process", json={})
    bob_submitted = bob.post(f"/api/sessions/{bob_sid}/jobs", json=template_job)
    for response in (bob_processed, bob_submitted):
        assert is_problem(response, 503, "processing_disabled"), response.text


def test_processing_flag_does_not_reveal_other_users_sessions(
    admin: User, alice: User, bob: User
) -> None:
    """Bob, with the flag off, still gets 404 for Alice's session, not 403."""
    assert (
        200
        == admin.put(
            "/api/admin/flags/checkpointed-processing", json={"enabled": False}
        ).status_code
    )
    sid = alice.new_session()["id"]
    response = bob.post(
        f"/api/sessions/{sid}/jobs", json={"type": "template-application", "template": "modern"}
    )
    assert is_problem(response, 404, "not_found")


def test_cross_device_sync_off_refuses_pairing_codes_only(admin: User, alice: User) -> None:
    """With cross-device-sync off, pairing is 403 feature_disabled; push and pull still work."""
    assert (
        200 == admin.put("/api/admin/flags/cross-device-sync", json={"enabled": False}).status_code
    )
    refused = alice.post("/api/pairing")
    assert is_problem(refused, 403, "feature_disabled")
    assert "cross-device-sync" == refused.json()["feature"]

    sid = alice.new_session()["id"]
    push = alice.post(
        f"/api/sessions/{sid}/mutations",
        json={
            "clientID": "c1",
            "mutations": [
                {
                    "id": 1,
                    "name": "form.setField",
                    "args": {"form": "contact", "field": "email", "value": "a@b.c"},
                }
            ],
        },
    )
    assert 200 == push.status_code, push.text
    pulled = alice.get(f"/api/sessions/{sid}/pull", params={"cookie": 0}).json()
    assert (
        "a@b.c"
        == alice.get(f"/api/sessions/{sid}").json()["forms"]["contact"]["fields"]["email"]["value"]
    )
    assert 1 <= pulled["cookie"]

    assert 204 == admin.delete("/api/admin/flags/cross-device-sync").status_code
    assert 201 == alice.post("/api/pairing").status_code


def test_sync_socket_stays_open_when_cross_device_sync_is_off(admin: User, alice: User) -> None:
    """The WebSocket is every client's save channel: it still welcomes a hello."""
    assert (
        200 == admin.put("/api/admin/flags/cross-device-sync", json={"enabled": False}).status_code
    )
    sid = alice.new_session()["id"]
    with alice.client.websocket_connect(f"/api/sessions/{sid}/ws", headers=alice.headers) as ws:
        ws.send_json({"type": "hello", "clientID": "c1", "schemaVersion": 1})
        assert "welcome" == ws.receive_json()["type"]
