"""Tests for cvsession.core.resume: where to resume, why, how long is left, how sure we are."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cvsession.core import catalogue, navigation, resume
from tests.strategies import (
    BASE_TIME,
    complete_through,
    duration_maps,
    mark_step,
    mark_substep,
    new_doc,
    session_documents,
)

NOW = BASE_TIME + timedelta(hours=1)
UP_TO_ANALYSIS = ("upload", "processing", "analysis")
MIN = 60_000


def test_fresh_session_starts_with_upload() -> None:
    """A new session is sent to the first upload substep, estimated from the catalogue."""
    rec = resume.recommend(new_doc("s1"), None, NOW)
    assert ("continue", "upload", "file-select", "/session/s1/upload/file-select") == (
        rec.action,
        rec.step,
        rec.substep,
        rec.deep_link,
    )
    assert "Start by uploading your CV." == rec.reason
    # Every step but the optional keywords step: 2+3+5+4+3+5+2+1.
    assert (25, "catalogue", ["keywords"]) == (
        rec.estimated_minutes,
        rec.estimate_source,
        rec.excluded_steps,
    )
    assert "low" == rec.confidence_label


def test_resume_where_the_user_was() -> None:
    """Part-way through templates, the reason says what they were doing and how far."""
    doc = complete_through(new_doc("s1"), *UP_TO_ANALYSIS)
    doc["steps"]["templates"]["status"] = "in_progress"
    mark_substep(doc, "templates", "template-select", "completed")
    doc["currentStep"], doc["currentSubstep"] = "templates", "template-customize"
    rec = resume.recommend(doc, None, NOW)
    assert ("templates", "template-customize") == (rec.step, rec.substep)
    assert "You were customising your template; 1 of 3 parts done." == rec.reason


def test_next_step_after_a_finished_one() -> None:
    """When the current step is done, the next one is suggested with what was just finished."""
    doc = complete_through(new_doc("s1"), *UP_TO_ANALYSIS)
    doc["currentStep"], doc["currentSubstep"] = "analysis", None
    rec = resume.recommend(doc, None, NOW)
    assert ("features", "features-select") == (rec.step, rec.substep)
    assert "Analysis is done; choose your features next." == rec.reason
    assert ["templates", "keywords", "analysis"] == [a.step for a in rec.alternatives]
    assert "Optional: match your CV to a job description." == rec.alternatives[1].reason
    assert ["keywords"] == rec.skippable_steps


def test_errors_come_first() -> None:
    """A substep in error wins over the current position."""
    doc = complete_through(new_doc("s1"), "upload")
    doc["steps"]["processing"]["status"] = "in_progress"
    mark_substep(doc, "processing", "text-extract", "completed")
    mark_substep(doc, "processing", "ai-analysis", "error")
    doc["status"] = "failed"
    doc["currentStep"], doc["currentSubstep"] = "upload", None
    rec = resume.recommend(doc, None, NOW)
    assert ("fix", "processing", "ai-analysis") == (rec.action, rec.step, rec.substep)
    assert "Processing failed at AI analysis; retry it." == rec.reason


def test_error_outside_processing_says_fix_first() -> None:
    """An errored substep elsewhere is named with its step."""
    doc = complete_through(new_doc("s1"), *UP_TO_ANALYSIS)
    mark_substep(doc, "features", "features-validate", "error")
    rec = resume.recommend(doc, None, NOW)
    assert "Check features in Features has a problem; fix this first." == rec.reason


def test_completed_session_points_to_results() -> None:
    """A completed session is sent to its results with nothing left to estimate."""
    doc = complete_through(new_doc("s1"), *catalogue.STEP_IDS)
    doc["status"] = "completed"
    rec = resume.recommend(doc, None, NOW)
    assert ("view-results", "results", 0, "high") == (
        rec.action,
        rec.step,
        rec.estimated_minutes,
        rec.confidence_label,
    )


def test_expired_session_suggests_starting_again() -> None:
    """An expired session points at its current step with a start-again action."""
    doc = complete_through(
        new_doc("s1"), *UP_TO_ANALYSIS, "features", "templates", "preview", "results"
    )
    doc["status"] = "expired"
    rec = resume.recommend(doc, None, NOW)
    assert ("start-again", "upload", "/session/s1/upload") == (rec.action, rec.step, rec.deep_link)
    assert ["results"] == [a.step for a in rec.alternatives]


def test_all_steps_done_but_not_completed_asks_to_finish() -> None:
    """With every step done and the session still open, confirm completion."""
    doc = complete_through(new_doc("s1"), *catalogue.STEP_IDS)
    doc["status"] = "in_progress"
    rec = resume.recommend(doc, None, NOW)
    assert ("finish", "completed", 0) == (rec.action, rec.step, rec.estimated_minutes)


def test_wrongly_skipped_step_is_reopened() -> None:
    """A required step that was skipped and blocks the rest is suggested for review."""
    doc = complete_through(new_doc("s1"), "upload")
    doc["steps"]["processing"]["status"] = "skipped"
    rec = resume.recommend(doc, None, NOW)
    assert ("review", "processing") == (rec.action, rec.step)


def test_recorded_medians_replace_the_catalogue_with_enough_samples() -> None:
    """With ≥ min_samples durations a step uses their median, scaled by what is left."""
    doc = complete_through(new_doc("s1"), *UP_TO_ANALYSIS, "features", "templates", "preview")
    mark_substep(doc, "results", "results-display", "completed")
    durations = {"results": [9 * MIN, 3 * MIN, 3 * MIN, 6 * MIN, 6 * MIN], "completed": [MIN] * 4}
    rec = resume.recommend(doc, durations, NOW)
    # results: median 6 min * (100-33)% = 4.02; completed: catalogue 1 (4 samples < 5).
    assert (6, "mixed") == (rec.estimated_minutes, rec.estimate_source)
    rec = resume.recommend(doc, durations, NOW, min_samples=4)
    assert (6, "recorded") == (rec.estimated_minutes, rec.estimate_source)


def test_bad_samples_are_ignored() -> None:
    """Negative, boolean and non-numeric samples do not count toward min_samples."""
    doc = complete_through(new_doc("s1"), *catalogue.STEP_IDS[:-1])
    durations: dict[str, list[Any]] = {"completed": [-1, True, "x", MIN, MIN]}
    rec = resume.recommend(doc, durations, NOW, min_samples=3)
    assert "catalogue" == rec.estimate_source


def test_confidence_grows_with_samples_and_falls_with_idleness() -> None:
    """No data is low; plenty of recent data is high; a month idle lowers it."""
    doc = new_doc("s1")
    plenty = {s: [MIN] * 20 for s in catalogue.STEP_IDS}
    few = {s: [MIN] * 5 for s in catalogue.STEP_IDS}
    assert "low" == resume.recommend(doc, None, NOW).confidence_label
    assert "medium" == resume.recommend(doc, few, NOW).confidence_label
    fresh = resume.recommend(doc, plenty, NOW)
    stale = resume.recommend(doc, plenty, NOW + timedelta(days=30))
    assert (1.0, "high") == (fresh.confidence, fresh.confidence_label)
    assert stale.confidence < fresh.confidence
    assert "low" == resume.recommend(doc, plenty, NOW + timedelta(days=60)).confidence_label


def test_started_optional_step_is_estimated() -> None:
    """Once keywords is started it counts toward the estimate."""
    doc = complete_through(new_doc("s1"), *UP_TO_ANALYSIS)
    before = resume.recommend(doc, None, NOW).estimated_minutes
    doc["steps"]["keywords"]["status"] = "in_progress"
    after = resume.recommend(doc, None, NOW)
    assert (before + 4, []) == (after.estimated_minutes, after.excluded_steps)


def test_recommendation_to_json() -> None:
    """to_json gives camelCase keys and plain values."""
    data = resume.recommend(complete_through(new_doc("s1"), "upload"), None, NOW).to_json()
    assert {
        "action",
        "step",
        "substep",
        "reason",
        "deepLink",
        "estimatedMinutes",
        "estimateSource",
        "confidence",
        "confidenceLabel",
        "alternatives",
        "skippableSteps",
        "excludedSteps",
    } == set(data)
    assert all(set(a) == {"step", "substep", "reason", "deepLink"} for a in data["alternatives"])


def _has_open_step(doc: dict[str, Any]) -> bool:
    return any(not navigation.is_step_done(doc, s) for s in catalogue.STEP_IDS)


@given(session_documents(terminal=True), duration_maps, st.integers(0, 120))
@settings(max_examples=80, deadline=None)
def test_recommendation_invariants(doc: dict[str, Any], durations: Any, idle_days: int) -> None:
    """The step is reachable and open (while any step is), with a sane estimate and confidence."""
    rec = resume.recommend(doc, durations, BASE_TIME + timedelta(days=idle_days))
    assert rec.estimated_minutes >= 0
    assert 0.0 <= rec.confidence <= 1.0
    assert rec.estimate_source in ("recorded", "catalogue", "mixed")
    assert rec.confidence_label in ("low", "medium", "high")
    assert rec.deep_link == navigation.deep_link(doc["id"], rec.step, rec.substep)
    if doc["status"] in ("expired", "completed"):
        expected = "start-again" if doc["status"] == "expired" else "view-results"
        assert (expected, 0) == (rec.action, rec.estimated_minutes)
        return
    assert [] == navigation.missing_prerequisites(doc, rec.step)
    if _has_open_step(doc):
        assert navigation.step_status(doc, rec.step) != "completed"
        assert rec.step not in doc["completedSteps"]


@given(session_documents(), duration_maps, st.data())
@settings(max_examples=60, deadline=None)
def test_estimate_never_grows_as_steps_complete(
    doc: dict[str, Any], durations: Any, data: st.DataObject
) -> None:
    """Completing any open step never raises the estimated minutes."""
    open_steps = [s for s in catalogue.STEP_IDS if not navigation.is_step_done(doc, s)]
    assume(open_steps)
    step = data.draw(st.sampled_from(open_steps))
    before = resume.recommend(doc, durations, NOW).estimated_minutes
    after_doc = mark_step(copy.deepcopy(doc), step, "completed")
    assert resume.recommend(after_doc, durations, NOW).estimated_minutes <= before


def test_recommend_does_not_modify_the_document() -> None:
    """recommend is read-only."""
    doc = complete_through(new_doc("s1"), "upload")
    mark_step(doc, "processing", "in_progress")
    before = copy.deepcopy(doc)
    resume.recommend(doc, {"analysis": [MIN] * 9}, NOW)
    assert before == doc
