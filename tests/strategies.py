"""Shared hypothesis strategies and small document helpers for the unit tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from cvsession.core import catalogue, navigation, progress, rules
from cvsession.core.document import Document, iso, new_session_document

BASE_TIME = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NON_TERMINAL = ("draft", "in_progress", "processing", "paused", "failed")

session_ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    min_size=1,
    max_size=64,
)


# Document helpers --------------------------------------------------------------------------------


def sync(doc: Document) -> Document:
    """Recompute stored completions and completedSteps from step statuses."""
    for sid in catalogue.STEP_IDS:
        doc["steps"][sid]["completion"] = progress.step_completion(doc, sid)
    doc["completedSteps"] = [
        s for s in catalogue.STEP_IDS if doc["steps"][s]["status"] == "completed"
    ]
    return doc


def mark_substep(doc: Document, step_id: str, substep_id: str, status: str) -> Document:
    """Set one substep's status (no transition check) and keep the document consistent."""
    doc["steps"][step_id]["substeps"][substep_id]["status"] = status
    return sync(doc)


def mark_step(doc: Document, step_id: str, status: str) -> Document:
    """Set a step's status; completing completes its substeps, skipping skips the open ones."""
    rec = doc["steps"][step_id]
    rec["status"] = status
    for srec in rec["substeps"].values():
        if status == "completed":
            srec["status"] = "completed"
        elif status == "skipped" and srec["status"] in ("pending", "in_progress"):
            srec["status"] = "skipped"
    return sync(doc)


def complete_through(doc: Document, *step_ids: str) -> Document:
    """Complete the given steps in order."""
    for sid in step_ids:
        mark_step(doc, sid, "completed")
    return doc


def new_doc(session_id: str = "s1", **kw: Any) -> Document:
    """A fresh document at BASE_TIME."""
    return new_session_document(session_id, "owner-1", BASE_TIME, **kw)


# Conditions --------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=8)
)
_FIELDS = tuple(sorted(rules.RULE_FIELDS))
# Indexing keeps the strategy's repr short (hypothesis warns about huge reprs).
field_names = st.integers(0, len(_FIELDS) - 1).map(_FIELDS.__getitem__)
var_nodes = field_names.map(lambda n: {"var": n}) | st.tuples(field_names, scalars).map(
    lambda t: {"var": [t[0], t[1]]}
)


def ast_depth(node: Any) -> int:
    """Depth as the rules module counts it (var args do not count)."""
    if isinstance(node, list):
        return 1 + max((ast_depth(x) for x in node), default=0)
    if isinstance(node, dict) and len(node) == 1:
        op, args = next(iter(node.items()))
        if op == "var":
            return 1
        items = args if isinstance(args, list) else [args]
        return 1 + max((ast_depth(x) for x in items), default=0)
    return 1


def _ops(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    binary = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in"])
    return st.one_of(
        st.tuples(binary, children, children).map(lambda t: {t[0]: [t[1], t[2]]}),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=1, max_size=4)).map(
            lambda t: {t[0]: t[1]}
        ),
        st.tuples(st.sampled_from(["!", "!!"]), children).map(lambda t: {t[0]: [t[1]]}),
        st.one_of(
            st.tuples(children, children, children),
            st.tuples(children, children, children, children, children),
        ).map(lambda t: {"if": list(t)}),
        st.lists(children, max_size=3),
    )


def clip(node: Any, depth: int = rules.MAX_DEPTH) -> Any:
    """Replace whatever lies deeper than `depth` levels by the literal true."""
    if depth <= 1 and isinstance(node, list | dict):
        return True
    if isinstance(node, list):
        return [clip(x, depth - 1) for x in node]
    if isinstance(node, dict) and len(node) == 1:
        op, args = next(iter(node.items()))
        if op == "var":
            return node
        if isinstance(args, list):
            return {op: [clip(x, depth - 1) for x in args]}
        return {op: clip(args, depth - 1)}
    return node


# Clipping (rather than filtering) keeps hypothesis from printing the huge recursive repr.
valid_conditions = st.recursive(scalars | var_nodes, _ops, max_leaves=16).map(clip)

_junk_leaves = st.one_of(
    scalars,
    var_nodes,
    st.just(float("nan")),
    st.just(math.inf),
    st.just((1, 2)),
    st.just({1, 2}),
    st.just(b"bytes"),
    st.just(object()),
    st.just({"var": "no.such.field"}),
    st.just({"eval": ["__import__('os')"]}),
    st.just({}),
    st.just({"a": 1, "b": 2}),
)


def _junk_ops(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from([*sorted(rules.OPERATORS), "+", "map", "eval", "", "__class__"])
    return st.one_of(
        _ops(children),
        st.tuples(keys, children).map(lambda t: {t[0]: t[1]}),
        st.tuples(keys, st.lists(children, max_size=4)).map(lambda t: {t[0]: t[1]}),
        st.dictionaries(st.text(max_size=3), children, max_size=3),
    )


any_asts = st.recursive(_junk_leaves, _junk_ops, max_leaves=25)

contexts = st.fixed_dictionaries(
    {},
    optional={
        name: scalars | st.lists(scalars, max_size=3) for name in sorted(rules.RULE_FIELDS)[:12]
    },
)


# Session documents -------------------------------------------------------------------------------

cvs = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "basics": st.fixed_dictionaries(
            {},
            optional={
                "email": st.sampled_from(["", "a@b.c"]),
                "phone": st.sampled_from(["", "+44 1"]),
            },
        ),
        "skills": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5)}), max_size=3),
        "languages": st.lists(st.fixed_dictionaries({"language": st.text(max_size=5)}), max_size=2),
        "certificates": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5)}), max_size=2),
        "work": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5)}), max_size=2),
    },
)


@st.composite
def session_documents(
    draw: st.DrawFn, *, terminal: bool = False, with_rules: bool = True
) -> Document:
    """A valid session document at a random point of the workflow.

    Steps are visited in catalogue order; a step whose prerequisites are met gets a random
    status (skipped only when skippable) and, when in progress, random substep statuses.
    """
    created = BASE_TIME - timedelta(seconds=draw(st.integers(0, 90 * 86_400)))
    doc = new_session_document(
        draw(session_ids), "owner-1", created, quick_create=draw(st.booleans())
    )
    doc["lastActiveAt"] = iso(created + timedelta(seconds=draw(st.integers(0, 86_400))))
    for step in catalogue.STEPS:
        if navigation.missing_prerequisites(doc, step.id):
            continue
        choices = ["completed", "completed", "in_progress", "pending"]
        status = draw(st.sampled_from([*choices, "skipped"] if step.skippable else choices))
        if status == "in_progress":
            doc["steps"][step.id]["status"] = "in_progress"
            for srec in doc["steps"][step.id]["substeps"].values():
                srec["status"] = draw(
                    st.sampled_from(["pending", "in_progress", "completed", "skipped", "error"])
                )
        elif status != "pending":
            mark_step(doc, step.id, status)
        doc["steps"][step.id]["timeSpentMs"] = draw(st.integers(0, 3_600_000))
    sync(doc)
    in_progress = [s for s in catalogue.STEP_IDS if doc["steps"][s]["status"] == "in_progress"]
    if in_progress:
        current = draw(st.sampled_from(in_progress))
    else:
        current = navigation.next_step(doc) or "completed"
    doc["currentStep"] = current
    doc["currentSubstep"] = draw(st.none() | st.sampled_from(catalogue.substep_ids(current)))
    statuses = list(NON_TERMINAL) + (["completed", "expired"] if terminal else [])
    doc["status"] = draw(st.sampled_from(statuses))
    for fid in catalogue.FEATURE_IDS:
        doc["features"][fid]["enabled"] = draw(st.booleans())
    doc["cv"] = draw(cvs)
    doc["target"]["jobDescription"] = draw(st.sampled_from(["", "Senior engineer"]))
    doc["ui"]["sharePublic"] = draw(st.booleans())
    if with_rules:
        for i in range(draw(st.integers(0, 2))):
            doc["rules"][f"r{i}"] = {
                "when": draw(valid_conditions),
                "action": draw(st.sampled_from(rules.ACTIONS)),
                "target": draw(st.sampled_from(catalogue.FEATURE_IDS)),
                "reason": draw(st.text(max_size=20)),
                "sortKey": draw(st.text(max_size=3)),
            }
    return doc


duration_maps = st.none() | st.dictionaries(
    st.sampled_from(catalogue.STEP_IDS),
    st.lists(st.integers(0, 3_600_000), max_size=12),
    max_size=9,
)
