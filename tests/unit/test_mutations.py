"""The mutation engine: ordering, copy-on-write ops, conflicts, replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.core import handlers
from cvsession.core.document import new_session_document
from cvsession.core.errors import InvalidInput, MutationGap
from cvsession.core.mutations import Mutation, apply_mutation, check_order

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
assert handlers.handler_names()


def fresh() -> dict[str, Any]:
    return new_session_document("s1", "u1", NOW)


def run(
    doc: dict[str, Any], fv: dict[str, int], name: str, args: Any, base: int | None = None
) -> Any:
    return apply_mutation(doc, fv, doc["version"], Mutation("c", 1, name, args, base), NOW)


@given(last=st.integers(0, 10_000), delta=st.integers(-50, 50))
def test_check_order_applies_next_ignores_replays_refuses_gaps(last: int, delta: int) -> None:
    """Only last+1 applies; ids at or below last are replays; anything above last+1 is a gap."""
    mid = last + delta
    if delta == 1:
        assert check_order(last, mid) is True
    elif delta <= 0:
        assert check_order(last, mid) is False
    else:
        with pytest.raises(MutationGap):
            check_order(last, mid)


def test_ops_rebuild_the_new_document() -> None:
    """The RFC 6902 ops a mutation emits turn the old document into the new one."""
    doc = fresh()
    result = run(doc, {}, "form.setField", {"form": "f", "field": "a/b~c", "value": [1, 2]})
    rebuilt = jsonpatch.apply_patch(doc, result.ops)
    assert {**result.document, "version": 0} == rebuilt
    assert 1 == result.version


def test_inputs_are_not_modified() -> None:
    """Applying a mutation never mutates the document or field versions it was given."""
    doc = fresh()
    snapshot = jsonpatch.apply_patch(doc, [])
    fv: dict[str, int] = {}
    run(doc, fv, "template.customize", {"template": "modern", "colors": {"primary": "#000"}})
    assert snapshot == doc
    assert {} == fv


def test_no_change_keeps_version() -> None:
    """Writing the value a field already holds is a no-op: no ops, same version."""
    first = run(fresh(), {}, "target.set", {"role": "Chef"})
    second = apply_mutation(
        first.document,
        first.field_versions,
        first.version,
        Mutation("c", 2, "target.set", {"role": "Chef"}),
        NOW,
    )
    assert ([], first.version) == (second.ops, second.version)


def test_unknown_mutation_is_invalid() -> None:
    """An unregistered name is refused with the list of known ones."""
    with pytest.raises(InvalidInput) as info:
        run(fresh(), {}, "nope", {})
    assert "form.setField" in info.value.detail["known"]


values = st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.none())


@settings(max_examples=60, deadline=None)
@given(mine=values, theirs=values, same_field=st.booleans())
def test_stale_edits_merge_or_conflict(mine: Any, theirs: Any, same_field: bool) -> None:
    """Two edits from one base: different fields both land; the same field with different
    values yields a conflict holding both values and keeps the first writer's value."""
    base = fresh()
    first = run(base, {}, "form.setField", {"form": "f", "field": "a", "value": theirs})
    field = "a" if same_field else "b"
    second = apply_mutation(
        first.document,
        first.field_versions,
        first.version,
        Mutation("d", 1, "form.setField", {"form": "f", "field": field, "value": mine}, 0),
        NOW,
    )
    fields = second.document["forms"]["f"]["fields"]
    if not same_field:
        assert (theirs, mine) == (fields["a"]["value"], fields["b"]["value"])
        assert [] == second.conflicts
    elif mine == theirs and type(mine) is type(theirs):
        assert [] == second.conflicts
    else:
        assert [(mine, theirs)] == [(c.yours, c.theirs) for c in second.conflicts]
        assert theirs == fields["a"]["value"]


def test_a_clients_own_earlier_edits_do_not_make_its_later_edit_stale() -> None:
    """Two queued edits of one field from the same base: the versions the client itself
    produced are not "someone else's change", so the second lands; another writer still
    conflicts."""
    first = run(fresh(), {}, "form.setField", {"form": "f", "field": "a", "value": "x"}, 0)
    later = Mutation("c", 2, "form.setField", {"form": "f", "field": "a", "value": "xy"}, 0)
    own = apply_mutation(
        first.document, first.field_versions, first.version, later, NOW,
        own_versions=frozenset({first.version}),
    )  # fmt: skip
    assert ([], "xy") == (own.conflicts, own.document["forms"]["f"]["fields"]["a"]["value"])
    foreign = apply_mutation(
        first.document, first.field_versions, first.version, later, NOW,
        own_versions=frozenset({first.version + 5}),
    )  # fmt: skip
    assert [("xy", "x")] == [(c.yours, c.theirs) for c in foreign.conflicts]


def test_trivial_fields_are_last_writer_wins() -> None:
    """UI state written from a stale base overwrites without a conflict."""
    first = run(fresh(), {}, "ui.set", {"values": {"scroll": 10}})
    second = apply_mutation(
        first.document,
        first.field_versions,
        first.version,
        Mutation("d", 1, "ui.set", {"values": {"scroll": 99}}, 0),
        NOW,
    )
    assert ([], 99) == (second.conflicts, second.document["ui"]["scroll"])


def test_parent_replacement_makes_child_edit_stale() -> None:
    """Replacing a whole form after my base makes my edit to one of its fields a conflict."""
    first = run(fresh(), {}, "form.setField", {"form": "f", "field": "a", "value": 1})
    reset = apply_mutation(
        first.document,
        first.field_versions,
        first.version,
        Mutation("x", 1, "form.reset", {"form": "f"}),
        NOW,
    )
    again = apply_mutation(
        reset.document,
        reset.field_versions,
        reset.version,
        Mutation("y", 1, "form.setField", {"form": "f", "field": "a", "value": 5}, 1),
        NOW,
    )
    assert ["/forms/f/fields/a/value"] == [c.path for c in again.conflicts]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 3)), max_size=12))
def test_replaying_log_ops_reproduces_state(edits: list[tuple[str, int]]) -> None:
    """Applying the logged ops of a sequence of mutations in order rebuilds the final state."""
    doc, fv, version = fresh(), {}, 0
    start = doc
    all_ops: list[dict[str, Any]] = []
    for i, (field, value) in enumerate(edits, 1):
        result = apply_mutation(
            doc,
            fv,
            version,
            Mutation("c", i, "form.setField", {"form": "f", "field": field, "value": value}),
            NOW,
        )
        doc, fv, version = result.document, result.field_versions, result.version
        all_ops.extend(result.ops)
    rebuilt = jsonpatch.apply_patch(start, all_ops)
    assert {**doc, "version": 0} == rebuilt


def test_repeated_field_edit_writes_only_what_changed() -> None:
    """A second edit of a field emits ops for its value and the form's version and time only,
    and leaves flags and messages that did not change alone."""
    first = run(fresh(), {}, "form.setField", {"form": "f", "field": "a", "value": "x"})
    later = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
    second = apply_mutation(
        first.document,
        first.field_versions,
        first.version,
        Mutation("c", 2, "form.setField", {"form": "f", "field": "a", "value": "xy"}),
        later,
    )
    assert [
        ("replace", "/forms/f/fields/a/value", "xy"),
        ("replace", "/forms/f/metadata/version", 2),
        ("replace", "/forms/f/metadata/lastModified", "2026-11-25T12:00:01.000Z"),
        ("replace", "/lastActiveAt", "2026-11-25T12:00:01.000Z"),
    ] == [(op["op"], op["path"], op["value"]) for op in second.ops]
    field = second.document["forms"]["f"]["fields"]["a"]
    assert {"value": "xy", "dirty": True, "touched": False, "valid": True} == {
        k: field[k] for k in ("value", "dirty", "touched", "valid")
    }
    assert first.document["forms"]["f"]["fields"]["a"]["value"] == "x"  # input untouched
