"""The browser's predictors and rule evaluator agree with the Python core.

The browser client (src/cvsession/web/lib) applies mutations optimistically with its own port
of the handlers (predict.js) and evaluates conditional rules with its own port of core/rules.py.
These tests run node on JSON batches and compare, case by case, with
`core.handlers.apply_mutation` and `core.rules`: same document (with the same clock, timestamps
included), same refusals, same rule verdicts (hostile rules included), same catalogue.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cvsession.core import catalogue, handlers, model, rules
from cvsession.core.document import iso
from cvsession.core.errors import DomainError
from cvsession.core.mutations import Mutation
from tests.strategies import (
    BASE_TIME,
    any_asts,
    complete_through,
    contexts,
    mark_step,
    new_doc,
    session_documents,
    valid_conditions,
)

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "js" / "parity-runner.mjs"
NODE = shutil.which("node")

if NODE is None:
    if os.environ.get("CI") or os.environ.get("CVSESSION_REQUIRE_SERVICES") == "1":
        pytest.fail("node is required for the JS parity tests in CI", pytrace=False)
    pytest.skip(
        "node is not installed: the JS parity tests need Node.js 20+", allow_module_level=True
    )

NOW = BASE_TIME + timedelta(minutes=7, seconds=3, milliseconds=250)


def run_node(batch: dict[str, Any]) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(RUNNER)],
        input=json.dumps(batch, allow_nan=False),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    # JS prints a large double as its shortest digits without exponent ("46218417950162940"):
    # read such integers as the double they are, not as a different exact Python int.
    result: dict[str, Any] = json.loads(done.stdout, parse_int=_js_int)
    return result


def _js_int(text: str) -> int | float:
    value = int(text)
    return value if abs(value) <= 2**53 else float(value)


# predictors ---------------------------------------------------------------------------------------
def python_apply(doc: dict[str, Any], name: str, args: Any, now: datetime) -> dict[str, Any]:
    mut = Mutation("c1", 1, name, args, None, "")
    try:
        result = handlers.apply_mutation(doc, {}, doc["version"], mut, now)
    except DomainError as exc:
        return {"ok": False, "code": exc.code}
    return {"ok": True, "doc": json.loads(json.dumps(result.document))}


def check_predictions(cases: list[tuple[dict[str, Any], str, Any, datetime]]) -> None:
    batch = {
        "predict": [
            {"doc": doc, "name": name, "args": args, "now": iso(now)}
            for doc, name, args, now in cases
        ]
    }
    got = run_node(batch)["predict"]
    for (doc, name, args, now), js in zip(cases, got, strict=True):
        py = python_apply(doc, name, args, now)
        where = f"{name} {json.dumps(args)[:200]} on status={doc.get('status')}"
        assert js["ok"] == py["ok"], f"{where}: python {py} / js {js}"
        if py["ok"]:
            assert js["doc"] == py["doc"], where


def _fields(*entries: tuple[str, Any]) -> dict[str, Any]:
    return {"fields": [{"path": p, "value": v} for p, v in entries]}


# cv.setFields on the walk's CV: several fields, removals, overlaps and refusals of the whole.
CV_SET_FIELDS: list[tuple[str, Any]] = [
    ("cv.setFields", _fields(("/basics/name", "Grace"), ("/basics/label", "Admiral"))),
    ("cv.setFields", _fields(("/basics/label", None), ("/basics/email", "g@h.i"), ("/nope", None))),
    ("cv.setFields", _fields(("/basics/name", "Grace"))),  # no change: no version
    (
        "cv.setFields",
        _fields(
            ("/work", [{"name": "Navy"}]),
            ("/work/0/position", "Rear admiral"),  # below the entry before it
            ("/skills/-", {"name": "COBOL"}),
            ("/skills/-", {"name": "FLOW-MATIC"}),
            ("/basics/name", "G."),
            ("/basics/name", "Grace Hopper"),  # the later entry wins
        ),
    ),
    ("cv.setFields", _fields(("/basics/name", "X"), ("basics", 1))),  # refused whole
    ("cv.setFields", _fields(("/basics/name", "X"), ("/basics/name/first", 1))),
    ("cv.setFields", _fields(("/basics/name", "X"), ("/work/5", {}))),
    ("cv.setFields", _fields(("/basics/name", "X"), ("/work/name", "not an index"))),
    ("cv.setFields", _fields(("/basics/name", "X"), ("", 1))),
    ("cv.setFields", {"fields": [{"path": "/basics/name", "value": "X"}, {"path": "/a"}]}),
    ("cv.setFields", {"fields": [{"path": "/basics/name", "value": "X"}, "/a"]}),
    ("cv.setFields", {"fields": []}),
    ("cv.setFields", {"fields": {"path": "/a", "value": 1}}),
    ("cv.setFields", _fields(*[(f"/many/{i}", i) for i in range(201)])),
    ("cv.setFields", _fields(*[(f"/many/k{i}", i) for i in range(200)])),
]


def walk_cases() -> list[tuple[dict[str, Any], str, Any, datetime]]:
    """A whole workflow, one mutation after another, plus refusals along the way."""
    steps: list[tuple[str, Any]] = [
        ("step.enter", {"step": "upload"}),
        ("substep.start", {"step": "upload", "substep": "file-select"}),
        ("form.setField", {"form": "contact", "field": "email", "value": "a@b.c"}),
        ("form.setField", {"form": "contact", "field": "email", "value": "a@b.c"}),  # same value
        (
            "form.setField",
            {
                "form": "contact",
                "field": "name",
                "touched": True,
                "valid": False,
                "errors": ["required"],
                "metadata": {"userAgent": "ua"},
            },
        ),
        ("form.setField", {"form": "contact", "field": "x", "valid": "yes"}),  # refused
        (
            "form.save",
            {
                "form": "profile",
                "fields": {"a": {"value": 1}, "b": {"value": None, "dirty": False}},
            },
        ),
        ("form.save", {"form": "profile", "fields": {"a": {"value": "x" * 5}}, "metadata": 3}),
        ("ui.set", {"values": {"panel": "open", "scroll": 120, "sharePublic": True}}),
        ("ui.set", {"values": {"panel": None, "missing": None}}),
        ("ui.set", {"values": {"": 1}}),
        ("cv.setField", {"path": "/basics/name", "value": "Ada"}),
        ("cv.setField", {"path": "/skills", "value": [{"name": "x"}]}),
        ("cv.setField", {"path": "/skills/0/name", "value": "y"}),
        ("cv.setField", {"path": "/skills/-", "value": {"name": "z"}}),
        ("cv.setField", {"path": "/skills/7/name", "value": "far"}),
        ("cv.setField", {"path": "/basics/name/first", "value": "below a scalar"}),
        ("cv.setField", {"path": "/basics/name", "value": None}),
        ("cv.setField", {"path": "basics", "value": 1}),
        ("cv.setField", {"path": "/a~1b/c~0d", "value": True}),
        *CV_SET_FIELDS,
        ("substep.complete", {"step": "upload", "substep": "file-select", "data": {"f": 1}}),
        ("substep.complete", {"step": "upload", "substep": "file-validate"}),
        ("substep.complete", {"step": "upload", "substep": "file-upload", "data": {"f": None}}),
        ("step.enter", {"step": "analysis"}),  # refused: processing not done
        ("substep.start", {"step": "processing", "substep": "nope"}),
        ("substep.complete", {"step": "processing", "substep": "text-extract"}),
        ("substep.complete", {"step": "processing", "substep": "ai-analysis"}),
        ("substep.complete", {"step": "processing", "substep": "structure-parse"}),
        ("step.enter", {"step": "analysis", "substep": "keywords-extract"}),
        ("feature.toggle", {"feature": "ats-optimization", "enabled": True}),  # needs analysis
        ("substep.complete", {"step": "analysis", "substep": "content-analyze"}),
        ("substep.complete", {"step": "analysis", "substep": "improvements-identify"}),
        ("substep.complete", {"step": "analysis", "substep": "keywords-extract"}),
        ("feature.toggle", {"feature": "ats-optimization", "enabled": True}),
        ("feature.toggle", {"feature": "keyword-enhancement", "enabled": True}),
        ("feature.toggle", {"feature": "ats-optimization", "enabled": False}),  # has dependents
        ("feature.toggle", {"feature": "skills-visualization", "enabled": True}),  # rule disables
        ("feature.toggle", {"feature": "privacy-mode", "enabled": True}),
        ("feature.toggle", {"feature": "privacy-mode", "enabled": False}),  # required by a rule
        ("feature.toggle", {"feature": "privacy-mode", "enabled": True}),  # already on: no-op
        ("feature.toggle", {"feature": "constructor", "enabled": True}),
        ("template.select", {"template": "creative"}),
        ("template.select", {"template": "toString"}),
        (
            "template.customize",
            {
                "colors": {"primary": "#000", "text": None},
                "fonts": {"body": "Inter"},
                "sectionOrder": {"k1": {"section": "work", "sortKey": "a0"}},
                "hiddenSections": {"awards": True, "skills": False},
            },
        ),
        (
            "template.customize",
            {
                "template": "modern",
                "sectionOrder": {"k1": None},
                "hiddenSections": {"awards": False},
            },
        ),
        ("template.customize", {"colors": {"primary": ""}}),
        ("template.customize", {"colors": {"primary": "x" * 101}}),
        ("target.set", {"role": "Engineer", "jobDescription": "Build things"}),
        ("target.set", {"role": "Engineer", "salary": 1}),
        ("target.set", {"instructions": None}),
        ("step.enter", {"step": "templates"}),
        ("substep.start", {"step": "templates", "substep": "template-preview"}),
        ("step.enter", {"step": "features", "substep": "features-validate"}),
        ("substep.complete", {"step": "features", "substep": "features-select"}),
        ("ui.set", {"values": {"scroll": 5}}),
        ("step.enter", {"step": "bogus"}),
        ("substep.start", {"step": "upload", "substep": "file-select"}),  # reopen a completed one
    ]
    doc = new_doc("s_parity")
    cases = []
    now = NOW
    for name, args in steps:
        cases.append((json.loads(json.dumps(doc)), name, args, now))
        py = python_apply(doc, name, args, now)
        if py["ok"]:
            doc = py["doc"]
        now += timedelta(seconds=41, milliseconds=7)
    return cases


def test_predictors_follow_a_whole_workflow() -> None:
    cases = walk_cases()
    check_predictions(cases)
    refused = sum(1 for doc, n, a, now in cases if not python_apply(doc, n, a, now)["ok"])
    assert 10 <= refused < len(cases) - 20  # both kinds are really exercised


def test_cv_set_fields_predictor_applies_and_refuses_as_the_server() -> None:
    """cv.setFields on the walk's documents: the same outcome, and the same invalid_input where
    an entry is bad (the whole mutation refused, whatever the entries before it)."""
    cases = [c for c in walk_cases() if c[1] == "cv.setFields"]
    got = run_node(
        {"predict": [{"doc": d, "name": n, "args": a, "now": iso(t)} for d, n, a, t in cases]}
    )
    outcomes = []
    for (doc, name, args, now), js in zip(cases, got["predict"], strict=True):
        py = python_apply(doc, name, args, now)
        outcomes.append(py.get("code", "ok"))
        assert js.get("code", "ok") == outcomes[-1], json.dumps(args)[:200]
        if py["ok"]:
            assert js["doc"] == py["doc"], json.dumps(args)[:200]
    assert ["ok"] * 4 + ["invalid_input"] * 10 + ["ok"] == outcomes


def test_predictors_on_terminal_and_paused_sessions() -> None:
    done = complete_through(new_doc("s_t"), *catalogue.STEP_IDS)
    paused = new_doc("s_p")
    paused["status"] = "paused"
    paused["steps"]["upload"]["enteredAt"] = iso(NOW - timedelta(hours=3))  # capped interval
    failed = complete_through(new_doc("s_f"), "upload", "processing")
    failed["status"] = "failed"
    failed["currentStep"] = "processing"
    failed["steps"]["processing"]["enteredAt"] = iso(NOW - timedelta(seconds=1, microseconds=1000))
    erroring = mark_step(new_doc("s_e"), "upload", "in_progress")
    erroring["steps"]["upload"]["substeps"]["file-select"]["status"] = "error"
    cases = []
    for doc in (done, paused, failed, erroring):
        for status in (doc["status"], "completed", "expired"):
            d = json.loads(json.dumps(doc))
            d["status"] = status
            for name, args in [
                ("form.setField", {"form": "f", "field": "a", "value": 1}),
                ("ui.set", {"values": {"a": 1}}),
                ("step.enter", {"step": "upload"}),
                ("step.enter", {"step": "analysis"}),
                ("substep.complete", {"step": "upload", "substep": "file-upload"}),
                ("substep.start", {"step": "processing", "substep": "ai-analysis"}),
                ("template.select", {"template": "classic"}),
                ("cv.setField", {"path": "/x", "value": 1}),
                ("cv.setFields", _fields(("/x", 1), ("/y", None))),
            ]:
                cases.append((d, name, args, NOW))
    check_predictions(cases)


MUTATIONS = st.sampled_from(
    [("step.enter", {"step": s}) for s in catalogue.STEP_IDS]
    + [
        ("substep.complete", {"step": s, "substep": sub})
        for s in catalogue.STEP_IDS
        for sub in catalogue.substep_ids(s)
    ]
    + [
        ("substep.start", {"step": s, "substep": catalogue.substep_ids(s)[-1]})
        for s in catalogue.STEP_IDS
    ]
    + [
        ("feature.toggle", {"feature": f, "enabled": e})
        for f in catalogue.FEATURE_IDS
        for e in (True, False)
    ]
    + [
        ("template.select", {"template": "modern"}),
        ("ui.set", {"values": {"sharePublic": False}}),
        ("form.setField", {"form": "f", "field": "g", "value": [1, {"a": None}]}),
        ("target.set", {"jobDescription": ""}),
        ("cv.setField", {"path": "/skills/0", "value": {"name": "k"}}),
        ("cv.setFields", _fields(("/skills/0", {"name": "k"}), ("/basics", None))),
    ]
)


# One node run checks a whole batch. No shrinking: each attempt costs a node start, and the
# assertion message names the failing mutation and document already.
BATCHES = settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@BATCHES
@given(st.data())
def test_predictors_on_random_documents(data: st.DataObject) -> None:
    pairs = data.draw(
        st.lists(st.tuples(session_documents(terminal=True), MUTATIONS), min_size=40, max_size=40),
        label="cases",
    )
    check_predictions([(doc, name, args, NOW) for doc, (name, args) in pairs])


# rules ------------------------------------------------------------------------------------------
def _deep(n: int) -> Any:
    node: Any = True
    for _ in range(n - 1):
        node = {"!": [node]}
    return node


HOSTILE: list[Any] = [
    {"constructor": [1]},
    {"__proto__": [1]},
    {"toString": []},
    {"hasOwnProperty": ["x"]},
    {"var": "__proto__"},
    {"var": "constructor"},
    {"var": ["toString", 1]},
    {"var": ["x", 7]},
    {"var": ["status", [1]]},
    {"var": []},
    {"var": [1]},
    {"var": "status", "x": 1},
    {},
    _deep(16),
    _deep(17),
    [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]],
    [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]],
    {"and": [True] * 254},
    {"and": [True] * 256},
    {"or": [True, *([{"bogus": 1}] * 300)]},
    {"and": [False, *([1] * 300)]},
    {"or": [False, {"bogus": 1}]},
    {"or": [True, {"bogus": 1}]},
    {"<": ["\uffff", "\U0001f600"]},
    {">": ["\U0001f600", "\uffff"]},
    {"<=": ["a", "a"]},
    {"==": [1, 1.0]},
    {"==": [True, 1]},
    {"!=": [0, False]},
    {"==": [[1, [2]], [1, [2]]]},
    {"==": [None, None]},
    {"==": ["1", 1]},
    {"<": [1, "2"]},
    {"<": [True, 2]},
    {"<": [None, 1]},
    {"in": ["a", "cat"]},
    {"in": ["", "x"]},
    {"in": [1, "abc"]},
    {"in": [1, [1.0, 2]]},
    {"in": [True, [1]]},
    {"in": ["a", None]},
    {"if": [True]},
    {"if": [False, 1, 0]},
    {"if": [0, 1, "", 2, [], 3, [0]]},
    {"if": [1, 2, 3, 4]},
    {"!": []},
    {"!": [1, 2]},
    {"!": 0},
    {"!!": [[]]},
    {"!!": [[0]]},
    {"and": []},
    {"or": "x"},
    {"==": [1]},
    0,
    "",
    [],
    [0],
    None,
    "x",
    1e308,
    -0.0,
    {"var": "cv.skillCount"},
    {"<": [{"var": "cv.skillCount"}, 1]},
    {"in": [{"var": "currentStep"}, ["upload", "processing"]]},
    {"in": ["upload", {"var": "completedSteps"}]},
    {"==": [{"var": "ui.sharePublic"}, True]},
    {"eval": ["__import__('os')"]},
    {"var": "progress"},
    {">=": [{"var": "progress"}, 0]},
    {"if": [{"var": "quickCreate"}, {"bogus": 1}, "ok"]},
]


def _jsonable(ast: Any) -> Any:
    try:
        return json.loads(json.dumps(ast, allow_nan=False))
    except (TypeError, ValueError):
        return None


def _context_doc() -> dict[str, Any]:
    doc = complete_through(new_doc("s_ctx"), "upload")
    doc["cv"] = {"skills": [{"name": "a"}, {"name": "b"}], "basics": {"email": " x@y.z "}}
    doc["ui"]["sharePublic"] = True
    doc["currentStep"] = "processing"
    return doc


def check_rules(asts: list[Any], ctxs: list[dict[str, Any]]) -> None:
    cases = [{"ast": a, "ctx": c} for a in asts for c in ctxs]
    got = run_node({"evaluate": cases, "validate": [{"ast": a} for a in asts]})
    for case, js in zip(cases, got["evaluate"], strict=True):
        assert js is rules.evaluate(case["ast"], case["ctx"]), json.dumps(case)[:300]
    for ast, js in zip(asts, got["validate"], strict=True):
        try:
            rules.validate_condition(ast)
            py = None
        except DomainError as exc:
            py = exc.detail.get("path")
        assert (js is None) == (py is None), f"{json.dumps(ast)[:300]}: py {py} js {js}"
        if py is not None:
            assert js["path"] == py, json.dumps(ast)[:300]


def test_rule_evaluator_agrees_on_hostile_and_ordinary_rules() -> None:
    ctx = rules.rule_context(_context_doc())
    check_rules(HOSTILE, [ctx, {}, {"status": None, "x": [1]}])


@BATCHES
@given(st.data())
def test_rule_evaluator_agrees_on_random_rules(data: st.DataObject) -> None:
    asts = data.draw(st.lists(any_asts | valid_conditions, min_size=80, max_size=80), label="asts")
    ctx = data.draw(contexts, label="context")
    clean = [_jsonable(a) for a in asts]
    ctx = {k: v for k, v in ctx.items() if not (isinstance(v, float) and math.isnan(v))}
    check_rules(clean, [ctx, rules.rule_context(_context_doc())])


@BATCHES
@given(st.data())
def test_rule_effects_context_and_availability_agree(data: st.DataObject) -> None:
    drawn = data.draw(st.lists(session_documents(terminal=True), min_size=15, max_size=15))
    docs = [json.loads(json.dumps(d)) for d in drawn]
    docs[0]["rules"]["hostile"] = {
        "when": {"constructor": []},
        "action": "require",
        "target": "privacy-mode",
        "reason": "",
    }
    docs[0]["rules"]["bad-target"] = {"when": True, "action": "disable", "target": "__proto__"}
    docs[1]["rules"]["empty"] = {
        "when": True,
        "action": "disable",
        "target": "contact-form",
        "reason": "  ",
        "sortKey": "\U0001f600",
    }
    docs[1]["rules"]["bmp"] = {
        "when": True,
        "action": "recommend",
        "target": "contact-form",
        "reason": "r",
        "sortKey": "\uffff",
    }
    feats = catalogue.FEATURE_IDS
    got = run_node(
        {
            "evaluateRules": [{"doc": d} for d in docs],
            "ruleContext": [{"doc": d} for d in docs],
            "availability": [
                {"doc": d, "feature": feats[i % len(feats)]} for i, d in enumerate(docs)
            ],
        }
    )
    for i, doc in enumerate(docs):
        assert got["evaluateRules"][i] == rules.evaluate_rules(doc).to_json()
        assert got["ruleContext"][i] == rules.rule_context(doc)
        assert (
            got["availability"][i]
            == rules.feature_availability(doc, feats[i % len(feats)]).to_json()
        )


def test_rule_validation_agrees_on_rules() -> None:
    candidates: list[Any] = [
        {"when": True, "action": "enable", "target": "contact-form", "reason": ""},
        {"when": True, "action": "enable", "target": "contact-form"},
        {"when": True, "action": "explode", "target": "contact-form", "reason": ""},
        {"when": True, "action": "enable", "target": "constructor", "reason": ""},
        {"when": {"bogus": 1}, "action": "enable", "target": "contact-form", "reason": ""},
        {"when": True, "action": "enable", "target": "contact-form", "reason": "x" * 501},
        {"when": True, "action": "enable", "target": "contact-form", "reason": "\U0001f600" * 500},
        {"when": True, "action": "enable", "target": "contact-form", "reason": "", "sortKey": 1},
        {"when": True, "action": "enable", "target": "contact-form", "reason": "", "extra": 1},
        [],
        None,
    ]
    got = run_node({"validateRule": [{"rule": r} for r in candidates]})["validateRule"]
    for rule, js in zip(candidates, got, strict=True):
        try:
            rules.validate_rule(rule)
            py = None
        except DomainError as exc:
            py = exc.detail.get("path")
        assert (js is None) == (py is None), f"{rule}: py {py} js {js}"
        if py is not None:
            assert js["path"] == py


def test_catalogue_copy_matches_python() -> None:
    js = run_node({})["catalogue"]
    assert js["steps"] == [
        {
            "id": s.id,
            "title": s.title,
            "substeps": list(s.substeps),
            "requires": list(s.requires),
            "estimatedMinutes": s.estimated_minutes,
            "skippable": s.skippable,
        }
        for s in catalogue.STEPS
    ]
    assert js["features"] == [
        {
            "id": f.id,
            "title": f.title,
            "dependencies": list(f.dependencies),
            "requiresSteps": list(f.requires_steps),
        }
        for f in catalogue.FEATURES.values()
    ]
    assert js["templates"] == list(catalogue.TEMPLATES)
    assert js["rules"] == [
        {"id": r.id, "when": r.when, "action": r.action, "target": r.target, "reason": r.reason}
        for r in catalogue.RULES
    ]
    for key, table in (
        ("sessionTransitions", model.SESSION_TRANSITIONS),
        ("stepTransitions", model.STEP_TRANSITIONS),
        ("substepTransitions", model.SUBSTEP_TRANSITIONS),
    ):
        assert js[key] == {k.value: sorted(v.value for v in vs) for k, vs in table.items()}
