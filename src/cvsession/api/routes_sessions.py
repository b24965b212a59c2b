"""Session routes: create, read, search, lifecycle, steps, features, templates, forms, navigation.

Every write here is a named mutation numbered by the server (see routes_sync for client-numbered
mutations). `If-Match: "<version>"` on a write makes it conflict-checked against that version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cvsession.api.app import CallerDep, Svc
from cvsession.core import navigation, progress
from cvsession.core.errors import InvalidInput, NotFound
from cvsession.processing import analyse
from cvsession.service.sessions import Outcome
from cvsession.store.base import ORDER_FIELDS, RESUMABLE_STATUSES, SessionQuery, SessionRow

router = APIRouter(prefix="/api/sessions", tags=["sessions"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]
JSONObject = dict[str, Any]


def etag(version: int) -> str:
    return f'"{version}"'


def base_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput('If-Match must be a session version such as "12"')
    return int(text)


def summary(row: SessionRow) -> JSONObject:
    doc = row.document
    return {
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "currentStep": doc["currentStep"],
        "currentSubstep": doc.get("currentSubstep"),
        "completedSteps": doc["completedSteps"],
        "progress": progress.overall_progress(doc),
        "createdAt": doc["createdAt"],
        "lastActiveAt": doc["lastActiveAt"],
        "version": row.version,
        "resumable": row.status in RESUMABLE_STATUSES,
        "deepLink": navigation.deep_link(row.id, doc["currentStep"], doc.get("currentSubstep")),
    }


def document_response(doc: JSONObject, status_code: int = 200) -> JSONResponse:
    return JSONResponse(doc, status_code=status_code, headers={"ETag": etag(doc["version"])})


async def run_command(
    svc: Svc,
    who: CallerDep,
    session_id: str,
    name: str,
    args: JSONObject | None = None,
    if_match: str | None = None,
) -> JSONResponse:
    outcome: Outcome = await anyio.to_thread.run_sync(
        lambda: svc.sessions.command(who.user_id, session_id, name, args, base_version(if_match))
    )
    if outcome.document is None:  # nothing changed: answer with the current state
        row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
        return document_response(row.document)
    response = document_response(outcome.document)
    if outcome.conflicts:
        return JSONResponse(
            {"session": outcome.document, "conflicts": outcome.conflicts},
            status_code=409,
            headers={"ETag": etag(outcome.version)},
        )
    return response


# create, read, search, delete ------------------------------------------------------------------
class TargetIn(BaseModel):
    role: str = Field(default="", max_length=200)
    jobDescription: str = Field(default="", max_length=20_000)
    instructions: str = Field(default="", max_length=5_000)


class CreateIn(BaseModel):
    title: str = Field(default="", max_length=200)
    quickCreate: bool = False
    target: TargetIn | None = None


@router.post("", status_code=201)
async def create_session(svc: Svc, who: CallerDep, body: CreateIn | None = None) -> JSONResponse:
    body = body or CreateIn()
    row = await anyio.to_thread.run_sync(
        lambda: svc.sessions.create(
            who.user_id,
            title=body.title,
            quick_create=body.quickCreate,
            target=body.target.model_dump() if body.target else None,
        )
    )
    response = document_response(row.document, 201)
    response.headers["Location"] = f"/api/sessions/{row.id}"
    return response


@router.get("")
async def list_sessions(
    svc: Svc,
    who: CallerDep,
    status: Annotated[list[str] | None, Query(max_length=10)] = None,
    step: Annotated[list[str] | None, Query(max_length=10)] = None,
    createdFrom: datetime | None = None,
    createdTo: datetime | None = None,
    activeFrom: datetime | None = None,
    activeTo: datetime | None = None,
    resumable: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    order: Literal[ORDER_FIELDS] = "last_active_at",  # type: ignore[valid-type]
    desc: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONObject:
    """Search the caller's sessions (filters combine with AND)."""
    for dt in (createdFrom, createdTo, activeFrom, activeTo):
        if dt is not None and dt.tzinfo is None:
            raise InvalidInput("dates need a time zone, e.g. 2026-11-25T00:00:00Z")
    query = SessionQuery(
        statuses=tuple(status or ()),
        steps=tuple(step or ()),
        created_from=createdFrom,
        created_to=createdTo,
        active_from=activeFrom,
        active_to=activeTo,
        resumable=resumable,
        text=q,
        order_by=order,
        descending=desc,
        limit=limit,
        offset=offset,
    )
    rows, total = await anyio.to_thread.run_sync(svc.sessions.search, who.user_id, query)
    return {"items": [summary(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{session_id}")
async def get_session(session_id: str, svc: Svc, who: CallerDep) -> JSONResponse:
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    return document_response(row.document)


@router.delete("/{session_id}", status_code=204)
async def delete_session(session_id: str, request: Request, svc: Svc, who: CallerDep) -> Response:
    # Stop its jobs first so no workflow keeps working for a session that is gone; then the
    # uploads service deletes the session, and its files once that is durable.
    await _control_jobs(request, who.user_id, session_id, "cancel")
    await anyio.to_thread.run_sync(svc.uploads.delete_session, who.user_id, session_id)
    return Response(status_code=204)


@router.get("/{session_id}/export")
async def export_session(session_id: str, svc: Svc, who: CallerDep) -> JSONObject:
    """Everything kept about the session: document, mutation log and conflicts."""
    payload: JSONObject = await anyio.to_thread.run_sync(
        svc.sessions.export, who.user_id, session_id
    )
    return payload


# lifecycle -------------------------------------------------------------------------------------
@router.post("/{session_id}/pause")
async def pause(session_id: str, request: Request, svc: Svc, who: CallerDep) -> JSONResponse:
    """Pause the session and its background jobs (a running phase finishes first)."""
    response = await run_command(svc, who, session_id, "session.pause")
    await _control_jobs(request, who.user_id, session_id, "pause")
    return response


@router.post("/{session_id}/resume")
async def resume(session_id: str, request: Request, svc: Svc, who: CallerDep) -> JSONResponse:
    """Resume the session and the jobs that were paused, from their last checkpoint."""
    response = await run_command(svc, who, session_id, "session.resume")
    await _control_jobs(request, who.user_id, session_id, "resume")
    return response


async def _control_jobs(request: Request, user_id: str, session_id: str, command: str) -> None:
    engine = getattr(request.app.state, "jobs", None)
    if engine is not None:
        await anyio.to_thread.run_sync(engine.control_session, user_id, session_id, command)


@router.post("/{session_id}/complete")
async def complete(session_id: str, svc: Svc, who: CallerDep) -> JSONResponse:
    return await run_command(svc, who, session_id, "session.complete")


# steps and substeps ----------------------------------------------------------------------------
class EnterIn(BaseModel):
    substep: str | None = Field(default=None, max_length=64)


class SubstepIn(BaseModel):
    data: JSONObject | None = None
    errors: list[str] = Field(default_factory=list, max_length=50)


@router.post("/{session_id}/steps/{step}/enter")
async def enter_step(
    session_id: str, step: str, svc: Svc, who: CallerDep, body: EnterIn | None = None
) -> JSONResponse:
    args: JSONObject = {"step": step}
    if body and body.substep:
        args["substep"] = body.substep
    return await run_command(svc, who, session_id, "step.enter", args)


@router.post("/{session_id}/steps/{step}/{action}")
async def step_action(
    session_id: str, step: str, action: Literal["complete", "skip"], svc: Svc, who: CallerDep
) -> JSONResponse:
    return await run_command(svc, who, session_id, f"step.{action}", {"step": step})


@router.post("/{session_id}/steps/{step}/substeps/{substep}/{action}")
async def substep_action(
    session_id: str,
    step: str,
    substep: str,
    action: Literal["start", "complete", "skip", "fail"],
    svc: Svc,
    who: CallerDep,
    if_match: IfMatch = None,
    body: SubstepIn | None = None,
) -> JSONResponse:
    args: JSONObject = {"step": step, "substep": substep}
    if body and body.data is not None:
        args["data"] = body.data
    if action == "fail":
        args["errors"] = body.errors if body else []
    return await run_command(svc, who, session_id, f"substep.{action}", args, if_match)


@router.get("/{session_id}/steps")
async def step_states(session_id: str, svc: Svc, who: CallerDep) -> JSONObject:
    """All nine steps with status, completion, reachability and missing prerequisites."""
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    return {
        "progress": progress.overall_progress(row.document),
        "steps": [s.to_json() for s in navigation.step_states(row.document)],
    }


@router.get("/{session_id}/breadcrumbs")
async def breadcrumbs(session_id: str, svc: Svc, who: CallerDep) -> JSONObject:
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    return {"breadcrumbs": [b.to_json() for b in navigation.breadcrumbs(row.document)]}


@router.get("/{session_id}/recommendation")
async def recommendation(session_id: str, svc: Svc, who: CallerDep) -> JSONObject:
    """Where to continue, why, and how long the rest will take."""
    rec = await anyio.to_thread.run_sync(svc.sessions.recommendation, who.user_id, session_id)
    return rec.to_json()


@router.get("/{session_id}/link")
async def make_link(
    session_id: str,
    svc: Svc,
    who: CallerDep,
    step: Annotated[str | None, Query(max_length=64)] = None,
    substep: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONObject:
    """A deep link to a step/substep of the session (the current one by default)."""
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    step = step or row.document["currentStep"]
    if substep is None and step == row.document["currentStep"]:
        substep = row.document.get("currentSubstep")
    url = navigation.deep_link(session_id, step, substep)
    navigation.parse_deep_link(url)  # validates step and substep
    return {"url": url}


# features, templates, target -------------------------------------------------------------------
class FeatureIn(BaseModel):
    enabled: bool


@router.put("/{session_id}/features/{feature}")
async def toggle_feature(
    session_id: str,
    feature: str,
    body: FeatureIn,
    svc: Svc,
    who: CallerDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    return await run_command(
        svc,
        who,
        session_id,
        "feature.toggle",
        {"feature": feature, "enabled": body.enabled},
        if_match,
    )


@router.patch("/{session_id}/features/{feature}/configuration")
async def configure_feature(
    session_id: str,
    feature: str,
    body: JSONObject,
    svc: Svc,
    who: CallerDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Merge configuration keys (null removes a key)."""
    return await run_command(
        svc,
        who,
        session_id,
        "feature.configure",
        {"feature": feature, "configuration": body},
        if_match,
    )


class TemplateIn(BaseModel):
    template: str = Field(max_length=64)


@router.put("/{session_id}/template")
async def select_template(
    session_id: str, body: TemplateIn, svc: Svc, who: CallerDep, if_match: IfMatch = None
) -> JSONResponse:
    return await run_command(
        svc, who, session_id, "template.select", {"template": body.template}, if_match
    )


@router.patch("/{session_id}/template/customizations/{template}")
async def customize_template(
    session_id: str,
    template: str,
    body: JSONObject,
    svc: Svc,
    who: CallerDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Merge colours, fonts, sectionOrder entries and hiddenSections (null removes)."""
    return await run_command(
        svc, who, session_id, "template.customize", {**body, "template": template}, if_match
    )


@router.put("/{session_id}/target")
async def set_target(
    session_id: str, body: TargetIn, svc: Svc, who: CallerDep, if_match: IfMatch = None
) -> JSONResponse:
    return await run_command(
        svc, who, session_id, "target.set", body.model_dump(exclude_unset=True), if_match
    )


# forms and validation --------------------------------------------------------------------------
class FieldIn(BaseModel):
    value: Any = None
    dirty: bool | None = None
    touched: bool | None = None
    valid: bool | None = None
    errors: list[str] | None = Field(default=None, max_length=20)
    warnings: list[str] | None = Field(default=None, max_length=20)


class FormIn(BaseModel):
    fields: dict[str, FieldIn] = Field(default_factory=dict)
    metadata: JSONObject = Field(default_factory=dict)


def _field_args(body: FieldIn) -> JSONObject:
    return body.model_dump(exclude_unset=True)


@router.put("/{session_id}/forms/{form}")
async def save_form(
    session_id: str, form: str, body: FormIn, svc: Svc, who: CallerDep, if_match: IfMatch = None
) -> JSONResponse:
    """Save a form's fields (value, dirty, touched, valid, errors, warnings) and metadata."""
    fields = {name: _field_args(f) for name, f in body.fields.items()}
    return await run_command(
        svc,
        who,
        session_id,
        "form.save",
        {"form": form, "fields": fields, "metadata": body.metadata},
        if_match,
    )


@router.get("/{session_id}/forms/{form}")
async def get_form(session_id: str, form: str, svc: Svc, who: CallerDep) -> JSONObject:
    """Restore a saved form with its field states."""
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    saved = row.document["forms"].get(form)
    if saved is None:
        raise NotFound(f"no saved form {form!r}")
    return {"form": form, **saved, "version": row.version}


@router.put("/{session_id}/forms/{form}/fields/{field}")
async def set_field(
    session_id: str,
    form: str,
    field: str,
    body: FieldIn,
    svc: Svc,
    who: CallerDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    return await run_command(
        svc,
        who,
        session_id,
        "form.setField",
        {"form": form, "field": field, **_field_args(body)},
        if_match,
    )


@router.delete("/{session_id}/forms/{form}")
async def reset_form(session_id: str, form: str, svc: Svc, who: CallerDep) -> JSONResponse:
    return await run_command(svc, who, session_id, "form.reset", {"form": form})


class ValidationIn(BaseModel):
    valid: bool
    errors: list[str] = Field(default_factory=list, max_length=20)
    warnings: list[str] = Field(default_factory=list, max_length=20)


@router.put("/{session_id}/validation/{key}")
async def set_validation(
    session_id: str, key: str, body: ValidationIn, svc: Svc, who: CallerDep
) -> JSONResponse:
    return await run_command(
        svc, who, session_id, "validation.set", {"key": key, **body.model_dump()}
    )


# analysis of the current CV ----------------------------------------------------------------------
class KeywordsIn(BaseModel):
    model_config = {"extra": "forbid"}
    jobDescription: str = Field(default="", max_length=20_000)
    role: str | None = Field(default=None, max_length=200)


@router.get("/{session_id}/analysis")
async def analysis(session_id: str, svc: Svc, who: CallerDep) -> JSONObject:
    """ATS keywords, suggestions and PII of the session's CV as it is now (edits included)."""
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    doc = row.document
    target = doc.get("target") or {}
    return analyse.analyse(
        doc.get("cv") or {},
        target_role=target.get("role", ""),
        job_description=target.get("jobDescription", ""),
    )


@router.post("/{session_id}/analysis/keywords")
async def keywords(session_id: str, body: KeywordsIn, svc: Svc, who: CallerDep) -> JSONObject:
    """The job description's keywords found in and missing from the session's CV, and a score."""
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    doc = row.document
    role = body.role if body.role is not None else (doc.get("target") or {}).get("role", "")
    return analyse.ats(doc.get("cv") or {}, target_role=role, job_description=body.jobDescription)
