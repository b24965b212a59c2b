"""Conditional rules: JSON Logic style conditions, validated against allow-lists and evaluated by
our own small evaluator (never `eval`). The browser carries the same evaluator; keep them in step.

A condition node is one of:

- a literal: string, number, true, false, null;
- an array of nodes (evaluates to the list of their values; used as the haystack of `in`);
- an operation, an object with exactly one key: `{op: [arg, ...]}`.

Operators (nothing else is accepted):

    var     {"var": "name"} or {"var": ["name", default]}: the value of an allow-listed field
            (`RULE_FIELDS`); the name is a literal, the default a scalar literal. A field missing
            from the context with no default is an error.
    == !=   strict equality of JSON values: no coercion, true != 1, 1 == 1.0, "1" != 1.
    < <= > >=  two numbers or two strings; anything else is an error.
    and or  one or more args, short-circuit, yield true/false.
    ! !!    one arg (`{"!": x}` also accepted): negation / truthiness as true/false.
    in      [needle, haystack]: haystack a list (strict membership) or a string (needle a
            string, substring test); anything else is an error.
    if      [cond, then, (cond, then)*, else]: an odd number ≥ 3 of args, lazily evaluated.

Truthiness (JSON Logic's): false, null, 0, "" and [] are false; everything else is true.
`evaluate` returns the truthiness of the root; any error anywhere fails closed: the whole
condition is false. Limits: depth ≤ `MAX_DEPTH` (a lone literal has depth 1; the args of an
operation and the items of an array are one level deeper) and ≤ `MAX_NODES` nodes (literals,
arrays and operations each count one; the name and default inside `var` do not count).

Rule actions and their precedence (`evaluate_rules`): `disable` wins over `enable`, `recommend`
and `require`; a feature that is both required and disabled is listed in `contradictions` and
treated as disabled (fail closed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cvsession.core import catalogue, progress
from cvsession.core.document import Document, escape_token
from cvsession.core.errors import InvalidInput

JSON = Any

MAX_DEPTH = 16
MAX_NODES = 256
MAX_REASON = 500
ACTIONS = ("enable", "disable", "require", "recommend")

# op -> (minimum args, maximum args or None for unbounded)
_ARITY: dict[str, tuple[int, int | None]] = {
    "var": (1, 2),
    "==": (2, 2),
    "!=": (2, 2),
    "<": (2, 2),
    "<=": (2, 2),
    ">": (2, 2),
    ">=": (2, 2),
    "and": (1, None),
    "or": (1, None),
    "!": (1, 1),
    "!!": (1, 1),
    "in": (2, 2),
    "if": (3, None),
}
OPERATORS = frozenset(_ARITY)
_UNARY_SUGAR = frozenset({"var", "!", "!!"})

_BASE_FIELDS = (
    "status",
    "currentStep",
    "completedSteps",
    "quickCreate",
    "progress",
    "template.selected",
    "target.role",
    "target.jobDescription",
    "ui.sharePublic",
    "cv.skillCount",
    "cv.languageCount",
    "cv.certificateCount",
    "cv.workCount",
    "cv.educationCount",
    "cv.hasEmail",
    "cv.hasPhone",
)
# Fields a condition may read, all computed by `rule_context`.
RULE_FIELDS: frozenset[str] = frozenset(
    _BASE_FIELDS
    + tuple(f"features.{f}.{k}" for f in catalogue.FEATURE_IDS for k in ("enabled", "progress"))
    + tuple(f"steps.{s}.{k}" for s in catalogue.STEP_IDS for k in ("status", "completion"))
)

_CV_COUNTS = {
    "cv.skillCount": "skills",
    "cv.languageCount": "languages",
    "cv.certificateCount": "certificates",
    "cv.workCount": "work",
    "cv.educationCount": "education",
}


def rule_context(doc: Document) -> dict[str, JSON]:
    """Compute every `RULE_FIELDS` value from a session document.

    `progress` is the overall percentage; `ui.sharePublic` is false unless set to true; cv
    counts are the lengths of the JSON Resume lists (0 without a CV); `cv.hasEmail` and
    `cv.hasPhone` are whether `basics.email` / `basics.phone` are non-blank.
    """
    target = _dict(doc.get("target"))
    ui = _dict(doc.get("ui"))
    template = _dict(doc.get("template"))
    cv = _dict(doc.get("cv"))
    basics = _dict(cv.get("basics"))
    ctx: dict[str, JSON] = {
        "status": doc.get("status"),
        "currentStep": doc.get("currentStep"),
        "completedSteps": list(doc.get("completedSteps") or []),
        "quickCreate": doc.get("quickCreate") is True,
        "progress": progress.overall_progress(doc),
        "template.selected": template.get("selected"),
        "target.role": target.get("role", ""),
        "target.jobDescription": target.get("jobDescription", ""),
        "ui.sharePublic": ui.get("sharePublic") is True,
        "cv.hasEmail": _non_blank(basics.get("email")),
        "cv.hasPhone": _non_blank(basics.get("phone")),
    }
    for name, key in _CV_COUNTS.items():
        items = cv.get(key)
        ctx[name] = len(items) if isinstance(items, list) else 0
    features = _dict(doc.get("features"))
    for fid in catalogue.FEATURE_IDS:
        state = _dict(features.get(fid))
        ctx[f"features.{fid}.enabled"] = state.get("enabled") is True
        ctx[f"features.{fid}.progress"] = state.get("progress")
    steps = _dict(doc.get("steps"))
    for sid in catalogue.STEP_IDS:
        rec = _dict(steps.get(sid))
        ctx[f"steps.{sid}.status"] = rec.get("status", "pending")
        ctx[f"steps.{sid}.completion"] = progress.step_completion(doc, sid)
    return ctx


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _non_blank(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


# Validation --------------------------------------------------------------------------------------


def _bad(path: str, problem: str) -> InvalidInput:
    return InvalidInput(f"invalid condition at {path or '/'}: {problem}", path=path)


def _args(op: str, raw: Any) -> list[Any] | None:
    """Return the argument list of an operation, or None when it is not a list."""
    if isinstance(raw, list):
        return raw
    if op in _UNARY_SUGAR:
        return [raw]
    return None


def _arity_ok(op: str, n: int) -> bool:
    low, high = _ARITY[op]
    if n < low or (high is not None and n > high):
        return False
    return op != "if" or n % 2 == 1


def _arity_text(op: str) -> str:
    low, high = _ARITY[op]
    if op == "if":
        return "an odd number of arguments, at least 3"
    if high is None:
        return f"at least {low} argument{'s' if low > 1 else ''}"
    if low == high:
        return f"exactly {low} argument{'s' if low > 1 else ''}"
    return f"{low} to {high} arguments"


def _is_scalar(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def validate_condition(ast: JSON, *, path: str = "") -> None:
    """Check a condition against the operator and field allow-lists and the size limits.

    `path` prefixes the JSON Pointer reported in the error (e.g. "/rules/r1/when").
    Raises InvalidInput(path=...) naming the first bad node: an unknown operator or field, a
    wrong number of arguments, a non-JSON value, depth > MAX_DEPTH or more than MAX_NODES nodes.
    """
    _validate(ast, path, 1, [0])


def _validate(node: Any, path: str, depth: int, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _bad(path, f"a condition may have at most {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise _bad(path, f"a condition may be at most {MAX_DEPTH} levels deep")
    if _is_scalar(node):
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            _validate(item, f"{path}/{i}", depth + 1, count)
        return
    if not isinstance(node, dict):
        raise _bad(path, f"{type(node).__name__} is not a JSON literal or operation")
    if len(node) != 1:
        raise _bad(path, "an operation is an object with exactly one key, the operator")
    op, raw = next(iter(node.items()))
    if op not in _ARITY:
        allowed = " ".join(sorted(_ARITY))
        raise _bad(path, f"unknown operator {op!r}; allowed: {allowed}")
    op_path = f"{path}/{escape_token(op)}"
    args = _args(op, raw)
    if args is None:
        raise _bad(op_path, f"{op!r} takes a list of arguments")
    if not _arity_ok(op, len(args)):
        raise _bad(op_path, f"{op!r} takes {_arity_text(op)}, got {len(args)}")
    arg_path = op_path if args is not raw else None
    if op == "var":
        name = args[0]
        name_path = arg_path or f"{op_path}/0"
        if not isinstance(name, str):
            raise _bad(name_path, "a field name must be a string literal")
        if name not in RULE_FIELDS:
            raise _bad(name_path, f"unknown field {name!r}")
        if len(args) == 2 and not _is_scalar(args[1]):
            raise _bad(f"{op_path}/1", "a default must be a string, number, boolean or null")
        return
    for i, arg in enumerate(args):
        _validate(arg, arg_path or f"{op_path}/{i}", depth + 1, count)


def validate_rule(rule: JSON, *, path: str = "") -> None:
    """Check a session rule `{when, action, target, reason, sortKey?}`.

    `action` is one of ACTIONS, `target` a catalogue feature id, `reason` a string of at most
    MAX_REASON characters (may be empty), `sortKey` a string. Raises InvalidInput(path=...).
    """
    if not isinstance(rule, dict):
        raise InvalidInput(f"invalid rule at {path or '/'}: must be an object", path=path)
    for key in rule:
        if key not in ("when", "action", "target", "reason", "sortKey"):
            p = f"{path}/{escape_token(str(key))}"
            raise InvalidInput(f"invalid rule at {p}: unknown key", path=p)
    for key in ("when", "action", "target", "reason"):
        if key not in rule:
            raise InvalidInput(f"invalid rule at {path or '/'}: missing {key!r}", path=path)
    validate_condition(rule["when"], path=path + "/when")
    if rule["action"] not in ACTIONS:
        raise InvalidInput(
            f"invalid rule at {path}/action: must be one of {', '.join(ACTIONS)}",
            path=path + "/action",
        )
    if not isinstance(rule["target"], str) or rule["target"] not in catalogue.FEATURES:
        raise InvalidInput(
            f"invalid rule at {path}/target: must be a catalogue feature id", path=path + "/target"
        )
    reason = rule["reason"]
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"invalid rule at {path}/reason: must be a string of at most {MAX_REASON} characters",
            path=path + "/reason",
        )
    if "sortKey" in rule and not isinstance(rule["sortKey"], str):
        raise InvalidInput(
            f"invalid rule at {path}/sortKey: must be a string", path=path + "/sortKey"
        )


# Evaluation --------------------------------------------------------------------------------------


class _Fail(Exception):
    """Raised inside the evaluator; `evaluate` turns it into False."""


def evaluate(ast: JSON, context: Mapping[str, JSON]) -> bool:
    """Return whether the condition holds in `context`; never raises: any error is False."""
    try:
        return truthy(_eval(ast, context, 1, [0]))
    except Exception:  # fail closed, whatever went wrong
        return False


def truthy(value: JSON) -> bool:
    """JSON Logic truthiness: false, null, 0, "" and [] are false."""
    if isinstance(value, dict):
        return True
    return bool(value)


def strict_equal(a: JSON, b: JSON) -> bool:
    """JSON equality without coercion: booleans are not numbers, 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _compare(op: str, a: Any, b: Any) -> bool:
    if not ((_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
        raise _Fail
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _eval(node: Any, ctx: Mapping[str, JSON], depth: int, count: list[int]) -> JSON:
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise _Fail
    if node is None or isinstance(node, str | bool | int):
        return node
    if isinstance(node, float):
        if not math.isfinite(node):
            raise _Fail
        return node
    if isinstance(node, list):
        return [_eval(item, ctx, depth + 1, count) for item in node]
    if not isinstance(node, dict) or len(node) != 1:
        raise _Fail
    op, raw = next(iter(node.items()))
    if op not in _ARITY:
        raise _Fail
    args = _args(op, raw)
    if args is None or not _arity_ok(op, len(args)):
        raise _Fail
    d = depth + 1
    if op == "var":
        name = args[0]
        if not isinstance(name, str):
            raise _Fail
        if name in ctx:
            return ctx[name]
        if len(args) == 2 and _is_scalar(args[1]):
            return args[1]
        raise _Fail
    if op == "and":
        return all(truthy(_eval(a, ctx, d, count)) for a in args)
    if op == "or":
        return any(truthy(_eval(a, ctx, d, count)) for a in args)
    if op == "!":
        return not truthy(_eval(args[0], ctx, d, count))
    if op == "!!":
        return truthy(_eval(args[0], ctx, d, count))
    if op == "if":
        for i in range(0, len(args) - 1, 2):
            if truthy(_eval(args[i], ctx, d, count)):
                return _eval(args[i + 1], ctx, d, count)
        return _eval(args[-1], ctx, d, count)
    left = _eval(args[0], ctx, d, count)
    right = _eval(args[1], ctx, d, count)
    if op == "==":
        return strict_equal(left, right)
    if op == "!=":
        return not strict_equal(left, right)
    if op == "in":
        if isinstance(right, list):
            return any(strict_equal(left, x) for x in right)
        if isinstance(right, str) and isinstance(left, str):
            return left in right
        raise _Fail
    return _compare(op, left, right)


# Rule effects ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleEffects:
    """What the rules that hold say about each feature: feature id -> reasons.

    Disabled features are absent from `enabled`, `recommended` and `required`; features both
    required and disabled are also listed (catalogue order) in `contradictions`.
    """

    enabled: dict[str, list[str]] = field(default_factory=dict)
    disabled: dict[str, list[str]] = field(default_factory=dict)
    required: dict[str, list[str]] = field(default_factory=dict)
    recommended: dict[str, list[str]] = field(default_factory=dict)
    contradictions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": {k: list(v) for k, v in self.enabled.items()},
            "disabled": {k: list(v) for k, v in self.disabled.items()},
            "required": {k: list(v) for k, v in self.required.items()},
            "recommended": {k: list(v) for k, v in self.recommended.items()},
            "contradictions": list(self.contradictions),
        }


def _session_rules(doc: Document) -> list[tuple[str, dict[str, Any]]]:
    """Return the document's rules ordered by (sortKey, id)."""
    found = [(rid, r) for rid, r in _dict(doc.get("rules")).items() if isinstance(r, dict)]
    return sorted(found, key=lambda item: (_sort_key(item[1], str(item[0])), str(item[0])))


def _sort_key(rule: dict[str, Any], rule_id: str) -> str:
    key = rule.get("sortKey")
    return key if isinstance(key, str) else rule_id


def evaluate_rules(doc: Document) -> RuleEffects:
    """Evaluate the catalogue rules, then the session's rules (by sortKey, id), on `doc`.

    A session rule whose action or target is not valid is ignored (fail closed); an empty reason
    becomes "A rule set for this session (<id>).".
    """
    ctx = rule_context(doc)
    by_action: dict[str, dict[str, list[str]]] = {a: {} for a in ACTIONS}

    def fire(action: str, target: str, reason: str) -> None:
        reasons = by_action[action].setdefault(target, [])
        if reason not in reasons:
            reasons.append(reason)

    for rule in catalogue.RULES:
        if evaluate(rule.when, ctx):
            fire(rule.action, rule.target, rule.reason)
    for rid, r in _session_rules(doc):
        action, target = r.get("action"), r.get("target")
        if action not in ACTIONS or target not in catalogue.FEATURES:
            continue
        if evaluate(r.get("when"), ctx):
            reason = r.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                reason = f"A rule set for this session ({rid})."
            fire(str(action), str(target), reason)
    disabled = by_action["disable"]
    required = by_action["require"]
    contradictions = [f for f in catalogue.FEATURE_IDS if f in disabled and f in required]

    def kept(action: str) -> dict[str, list[str]]:
        return {f: r for f, r in by_action[action].items() if f not in disabled}

    return RuleEffects(
        enabled=kept("enable"),
        disabled=dict(disabled),
        required=kept("require"),
        recommended=kept("recommend"),
        contradictions=contradictions,
    )


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a feature may be switched on (or off) now, and why."""

    can_enable: bool
    reasons: list[str]
    recommended_reasons: list[str]
    required_reasons: list[str]
    can_disable: bool = True
    disable_reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "canEnable": self.can_enable,
            "reasons": list(self.reasons),
            "recommendedReasons": list(self.recommended_reasons),
            "requiredReasons": list(self.required_reasons),
            "canDisable": self.can_disable,
            "disableReasons": list(self.disable_reasons),
        }


def _step_done(doc: Document, step_id: str) -> bool:
    rec = _dict(_dict(doc.get("steps")).get(step_id))
    return rec.get("status") == "completed" or step_id in (doc.get("completedSteps") or [])


def feature_availability(doc: Document, feature_id: str) -> Availability:
    """Tell whether `feature_id` can be enabled (and disabled) in `doc`.

    It cannot be enabled while a catalogue dependency (another feature) is off, a required step
    is not completed, or a rule disables it; `reasons` says why in sentences. It cannot be
    disabled while a rule requires it or an enabled feature depends on it.
    Raises InvalidInput for an unknown feature id.
    """
    feature = catalogue.FEATURES.get(feature_id)
    if feature is None:
        raise InvalidInput(f"unknown feature {feature_id!r}", feature=feature_id)
    features = _dict(doc.get("features"))
    reasons: list[str] = []
    for dep in feature.dependencies:
        if _dict(features.get(dep)).get("enabled") is not True:
            reasons.append(
                f"{feature.title} needs {catalogue.FEATURES[dep].title} to be enabled first."
            )
    for sid in feature.requires_steps:
        if not _step_done(doc, sid):
            reasons.append(
                f"{feature.title} needs the {catalogue.step(sid).title} step to be completed first."
            )
    effects = evaluate_rules(doc)
    reasons.extend(effects.disabled.get(feature_id, []))
    required = list(effects.required.get(feature_id, []))
    disable_reasons = list(required)
    for other in catalogue.FEATURE_IDS:
        if (
            feature_id in catalogue.FEATURES[other].dependencies
            and _dict(features.get(other)).get("enabled") is True
        ):
            disable_reasons.append(
                f"{catalogue.FEATURES[other].title} needs {feature.title}; turn it off first."
            )
    return Availability(
        can_enable=not reasons,
        reasons=reasons,
        recommended_reasons=list(effects.recommended.get(feature_id, [])),
        required_reasons=required,
        can_disable=not disable_reasons,
        disable_reasons=disable_reasons,
    )
