"""The `history.restore` handler: field, form and whole-session restores as ordinary writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cvsession.core import handlers
from cvsession.core.document import new_session_document
from cvsession.core.errors import IllegalTransition, InvalidInput
from cvsession.core.mutations import Mutation, MutationResult, apply_mutation
from cvsession.core.mutations_history import KEPT_KEYS

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
assert "history.restore" in handlers.handler_names()


class Timeline:
    """A session driven through mutations, keeping its document at every version."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = [new_session_document("s1", "u1", T0)]
        self.fv: dict[str, int] = {}

    @property
    def doc(self) -> dict[str, Any]:
        return self.docs[-1]

    def apply(
        self, name: str, args: Any, base: int | None = None, extra: Any = None
    ) -> MutationResult:
        now = T0 + timedelta(minutes=len(self.docs))
        version = self.doc["version"]
        mut = Mutation("c", version + 1, name, args, base)
        result = apply_mutation(self.doc, self.fv, version, mut, now, extra=extra)
        if result.version != version:
            self.docs.append(result.document)
            self.fv = result.field_versions
        return result

    def restore(self, version: int, **args: Any) -> MutationResult:
        extra = {"restore": {"version": version, "document": self.docs[version]}}
        return self.apply("history.restore", {"version": version, **args}, extra=extra)


def field(tl: Timeline, name: str, value: Any, form: str = "contact") -> None:
    tl.apply("form.setField", {"form": form, "field": name, "value": value})


def test_field_restore_writes_the_old_value_only() -> None:
    """Restoring a field to version N writes its value at N, touching nothing else."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1
    field(tl, "email", "b@x")  # v2
    field(tl, "phone", "123")  # v3
    result = tl.restore(1, path="/forms/contact/fields/email/value")
    assert 4 == result.version
    assert "a@x" == result.document["forms"]["contact"]["fields"]["email"]["value"]
    assert "123" == result.document["forms"]["contact"]["fields"]["phone"]["value"]
    paths = [op["path"] for op in result.ops]
    assert ["/forms/contact/fields/email/value", "/lastActiveAt"] == paths
    assert "b@x" == result.ops[0]["old"]


def test_restore_is_unchecked_even_against_a_stale_base() -> None:
    """A restore never becomes a conflict: it is applied whatever its baseVersion."""
    tl = Timeline()
    field(tl, "email", "a@x")
    field(tl, "email", "b@x")
    extra = {"restore": {"version": 1, "document": tl.docs[1]}}
    args = {"version": 1, "path": "/forms/contact/fields/email"}
    result = tl.apply("history.restore", args, base=0, extra=extra)
    assert [] == result.conflicts
    email = tl.docs[1]["forms"]["contact"]["fields"]["email"]
    assert email == result.document["forms"]["contact"]["fields"]["email"]


def test_field_absent_then_is_removed() -> None:
    """A field that did not exist at version N is removed by restoring it."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1
    field(tl, "phone", "123")  # v2
    result = tl.restore(1, path="/forms/contact/fields/phone")
    assert {"email"} == set(result.document["forms"]["contact"]["fields"])
    assert "remove" == result.ops[0]["op"]


def test_form_restore_brings_back_the_whole_form() -> None:
    """A form restore returns fields and metadata as they were, including a form reset since."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1
    field(tl, "phone", "123")  # v2
    field(tl, "email", "c@x")  # v3
    tl.apply("form.reset", {"form": "contact"})  # v4
    result = tl.restore(2, path="/forms/contact", scope="form")
    assert tl.docs[2]["forms"]["contact"] == result.document["forms"]["contact"]


def test_form_created_later_is_removed() -> None:
    """Restoring a form to a version before it existed removes it, leaving other forms."""
    tl = Timeline()
    field(tl, "a", 1, form="first")  # v1
    field(tl, "b", 2, form="second")  # v2
    result = tl.restore(1, path="/forms/second")
    assert {"first"} == set(result.document["forms"])


def test_session_restore_equals_the_old_document_but_identity() -> None:
    """A whole-session restore gives the document at N, except identity and bookkeeping."""
    tl = Timeline()
    tl.apply("target.set", {"role": "SRE"})  # v1
    tl.apply("step.complete", {"step": "upload"})  # v2
    tl.apply("template.select", {"template": "modern"})  # v3
    tl.apply("session.pause", {})  # v4
    tl.apply("ui.set", {"values": {"panel": "left"}})  # v5
    result = tl.restore(1)
    old = tl.docs[1]
    assert {k: v for k, v in old.items() if k not in KEPT_KEYS} == {
        k: v for k, v in result.document.items() if k not in KEPT_KEYS
    }
    assert ("s1", 6) == (result.document["id"], result.document["version"])
    assert ("paused", "draft") == (tl.docs[5]["status"], result.document["status"])


def test_restore_to_an_identical_state_is_a_no_op() -> None:
    """Nothing differing means no ops and no new version."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1
    tl.apply("ui.set", {"values": {"x": 1}})  # v2 (ui only)
    result = tl.restore(2)
    assert (2, []) == (result.version, result.ops)
    result = tl.restore(1, path="/forms/contact")
    assert (2, []) == (result.version, result.ops)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"version": 0, "path": "/status"}, "cannot be restored on its own"),
        ({"version": 0, "path": "/steps/upload"}, "cannot be restored on its own"),
        ({"version": 0, "path": ""}, "cannot be restored on its own"),
        ({"version": 0, "path": "forms"}, "must start with '/'"),
        ({"version": 0, "path": 5}, "must be a JSON Pointer"),
        ({"version": 0, "path": "/forms/f/fields/a", "scope": "form"}, "a form's path"),
        ({"version": 0, "path": "/forms/f", "scope": "session"}, "takes no 'path'"),
        ({"version": 0, "scope": "field"}, "'path' is required"),
        ({"version": 0, "scope": "everything"}, "'scope' must be one of"),
        ({"version": -1}, "'version' must be between"),
        ({"version": "1"}, "'version' must be an integer"),
        ({}, "'version' must be an integer"),
    ],
)
def test_bad_arguments_are_refused_clearly(args: dict[str, Any], message: str) -> None:
    """Paths outside the restorable roots and inconsistent arguments raise InvalidInput."""
    tl = Timeline()
    extra = {"restore": {"version": 0, "document": tl.docs[0]}}
    with pytest.raises(InvalidInput, match=message):
        tl.apply("history.restore", args, extra=extra)


def test_restore_without_the_loaded_version_is_refused() -> None:
    """The handler refuses when the service did not pre-load that version."""
    tl = Timeline()
    field(tl, "email", "a@x")
    with pytest.raises(InvalidInput, match="could not be loaded"):
        tl.apply("history.restore", {"version": 0})
    extra = {"restore": {"version": 1, "document": tl.docs[1]}}
    with pytest.raises(InvalidInput, match="could not be loaded"):
        tl.apply("history.restore", {"version": 0}, extra=extra)


def test_expired_session_cannot_be_restored() -> None:
    """Nothing restores from expired: every restore of an expired session is refused."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1
    tl.apply("server.expire", {})  # v2
    with pytest.raises(IllegalTransition):
        tl.restore(1)
    with pytest.raises(IllegalTransition):
        tl.restore(0, path="/forms/contact")


def test_status_is_never_restored_to_expired() -> None:
    """A version whose status was expired restores everything but the status."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1
    expired = {**tl.docs[1], "status": "expired"}
    extra = {"restore": {"version": 0, "document": expired}}
    tl.docs[0] = new_session_document("s1", "u1", T0)
    result = tl.apply("history.restore", {"version": 0}, extra=extra)
    assert "draft" == result.document["status"]
    assert [] == result.ops  # expired's other keys equal the current ones


def test_completed_session_reopens_only_by_whole_restore() -> None:
    """On a completed session a path restore is refused; a session restore brings the status."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1 (draft)
    for step in ("upload", "processing", "analysis", "features", "templates", "preview"):
        tl.apply("step.complete", {"step": step})
    tl.apply("step.complete", {"step": "results"})
    tl.apply("step.skip", {"step": "keywords"})
    tl.apply("session.complete", {})
    assert "completed" == tl.doc["status"]
    with pytest.raises(IllegalTransition):
        tl.restore(1, path="/forms/contact")
    result = tl.restore(1)
    assert ("draft", []) == (result.document["status"], result.document["completedSteps"])


def test_a_restore_leaving_an_invalid_document_is_refused() -> None:
    """Restoring a leaf whose parent is gone would leave a malformed field: refused, named."""
    tl = Timeline()
    field(tl, "email", "a@x")  # v1
    tl.apply("form.reset", {"form": "contact"})  # v2
    with pytest.raises(InvalidInput, match="restore an enclosing form") as info:
        tl.restore(1, path="/forms/contact/fields/email/value")
    assert info.value.detail["path"].startswith("/forms/contact/fields/email")
