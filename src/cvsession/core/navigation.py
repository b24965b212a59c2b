"""Navigation: prerequisites, the next step, deep links, breadcrumbs and step states.

A prerequisite is satisfied when its step is completed, or skipped if the catalogue lets that
step be skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from cvsession.core import catalogue, progress
from cvsession.core.document import Document
from cvsession.core.errors import InvalidInput

SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_PARAMS = 32
MAX_PARAM_LEN = 256
MAX_URL_LEN = 8192


def _require_step(step_id: Any) -> str:
    if not isinstance(step_id, str) or not catalogue.is_step(step_id):
        raise InvalidInput(f"unknown step {step_id!r}", step=step_id)
    return step_id


def _steps(doc: Document) -> dict[str, Any]:
    steps = doc.get("steps")
    return steps if isinstance(steps, dict) else {}


def step_status(doc: Document, step_id: str) -> str:
    """Return the status of a step ("pending" when the record is missing)."""
    rec = _steps(doc).get(step_id)
    status = rec.get("status") if isinstance(rec, dict) else None
    return status if isinstance(status, str) else "pending"


def substep_status(doc: Document, step_id: str, substep_id: str) -> str:
    """Return the status of a substep ("pending" when the record is missing)."""
    rec = _steps(doc).get(step_id)
    subs = rec.get("substeps") if isinstance(rec, dict) else None
    srec = subs.get(substep_id) if isinstance(subs, dict) else None
    status = srec.get("status") if isinstance(srec, dict) else None
    return status if isinstance(status, str) else "pending"


def is_step_done(doc: Document, step_id: str) -> bool:
    """Return whether a step is completed or skipped."""
    return step_status(doc, step_id) in progress.DONE_STEP


def _satisfied(doc: Document, step_id: str) -> bool:
    status = step_status(doc, step_id)
    return status == "completed" or (status == "skipped" and catalogue.step(step_id).skippable)


def missing_prerequisites(doc: Document, step_id: str) -> list[str]:
    """Return the catalogue prerequisites of `step_id` not yet satisfied, in catalogue order.

    Raises InvalidInput for an unknown step id.
    """
    step = catalogue.step(_require_step(step_id))
    return [req for req in step.requires if not _satisfied(doc, req)]


def _join_titles(step_ids: list[str]) -> str:
    titles = [catalogue.step(s).title for s in step_ids]
    if len(titles) <= 1:
        return "".join(titles)
    return ", ".join(titles[:-1]) + " and " + titles[-1]


def prerequisite_reason(step_id: str, missing: list[str]) -> str:
    """Explain in a sentence what `step_id` waits for.

    >>> prerequisite_reason("preview", ["features", "templates"])
    'Preview needs Features and Templates to be completed first.'
    """
    title = catalogue.step(_require_step(step_id)).title
    if not missing:
        return f"{title} is ready to start."
    return f"{title} needs {_join_titles(missing)} to be completed first."


def first_open_substep(doc: Document, step_id: str) -> str | None:
    """Return the first substep of `step_id` not completed or skipped, None if all are done."""
    for sub in catalogue.substep_ids(_require_step(step_id)):
        if substep_status(doc, step_id, sub) not in progress.DONE_SUBSTEP:
            return sub
    return None


def next_step(doc: Document) -> str | None:
    """Return the first step in catalogue order not done whose prerequisites are met."""
    for sid in catalogue.STEP_IDS:
        if not is_step_done(doc, sid) and not missing_prerequisites(doc, sid):
            return sid
    return None


# Deep links --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeepLink:
    """A parsed link to a session, optionally a step and a substep, with query parameters."""

    session_id: str
    step: str | None = None
    substep: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    def to_url(self) -> str:
        return deep_link(self.session_id, self.step, self.substep, self.params)

    def to_json(self) -> dict[str, Any]:
        return {
            "sessionId": self.session_id,
            "step": self.step,
            "substep": self.substep,
            "params": dict(self.params),
        }


def _check_link(session_id: Any, step: Any, substep: Any) -> None:
    if not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
        raise InvalidInput(
            "a session id is 1 to 64 letters, digits, '-' or '_'", session_id=str(session_id)[:80]
        )
    if step is not None:
        _require_step(step)
    if substep is not None:
        if step is None:
            raise InvalidInput("a substep needs its step", substep=substep)
        if not isinstance(substep, str) or substep not in catalogue.substep_ids(step):
            raise InvalidInput(
                f"{substep!r} is not a substep of {step!r}", step=step, substep=substep
            )


def _check_params(pairs: list[tuple[Any, Any]]) -> dict[str, str]:
    if len(pairs) > MAX_PARAMS:
        raise InvalidInput(f"a link may carry at most {MAX_PARAMS} parameters", count=len(pairs))
    params: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInput("link parameters are strings")
        if not key:
            raise InvalidInput("a link parameter needs a name")
        if len(key) > MAX_PARAM_LEN or len(value) > MAX_PARAM_LEN:
            raise InvalidInput(
                f"link parameter names and values are at most {MAX_PARAM_LEN} characters",
                param=key[:MAX_PARAM_LEN],
            )
        if key in params:
            raise InvalidInput(f"link parameter {key!r} is repeated", param=key)
        params[key] = value
    return params


def deep_link(
    session_id: str,
    step: str | None = None,
    substep: str | None = None,
    params: Mapping[str, str] | None = None,
) -> str:
    """Return the path of a session, step or substep: "/session/{id}[/{step}[/{substep}]]".

    Parameters are appended as a query string, keys sorted, names and values percent-encoded.
    Raises InvalidInput for a bad session id, an unknown step, a substep not of the step, or
    parameters beyond the limits (MAX_PARAMS keys, MAX_PARAM_LEN characters each).
    """
    _check_link(session_id, step, substep)
    checked = _check_params(list((params or {}).items()))
    path = "/session/" + session_id
    if step is not None:
        path += "/" + step
        if substep is not None:
            path += "/" + substep
    if not checked:
        return path
    try:
        query = "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(checked.items())
        )
    except UnicodeEncodeError:
        raise InvalidInput("link parameters must be valid Unicode text") from None
    return path + "?" + query


def parse_deep_link(url: str) -> DeepLink:
    """Parse a path ("/session/...") or an absolute http(s) URL; only path and query are used.

    Accepts one trailing slash; ignores the fragment. Raises InvalidInput with a clear message
    for anything else, with the same checks as `deep_link`.
    """
    if not isinstance(url, str) or not url:
        raise InvalidInput("a link must be a non-empty string")
    if len(url) > MAX_URL_LEN:
        raise InvalidInput(f"a link is at most {MAX_URL_LEN} characters long")
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise InvalidInput(f"not a valid link: {err}") from None
    if parts.scheme:
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput("a link is a path or an absolute http(s) URL")
    elif parts.netloc:
        raise InvalidInput("a link is a path or an absolute http(s) URL")
    path = parts.path
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]
    segments = path.split("/")
    if len(segments) < 3 or segments[0] != "" or segments[1] != "session":
        raise InvalidInput("a session link starts with /session/{id}")
    if len(segments) > 5:
        raise InvalidInput("a session link has at most a step and a substep after the id")
    session_id = segments[2]
    step = segments[3] if len(segments) > 3 else None
    substep = segments[4] if len(segments) > 4 else None
    _check_link(session_id, step, substep)
    if parts.query.count("&") >= 4 * MAX_PARAMS:
        raise InvalidInput(f"a link may carry at most {MAX_PARAMS} parameters")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, errors="strict")
    except ValueError:
        raise InvalidInput("link parameters must be percent-encoded UTF-8") from None
    return DeepLink(session_id, step, substep, _check_params(list(pairs)))


# Breadcrumbs and step states ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Breadcrumb:
    """One crumb: a step, or (last) the current substep. Only the last crumb is `current`."""

    step: str
    substep: str | None
    title: str
    status: str
    url: str
    current: bool
    reachable: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "substep": self.substep,
            "title": self.title,
            "status": self.status,
            "url": self.url,
            "current": self.current,
            "reachable": self.reachable,
        }


def breadcrumbs(doc: Document) -> list[Breadcrumb]:
    """Return one crumb per step up to and including the current one, then the current substep.

    Raises InvalidInput when the document's id or current step is invalid.
    """
    session_id = doc["id"]
    current = _require_step(doc.get("currentStep"))
    sub = doc.get("currentSubstep")
    if sub is not None and sub not in catalogue.substep_ids(current):
        sub = None
    crumbs: list[Breadcrumb] = []
    for s in catalogue.STEPS[: catalogue.step_index(current) + 1]:
        crumbs.append(
            Breadcrumb(
                step=s.id,
                substep=None,
                title=s.title,
                status=step_status(doc, s.id),
                url=deep_link(session_id, s.id),
                current=s.id == current and sub is None,
                reachable=not missing_prerequisites(doc, s.id),
            )
        )
    if sub is not None:
        crumbs.append(
            Breadcrumb(
                step=current,
                substep=sub,
                title=catalogue.substep_title(sub),
                status=substep_status(doc, current, sub),
                url=deep_link(session_id, current, sub),
                current=True,
                reachable=crumbs[-1].reachable,
            )
        )
    return crumbs


@dataclass(frozen=True, slots=True)
class StepState:
    """What a progress indicator shows for one step."""

    step: str
    title: str
    status: str
    completion: int
    reachable: bool
    missing: list[str]
    current: bool
    skippable: bool
    url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "title": self.title,
            "status": self.status,
            "completion": self.completion,
            "reachable": self.reachable,
            "missing": list(self.missing),
            "current": self.current,
            "skippable": self.skippable,
            "url": self.url,
        }


def step_states(doc: Document) -> list[StepState]:
    """Return all nine steps in catalogue order with status, completion and reachability."""
    session_id = doc["id"]
    current = doc.get("currentStep")
    states = []
    for s in catalogue.STEPS:
        missing = missing_prerequisites(doc, s.id)
        states.append(
            StepState(
                step=s.id,
                title=s.title,
                status=step_status(doc, s.id),
                completion=progress.step_completion(doc, s.id),
                reachable=not missing,
                missing=missing,
                current=s.id == current,
                skippable=s.skippable,
                url=deep_link(session_id, s.id),
            )
        )
    return states
