"""Metrics over HTTP: Prometheus text for scrapers, a JSON summary for the dashboard, and the
browser's analytics events.

`GET /metrics` is for administrators only: a bearer token whose user id is in
CVSESSION_ADMIN_USERS (a browser cookie is never an admin credential, as for the flags API).
`GET /metrics/summary` gives an administrator every user's figures and anyone else their own.
`POST /api/events` takes the allow-listed events a browser reports (docs/decisions/0023).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cvsession.api import auth
from cvsession.api.app import CallerDep, Services, Svc
from cvsession.core import catalogue
from cvsession.core.errors import DomainError, InvalidInput
from cvsession.service.analytics import ABANDON_DAYS, Analytics
from cvsession.store import EventRow

router = APIRouter(tags=["metrics"])

MAX_EVENT_BYTES = 4096
EVENTS_PER_MINUTE = 120
DAY_MS = 86_400_000


class NotAdmin(DomainError):
    code = "forbidden"
    status = 403


class EventTooLarge(DomainError):
    code = "too_large"
    status = 413


def analytics(request: Request, svc: Services) -> Analytics:
    """This app's analytics, made on first use (its gauges join the process registry)."""
    found: Analytics | None = getattr(request.app.state, "analytics", None)
    if found is None:
        found = Analytics(svc.store, svc.sessions.metrics, svc.sessions.clock)
        svc.sessions.metrics.add_scrape_gauges(found.scrape_gauges)
        request.app.state.analytics = found
        request.app.state.events_limiter = auth.RateLimiter(EVENTS_PER_MINUTE)
    return found


def is_admin(who: auth.Caller, svc: Services) -> bool:
    return who.via == "bearer" and who.user_id in svc.settings.admin_users


@router.get("/metrics", response_class=Response)
async def prometheus(request: Request, svc: Svc, who: CallerDep) -> Response:
    """This process's counters and histograms, and gauges read from the database now."""
    if not is_admin(who, svc):
        raise NotAdmin("metrics need a bearer token of a user listed in CVSESSION_ADMIN_USERS")
    analytics(request, svc)
    body = await anyio.to_thread.run_sync(generate_latest, svc.sessions.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("/metrics/summary")
async def summary(
    request: Request,
    svc: Svc,
    who: CallerDep,
    since: datetime | None = None,
    until: datetime | None = None,
    abandonDays: Annotated[float, Query(gt=0, le=365)] = ABANDON_DAYS,
) -> JSONResponse:
    """The dashboard's figures over [since, until) (ISO 8601; naive times are UTC)."""
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until")
    found = analytics(request, svc)
    scope = None if is_admin(who, svc) else who.user_id
    body = await anyio.to_thread.run_sync(
        lambda: found.summary(scope, since=since, until=until, abandon_days=abandonDays)
    )
    return JSONResponse(body)


# browser events ---------------------------------------------------------------------------------
class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Step = Annotated[str, Field(max_length=32)]
Substep = Annotated[str | None, Field(max_length=64)]


class Offered(_Data):
    recommendedStep: Step
    recommendedSubstep: Substep = None
    confidence: float = Field(ge=0, le=1)
    estimatedMinutes: int = Field(ge=0, le=100_000)


class Taken(_Data):
    step: Step
    substep: Substep = None
    fromRecommendation: bool


class Restored(_Data):
    ms: float = Field(ge=0, le=DAY_MS)
    step: Step
    intact: bool


class Replayed(_Data):
    count: int = Field(ge=0, le=1_000_000)
    offlineMs: float = Field(ge=0, le=365 * DAY_MS)


# kind -> (data schema, the field that is the event's value, whether a session is required)
KINDS: dict[str, tuple[type[_Data], str | None, bool]] = {
    "resume.offered": (Offered, "confidence", True),
    "resume.taken": (Taken, None, True),
    "resume.restored": (Restored, "ms", True),
    "offline.replayed": (Replayed, "offlineMs", False),
}


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["resume.offered", "resume.taken", "resume.restored", "offline.replayed"]
    sessionId: str | None = Field(default=None, max_length=64)
    value: float | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def _check_place(step: str, substep: str | None, where: str) -> None:
    if step not in catalogue.STEP_IDS:
        raise InvalidInput(f"unknown step {step!r}", path=f"/data/{where}")
    if substep is not None and substep not in catalogue.substep_ids(step):
        raise InvalidInput(f"{step} has no substep {substep!r}", path="/data")


def parse_event(body: EventIn) -> tuple[dict[str, Any], float | None]:
    """The validated data of an event and its value; InvalidInput names what is wrong."""
    schema, measure, needs_session = KINDS[body.kind]
    try:
        data = TypeAdapter(schema).validate_python(body.data).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"data/{where}: {first.get('msg')}", path=f"/data/{where}") from None
    if needs_session and body.sessionId is None:
        raise InvalidInput(f"a {body.kind} event needs a sessionId", path="/sessionId")
    if isinstance(data.get("recommendedStep"), str):
        _check_place(data["recommendedStep"], data.get("recommendedSubstep"), "recommendedStep")
    if isinstance(data.get("step"), str):
        _check_place(data["step"], data.get("substep"), "step")
    value = body.value
    if value is not None and not math.isfinite(value):
        raise InvalidInput("value must be a finite number", path="/value")
    if measure is not None:
        if value is not None and value != data[measure]:
            raise InvalidInput(f"value, when sent, must equal data.{measure}", path="/value")
        value = float(data[measure])
    return data, value


@router.post("/api/events", status_code=201)
async def record_event(request: Request, svc: Svc, who: CallerDep) -> JSONResponse:
    """Record one allow-listed event the browser observed (resume dialog, restore, replay)."""
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        raise EventTooLarge(f"an event is limited to {MAX_EVENT_BYTES} bytes")
    analytics(request, svc)
    request.app.state.events_limiter.hit(who.user_id)
    payload = getattr(request.state, "json", None)
    try:
        body = EventIn.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"{where or 'body'}: {first.get('msg')}", path=f"/{where}") from None
    data, value = parse_event(body)
    session_id = body.sessionId
    if session_id is not None:
        await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    event = EventRow(body.kind, who.user_id, svc.sessions.clock(), session_id, value, data)
    await svc.writer.arun(lambda txn: txn.insert_events([event]))
    return JSONResponse(
        {
            "kind": event.kind,
            "sessionId": event.session_id,
            "value": event.value,
            "data": event.data,
            "at": event.at.isoformat(),
        },
        status_code=201,
    )
