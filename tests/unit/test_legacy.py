"""Tests for cvsession.core.legacy: importing sessions saved by the old CVPlus front end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.core import catalogue, legacy, schema
from cvsession.core.errors import InvalidInput

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# What the old app left in localStorage: one session mid-way through templates...
MIDWAY: dict[str, Any] = {
    "sessionId": "sess_1709287200000_k3j9",
    "userId": "uid-8f2c",
    "jobId": "job_77",
    "currentStep": "templates",
    "completedSteps": ["upload", "processing", "analysis", "features"],
    "progressPercentage": 44,
    "lastActiveAt": "2024-03-02T10:15:00.000Z",
    "createdAt": 1709287200000,
    "formData": {
        "fullName": "Ada Lovelace",
        "targetRole": "Data engineer",
        "jobDescription": "Build pipelines in Python.",
        "selectedTemplate": "classic",
        "selectedFeatures": ["ats-optimization", "skills-visualization", "hologram"],
    },
    "status": "active",
    "canResume": True,
    "stepProgress": {
        "templates": {
            "timeSpent": 120000,
            "interactions": 14,
            "substeps": {
                "template-select": "completed",
                "template-customize": {"status": "in_progress"},
            },
        },
        "mystery": {"timeSpent": 5},
    },
    "featureStates": {
        "privacy-mode": {"enabled": True, "configuration": {"maskEmail": False}},
        "embed-qr-code": False,
        "teleport": True,
    },
    "uiState": {"sidebarOpen": True, "sharePublic": "yes", "scrollY": 420},
}
# ...and one finished session, stored twice JSON-encoded with epoch-second timestamps.
FINISHED: dict[str, Any] = {
    "sessionId": "sess_2",
    "userId": "uid-8f2c",
    "currentStep": "completed",
    "completedSteps": list(catalogue.STEP_IDS),
    "progressPercentage": 100,
    "lastActiveAt": 1709400000,
    "createdAt": "1709300000000",
    "formData": json.dumps({"templateId": "modern"}),
    "status": "Completed",
    "canResume": False,
}
LOCAL_STORAGE: dict[str, Any] = {
    "cvplus_session_sess_1709287200000_k3j9": json.dumps(MIDWAY),
    "cvplus_theme": "dark",
    "cvplus_session_sess_2": json.dumps(json.dumps(FINISHED)),
    "firebase:authUser": "{}",
}


def _convert(raw: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return legacy.convert_legacy(raw, owner="user-1", new_id="new1", now=NOW, **kw)


def test_parse_local_storage_takes_only_session_keys() -> None:
    """Only cvplus_session_* keys are read, and doubly encoded values are decoded."""
    found = legacy.parse_legacy_export(LOCAL_STORAGE)
    assert [("sess_1709287200000_k3j9", MIDWAY), ("sess_2", FINISHED)] == found


def test_parse_accepts_a_list_one_object_or_a_json_string() -> None:
    """A list of sessions, a single session, or all of it as a JSON string are accepted."""
    assert [("sess_2", FINISHED)] == legacy.parse_legacy_export([json.dumps(FINISHED)])
    assert [("sess_2", FINISHED)] == legacy.parse_legacy_export(FINISHED)
    assert 2 == len(legacy.parse_legacy_export(json.dumps(LOCAL_STORAGE)))


def test_parse_uses_the_key_when_the_object_has_no_id() -> None:
    """A stored object without sessionId takes its id from the key."""
    found = legacy.parse_legacy_export({"cvplus_session_abc": {"status": "draft"}})
    assert [("abc", {"status": "draft"})] == found


@pytest.mark.parametrize(
    ("export", "path"),
    [
        ({"cvplus_session_x": "{not json"}, "/cvplus_session_x"),
        ({"cvplus_session_x": "[1, 2]"}, "/cvplus_session_x"),
        ({"cvplus_session_": {"status": "draft"}}, "/cvplus_session_"),
        ([{"status": "draft"}], "/0"),
        (42, ""),
        ('{"sessionId": NaN}', ""),
    ],
)
def test_parse_refuses_what_is_not_a_session(export: Any, path: str) -> None:
    """Undecodable values, non-objects and sessions without an id are refused at their path."""
    with pytest.raises(InvalidInput) as info:
        legacy.parse_legacy_export(export)
    assert path == info.value.detail["path"]


def test_convert_midway_session() -> None:
    """Every known field of a mid-way legacy session lands in the right place."""
    doc = _convert(MIDWAY)
    schema.validate_document(doc)
    assert ("new1", "user-1", "in_progress", "job_77") == (
        doc["id"],
        doc["owner"],
        doc["status"],
        doc["jobId"],
    )
    assert ["upload", "processing", "analysis", "features"] == doc["completedSteps"]
    assert all(s["status"] == "completed" for s in doc["steps"]["features"]["substeps"].values())
    assert ("2024-03-01T10:00:00.000Z", "2024-03-02T10:15:00.000Z") == (
        doc["createdAt"],
        doc["lastActiveAt"],
    )
    templates = doc["steps"]["templates"]
    assert ("in_progress", 33, 120000, 14) == (
        templates["status"],
        templates["completion"],
        templates["timeSpentMs"],
        templates["interactions"],
    )
    assert ("templates", "template-customize") == (doc["currentStep"], doc["currentSubstep"])
    assert {
        "role": "Data engineer",
        "jobDescription": "Build pipelines in Python.",
        "instructions": "",
    } == doc["target"]
    assert "classic" == doc["template"]["selected"]
    enabled = sorted(f for f, s in doc["features"].items() if s["enabled"])
    assert ["ats-optimization", "privacy-mode", "skills-visualization"] == enabled
    assert doc["features"]["privacy-mode"]["configuration"]["maskEmail"] is False
    assert {"sidebarOpen": True, "scrollY": 420} == doc["ui"]


def test_convert_keeps_form_data_as_touched_fields() -> None:
    """Each formData key becomes a clean, touched, valid field of forms.legacy."""
    fields = _convert(MIDWAY)["forms"]["legacy"]["fields"]
    assert set(MIDWAY["formData"]) == set(fields)
    assert {
        "value": "Ada Lovelace",
        "dirty": False,
        "touched": True,
        "valid": True,
        "errors": [],
        "warnings": [],
    } == fields["fullName"]


def test_convert_keeps_the_raw_object_for_audit() -> None:
    """The raw legacy object is kept (as a copy) under data.legacy, with what was ignored."""
    raw = json.loads(json.dumps(MIDWAY))
    doc = _convert(raw)
    assert MIDWAY == doc["data"]["legacy"]
    raw["userId"] = "changed"
    assert "uid-8f2c" == doc["data"]["legacy"]["userId"]
    info = doc["data"]["legacyImport"]
    assert ("sess_1709287200000_k3j9", "uid-8f2c", "2026-11-25T12:00:00.000Z") == (
        info["legacySessionId"],
        info["legacyUserId"],
        info["importedAt"],
    )
    assert ["stepProgress.mystery", "featureStates.teleport", "selectedFeatures.hologram"] == info[
        "ignored"
    ]


def test_convert_finished_session() -> None:
    """A finished session imports as completed, with epoch seconds and ms understood."""
    raw = legacy.parse_legacy_export(LOCAL_STORAGE)[1][1]
    doc = _convert(raw)
    assert ("completed", "2024-03-02T17:20:00.000Z", "2024-03-01T13:33:20.000Z") == (
        doc["status"],
        doc["completedAt"],
        doc["createdAt"],
    )
    assert 100 == doc["steps"]["completed"]["completion"]
    assert doc["currentSubstep"] is None
    assert "modern" == doc["template"]["selected"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("draft", "draft"),
        ("in_progress", "in_progress"),
        ("in-progress", "in_progress"),
        ("processing", "processing"),
        ("paused", "paused"),
        ("completed", "completed"),
        ("failed", "failed"),
        ("expired", "expired"),
        ("active", "in_progress"),
        ("abandoned", "paused"),
        ("ACTIVE", "in_progress"),
        (None, "paused"),
    ],
)
def test_status_mapping(status: Any, expected: str) -> None:
    """Legacy statuses map to current ones; active and abandoned have their own mapping."""
    doc = _convert({"sessionId": "x", "status": status, "currentStep": "upload"})
    assert expected == doc["status"]
    assert (doc["pausedAt"] is not None) == (expected == "paused")


def test_draft_leaves_the_current_step_pending() -> None:
    """A draft import does not mark its current step as started."""
    doc = _convert({"sessionId": "x", "status": "draft", "currentStep": "upload"})
    assert "pending" == doc["steps"]["upload"]["status"]


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"status": "zombie"}, "/status"),
        ({"status": 3}, "/status"),
        ({"currentStep": "payment"}, "/currentStep"),
        ({"completedSteps": ["upload", "payment"]}, "/completedSteps/1"),
        ({"completedSteps": "upload"}, "/completedSteps"),
        ({"createdAt": "last tuesday"}, "/createdAt"),
        ({"lastActiveAt": True}, "/lastActiveAt"),
        ({"formData": [1, 2]}, "/formData"),
        ({"formData": "{oops"}, "/formData"),
    ],
)
def test_convert_refuses_what_it_cannot_map(patch: dict[str, Any], path: str) -> None:
    """Unknown statuses and step ids and unreadable timestamps are refused at their path."""
    with pytest.raises(InvalidInput) as info:
        _convert({**MIDWAY, **patch})
    assert path == info.value.detail["path"]


def test_missing_fields_get_sensible_defaults() -> None:
    """A bare object imports as a paused session at the first step, created now."""
    doc = _convert({"sessionId": "x"})
    assert ("paused", "upload", "file-select", "2026-11-25T12:00:00.000Z") == (
        doc["status"],
        doc["currentStep"],
        doc["currentSubstep"],
        doc["createdAt"],
    )
    assert {} == doc["forms"]


def test_unknown_template_is_ignored_not_fatal() -> None:
    """A template the catalogue no longer has leaves the selection empty."""
    doc = _convert({"sessionId": "x", "selectedTemplate": "retro"})
    assert doc["template"]["selected"] is None
    assert ["template.retro"] == doc["data"]["legacyImport"]["ignored"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=8,
)
_legacy_like = st.fixed_dictionaries(
    {},
    optional={
        "sessionId": st.text(max_size=5) | st.integers(),
        "status": st.sampled_from(["active", "paused", "weird", "completed"]) | _json,
        "currentStep": st.sampled_from(list(catalogue.STEP_IDS)) | _json,
        "completedSteps": st.lists(st.sampled_from(list(catalogue.STEP_IDS)), max_size=4) | _json,
        "createdAt": st.integers(0, 2_000_000_000_000) | st.text(max_size=6) | _json,
        "lastActiveAt": st.just("2024-01-01T00:00:00Z") | _json,
        "formData": st.dictionaries(st.text(max_size=5), _json, max_size=3) | _json,
        "stepProgress": _json,
        "featureStates": _json,
        "uiState": _json,
        "selectedFeatures": _json,
        "selectedTemplate": _json,
        "jobId": _json,
    },
)


@given(_legacy_like)
@settings(max_examples=150, deadline=None)
def test_any_legacy_object_converts_to_a_valid_document_or_is_refused(raw: dict[str, Any]) -> None:
    """Whatever the old app stored, the result validates or InvalidInput explains why."""
    try:
        doc = _convert(raw)
    except InvalidInput:
        return
    schema.validate_document(doc)
