"""cv.setFields: several CV edits as one mutation (one version), refused as a whole.

cv.setField's own behaviour (one edit) is covered by the parity walk (test_js_parity.py) and the
history properties; this is about the batch: one version, removals, order, the entry named by a
refusal, the size limits, and conflicts of stale entries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.core import handlers
from cvsession.core.document import new_session_document
from cvsession.core.errors import DomainError, InvalidInput
from cvsession.core.mutations import Mutation, MutationResult, apply_mutation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CV = {
    "basics": {"name": "Grace Hopper", "label": "Admiral", "email": "grace@navy.mil"},
    "work": [{"name": "Navy", "position": "Officer"}],
    "skills": [{"name": "COBOL"}],
}
assert "cv.setFields" in handlers.handler_names()


def with_cv(cv: Any = CV, version: int = 3) -> dict[str, Any]:
    doc = new_session_document("s1", "u1", NOW)
    doc["status"] = "in_progress"
    doc["cv"] = json.loads(json.dumps(cv))
    doc["version"] = version
    return doc


def fields(*entries: tuple[str, Any]) -> dict[str, Any]:
    return {"fields": [{"path": p, "value": v} for p, v in entries]}


def run(
    doc: dict[str, Any],
    name: str,
    args: Any,
    *,
    base: int | None = None,
    fv: dict[str, int] | None = None,
) -> MutationResult:
    return apply_mutation(doc, fv or {}, doc["version"], Mutation("c", 1, name, args, base), NOW)


def refusal(doc: dict[str, Any], args: Any) -> InvalidInput:
    snapshot = json.loads(json.dumps(doc))
    with pytest.raises(InvalidInput) as info:
        run(doc, "cv.setFields", args, base=doc["version"])
    assert snapshot == doc  # nothing of it was applied (inputs are never modified anyway)
    return info.value


def test_several_fields_are_one_version_and_one_set_of_ops() -> None:
    """Fifteen edits make one version (not fifteen), and its ops rebuild the new document."""
    doc = with_cv()
    edits = [(f"/basics/extra{i}", f"v{i}") for i in range(12)]
    edits += [("/basics/name", "Grace B. Hopper"), ("/work/0/position", "Rear admiral")]
    edits += [("/skills", [{"name": "COBOL"}, {"name": "FLOW-MATIC"}])]
    result = run(doc, "cv.setFields", fields(*edits), base=doc["version"])
    assert 4 == result.version == result.document["version"]
    assert [] == result.conflicts
    cv = result.document["cv"]
    assert "Grace B. Hopper" == cv["basics"]["name"]
    assert "v11" == cv["basics"]["extra11"]
    assert "Rear admiral" == cv["work"][0]["position"]
    assert ["COBOL", "FLOW-MATIC"] == [s["name"] for s in cv["skills"]]
    assert {"/cv" + p for p, _ in edits} <= {op["path"] for op in result.ops}
    assert {**result.document, "version": 3} == jsonpatch.apply_patch(doc, result.ops)


def test_null_removes_and_a_missing_field_removed_is_a_no_op() -> None:
    doc = with_cv()
    result = run(doc, "cv.setFields", fields(("/basics/label", None), ("/basics/phone", None)))
    assert "label" not in result.document["cv"]["basics"]
    assert [("remove", "/cv/basics/label", "Admiral")] == [
        (op["op"], op["path"], op["old"]) for op in result.ops if op["path"].startswith("/cv")
    ]
    unchanged = run(
        doc, "cv.setFields", fields(("/basics/phone", None), ("/basics/name", "Grace Hopper"))
    )
    assert 3 == unchanged.version and [] == unchanged.ops  # nothing changed: no version


def test_entries_apply_in_order_and_the_later_of_two_for_a_path_wins() -> None:
    """Exactly as the same cv.setField one after another, in one version: no self-conflicts for
    a path written twice, or below a path this mutation wrote, even with a current baseVersion."""
    doc = with_cv()
    batch = fields(
        ("/basics/name", "G."),
        ("/basics/name", "Grace"),
        ("/projects", [{"name": "A-0"}]),
        ("/projects/0/year", 1952),
        ("/skills/-", {"name": "FLOW-MATIC"}),
        ("/skills/0", None),
    )
    result = run(doc, "cv.setFields", batch, base=doc["version"])
    assert [] == result.conflicts
    cv = result.document["cv"]
    assert "Grace" == cv["basics"]["name"]
    assert [{"name": "A-0", "year": 1952}] == cv["projects"]
    assert [{"name": "FLOW-MATIC"}] == cv["skills"]


def test_a_session_without_a_cv_gets_one_and_no_conflict() -> None:
    """Creating /cv is this mutation's own write: it does not make the fields stale (this held
    for cv.setField too, which conflicted with itself on a session whose CV was null)."""
    doc = with_cv(cv=None)
    for name, args in [
        ("cv.setFields", fields(("/basics/name", "Ada"), ("/basics/email", "ada@x.org"))),
        ("cv.setField", {"path": "/basics/name", "value": "Ada"}),
    ]:
        result = run(doc, name, args, base=doc["version"])
        assert [] == result.conflicts
        assert "Ada" == result.document["cv"]["basics"]["name"]


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([{"path": "basics", "value": 1}], "fields/2/path"),  # not a pointer
        ([{"path": "", "value": 1}], "fields/2/path"),
        ([{"path": "/", "value": 1}, {"path": 7, "value": 1}], "fields/3/path"),
        ([{"path": "/basics/phone"}], "fields/2/value"),  # no value (null would remove)
        (["/basics/phone"], "fields/2"),  # not an object
        ([{"path": "/basics/name/first", "value": "x"}], "fields/2/path"),  # below a scalar
        ([{"path": "/work/4/name", "value": "x"}], "fields/2/path"),  # index out of range
        ([{"path": "/work/first", "value": "x"}], "fields/2/path"),  # not an index
        ([{"path": "/x" + "y" * 1000, "value": 1}], "fields/2/path"),  # too long
    ],
)
def test_one_bad_entry_refuses_everything_and_names_the_entry(
    entries: list[Any], field: str
) -> None:
    """Good entries before and after the bad one are not applied; the error says which entry."""
    doc = with_cv()
    good = [{"path": "/basics/name", "value": "X"}, {"path": "/skills", "value": None}]
    error = refusal(doc, {"fields": [*good, *entries, {"path": "/basics/label", "value": "Y"}]})
    assert field == error.detail["field"]
    entry = "/".join(field.split("/")[:2])  # "fields/2"
    assert error.message.startswith(f"{entry}: ")


def test_the_number_of_entries_is_one_to_two_hundred() -> None:
    doc = with_cv()
    over = refusal(doc, fields(*[(f"/basics/k{i}", i) for i in range(201)]))
    assert "fields" == over.detail["field"] and "201" in over.message
    assert "fields" == refusal(doc, {"fields": []}).detail["field"]
    assert "fields" == refusal(doc, {"fields": {"path": "/a", "value": 1}}).detail["field"]
    assert "fields" == refusal(doc, {}).detail["field"]
    full = run(doc, "cv.setFields", fields(*[(f"/basics/k{i}", i) for i in range(200)]))
    assert 199 == full.document["cv"]["basics"]["k199"]


def test_a_finished_session_refuses_it() -> None:
    doc = with_cv()
    doc["status"] = "completed"
    with pytest.raises(DomainError) as info:
        run(doc, "cv.setFields", fields(("/basics/name", "X")))
    assert "illegal_transition" == info.value.code


def test_a_stale_entry_becomes_a_conflict_and_the_others_apply() -> None:
    """Field by field, as cv.setField: another client changed /cv/basics/name after the base."""
    doc = with_cv(version=5)
    fv = {"/cv/basics/name": 5}  # written at version 5 by someone else
    result = run(
        doc, "cv.setFields", fields(("/basics/name", "Mine"), ("/basics/label", "L")), base=4, fv=fv
    )
    assert ["/cv/basics/name"] == [c.path for c in result.conflicts]
    assert "Grace Hopper" == result.document["cv"]["basics"]["name"]
    assert "L" == result.document["cv"]["basics"]["label"]


PATHS = st.sampled_from(
    ["/basics/name", "/basics/label", "/basics", "/skills", "/skills/0", "/skills/-", "/work/0/x"]
)
VALUES = st.one_of(st.none(), st.text(max_size=3), st.lists(st.integers(0, 3), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(PATHS, VALUES), min_size=1, max_size=8))
def test_same_result_as_cv_set_field_one_after_another(edits: list[tuple[str, Any]]) -> None:
    """The batch's CV is the CV after the same cv.setField in order; where one of those is
    refused, the batch is refused as a whole."""
    doc = with_cv()
    step = doc
    refused = False
    for path, value in edits:
        try:
            step = run(step, "cv.setField", {"path": path, "value": value}).document
        except InvalidInput:
            refused = True
            break
    if refused:
        refusal(doc, fields(*edits))
    else:
        assert step["cv"] == run(doc, "cv.setFields", fields(*edits)).document["cv"]
