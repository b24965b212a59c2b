"""Tests for cvsession.core.rules: validation, evaluation, rule effects and feature availability."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.core import catalogue, rules
from cvsession.core.errors import InvalidInput
from tests.strategies import (
    any_asts,
    complete_through,
    contexts,
    new_doc,
    session_documents,
    valid_conditions,
)

CTX: dict[str, Any] = {
    "status": "draft",
    "cv.skillCount": 3,
    "target.role": "Engineer",
    "completedSteps": ["upload", "processing"],
    "quickCreate": False,
    "template.selected": None,
}


def _nest(depth: int) -> Any:
    """A condition exactly `depth` levels deep: depth-1 negations around a literal."""
    node: Any = True
    for _ in range(depth - 1):
        node = {"!": [node]}
    return node


# Validation --------------------------------------------------------------------------------------


@given(valid_conditions)
@settings(max_examples=200, deadline=None)
def test_generated_valid_conditions_validate(ast: Any) -> None:
    """Every condition built only from allowed operators and fields validates."""
    rules.validate_condition(ast)


@given(any_asts, contexts)
@settings(max_examples=300, deadline=None)
def test_random_asts_never_crash(ast: Any, ctx: dict[str, Any]) -> None:
    """validate raises only InvalidInput and evaluate always returns a bool, whatever the AST."""
    try:
        rules.validate_condition(ast)
    except InvalidInput as err:
        assert isinstance(err.detail["path"], str)
    assert isinstance(rules.evaluate(ast, ctx), bool)


def test_depth_limit_is_exact() -> None:
    """Depth 16 validates and evaluates; depth 17 is refused and evaluates to False."""
    rules.validate_condition(_nest(16))
    assert rules.evaluate(_nest(16), {}) is (16 % 2 == 1)
    assert rules.evaluate(_nest(15), {}) is True
    with pytest.raises(InvalidInput) as info:
        rules.validate_condition(_nest(17))
    assert "/!/0" * 16 == info.value.detail["path"]
    assert rules.evaluate(_nest(17), {}) is False


def test_node_limit_is_exact() -> None:
    """256 nodes validate; 257 are refused (the 257th node is named) and evaluate to False."""
    ok = {"and": [True] * 255}
    too_many = {"and": [True] * 256}
    rules.validate_condition(ok)
    assert rules.evaluate(ok, {}) is True
    with pytest.raises(InvalidInput) as info:
        rules.validate_condition(too_many)
    assert "/and/255" == info.value.detail["path"]
    assert rules.evaluate(too_many, {}) is False


@pytest.mark.parametrize(
    ("ast", "path"),
    [
        ({"eval": ["1"]}, ""),
        ({"+": [1, 2]}, ""),
        ({"==": [1, {"map": [[1], 2]}]}, "/==/1"),
        ({"var": "cv.secret"}, "/var"),
        ({"var": ["nope", 1]}, "/var/0"),
        ({"var": [{"var": "status"}]}, "/var/0"),
        ({"var": ["status", [1]]}, "/var/1"),
        ({"var": []}, "/var"),
        ({"==": [1]}, "/=="),
        ({"==": [1, 2, 3]}, "/=="),
        ({"!": [1, 2]}, "/!"),
        ({"and": []}, "/and"),
        ({"and": True}, "/and"),
        ({"if": [True, 1]}, "/if"),
        ({"if": [True, 1, 2, 3]}, "/if"),
        ({"in": ["a"]}, "/in"),
        ({}, ""),
        ({"==": [1, 2], "!=": [1, 2]}, ""),
        ({"or": [True, float("nan")]}, "/or/1"),
        ({"or": [True, (1, 2)]}, "/or/1"),
        ({"or": [True, {1: 2}]}, "/or/1"),
        ([1, b"x"], "/1"),
    ],
)
def test_validation_names_the_bad_node(ast: Any, path: str) -> None:
    """Unknown operators and fields, wrong arity and non-JSON values are refused at their path."""
    with pytest.raises(InvalidInput) as info:
        rules.validate_condition(ast, path="/rules/r/when")
    assert "/rules/r/when" + path == info.value.detail["path"]


@pytest.mark.parametrize(
    "text",
    ["__import__('os')", "{{7*7}}", "${7*7}", "'; DROP TABLE x; --", "<script>alert(1)</script>"],
)
def test_injection_looking_strings_are_just_strings(text: str) -> None:
    """Strings that look like code are compared as plain text, never run."""
    ast = {"==": [{"var": "target.role"}, text]}
    rules.validate_condition(ast)
    assert rules.evaluate(ast, {"target.role": text}) is True
    assert rules.evaluate(ast, {"target.role": "49"}) is False
    assert rules.evaluate(text, {}) is True


def test_every_catalogue_rule_validates() -> None:
    """The built-in rules only use allowed operators and fields."""
    for rule in catalogue.RULES:
        rules.validate_rule(
            {"when": rule.when, "action": rule.action, "target": rule.target, "reason": rule.reason}
        )


# Evaluation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ast", "expected"),
    [
        ({"==": [True, 1]}, False),
        ({"==": [1, 1.0]}, True),
        ({"==": ["1", 1]}, False),
        ({"==": [None, False]}, False),
        ({"!=": [True, 1]}, True),
        ({"==": [[1, "a"], [1, "a"]]}, True),
        ({"<": ["a", 1]}, False),
        ({"!": {"<": ["a", 1]}}, False),
        ({"<": [1, 2]}, True),
        ({">=": ["b", "a"]}, True),
        ({"<": [None, 1]}, False),
        ({"<": [True, 2]}, False),
        ({"in": ["ana", "banana"]}, True),
        ({"in": [1, "banana"]}, False),
        ({"in": [1, [1.0, 2]]}, True),
        ({"in": [True, [1]]}, False),
        ({"!": {"in": [1, 5]}}, False),
        ({"if": [False, 1, True, 0, 1]}, False),
        ({"if": [False, 1, 0]}, False),
        ({"if": [True, "yes", 0]}, True),
        ({"and": [True, 1, "x", [0]]}, True),
        ({"and": [True, []]}, False),
        ({"or": [0, "", None, False]}, False),
        ({"or": [True, {"<": ["a", 1]}]}, True),
        ({"!!": [[]]}, False),
        ({"!!": "0"}, True),
        ({"var": "missing.field"}, False),
        ({"!": {"var": "missing.field"}}, False),
        ({"==": [{"var": ["missing.field", 3]}, 3]}, True),
        ({"==": [{"var": "cv.skillCount"}, 3]}, True),
        ({"in": ["processing", {"var": "completedSteps"}]}, True),
        ({"==": [{"var": "template.selected"}, None]}, True),
    ],
)
def test_evaluate(ast: Any, expected: bool) -> None:
    """Strict equality, typed comparisons, truthiness, and fail-closed errors."""
    assert expected is rules.evaluate(ast, CTX)


def _reference(node: Any, ctx: dict[str, Any]) -> Any:
    """A tiny independent evaluator for literals, var, ==, !=, <, >, and, or (short-circuit), !."""
    if not isinstance(node, dict):
        return node
    ((op, args),) = node.items()
    if op == "var":
        if args not in ctx:
            raise LookupError(args)
        return ctx[args]
    if op == "and":
        return all(bool(_reference(a, ctx)) for a in args)
    if op == "or":
        return any(bool(_reference(a, ctx)) for a in args)
    vals = [_reference(a, ctx) for a in args]
    if op in ("==", "!="):
        a, b = vals
        same = type(a) is type(b) or {type(a), type(b)} <= {int, float}
        return (same and a == b) is (op == "==")
    if op in ("<", ">"):
        a, b = vals
        ok = {type(a), type(b)} <= {int, float} or {type(a), type(b)} == {str}
        if not ok:
            raise TypeError
        return a < b if op == "<" else a > b
    return not bool(vals[0])


simple_leaves = (
    st.integers(-3, 3)
    | st.booleans()
    | st.none()
    | st.sampled_from(["", "a", "b"])
    | st.sampled_from([{"var": "cv.skillCount"}, {"var": "target.role"}, {"var": "quickCreate"}])
)
simple_asts = st.recursive(
    simple_leaves,
    lambda c: st.one_of(
        st.tuples(st.sampled_from(["==", "!=", "<", ">"]), c, c).map(
            lambda t: {t[0]: [t[1], t[2]]}
        ),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(c, min_size=1, max_size=3)).map(
            lambda t: {t[0]: t[1]}
        ),
        c.map(lambda x: {"!": [x]}),
    ),
    max_leaves=10,
)


@given(simple_asts, st.integers(-3, 3), st.sampled_from(["", "a", "b"]), st.booleans())
@settings(max_examples=300, deadline=None)
def test_evaluate_agrees_with_a_reference(ast: Any, skills: int, role: str, quick: bool) -> None:
    """For simple operators evaluate matches an independent evaluator (errors mean False)."""
    ctx = {"cv.skillCount": skills, "target.role": role, "quickCreate": quick}
    try:
        expected = bool(_reference(ast, ctx))
    except (TypeError, LookupError):
        expected = False
    assert expected is rules.evaluate(ast, ctx)


@given(session_documents())
@settings(max_examples=30, deadline=None)
def test_rule_context_has_exactly_the_allowed_fields(doc: dict[str, Any]) -> None:
    """rule_context computes every RULE_FIELDS name and nothing else."""
    assert rules.RULE_FIELDS == set(rules.rule_context(doc))


def test_rule_context_values() -> None:
    """The context reads counts and flags from the CV, UI and steps."""
    doc = complete_through(new_doc(), "upload")
    doc["cv"] = {
        "basics": {"email": "a@b.c", "phone": "  "},
        "skills": [{}, {}],
        "languages": "not a list",
    }
    doc["ui"]["sharePublic"] = True
    ctx = rules.rule_context(doc)
    assert (2, 0, True, False, True) == (
        ctx["cv.skillCount"],
        ctx["cv.languageCount"],
        ctx["cv.hasEmail"],
        ctx["cv.hasPhone"],
        ctx["ui.sharePublic"],
    )
    assert ("completed", 100, 11) == (
        ctx["steps.upload.status"],
        ctx["steps.upload.completion"],
        ctx["progress"],
    )
    assert rules.rule_context(new_doc())["cv.skillCount"] == 0


# Rules -------------------------------------------------------------------------------------------


def _rule(**kw: Any) -> dict[str, Any]:
    return {"when": True, "action": "enable", "target": "privacy-mode", "reason": "r", **kw}


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ("nope", ""),
        (_rule(action="delete"), "/action"),
        (_rule(target="teleport"), "/target"),
        (_rule(reason="x" * 501), "/reason"),
        (_rule(reason=None), "/reason"),
        (_rule(sortKey=1), "/sortKey"),
        (_rule(extra=1), "/extra"),
        ({"when": True, "action": "enable", "target": "privacy-mode"}, ""),
        (_rule(when={"var": "secret"}), "/when/var"),
    ],
)
def test_validate_rule_refuses_bad_rules(rule: Any, path: str) -> None:
    """Each field of a session rule is checked and the error points at it."""
    with pytest.raises(InvalidInput) as info:
        rules.validate_rule(rule, path="/rules/r")
    assert "/rules/r" + path == info.value.detail["path"]


def test_validate_rule_accepts_limits() -> None:
    """A 500-character reason, an empty reason and a sortKey are fine."""
    rules.validate_rule(_rule(reason="x" * 500, sortKey="a"))
    rules.validate_rule(_rule(reason=""))


def test_builtin_rules_fire_on_the_document() -> None:
    """No skills disables the skills chart; a public share requires privacy mode."""
    doc = new_doc()
    doc["ui"]["sharePublic"] = True
    doc["cv"] = {"languages": [{"language": "French"}]}
    effects = rules.evaluate_rules(doc)
    assert {"skills-visualization": ["Your CV lists no skills to chart."]} == effects.disabled
    assert {"privacy-mode": ["A public share link hides personal details."]} == effects.required
    assert {"language-proficiency": ["Your CV lists languages."]} == effects.recommended


def test_disable_wins_and_contradictions_fail_closed() -> None:
    """A disabled feature is not enabled, recommended or required; required+disabled is listed."""
    doc = new_doc()
    doc["cv"] = {"skills": [{"name": "x"}]}
    doc["ui"]["sharePublic"] = True
    doc["rules"] = {
        "a": _rule(action="disable", reason="Never."),
        "b": _rule(action="recommend", target="privacy-mode", reason="Nice."),
        "c": _rule(action="enable", target="contact-form", reason=""),
    }
    effects = rules.evaluate_rules(doc)
    assert ["privacy-mode"] == effects.contradictions
    assert {"privacy-mode": ["Never."]} == effects.disabled
    assert "privacy-mode" not in effects.required
    assert "privacy-mode" not in effects.recommended
    assert "privacy-mode" not in effects.enabled
    assert {"contact-form": ["A rule set for this session (c)."]} == effects.enabled
    assert effects.to_json()["contradictions"] == ["privacy-mode"]


def test_session_rules_apply_in_sort_key_order_and_dedupe_reasons() -> None:
    """Reasons are listed in (sortKey, id) order and each only once."""
    doc = new_doc()
    doc["rules"] = {
        "z": _rule(action="recommend", target="contact-form", reason="first", sortKey="a"),
        "y": _rule(action="recommend", target="contact-form", reason="second", sortKey="b"),
        "x": _rule(action="recommend", target="contact-form", reason="first", sortKey="c"),
        "w": _rule(when=False, action="recommend", target="contact-form", reason="never"),
    }
    assert ["first", "second"] == rules.evaluate_rules(doc).recommended["contact-form"]


def test_malformed_stored_rule_is_ignored() -> None:
    """A stored rule with a bad condition or action never fires."""
    doc = new_doc()
    doc["rules"] = {"a": _rule(when={"eval": "1"}, action="disable"), "b": _rule(action="explode")}
    assert {} == rules.evaluate_rules(doc).enabled
    assert "privacy-mode" not in rules.evaluate_rules(doc).disabled


# Feature availability ----------------------------------------------------------------------------


def test_feature_needs_its_dependencies_and_steps() -> None:
    """Keyword enhancement needs ATS optimisation enabled and the analysis step completed."""
    availability = rules.feature_availability(new_doc(), "keyword-enhancement")
    assert not availability.can_enable
    assert [
        "Keyword enhancement needs ATS optimisation to be enabled first.",
        "Keyword enhancement needs the Analysis step to be completed first.",
    ] == availability.reasons


def test_feature_available_once_prerequisites_hold() -> None:
    """With the dependency on and analysis done, the feature can be enabled and is recommended."""
    doc = complete_through(new_doc(), "upload", "processing", "analysis")
    doc["features"]["ats-optimization"]["enabled"] = True
    doc["target"]["jobDescription"] = "Backend engineer"
    availability = rules.feature_availability(doc, "keyword-enhancement")
    assert availability.can_enable
    assert [] == availability.reasons
    assert ["You gave a job description to match."] == availability.recommended_reasons


def test_disable_rule_blocks_enabling() -> None:
    """A disable rule's reason is why the feature cannot be enabled."""
    doc = complete_through(new_doc(), "upload", "processing", "analysis")
    availability = rules.feature_availability(doc, "skills-visualization")
    assert (False, ["Your CV lists no skills to chart."]) == (
        availability.can_enable,
        availability.reasons,
    )


def test_required_or_depended_on_feature_cannot_be_disabled() -> None:
    """A required feature, or one an enabled feature depends on, cannot be switched off."""
    doc = new_doc()
    doc["ui"]["sharePublic"] = True
    assert not rules.feature_availability(doc, "privacy-mode").can_disable
    doc["features"]["contact-form"]["enabled"] = True
    doc["features"]["availability-calendar"]["enabled"] = True
    availability = rules.feature_availability(doc, "contact-form")
    assert not availability.can_disable
    assert [
        "Availability calendar needs Contact form; turn it off first."
    ] == availability.disable_reasons


def test_unknown_feature_is_invalid_input() -> None:
    """Asking about a feature outside the catalogue is invalid input."""
    with pytest.raises(InvalidInput):
        rules.feature_availability(new_doc(), "teleport")
