"""Tests for cvsession.core.model: transitions, job and checkpoint shapes, document validation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.core import model, schema
from cvsession.core.errors import IllegalTransition, InvalidInput
from tests.strategies import new_doc, session_documents

# The session table as the brief states it, written out independently of the module.
SESSION_SPEC = {
    "draft": {"in_progress", "processing", "paused", "failed", "expired"},
    "in_progress": {"processing", "paused", "completed", "failed", "expired"},
    "processing": {"in_progress", "paused", "failed", "completed", "expired"},
    "paused": {"in_progress", "processing", "expired"},
    "failed": {"in_progress", "expired"},
    "completed": {"expired"},
    "expired": set(),
}
SUBSTEP_SPEC = {
    "pending": {"in_progress", "completed", "skipped", "error"},
    "in_progress": {"completed", "skipped", "error", "pending"},
    "error": {"in_progress", "pending", "completed", "skipped"},
    "completed": {"in_progress"},
    "skipped": {"in_progress", "pending"},
}


@pytest.mark.parametrize("current", sorted(SESSION_SPEC))
@pytest.mark.parametrize("target", sorted(SESSION_SPEC))
def test_session_transitions_match_the_spec(current: str, target: str) -> None:
    """Every session status pair is allowed exactly when the spec lists it."""
    if target in SESSION_SPEC[current]:
        assert target == model.check_session_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            model.check_session_transition(current, target)


@pytest.mark.parametrize("current", sorted(SUBSTEP_SPEC))
@pytest.mark.parametrize("target", sorted(SUBSTEP_SPEC))
def test_substep_transitions_match_the_spec(current: str, target: str) -> None:
    """Every substep status pair is allowed exactly when the spec lists it."""
    if target in SUBSTEP_SPEC[current]:
        assert target == model.check_substep_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            model.check_substep_transition(current, target)


def test_illegal_transition_says_what_and_what_is_allowed() -> None:
    """The error names both states and lists the allowed targets."""
    with pytest.raises(IllegalTransition) as info:
        model.check_session_transition("completed", "paused")
    assert "cannot go from completed to paused" in info.value.message
    assert {
        "kind": "session status",
        "current": "completed",
        "target": "paused",
        "allowed": ["expired"],
    } == info.value.detail


def test_same_status_is_not_a_transition() -> None:
    """Moving to the same status is refused; callers treat it as a no-op first."""
    with pytest.raises(IllegalTransition):
        model.check_session_transition("paused", "paused")


def test_unknown_status_is_invalid_input() -> None:
    """A value outside the enum is invalid input, not an illegal transition."""
    with pytest.raises(InvalidInput):
        model.check_session_transition("draft", "running")


def test_enum_members_are_their_json_strings() -> None:
    """StrEnum members compare equal to the strings stored in documents."""
    assert "in_progress" == model.SessionStatus.IN_PROGRESS
    assert "cv-processing" == model.JobType.CV_PROCESSING


def test_step_transitions_allow_reopen_and_refuse_skip_of_required_steps() -> None:
    """A completed step may be reopened; only a skippable step may be skipped."""
    assert model.StepStatus.IN_PROGRESS == model.check_step_transition("completed", "in_progress")
    assert model.StepStatus.SKIPPED == model.check_step_transition(
        "pending", "skipped", step_id="keywords"
    )
    with pytest.raises(IllegalTransition):
        model.check_step_transition("pending", "skipped", step_id="upload")
    with pytest.raises(IllegalTransition):
        model.check_step_transition("completed", "skipped")


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        ("queued", "running", True),
        ("running", "completed", True),
        ("failed", "queued", True),
        ("running", "queued", True),
        ("completed", "running", False),
        ("cancelled", "queued", False),
        ("queued", "completed", False),
    ],
)
def test_job_transitions(current: str, target: str, ok: bool) -> None:
    """Jobs requeue on retry and never leave completed or cancelled."""
    if ok:
        assert target == model.check_job_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            model.check_job_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        ("pending", "running", True),
        ("running", "pending", True),
        ("failed", "running", True),
        ("failed", "skipped", True),
        ("completed", "pending", True),
        ("completed", "running", False),
        ("pending", "completed", False),
    ],
)
def test_checkpoint_transitions(current: str, target: str, ok: bool) -> None:
    """A phase resumes after a crash, retries after failure, and never reruns once completed."""
    if ok:
        assert target == model.check_checkpoint_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            model.check_checkpoint_transition(current, target)


def test_every_table_covers_every_state() -> None:
    """Each transition table has a row for every member and never maps a state to itself."""
    for enum, table in (
        (model.SessionStatus, model.SESSION_TRANSITIONS),
        (model.StepStatus, model.STEP_TRANSITIONS),
        (model.SubstepStatus, model.SUBSTEP_TRANSITIONS),
        (model.JobStatus, model.JOB_TRANSITIONS),
        (model.CheckpointState, model.CHECKPOINT_TRANSITIONS),
    ):
        assert set(enum) == set(table)
        assert all(state not in targets for state, targets in table.items())


# Jobs and checkpoints ----------------------------------------------------------------------------

timestamps = st.none() | st.just("2026-11-25T12:00:00.000Z")
jobs = st.builds(
    model.Job,
    id=st.text(min_size=1, max_size=8),
    session_id=st.text(max_size=8),
    type=st.sampled_from(model.JobType),
    status=st.sampled_from(model.JobStatus),
    priority=st.integers(-10, 10),
    dependencies=st.lists(st.text(max_size=4)).map(tuple),
    retry_count=st.integers(0, 5),
    max_retries=st.integers(0, 5),
    progress=st.integers(0, 100),
    estimated_duration_ms=st.none() | st.integers(0, 10**6),
    created_at=timestamps,
    started_at=timestamps,
    completed_at=timestamps,
    error=st.none() | st.just({"message": "boom", "code": "x"}),
    result_ref=st.none() | st.text(max_size=5),
)
checkpoints = st.builds(
    model.ProcessingCheckpoint,
    phase=st.sampled_from(model.CheckpointPhase),
    state=st.sampled_from(model.CheckpointState),
    progress=st.integers(0, 100),
    partial_result=st.none() | st.dictionaries(st.text(max_size=3), st.integers(-(2**63), 2**63)),
    retry_count=st.integers(0, 5),
    last_error=st.none() | st.just({"message": "x"}),
    fallback_used=st.booleans(),
    updated_at=timestamps,
)


@given(jobs)
@settings(max_examples=50)
def test_job_json_round_trips(job: model.Job) -> None:
    """Job.from_json(job.to_json()) gives the same job."""
    assert job == model.Job.from_json(job.to_json())


@given(checkpoints)
@settings(max_examples=50)
def test_checkpoint_json_round_trips(cp: model.ProcessingCheckpoint) -> None:
    """ProcessingCheckpoint.from_json(cp.to_json()) gives the same checkpoint."""
    assert cp == model.ProcessingCheckpoint.from_json(cp.to_json())


def test_job_from_json_coerces_enums_and_defaults() -> None:
    """A minimal job JSON gets enum members and documented defaults."""
    job = model.Job.from_json({"id": "j1", "sessionId": "s1", "type": "cv-processing"})
    assert model.JobType.CV_PROCESSING is job.type
    assert model.JobStatus.QUEUED is job.status
    assert (0, (), 3) == (job.priority, job.dependencies, job.max_retries)


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"type": "nope"}, "/jobs/j1/type"),
        ({"progress": 101}, "/jobs/j1/progress"),
        ({"retryCount": -1}, "/jobs/j1/retryCount"),
        ({"priority": True}, "/jobs/j1/priority"),
        ({"dependencies": "j0"}, "/jobs/j1/dependencies"),
        ({"createdAt": "yesterday"}, "/jobs/j1/createdAt"),
        ({"error": "boom"}, "/jobs/j1/error"),
        ({"extra": 1}, "/jobs/j1/extra"),
    ],
)
def test_job_from_json_reports_the_bad_node(patch: dict[str, Any], path: str) -> None:
    """from_json raises InvalidInput whose path points at the offending key."""
    obj = {"id": "j1", "sessionId": "s1", "type": "cv-processing", **patch}
    with pytest.raises(InvalidInput) as info:
        model.Job.from_json(obj, path="/jobs/j1")
    assert path == info.value.detail["path"]


def test_checkpoint_rejects_non_json_partial_result() -> None:
    """A partial result must be JSON; the path points inside it."""
    with pytest.raises(InvalidInput) as info:
        model.ProcessingCheckpoint.from_json({"phase": "parse", "partialResult": {"x": {1, 2}}})
    assert "/partialResult/x" == info.value.detail["path"]


def test_job_can_retry_only_when_failed_with_retries_left() -> None:
    """can_retry is true for a failed job below max_retries."""
    assert model.Job("j", "s", model.JobType.CV_PROCESSING, model.JobStatus.FAILED).can_retry
    assert not model.Job(
        "j", "s", model.JobType.CV_PROCESSING, model.JobStatus.FAILED, retry_count=3
    ).can_retry


# Document validation -----------------------------------------------------------------------------


def test_new_document_is_valid() -> None:
    """A brand-new session document validates."""
    schema.validate_document(new_doc())


@given(session_documents(terminal=True))
@settings(max_examples=60, deadline=None)
def test_generated_documents_are_valid(doc: dict[str, Any]) -> None:
    """Every document the shared strategy produces validates."""
    schema.validate_document(doc)


def _set(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        node: Any = doc
        for token in path[:-1]:
            node = node[token]
        node[path[-1]] = value

    return apply


def _delete(path: list[str]) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        node: Any = doc
        for token in path[:-1]:
            node = node[token]
        del node[path[-1]]

    return apply


_FIELD = {"value": 1, "dirty": False, "touched": True, "valid": True, "errors": [], "warnings": []}

BAD_DOCUMENTS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown top-level key", _set(["surprise"], 1), "/surprise"),
    ("missing key", _delete(["ui"]), ""),
    ("bad status", _set(["status"], "running"), "/status"),
    ("unknown current step", _set(["currentStep"], "nowhere"), "/currentStep"),
    ("substep of another step", _set(["currentSubstep"], "ai-analysis"), "/currentSubstep"),
    (
        "duplicate completed step",
        _set(["completedSteps"], ["upload", "upload"]),
        "/completedSteps/1",
    ),
    (
        "completed steps out of order",
        _set(["completedSteps"], ["processing", "upload"]),
        "/completedSteps/1",
    ),
    ("unknown completed step", _set(["completedSteps"], ["upload", "x"]), "/completedSteps/1"),
    (
        "completion over 100",
        _set(["steps", "upload", "completion"], 101),
        "/steps/upload/completion",
    ),
    (
        "completion as float",
        _set(["steps", "upload", "completion"], 50.0),
        "/steps/upload/completion",
    ),
    ("negative time", _set(["steps", "upload", "timeSpentMs"], -1), "/steps/upload/timeSpentMs"),
    (
        "boolean counter",
        _set(["steps", "upload", "interactions"], True),
        "/steps/upload/interactions",
    ),
    ("unknown step record", _set(["steps", "extra"], {}), "/steps/extra"),
    (
        "bad substep status",
        _set(["steps", "upload", "substeps", "file-select", "status"], "ok"),
        "/steps/upload/substeps/file-select/status",
    ),
    (
        "foreign substep",
        _set(["steps", "upload", "substeps", "ai-analysis"], {}),
        "/steps/upload/substeps/ai-analysis",
    ),
    (
        "validation errors not strings",
        _set(["steps", "upload", "substeps", "file-select", "validationErrors"], [1]),
        "/steps/upload/substeps/file-select/validationErrors/0",
    ),
    ("bad timestamp", _set(["steps", "upload", "startedAt"], "soon"), "/steps/upload/startedAt"),
    ("negative version", _set(["version"], -1), "/version"),
    ("unknown feature", _set(["features", "teleport"], {}), "/features/teleport"),
    (
        "feature enabled not bool",
        _set(["features", "privacy-mode", "enabled"], 1),
        "/features/privacy-mode/enabled",
    ),
    (
        "feature progress unknown",
        _set(["features", "privacy-mode", "progress"], "done"),
        "/features/privacy-mode/progress",
    ),
    ("unknown template", _set(["template", "selected"], "baroque"), "/template/selected"),
    (
        "customisation of unknown template",
        _set(["template", "customizations", "x"], {}),
        "/template/customizations/x",
    ),
    (
        "colour not a string",
        _set(["template", "customizations"], {"modern": {"colors": {"a": 1}}}),
        "/template/customizations/modern/colors/a",
    ),
    (
        "section order as a list",
        _set(["template", "customizations"], {"modern": {"sectionOrder": ["work"]}}),
        "/template/customizations/modern/sectionOrder",
    ),
    (
        "section order entry missing sortKey",
        _set(["template", "customizations"], {"modern": {"sectionOrder": {"k": {"section": "w"}}}}),
        "/template/customizations/modern/sectionOrder/k",
    ),
    (
        "hidden section false",
        _set(["template", "customizations"], {"modern": {"hiddenSections": {"work": False}}}),
        "/template/customizations/modern/hiddenSections/work",
    ),
    ("form without fields", _set(["forms", "f/1"], {}), "/forms/f~11"),
    (
        "field missing flags",
        _set(["forms", "f"], {"fields": {"a": {"value": 1}}}),
        "/forms/f/fields/a",
    ),
    (
        "field value not JSON",
        _set(["forms", "f"], {"fields": {"a": {**_FIELD, "value": {1, 2}}}}),
        "/forms/f/fields/a/value",
    ),
    (
        "field errors not list",
        _set(["forms", "f"], {"fields": {"a": {**_FIELD, "errors": "x"}}}),
        "/forms/f/fields/a/errors",
    ),
    (
        "form metadata unknown key",
        _set(["forms", "f"], {"fields": {}, "metadata": {"color": "red"}}),
        "/forms/f/metadata/color",
    ),
    (
        "rule with unknown operator",
        _set(
            ["rules", "r1"],
            {"when": {"eval": "1"}, "action": "enable", "target": "privacy-mode", "reason": ""},
        ),
        "/rules/r1/when",
    ),
    (
        "rule with unknown target",
        _set(["rules", "r1"], {"when": True, "action": "enable", "target": "x", "reason": ""}),
        "/rules/r1/target",
    ),
    ("data not JSON", _set(["data"], {"a": [1, float("nan")]}), "/data/a/1"),
    ("cv as a list", _set(["cv"], []), "/cv"),
    ("cv with a tuple", _set(["cv"], {"skills": (1,)}), "/cv/skills"),
    ("share flag not bool", _set(["ui", "sharePublic"], "yes"), "/ui/sharePublic"),
    (
        "history entry with unknown step",
        _set(
            ["navigation", "history"], [{"step": "x", "substep": None, "at": "2026-01-01T00:00Z"}]
        ),
        "/navigation/history/0/step",
    ),
    ("target role not string", _set(["target", "role"], None), "/target/role"),
    ("validation record incomplete", _set(["validation", "v"], {"valid": True}), "/validation/v"),
    (
        "checkpoint under the wrong phase",
        _set(["processing", "checkpoints", "parse"], {"phase": "extract"}),
        "/processing/checkpoints/parse/phase",
    ),
    (
        "job with bad status",
        _set(
            ["processing", "jobs", "j1"],
            {"id": "j1", "sessionId": "s", "type": "cv-processing", "status": "lost"},
        ),
        "/processing/jobs/j1/status",
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "path"), BAD_DOCUMENTS, ids=[case[0] for case in BAD_DOCUMENTS]
)
def test_validate_document_points_at_the_bad_node(
    name: str, mutate: Callable[[dict[str, Any]], None], path: str
) -> None:
    """Each kind of structural damage is refused with the JSON Pointer of the bad node."""
    doc = new_doc()
    mutate(doc)
    with pytest.raises(InvalidInput) as info:
        schema.validate_document(doc)
    assert path == info.value.detail["path"]


def test_validate_document_accepts_full_optional_shapes() -> None:
    """Customisations, forms, validation, history, checkpoints and jobs in their documented shape
    validate."""
    doc = new_doc()
    doc["template"] = {
        "selected": "modern",
        "customizations": {
            "modern": {
                "colors": {"primary": "#000"},
                "fonts": {"body": "Inter"},
                "sectionOrder": {"a": {"section": "work", "sortKey": "a0"}},
                "hiddenSections": {"awards": True},
            }
        },
    }
    doc["forms"]["contact"] = {
        "fields": {"email": dict(_FIELD, value={"x": [1, None]})},
        "metadata": {"version": 2, "lastModified": None, "userAgent": "UA", "formSchema": {"v": 1}},
    }
    doc["validation"]["contact"] = {
        "valid": False,
        "errors": ["e"],
        "warnings": [],
        "validatedAt": "2026-11-25T12:00:00.000Z",
    }
    doc["navigation"]["history"] = [
        {"step": "upload", "substep": "file-select", "at": "2026-11-25T12:00:00.000Z"}
    ]
    doc["processing"]["checkpoints"]["parse"] = model.ProcessingCheckpoint(
        model.CheckpointPhase.PARSE
    ).to_json()
    doc["processing"]["jobs"]["j1"] = model.Job("j1", "s1", model.JobType.CV_PROCESSING).to_json()
    doc["rules"]["r1"] = {
        "when": {"==": [{"var": "status"}, "draft"]},
        "action": "recommend",
        "target": "privacy-mode",
        "reason": "Why not.",
        "sortKey": "a",
    }
    doc["cv"] = {"basics": {"name": "Ada"}, "skills": [{"name": "Python"}]}
    doc["data"] = [1, "two", {"three": 3.0}]
    schema.validate_document(doc)


def test_validate_document_does_not_modify_the_document() -> None:
    """Validation is read-only."""
    doc = new_doc()
    before = copy.deepcopy(doc)
    schema.validate_document(doc)
    assert before == doc


def test_is_json_rejects_cycles_instead_of_looping() -> None:
    """A cyclic Python structure is reported as not JSON rather than hanging."""
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert not model.is_json(cyclic)


def test_validate_document_reports_cyclic_data_instead_of_looping() -> None:
    """A cyclic value under /data is refused with InvalidInput."""
    doc = new_doc()
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    doc["data"] = cyclic
    with pytest.raises(InvalidInput):
        schema.validate_document(doc)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every container path in a JSON value (as token tuples)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


_NEW_DOC_PATHS = _paths(new_doc())[1:]
_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just((1, 2)),
    st.just({1: 2}),
    st.just(b"x"),
)


@given(st.integers(0, len(_NEW_DOC_PATHS) - 1), _junk)
@settings(max_examples=300, deadline=None)
def test_corrupted_documents_raise_only_invalid_input(index: int, junk: Any) -> None:
    """Replacing any node by junk either still validates or raises InvalidInput, nothing else."""
    doc = new_doc()
    path = _NEW_DOC_PATHS[index]
    _set(list(path), junk)(doc)
    try:
        schema.validate_document(doc)
    except InvalidInput as err:
        assert isinstance(err.detail["path"], str)


def test_unknown_step_id_in_step_transition_is_invalid_input() -> None:
    """check_step_transition refuses a step id outside the catalogue."""
    with pytest.raises(InvalidInput):
        model.check_step_transition("pending", "skipped", step_id="nowhere")


def test_integers_too_large_to_store_are_refused() -> None:
    """Free JSON may hold 64-bit integers; counters stay within JavaScript's safe integers."""
    doc = new_doc()
    doc["data"] = {"big": 2**64 - 1, "small": -(2**63)}
    schema.validate_document(doc)
    doc["data"] = {"list": [2**64]}
    with pytest.raises(InvalidInput) as info:
        schema.validate_document(doc)
    assert "/data/list/0" == info.value.detail["path"]
    doc = new_doc()
    doc["steps"]["upload"]["timeSpentMs"] = 2**53
    with pytest.raises(InvalidInput):
        schema.validate_document(doc)
