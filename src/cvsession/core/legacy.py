"""Import of sessions saved by the earlier CVPlus front end in browser localStorage.

The old app stored each session under the key `cvplus_session_{id}`; localStorage holds strings,
so values (and sometimes `formData`) may be JSON encoded once or twice. We are liberal in what
we accept — timestamps as ISO strings or epoch milliseconds (or seconds, when too small to be
milliseconds), status spellings like "in-progress" — and strict about what we produce: the
result passes `schema.validate_document`, and the raw legacy object is kept in `data.legacy`.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any, TypeGuard

from cvsession.core import catalogue, model, navigation, progress, schema
from cvsession.core.document import Document, escape_token, iso, new_session_document, parse_iso
from cvsession.core.errors import InvalidInput

KEY_PREFIX = "cvplus_session_"
MAX_DECODE_DEPTH = 3
# Below this an epoch number is taken as seconds (1e11 s is the year 5138; 1e11 ms is 1973).
_SECONDS_LIMIT = 1e11

_STATUS_MAP = {s.value: s.value for s in model.SessionStatus} | {
    "active": "in_progress",
    "abandoned": "paused",
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(value: Any, path: str) -> Any:
    """Undo up to MAX_DECODE_DEPTH levels of JSON string encoding."""
    for _ in range(MAX_DECODE_DEPTH):
        if not isinstance(value, str):
            return value
        try:
            value = json.loads(value, parse_constant=_reject_constant)
        except ValueError:
            raise InvalidInput(
                f"the legacy value at {path or '/'} is not JSON", path=path
            ) from None
    return value


def _session_id(raw: dict[str, Any], fallback: str, path: str) -> str:
    sid = raw.get("sessionId", fallback)
    if isinstance(sid, int) and not isinstance(sid, bool):
        sid = str(sid)
    if not isinstance(sid, str) or not sid:
        raise InvalidInput(f"the legacy session at {path or '/'} has no sessionId", path=path)
    return sid


def _session_obj(value: Any, path: str) -> dict[str, Any]:
    value = _decode(value, path)
    if not isinstance(value, dict):
        raise InvalidInput(f"the legacy session at {path or '/'} is not an object", path=path)
    return value


def parse_legacy_export(obj: Any) -> list[tuple[str, dict[str, Any]]]:
    """Find the legacy sessions in an export; return (legacy session id, raw object) pairs.

    `obj` is one of: a dict of localStorage keys to values (only `cvplus_session_*` keys are
    taken), a list of session objects, or one session object (a dict with `sessionId`). Any of
    these, and each value, may be a JSON-encoded string. Raises InvalidInput with the path of
    a value that is not a session object or has no id.
    """
    obj = _decode(obj, "")
    if isinstance(obj, list):
        found = []
        for i, item in enumerate(obj):
            raw = _session_obj(item, f"/{i}")
            found.append((_session_id(raw, "", f"/{i}"), raw))
        return found
    if not isinstance(obj, dict):
        raise InvalidInput("a legacy export is an object or a list of sessions", path="")
    if "sessionId" in obj:
        return [(_session_id(obj, "", ""), obj)]
    found = []
    for key, value in obj.items():
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            continue
        path = "/" + escape_token(key)
        raw = _session_obj(value, path)
        found.append((_session_id(raw, key[len(KEY_PREFIX) :], path), raw))
    return found


def _timestamp(value: Any, field: str) -> datetime | None:
    """Parse an ISO string, an epoch number (ms, or s when small) or a numeric string."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float | None = float(text)
        except ValueError:
            number = None
        if number is None:
            try:
                return parse_iso(text)
            except ValueError:
                raise InvalidInput(
                    f"legacy {field} {value!r} is not a timestamp", path="/" + field
                ) from None
        value = number
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value if abs(value) < _SECONDS_LIMIT else value / 1000
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise InvalidInput(f"legacy {field} {value!r} is not a timestamp", path="/" + field)


def _status(raw: dict[str, Any]) -> str:
    value = raw.get("status")
    if value is None:
        return "paused"
    key = None
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _STATUS_MAP:
        allowed = ", ".join(sorted(_STATUS_MAP))
        raise InvalidInput(
            f"unknown legacy status {value!r}; expected one of {allowed}", path="/status"
        )
    return _STATUS_MAP[key]


def _step_list(value: Any) -> list[str]:
    value = _decode(value, "/completedSteps")
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(
            "legacy completedSteps must be a list of step ids", path="/completedSteps"
        )
    for i, sid in enumerate(value):
        if not isinstance(sid, str) or not catalogue.is_step(sid):
            raise InvalidInput(
                f"unknown legacy step {sid!r} in completedSteps", path=f"/completedSteps/{i}"
            )
    return [s for s in catalogue.STEP_IDS if s in value]


def _field(value: Any) -> dict[str, Any]:
    return {
        "value": value,
        "dirty": False,
        "touched": True,
        "valid": True,
        "errors": [],
        "warnings": [],
    }


def _mark_completed(doc: Document, step_id: str, ts: str) -> None:
    rec = doc["steps"][step_id]
    rec.update(
        status="completed",
        completion=100,
        completedAt=ts,
        lastModified=ts,
        startedAt=rec["startedAt"] or ts,
    )
    for srec in rec["substeps"].values():
        srec.update(status="completed", completedAt=ts, startedAt=srec["startedAt"] or ts)


def _is_count(n: Any) -> TypeGuard[int | float]:
    return (
        isinstance(n, int | float)
        and not isinstance(n, bool)
        and math.isfinite(n)
        and 0 <= n <= model.MAX_SAFE_INT
    )


def _apply_step_progress(doc: Document, value: Any, ignored: list[str]) -> None:
    """Copy time spent, interactions and substep statuses from a legacy stepProgress map."""
    value = _decode(value, "/stepProgress")
    if not isinstance(value, dict):
        return
    for sid, entry in value.items():
        if not catalogue.is_step(sid) or not isinstance(entry, dict):
            ignored.append(f"stepProgress.{sid}")
            continue
        rec = doc["steps"][sid]
        for src, dst in (
            ("timeSpent", "timeSpentMs"),
            ("timeSpentMs", "timeSpentMs"),
            ("interactions", "interactions"),
        ):
            n = entry.get(src)
            if _is_count(n):
                rec[dst] = int(n)
        subs = entry.get("substeps")
        if isinstance(subs, dict):
            for sub, state in subs.items():
                status = state.get("status") if isinstance(state, dict) else state
                if sub in rec["substeps"] and status in ("in_progress", "completed", "skipped"):
                    if rec["status"] != "completed":
                        rec["substeps"][sub]["status"] = status
                elif sub not in rec["substeps"]:
                    ignored.append(f"stepProgress.{sid}.substeps.{sub}")


def _apply_features(doc: Document, states: Any, selected: Any, ignored: list[str]) -> None:
    states = _decode(states, "/featureStates")
    if isinstance(states, dict):
        for fid, state in states.items():
            if fid not in doc["features"]:
                ignored.append(f"featureStates.{fid}")
                continue
            enabled = state.get("enabled") if isinstance(state, dict) else state
            if isinstance(enabled, bool):
                doc["features"][fid]["enabled"] = enabled
                doc["features"][fid]["progress"] = "configured" if enabled else None
            config = state.get("configuration") if isinstance(state, dict) else None
            if isinstance(config, dict) and model.is_json(config):
                doc["features"][fid]["configuration"].update(config)
    selected = _decode(selected, "/selectedFeatures")
    if isinstance(selected, list):
        for fid in selected:
            if isinstance(fid, str) and fid in doc["features"]:
                doc["features"][fid]["enabled"] = True
                doc["features"][fid]["progress"] = "configured"
            else:
                ignored.append(f"selectedFeatures.{fid}")


def _pick(raw: dict[str, Any], form: dict[str, Any], *keys: str) -> Any:
    """Return the first non-empty value of `keys` at the top level, else in formData."""
    for source in (raw, form):
        for key in keys:
            if source.get(key) not in (None, ""):
                return source[key]
    return None


def convert_legacy(raw: dict[str, Any], *, owner: str, new_id: str, now: datetime) -> Document:
    """Build a current-schema session document from one legacy session object.

    Maps status (legacy values plus active -> in_progress, abandoned -> paused; missing ->
    paused), currentStep, completedSteps (each completed with all its substeps), createdAt,
    lastActiveAt, jobId, formData (into forms.legacy, one touched field per key), target role
    and job description, template, features, stepProgress and uiState. Unknown feature ids and
    step-progress entries are listed in data.legacyImport.ignored; the raw object is kept in
    data.legacy. Raises InvalidInput for an unknown status or step id, a bad timestamp, or a
    result that does not validate.
    """
    if not isinstance(raw, dict):
        raise InvalidInput("a legacy session is an object", path="")
    form = _decode(raw.get("formData"), "/formData")
    if form is None:
        form = {}
    if not isinstance(form, dict):
        raise InvalidInput("legacy formData must be an object", path="/formData")
    created = _timestamp(raw.get("createdAt"), "createdAt")
    last = _timestamp(raw.get("lastActiveAt"), "lastActiveAt")
    created = created or last or now
    last = last or created
    title = raw.get("title") if isinstance(raw.get("title"), str) else ""
    doc = new_session_document(
        new_id, owner, created, title=str(title), quick_create=raw.get("quickCreate") is True
    )
    last_ts = iso(last)
    doc["lastActiveAt"] = last_ts
    status = _status(raw)
    doc["status"] = status
    ignored: list[str] = []

    done = _step_list(raw.get("completedSteps"))
    for sid in done:
        _mark_completed(doc, sid, last_ts)
    doc["completedSteps"] = done
    _apply_step_progress(doc, raw.get("stepProgress"), ignored)

    current = raw.get("currentStep")
    if current is None:
        current = navigation.next_step(doc) or "completed"
    if not isinstance(current, str) or not catalogue.is_step(current):
        raise InvalidInput(f"unknown legacy currentStep {current!r}", path="/currentStep")
    doc["currentStep"] = current
    if current not in done and status != "draft":
        rec = doc["steps"][current]
        rec["status"] = "in_progress"
        rec["startedAt"] = rec["startedAt"] or last_ts
    doc["currentSubstep"] = navigation.first_open_substep(doc, current)
    for sid in catalogue.STEP_IDS:
        doc["steps"][sid]["completion"] = progress.step_completion(doc, sid)

    if status == "completed":
        completed_at = _timestamp(raw.get("completedAt"), "completedAt") or last
        doc["completedAt"] = iso(completed_at)
    if status == "paused":
        doc["pausedAt"] = last_ts
    job = raw.get("jobId")
    if isinstance(job, int) and not isinstance(job, bool):
        job = str(job)
    doc["jobId"] = job if isinstance(job, str) and job else None

    if form:
        doc["forms"]["legacy"] = {
            "fields": {str(k): _field(v) for k, v in form.items()},
            "metadata": {
                "version": 1,
                "lastModified": last_ts,
                "userAgent": None,
                "formSchema": "cvplus-legacy",
            },
        }
    for key, dst in (("targetRole", "role"), ("jobDescription", "jobDescription")):
        value = _pick(raw, form, key)
        if isinstance(value, str):
            doc["target"][dst] = value
    template = _pick(raw, form, "selectedTemplate", "templateId")
    if isinstance(template, str) and template in catalogue.TEMPLATES:
        doc["template"]["selected"] = template
    elif template is not None:
        ignored.append(f"template.{template}")
    _apply_features(doc, raw.get("featureStates"), _pick(raw, form, "selectedFeatures"), ignored)
    ui = _decode(raw.get("uiState"), "/uiState")
    if isinstance(ui, dict) and model.is_json(ui):
        doc["ui"] = {k: v for k, v in ui.items() if k != "sharePublic" or isinstance(v, bool)}

    legacy_id = raw.get("sessionId")
    doc["data"] = {
        "legacy": copy.deepcopy(raw),
        "legacyImport": {
            "importedAt": iso(now),
            "legacySessionId": legacy_id if isinstance(legacy_id, str | int) else None,
            "legacyUserId": raw.get("userId") if isinstance(raw.get("userId"), str) else None,
            "ignored": ignored,
        },
    }
    schema.validate_document(doc)
    return doc
