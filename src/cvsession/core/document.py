"""The session document: the one JSON value that holds everything a session must keep.

A session is stored, synced and patched as a JSON document (dicts, lists, str, int, float, bool,
None). Keys are camelCase because the same document travels to the browser. The shape is:

    id, owner, title, status, currentStep, currentSubstep, completedSteps (catalogue order),
    createdAt, lastActiveAt, completedAt, pausedAt, schemaVersion, version, quickCreate, jobId,
    steps:      {stepId: {status, completion 0-100, timeSpentMs, interactions, startedAt,
                 completedAt, lastModified, enteredAt,
                 substeps: {substepId: {status, data, validationErrors, startedAt,
                                        completedAt}}}}
    features:   {featureId: {enabled, configuration, progress, dependencies, error}}
    rules:      {ruleId: {when, action, target, reason, sortKey}}   (session-specific rules)
    template:   {selected,
                 customizations: {templateId: {colors, fonts, sectionOrder, hiddenSections}}}
                sectionOrder is a keyed map {key: {section, sortKey}};
                hiddenSections {section: true}
    forms:      {formId: {fields: {name: {value, dirty, touched, valid, errors, warnings}},
                 metadata: {version, lastModified, userAgent, formSchema}}}
    validation: {key: {valid, errors, warnings, validatedAt}}
    ui:         {...}   trivial, last-writer-wins (scroll, open panels, ...)
    navigation: {history: [{step, substep, at}], lastDeepLink}
    processing: {checkpoints: {phase: {...}}, jobs: {jobId: {...}}}
    cv:         null or a JSON Resume object (parsed CV)
    target:     {role, jobDescription, instructions}
    data:       free-form JSON owned by the client (any JSON value)

Timestamps are ISO-8601 UTC strings with millisecond precision ("2026-11-25T12:00:00.000Z").
"""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime
from typing import Any

from cvsession.core import catalogue

SCHEMA_VERSION = 1

JSON = Any
Document = dict[str, Any]

# Top-level keys a client may write through a raw JSON Patch on the whole document. Everything
# else (identity, status, steps, versions) changes only through named mutations that enforce the
# workflow's rules.
PATCHABLE_ROOTS = frozenset(
    {
        "title",
        "template",
        "forms",
        "validation",
        "ui",
        "navigation",
        "cv",
        "target",
        "data",
        "rules",
    }
)

# Paths whose writes are last-writer-wins (never a conflict). Matched as JSON Pointer prefixes.
TRIVIAL_PREFIXES = ("/ui", "/navigation", "/lastActiveAt")


@functools.lru_cache(maxsize=64)
def iso(ts: datetime) -> str:
    """Format a datetime as the document's timestamp form."""
    # Cached: one mutation stamps the same instant in several places.
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse a document timestamp (or any ISO-8601 string with an offset or Z)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def new_step_progress(step_id: str) -> dict[str, Any]:
    """Return the initial progress record for one step."""
    return {
        "status": "pending",
        "completion": 0,
        "timeSpentMs": 0,
        "interactions": 0,
        "startedAt": None,
        "completedAt": None,
        "enteredAt": None,
        "lastModified": None,
        "substeps": {
            sub: {
                "status": "pending",
                "data": {},
                "validationErrors": [],
                "startedAt": None,
                "completedAt": None,
            }
            for sub in catalogue.substep_ids(step_id)
        },
    }


def new_feature_state(feature_id: str) -> dict[str, Any]:
    """Return the initial (disabled) state of one catalogue feature."""
    feature = catalogue.FEATURES[feature_id]
    return {
        "enabled": False,
        "configuration": copy.deepcopy(feature.default_configuration),
        "progress": None,
        "dependencies": list(feature.dependencies),
        "error": None,
    }


def new_session_document(
    session_id: str,
    owner: str,
    now: datetime,
    *,
    title: str = "",
    quick_create: bool = False,
) -> Document:
    """Return the document of a brand-new session (status draft, at the first substep)."""
    ts = iso(now)
    first = catalogue.STEPS[0]
    return {
        "id": session_id,
        "owner": owner,
        "title": title,
        "status": "draft",
        "currentStep": first.id,
        "currentSubstep": first.substeps[0],
        "completedSteps": [],
        "createdAt": ts,
        "lastActiveAt": ts,
        "completedAt": None,
        "pausedAt": None,
        "schemaVersion": SCHEMA_VERSION,
        "version": 0,
        "quickCreate": quick_create,
        "jobId": None,
        "steps": {step.id: new_step_progress(step.id) for step in catalogue.STEPS},
        "features": {fid: new_feature_state(fid) for fid in catalogue.FEATURES},
        "rules": {},
        "template": {"selected": None, "customizations": {}},
        "forms": {},
        "validation": {},
        "ui": {},
        "navigation": {"history": [], "lastDeepLink": None},
        "processing": {"checkpoints": {}, "jobs": {}},
        "cv": None,
        "target": {"role": "", "jobDescription": "", "instructions": ""},
        "data": {},
    }


def escape_token(token: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901)."""
    if "~" not in token and "/" not in token:
        return token
    return token.replace("~", "~0").replace("/", "~1")


def unescape_token(token: str) -> str:
    """Unescape one JSON Pointer reference token (RFC 6901)."""
    if "~" not in token:
        return token
    return token.replace("~1", "/").replace("~0", "~")


@functools.lru_cache(maxsize=8192)
def pointer(*tokens: str | int) -> str:
    """Build a JSON Pointer from raw tokens: pointer("forms", "a/b") == "/forms/a~1b"."""
    # Cached: every write builds one, and the same few paths recur on a hot session.
    return "".join("/" + escape_token(str(t)) for t in tokens)


def split_pointer(ptr: str) -> list[str]:
    """Split a JSON Pointer into unescaped tokens; "" is the whole document."""
    if ptr == "":
        return []
    if not ptr.startswith("/"):
        raise ValueError(f"JSON Pointer must start with '/': {ptr!r}")
    return [unescape_token(t) for t in ptr[1:].split("/")]


@functools.lru_cache(maxsize=8192)
def is_trivial(ptr: str) -> bool:
    """Return whether writes to `ptr` are last-writer-wins rather than conflict-checked."""
    return any(ptr == p or ptr.startswith(p + "/") for p in TRIVIAL_PREFIXES)
