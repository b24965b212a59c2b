"""Queued edits of one field from one client never conflict with each other."""

from __future__ import annotations

from tests.integration.conftest import User


def _edit(mid: int, value: str, base: int) -> dict[str, object]:
    args = {"form": "f", "field": "x", "value": value}
    return {"id": mid, "name": "form.setField", "args": args, "baseVersion": base}


def test_offline_edits_of_one_field_replay_without_self_conflicts(alice: User) -> None:
    """A client that edited a field twice offline (both from version 0) replays both: the
    second wins, no conflict; another client's stale edit of it is still a conflict."""
    sid = alice.new_session()["id"]
    url = f"/api/sessions/{sid}/mutations"
    mine = alice.post(
        url, json={"clientID": "phone", "mutations": [_edit(1, "a", 0), _edit(2, "ab", 0)]}
    )
    assert [[], []] == [r["conflicts"] for r in mine.json()["results"]]
    theirs = alice.post(url, json={"clientID": "laptop", "mutations": [_edit(1, "zz", 0)]})
    assert [("zz", "ab")] == [
        (c["yours"], c["theirs"]) for c in theirs.json()["results"][0]["conflicts"]
    ]
    doc = alice.get(f"/api/sessions/{sid}").json()
    assert "ab" == doc["forms"]["f"]["fields"]["x"]["value"]
