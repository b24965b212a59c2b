"""Tests for cvsession.core.progress: step completion, overall progress, time spent."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.core import catalogue, progress
from cvsession.core.errors import InvalidInput
from tests.strategies import complete_through, mark_step, mark_substep, new_doc, session_documents

ALL_SUBSTEPS = [(s.id, sub) for s in catalogue.STEPS for sub in s.substeps]


def test_new_session_has_no_progress() -> None:
    """A fresh session is at 0 everywhere."""
    doc = new_doc()
    assert 0 == progress.overall_progress(doc)
    assert all(0 == progress.step_completion(doc, s) for s in catalogue.STEP_IDS)


def test_step_completion_rounds_down() -> None:
    """Two of three substeps done is 66%, not 67%."""
    doc = new_doc()
    mark_substep(doc, "upload", "file-select", "completed")
    mark_substep(doc, "upload", "file-validate", "skipped")
    assert 66 == progress.step_completion(doc, "upload")


def test_errors_and_in_progress_substeps_do_not_count() -> None:
    """Only completed and skipped substeps count as done."""
    doc = new_doc()
    mark_substep(doc, "upload", "file-select", "error")
    mark_substep(doc, "upload", "file-validate", "in_progress")
    assert 0 == progress.step_completion(doc, "upload")


def test_done_step_is_100_whatever_its_substeps() -> None:
    """A completed or skipped step counts 100 even with pending substeps."""
    doc = new_doc()
    doc["steps"]["keywords"]["status"] = "skipped"
    doc["steps"]["upload"]["status"] = "completed"
    assert (100, 100) == (
        progress.step_completion(doc, "keywords"),
        progress.step_completion(doc, "upload"),
    )


def test_overall_progress_averages_all_nine_steps() -> None:
    """Two done steps of nine is 22%; keywords counts like any other step."""
    doc = complete_through(new_doc(), "upload", "processing")
    assert 22 == progress.overall_progress(doc)
    mark_step(doc, "keywords", "skipped")
    assert 33 == progress.overall_progress(doc)


def test_substep_counts() -> None:
    """Counts tally every status and `done` adds completed and skipped."""
    doc = new_doc()
    mark_substep(doc, "templates", "template-select", "completed")
    mark_substep(doc, "templates", "template-customize", "error")
    counts = progress.substep_counts(doc, "templates")
    assert {
        "total": 3,
        "pending": 1,
        "inProgress": 0,
        "completed": 1,
        "skipped": 0,
        "error": 1,
        "done": 1,
    } == counts.to_json()


def test_time_spent_sums_steps_and_ignores_bad_values() -> None:
    """Time spent is the sum over steps; negative or non-integer values count as 0."""
    doc = new_doc()
    doc["steps"]["upload"]["timeSpentMs"] = 1500
    doc["steps"]["analysis"]["timeSpentMs"] = 2500
    doc["steps"]["features"]["timeSpentMs"] = -7
    doc["steps"]["preview"]["timeSpentMs"] = "9"
    assert 4000 == progress.time_spent_ms(doc)


def test_unknown_step_is_invalid_input() -> None:
    """Asking about a step outside the catalogue is invalid input."""
    with pytest.raises(InvalidInput):
        progress.step_completion(new_doc(), "nowhere")


def test_missing_records_count_as_pending() -> None:
    """A document with missing step records does not crash the formulas."""
    doc: dict[str, Any] = {"steps": {"upload": {"substeps": None}}}
    assert 0 == progress.overall_progress(doc)
    assert 3 == progress.substep_counts(doc, "upload").pending


@given(session_documents())
@settings(max_examples=60, deadline=None)
def test_progress_is_a_percentage(doc: dict[str, Any]) -> None:
    """Overall and per-step progress are integers between 0 and 100."""
    values = [progress.overall_progress(doc)] + [
        progress.step_completion(doc, s) for s in catalogue.STEP_IDS
    ]
    assert all(isinstance(v, int) and 0 <= v <= 100 for v in values)


@given(
    session_documents(), st.sampled_from(ALL_SUBSTEPS), st.sampled_from(["completed", "skipped"])
)
@settings(max_examples=80, deadline=None)
def test_finishing_a_substep_never_lowers_progress(
    doc: dict[str, Any], where: tuple[str, str], status: str
) -> None:
    """Completing or skipping any substep never lowers step or overall progress."""
    step, sub = where
    before = (progress.step_completion(doc, step), progress.overall_progress(doc))
    mark_substep(doc, step, sub, status)
    after = (progress.step_completion(doc, step), progress.overall_progress(doc))
    assert after[0] >= before[0]
    assert after[1] >= before[1]


@given(session_documents())
@settings(max_examples=60, deadline=None)
def test_100_iff_every_substep_is_done(doc: dict[str, Any]) -> None:
    """Overall progress is 100 exactly when every substep is completed or skipped."""
    all_done = all(
        doc["steps"][s]["substeps"][sub]["status"] in ("completed", "skipped")
        for s, sub in ALL_SUBSTEPS
    )
    assert all_done == (100 == progress.overall_progress(doc))


def test_finishing_everything_reaches_100() -> None:
    """Completing every substep of every step gives 100."""
    doc = new_doc()
    for step, sub in ALL_SUBSTEPS:
        mark_substep(doc, step, sub, "completed")
    assert 100 == progress.overall_progress(doc)


def test_formulas_do_not_modify_the_document() -> None:
    """The formulas are read-only."""
    doc = complete_through(new_doc(), "upload")
    before = copy.deepcopy(doc)
    progress.overall_progress(doc)
    progress.substep_counts(doc, "processing")
    progress.time_spent_ms(doc)
    assert before == doc
