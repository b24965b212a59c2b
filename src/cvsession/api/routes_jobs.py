"""Background jobs over HTTP: process an upload, generate features and templates, follow,
pause, resume or cancel them (one job or every job of the session), read checkpoints and
download what they produced.

Progress also reaches the session document (`/processing/jobs`, `/processing/checkpoints`) and
so every connected client. Every route checks that the session is the caller's (404 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cvsession.api.app import CallerDep, Svc
from cvsession.core import catalogue, flags
from cvsession.core.errors import DomainError, InvalidInput, NotFound
from cvsession.jobs import JobEngine, job_json
from cvsession.store import ArtifactRow

router = APIRouter(prefix="/api/sessions", tags=["jobs"])
# Generated HTML and SVG hold user text: never let them run scripts or load anything.
ARTIFACT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


class ProcessingDisabled(DomainError):
    code = "processing_disabled"
    status = 503


class ProcessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: int = Field(default=0, ge=0, le=1000)


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["cv-processing", "feature-generation", "template-application"]
    uploadId: str | None = Field(default=None, max_length=100)
    feature: str | None = Field(default=None, max_length=100)
    template: str | None = Field(default=None, max_length=100)
    priority: int = Field(default=0, ge=0, le=1000)
    dependencies: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=32
    )
    maxRetries: int = Field(default=3, ge=0, le=10)


def _engine(request: Request) -> JobEngine:
    engine: JobEngine | None = request.app.state.jobs
    if engine is None:
        raise ProcessingDisabled("processing is turned off on this server (CVSESSION_JOBS=0)")
    return engine


async def _owned_engine(request: Request, svc: Svc, who: Any, session_id: str) -> JobEngine:
    """The engine. Every engine call checks that the session is the caller's; with the engine
    off, that check is made here so another user's session is 404 before it is 503."""
    if request.app.state.jobs is None:
        await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    return _engine(request)


async def _processing_allowed(svc: Svc, user_id: str) -> None:
    """New work needs the checkpointed-processing flag (docs/decisions/0021); existing jobs
    can still be followed, paused, resumed and cancelled."""
    await anyio.to_thread.run_sync(
        svc.flags.require,
        flags.CHECKPOINTED_PROCESSING,
        user_id,
        "CV processing is switched off at the moment; you can fill in your CV by hand",
    )


def _params(body: JobIn) -> dict[str, Any]:
    if body.type == "cv-processing":
        if not body.uploadId:
            raise InvalidInput("a cv-processing job needs uploadId", path="/uploadId")
        return {"uploadId": body.uploadId}
    if body.type == "feature-generation":
        if body.feature not in catalogue.GENERATED_FEATURES:
            known = ", ".join(catalogue.GENERATED_FEATURES)
            raise InvalidInput(f"feature must be one of {known}", path="/feature")
        return {"feature": body.feature}
    if body.template not in catalogue.TEMPLATES:
        known = ", ".join(catalogue.TEMPLATES)
        raise InvalidInput(f"template must be one of {known}", path="/template")
    return {"template": body.template}


@router.post("/{session_id}/uploads/{upload_id}/process", status_code=202)
async def process(
    session_id: str,
    upload_id: str,
    request: Request,
    svc: Svc,
    who: CallerDep,
    body: ProcessIn | None = None,
) -> dict[str, Any]:
    """Queue extract → parse → analyse → generate for the upload."""
    await anyio.to_thread.run_sync(svc.uploads.get, who.user_id, session_id, upload_id)
    await _processing_allowed(svc, who.user_id)
    engine = _engine(request)
    job = await anyio.to_thread.run_sync(
        lambda: engine.submit(
            who.user_id,
            session_id,
            "cv-processing",
            {"uploadId": upload_id},
            priority=body.priority if body else 0,
        )
    )
    return {"jobId": job.id, "job": job_json(job)}


@router.post("/{session_id}/jobs", status_code=202)
async def submit(
    session_id: str, body: JobIn, request: Request, svc: Svc, who: CallerDep
) -> dict[str, Any]:
    """Queue a job; it starts once every job in `dependencies` has completed."""
    # Ownership before the body's details: another user's session is 404 whatever was sent.
    await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    await _processing_allowed(svc, who.user_id)
    engine = _engine(request)
    params = _params(body)
    if body.uploadId:
        await anyio.to_thread.run_sync(svc.uploads.get, who.user_id, session_id, body.uploadId)
    job = await anyio.to_thread.run_sync(
        lambda: engine.submit(
            who.user_id,
            session_id,
            body.type,
            params,
            priority=body.priority,
            dependencies=body.dependencies,
            max_retries=body.maxRetries,
        )
    )
    return job_json(job)


@router.get("/{session_id}/jobs")
async def list_jobs(
    session_id: str,
    request: Request,
    svc: Svc,
    who: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The session's newest `limit` jobs, oldest first."""
    engine = await _owned_engine(request, svc, who, session_id)
    jobs = await anyio.to_thread.run_sync(
        lambda: engine.list_jobs(who.user_id, session_id, limit=limit)
    )
    return {"jobs": [job_json(j) for j in jobs]}


@router.post("/{session_id}/jobs/{command}")
async def control_session(
    session_id: str,
    command: Literal["pause", "resume", "cancel"],
    request: Request,
    svc: Svc,
    who: CallerDep,
) -> dict[str, Any]:
    """Pause, resume or cancel every unfinished job of the session."""
    engine = await _owned_engine(request, svc, who, session_id)
    jobs = await anyio.to_thread.run_sync(engine.control_session, who.user_id, session_id, command)
    return {"jobs": [job_json(j) for j in jobs]}


@router.get("/{session_id}/jobs/{job_id}")
async def job_status(
    session_id: str, job_id: str, request: Request, svc: Svc, who: CallerDep
) -> dict[str, Any]:
    engine = await _owned_engine(request, svc, who, session_id)
    return job_json(await anyio.to_thread.run_sync(engine.get, who.user_id, session_id, job_id))


@router.post("/{session_id}/jobs/{job_id}/{command}")
async def job_control(
    session_id: str,
    job_id: str,
    command: Literal["pause", "resume", "cancel"],
    request: Request,
    svc: Svc,
    who: CallerDep,
) -> dict[str, Any]:
    """Pause (stops at the next phase boundary), resume (from the last checkpoint) or cancel."""
    engine = await _owned_engine(request, svc, who, session_id)
    return job_json(
        await anyio.to_thread.run_sync(engine.control, who.user_id, session_id, job_id, command)
    )


@router.get("/{session_id}/checkpoints")
async def checkpoints(session_id: str, svc: Svc, who: CallerDep) -> dict[str, Any]:
    """Each pipeline phase: state, progress, partial result, retries, last error, fallback."""
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    result: dict[str, Any] = row.document["processing"]["checkpoints"]
    return {"checkpoints": result}


def _artifact_json(art: ArtifactRow, session_id: str) -> dict[str, Any]:
    return {
        "id": art.id,
        "jobId": art.job_id,
        "name": art.name,
        "mediaType": art.media_type,
        "createdAt": art.created_at.isoformat(),
        "url": f"/api/sessions/{session_id}/artifacts/{art.id}",
    }


@router.get("/{session_id}/artifacts")
async def artifacts(session_id: str, request: Request, svc: Svc, who: CallerDep) -> dict[str, Any]:
    """Files the jobs generated (HTML per template, SVG charts, JSON Resume), oldest first."""
    engine = await _owned_engine(request, svc, who, session_id)
    rows = await anyio.to_thread.run_sync(engine.records.artifacts, who.user_id, session_id)
    return {"artifacts": [_artifact_json(a, session_id) for a in rows]}


def _file(art: ArtifactRow, download: bool) -> Response:
    disposition = "attachment" if download else "inline"
    return Response(
        art.content,
        media_type=art.media_type,
        headers={
            "Content-Security-Policy": ARTIFACT_CSP,
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(art.name)}",
        },
    )


@router.get("/{session_id}/artifacts/{artifact_id}")
async def artifact(
    session_id: str,
    artifact_id: str,
    request: Request,
    svc: Svc,
    who: CallerDep,
    download: Annotated[bool, Query()] = False,
) -> Response:
    engine = await _owned_engine(request, svc, who, session_id)
    art = await anyio.to_thread.run_sync(
        engine.records.artifact, who.user_id, session_id, artifact_id
    )
    return _file(art, download)


@router.get("/{session_id}/download/{fmt}")
async def download(
    session_id: str,
    fmt: Literal["html", "json"],
    request: Request,
    svc: Svc,
    who: CallerDep,
    template: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The newest generated CV: HTML (for `template`, default the session's) or JSON Resume."""
    engine = await _owned_engine(request, svc, who, session_id)
    rows = await anyio.to_thread.run_sync(engine.records.artifacts, who.user_id, session_id)
    if fmt == "json":
        wanted = {"resume.json"}
    elif template:
        wanted = {f"cv-{template}.html"}
    else:
        row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
        selected = (row.document.get("template") or {}).get("selected")
        choices = [selected] if selected else list(catalogue.TEMPLATES)
        wanted = {f"cv-{t}.html" for t in choices}
    matches = [a for a in rows if a.name in wanted]
    if not matches:
        raise NotFound("nothing generated yet: process an upload or apply a template first")
    art = await anyio.to_thread.run_sync(
        engine.records.artifact, who.user_id, session_id, matches[-1].id
    )
    return _file(art, download=True)
