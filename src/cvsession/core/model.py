"""The domain model: states and their legal transitions, job and checkpoint shapes, and the
structural validation of a session document.

Statuses are `StrEnum`s, so a member compares equal to its JSON string. Transition tables are
data (`SESSION_TRANSITIONS`, ...); moving to the same state is not a transition, callers treat it
as a no-op before asking. An illegal move raises `IllegalTransition` with `current`, `target` and
`allowed` in its detail.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

from cvsession.core import catalogue
from cvsession.core.document import escape_token, parse_iso
from cvsession.core.errors import IllegalTransition, InvalidInput


class SessionStatus(StrEnum):
    DRAFT = "draft"
    IN_PROGRESS = "in_progress"
    PROCESSING = "processing"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


class StepStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    SKIPPED = "skipped"


class SubstepStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    ERROR = "error"


class FeatureProgress(StrEnum):
    CONFIGURED = "configured"
    PROCESSING = "processing"
    COMPLETED = "completed"
    ERROR = "error"


class JobType(StrEnum):
    CV_PROCESSING = "cv-processing"
    FEATURE_GENERATION = "feature-generation"
    TEMPLATE_APPLICATION = "template-application"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CheckpointState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class CheckpointPhase(StrEnum):
    """The phases of the CV pipeline, in the order they run."""

    EXTRACT = "extract"
    PARSE = "parse"
    ANALYSE = "analyse"
    GENERATE = "generate"


# Transition tables -------------------------------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)


def _table(enum: type[_E], spec: dict[str, str]) -> Mapping[_E, frozenset[_E]]:
    """Build a read-only transition table from {state: "target target ..."}."""
    assert set(spec) == {m.value for m in enum}
    return MappingProxyType({enum(k): frozenset(map(enum, v.split())) for k, v in spec.items()})


# Same to same is never a transition; callers treat it as a no-op before asking.
SESSION_TRANSITIONS = _table(SessionStatus, {
    "draft": "in_progress processing paused failed expired",
    "in_progress": "processing paused completed failed expired",
    "processing": "in_progress paused failed completed expired",
    "paused": "in_progress processing expired",
    "failed": "in_progress expired",
    "completed": "expired",
    "expired": "",
})  # fmt: skip

# A step can be completed straight from pending (quick create fills it in one go), reopened after
# completion, and un-skipped. Only catalogue-skippable steps may be skipped (see
# `check_step_transition(..., step_id=...)`).
STEP_TRANSITIONS = _table(StepStatus, {
    "pending": "in_progress completed skipped",
    "in_progress": "completed skipped pending",
    "completed": "in_progress",
    "skipped": "in_progress pending",
})  # fmt: skip

# A completed substep may be reopened to edit it; an errored one retried, reset or resolved.
SUBSTEP_TRANSITIONS = _table(SubstepStatus, {
    "pending": "in_progress completed skipped error",
    "in_progress": "completed skipped error pending",
    "error": "in_progress pending completed skipped",
    "completed": "in_progress",
    "skipped": "in_progress pending",
})  # fmt: skip

# A running job may be requeued (worker crash), a failed one requeued for a retry; completed and
# cancelled are final.
JOB_TRANSITIONS = _table(JobStatus, {
    "queued": "running paused cancelled failed",
    "running": "completed failed paused cancelled queued",
    "paused": "queued running cancelled",
    "failed": "queued cancelled",
    "completed": "",
    "cancelled": "",
})  # fmt: skip

# A crash sends a running phase back to pending; a failed phase is retried (running) or skipped
# when a fallback covers it; a completed phase is reset to pending only when its input changes (a
# new upload), so a retry never redoes finished work.
CHECKPOINT_TRANSITIONS = _table(CheckpointState, {
    "pending": "running skipped",
    "running": "completed failed skipped pending",
    "failed": "running skipped pending",
    "completed": "pending",
    "skipped": "pending running",
})  # fmt: skip


def _coerce(kind: str, enum: type[_E], value: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(
            f"unknown {kind} {value!r}; expected one of {allowed}", value=value
        ) from None


def _check(
    kind: str, enum: type[_E], table: Mapping[_E, frozenset[_E]], current: str, target: str
) -> _E:
    cur = _coerce(kind, enum, current)
    tgt = _coerce(kind, enum, target)
    allowed = table[cur]
    if tgt not in allowed:
        raise IllegalTransition(
            f"{kind}: cannot go from {cur.value} to {tgt.value}",
            kind=kind,
            current=cur.value,
            target=tgt.value,
            allowed=sorted(a.value for a in allowed),
        )
    return tgt


def check_session_transition(current: str, target: str) -> SessionStatus:
    """Return `target` as an enum if a session may move there from `current`.

    Raises InvalidInput for an unknown status, IllegalTransition otherwise (same to same included).
    """
    return _check("session status", SessionStatus, SESSION_TRANSITIONS, current, target)


def check_step_transition(current: str, target: str, *, step_id: str | None = None) -> StepStatus:
    """Like `check_session_transition` for a step; with `step_id`, only a skippable step skips."""
    result = _check("step status", StepStatus, STEP_TRANSITIONS, current, target)
    if step_id is not None and not catalogue.is_step(step_id):
        raise InvalidInput(f"unknown step {step_id!r}", step=step_id)
    if (
        result is StepStatus.SKIPPED
        and step_id is not None
        and not catalogue.step(step_id).skippable
    ):
        raise IllegalTransition(
            f"{catalogue.step(step_id).title} cannot be skipped",
            kind="step status",
            current=str(current),
            target=result.value,
            allowed=[],
            step=step_id,
        )
    return result


def check_substep_transition(current: str, target: str) -> SubstepStatus:
    """Like `check_session_transition` for a substep."""
    return _check("substep status", SubstepStatus, SUBSTEP_TRANSITIONS, current, target)


def check_job_transition(current: str, target: str) -> JobStatus:
    """Like `check_session_transition` for a job."""
    return _check("job status", JobStatus, JOB_TRANSITIONS, current, target)


def check_checkpoint_transition(current: str, target: str) -> CheckpointState:
    """Like `check_session_transition` for a processing checkpoint."""
    return _check("checkpoint state", CheckpointState, CHECKPOINT_TRANSITIONS, current, target)


# JSON helpers ------------------------------------------------------------------------------------

# Deeper values cannot be stored (orjson refuses to nest beyond 255 levels); the limit also stops
# a cyclic Python structure from looping forever.
MAX_JSON_DEPTH = 200
# orjson stores integers of 64 bits (signed or unsigned); counters stay within what JavaScript
# represents exactly.
MIN_JSON_INT, MAX_JSON_INT = -(2**63), 2**64 - 1
MAX_SAFE_INT = 2**53 - 1


def is_json(value: Any) -> bool:
    """Return whether `value` is a JSON value we can store: str-keyed dicts, lists, str, bool,
    None, finite floats and 64-bit integers, nested at most MAX_JSON_DEPTH levels."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if v is None or isinstance(v, str):
            continue
        if isinstance(v, int):
            if not MIN_JSON_INT <= v <= MAX_JSON_INT:
                return False
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                return False
            continue
        if depth >= MAX_JSON_DEPTH:
            return False
        children: Iterable[Any]
        if isinstance(v, dict):
            children = v.values()
            if not all(isinstance(k, str) for k in v):
                return False
        elif isinstance(v, list):
            children = v
        else:
            return False
        for x in children:
            if x is None or isinstance(x, str):
                continue
            if isinstance(x, int) and MIN_JSON_INT <= x <= MAX_JSON_INT:
                continue
            stack.append((x, depth + 1))
    return True


def _first_non_json(value: Any, path: str) -> tuple[str, str]:
    """Return (path, problem) of the first node that makes `value` not JSON."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        v, p, depth = stack.pop()
        if v is None or isinstance(v, str):
            continue
        if isinstance(v, int):
            if not MIN_JSON_INT <= v <= MAX_JSON_INT:
                return p, "is an integer too large to store"
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                return p, "must be a finite number"
            continue
        if depth >= MAX_JSON_DEPTH:
            return p, f"is nested more than {MAX_JSON_DEPTH} levels deep"
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    return p, f"has a non-string key {k!r}"
                stack.append((x, p + "/" + escape_token(k), depth + 1))
        elif isinstance(v, list):
            stack.extend((x, f"{p}/{i}", depth + 1) for i, x in enumerate(v))
        else:
            return p, f"is not a JSON value ({type(v).__name__})"
    return path, "is not a JSON value"


def require_json(value: Any, path: str = "") -> None:
    """Raise InvalidInput with the pointer of the first non-JSON node in `value`."""
    if not is_json(value):
        bad, problem = _first_non_json(value, path)
        _fail(bad, problem)


def _fail(path: str, problem: str) -> NoReturn:
    raise InvalidInput(f"invalid value at {path or '/'}: {problem}", path=path)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(v: Any, path: str, low: int = 0, high: int = MAX_SAFE_INT) -> None:
    if not _is_int(v):
        _fail(path, "must be an integer")
    if not low <= v <= high:
        _fail(path, f"must be between {low} and {high}")


def _str(v: Any, path: str) -> None:
    if not isinstance(v, str):
        _fail(path, "must be a string")


def _opt_str(v: Any, path: str) -> None:
    if v is not None and not isinstance(v, str):
        _fail(path, "must be a string or null")


def _bool(v: Any, path: str) -> None:
    if not isinstance(v, bool):
        _fail(path, "must be true or false")


def _ts(v: Any, path: str, *, optional: bool = True) -> None:
    if v is None and optional:
        return
    if not isinstance(v, str):
        _fail(path, "must be an ISO-8601 timestamp" + (" or null" if optional else ""))
    try:
        parse_iso(v)
    except ValueError:
        _fail(path, f"{v!r} is not an ISO-8601 timestamp")


def _enum(v: Any, path: str, values: frozenset[str]) -> None:
    if not isinstance(v, str) or v not in values:
        _fail(path, f"must be one of {', '.join(sorted(values))}")


def _obj(v: Any, path: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        _fail(path, "must be an object")
    for key in v:
        if not isinstance(key, str):
            _fail(path, f"has a non-string key {key!r}")
    return v


def _keys(
    v: dict[str, Any], path: str, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> None:
    if v.keys() == required:
        return
    for key in v:
        if key not in required and key not in optional:
            _fail(f"{path}/{escape_token(key)}", "is not a known key")
    for key in required:
        if key not in v:
            _fail(path, f"is missing the key {key!r}")


def _str_list(v: Any, path: str) -> None:
    if not isinstance(v, list):
        _fail(path, "must be a list of strings")
    for i, x in enumerate(v):
        if not isinstance(x, str):
            _fail(f"{path}/{i}", "must be a string")


def _str_map(v: Any, path: str) -> None:
    for k, x in _obj(v, path).items():
        if not isinstance(x, str):
            _fail(f"{path}/{escape_token(k)}", "must be a string")


def _error_obj(v: Any, path: str) -> None:
    if v is not None:
        _obj(v, path)
        require_json(v, path)


# Jobs and checkpoints ----------------------------------------------------------------------------


def _enum_field(enum: type[_E], value: str, path: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        _fail(path, f"must be one of {', '.join(m.value for m in enum)}")


def _copy_json(value: Any) -> Any:
    """Deep-copy a JSON value (faster than copy.deepcopy for plain JSON)."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _to_json(obj: Any, keys: Mapping[str, str]) -> dict[str, Any]:
    """Write dataclass fields under their camelCase keys: enums as values, tuples as lists."""
    out: dict[str, Any] = {}
    for attr, key in keys.items():
        value = getattr(obj, attr)
        if isinstance(value, StrEnum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = _copy_json(value)
    return out


def _from_json(obj: Any, keys: Mapping[str, str], required: frozenset[str], path: str) -> Any:
    """Return constructor kwargs from a JSON object; the `dependencies` list becomes a tuple."""
    obj = _obj(obj, path)
    _keys(obj, path, required, frozenset(keys.values()) - required)
    by_key = {key: attr for attr, key in keys.items()}
    kwargs: dict[str, Any] = {}
    for key, value in obj.items():
        tuple_field = key == "dependencies" and isinstance(value, list)
        kwargs[by_key[key]] = tuple(value) if tuple_field else _copy_json(value)
    return kwargs


_D = TypeVar("_D")


def _build(cls: type[_D], kwargs: dict[str, Any], path: str) -> _D:
    """Construct, re-raising a field error with `path` in front of its pointer."""
    try:
        return cls(**kwargs)
    except InvalidInput as err:
        bad = path + str(err.detail.get("path", ""))
        problem = err.message.split(": ", 1)[-1]
        raise InvalidInput(f"invalid value at {bad or '/'}: {problem}", path=bad) from None


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of background work for a session; lower `priority` runs first.

    Enum fields accept their string values. Construction checks every field and raises
    InvalidInput whose `path` is the JSON key of the bad field ("/progress").
    """

    id: str
    session_id: str
    type: JobType
    status: JobStatus = JobStatus.QUEUED
    priority: int = 0
    dependencies: tuple[str, ...] = ()
    retry_count: int = 0
    max_retries: int = 3
    progress: int = 0
    estimated_duration_ms: int | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    error: dict[str, Any] | None = None
    result_ref: str | None = None
    phase: str | None = None

    def __post_init__(self) -> None:
        _str(self.id, "/id")
        _str(self.session_id, "/sessionId")
        _str(self.type, "/type")
        _str(self.status, "/status")
        object.__setattr__(self, "type", _enum_field(JobType, self.type, "/type"))
        object.__setattr__(self, "status", _enum_field(JobStatus, self.status, "/status"))
        _int(self.priority, "/priority", low=-(2**31), high=2**31 - 1)
        if not isinstance(self.dependencies, tuple):
            _fail("/dependencies", "must be a list of job ids")
        for i, dep in enumerate(self.dependencies):
            _str(dep, f"/dependencies/{i}")
        _int(self.retry_count, "/retryCount")
        _int(self.max_retries, "/maxRetries")
        _int(self.progress, "/progress", high=100)
        if self.estimated_duration_ms is not None:
            _int(self.estimated_duration_ms, "/estimatedDurationMs")
        _ts(self.created_at, "/createdAt")
        _ts(self.started_at, "/startedAt")
        _ts(self.completed_at, "/completedAt")
        _error_obj(self.error, "/error")
        _opt_str(self.result_ref, "/resultRef")
        _opt_str(self.phase, "/phase")

    @property
    def can_retry(self) -> bool:
        return self.status is JobStatus.FAILED and self.retry_count < self.max_retries

    def to_json(self) -> dict[str, Any]:
        """Return the camelCase JSON form stored under processing.jobs."""
        return _to_json(self, _JOB_KEYS)

    @classmethod
    def from_json(cls, obj: Any, *, path: str = "") -> Job:
        """Build a Job from its JSON form; `id`, `sessionId`, `type` are required, the rest default.

        Raises InvalidInput with the pointer (prefixed by `path`) of the first bad node.
        """
        return _build(cls, _from_json(obj, _JOB_KEYS, _JOB_REQUIRED, path), path)


_JOB_KEYS = MappingProxyType({
    "id": "id", "session_id": "sessionId", "type": "type", "status": "status",
    "priority": "priority", "dependencies": "dependencies", "retry_count": "retryCount",
    "max_retries": "maxRetries", "progress": "progress",
    "estimated_duration_ms": "estimatedDurationMs", "created_at": "createdAt",
    "started_at": "startedAt", "completed_at": "completedAt", "error": "error",
    "result_ref": "resultRef", "phase": "phase",
})  # fmt: skip
_JOB_REQUIRED = frozenset({"id", "sessionId", "type"})


@dataclass(frozen=True, slots=True)
class ProcessingCheckpoint:
    """What one pipeline phase has done so far; `last_error` is {"message", "code", ...} or None.

    Checked on construction like `Job`.
    """

    phase: CheckpointPhase
    state: CheckpointState = CheckpointState.PENDING
    progress: int = 0
    partial_result: Any = None
    retry_count: int = 0
    last_error: dict[str, Any] | None = None
    fallback_used: bool = False
    updated_at: str | None = None

    def __post_init__(self) -> None:
        _str(self.phase, "/phase")
        _str(self.state, "/state")
        object.__setattr__(self, "phase", _enum_field(CheckpointPhase, self.phase, "/phase"))
        object.__setattr__(self, "state", _enum_field(CheckpointState, self.state, "/state"))
        _int(self.progress, "/progress", high=100)
        require_json(self.partial_result, "/partialResult")
        _int(self.retry_count, "/retryCount")
        _error_obj(self.last_error, "/lastError")
        _bool(self.fallback_used, "/fallbackUsed")
        _ts(self.updated_at, "/updatedAt")

    def to_json(self) -> dict[str, Any]:
        """Return the camelCase JSON form stored under processing.checkpoints."""
        return _to_json(self, _CP_KEYS)

    @classmethod
    def from_json(cls, obj: Any, *, path: str = "") -> ProcessingCheckpoint:
        """Build a checkpoint from its JSON form; only `phase` is required. Raises InvalidInput."""
        return _build(cls, _from_json(obj, _CP_KEYS, _CP_REQUIRED, path), path)


_CP_KEYS = MappingProxyType({
    "phase": "phase", "state": "state", "progress": "progress",
    "partial_result": "partialResult", "retry_count": "retryCount", "last_error": "lastError",
    "fallback_used": "fallbackUsed", "updated_at": "updatedAt",
})  # fmt: skip
_CP_REQUIRED = frozenset({"phase"})
