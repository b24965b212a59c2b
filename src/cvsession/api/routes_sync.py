"""Sync routes: client-numbered mutations, pull since a cookie, raw JSON Patch, conflicts, history.

These speak the same model as the WebSocket protocol: a client numbers its mutations 1, 2, 3…;
replays are acknowledged without effect, gaps are refused, and the cookie is the session version.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cvsession.api.app import CallerDep, Svc
from cvsession.api.problems import PROBLEM, domain_problem_body, is_json_type
from cvsession.api.routes_sessions import IfMatch, run_command
from cvsession.core.document import split_pointer
from cvsession.core.errors import InvalidInput, UnsupportedMediaType
from cvsession.core.mutations import Mutation
from cvsession.service import analytics
from cvsession.service.sessions import conflict_json
from cvsession.service.sync import patch_since

router = APIRouter(prefix="/api", tags=["sync"])
JSON_PATCH = "application/json-patch+json"
MAX_BATCH = 1000


class MutationIn(BaseModel):
    id: int = Field(ge=1, le=2**62)
    name: str = Field(min_length=1, max_length=64)
    args: Any = None
    baseVersion: int | None = Field(default=None, ge=0)
    hlc: str = Field(default="", max_length=64)


class PushIn(BaseModel):
    clientID: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    mutations: list[MutationIn] = Field(max_length=MAX_BATCH)
    # The client's wall clock in ms: corrects the ages of mutations made offline (see hello).
    now: int | None = Field(default=None, ge=0, le=analytics.MAX_CLIENT_MS)


@router.post("/sessions/{session_id}/mutations")
async def push(session_id: str, body: PushIn, svc: Svc, who: CallerDep) -> JSONResponse:
    """Apply a client's mutations in order; each result is acknowledged only once durable.

    Processing stops at the first gap (409 with the results so far); permanent errors are
    reported per mutation and still consume the id.
    """
    received = time.monotonic()
    mutations = [
        Mutation(
            body.clientID, m.id, m.name, {} if m.args is None else m.args, m.baseVersion, m.hlc
        )
        for m in body.mutations
    ]
    offset = analytics.clock_offset(svc.sessions.clock(), body.now)
    outcomes, gap = await svc.sessions.apush(who.user_id, session_id, mutations, offset)
    svc.sessions.metrics.push_ack["http"].observe(time.monotonic() - received)
    results = [o.to_json() for o in outcomes]
    last = next((o.last_mutation_id for o in reversed(outcomes)), None)
    if gap is not None:
        payload = domain_problem_body(gap)
        payload.update(lastMutationID=last, results=results)
        return JSONResponse(payload, status_code=409, media_type=PROBLEM)
    return JSONResponse({"lastMutationID": last, "results": results})


@router.get("/sessions/{session_id}/pull")
async def pull(
    session_id: str,
    svc: Svc,
    who: CallerDep,
    cookie: Annotated[int, Query(ge=0)] = 0,
    clientID: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONResponse:
    """Everything since `cookie` as RFC 6902 ops, or the whole document if the cookie is too old."""
    row, entries, oldest = await anyio.to_thread.run_sync(
        lambda: svc.sessions.log_since(who.user_id, session_id, cookie, 5000)
    )
    client_last = None
    if clientID:
        client_last = await anyio.to_thread.run_sync(
            svc.sessions.client_last, who.user_id, clientID
        )
    patch = patch_since(cookie, row.version, row.document, entries, oldest)
    body: dict[str, Any] = {
        "cookie": row.version,
        "lastMutationID": client_last,
        "ops": patch["ops"],
        "lastMutationIDChanges": patch["lastMutationIDChanges"],
    }
    if patch["reset"]:
        body["reset"] = True
        body["document"] = row.document
    return JSONResponse(body)


async def _raw_patch(
    request: Request, svc: Svc, who: CallerDep, session_id: str, root: str, if_match: str | None
) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != JSON_PATCH:
        raise UnsupportedMediaType(f"send the patch as {JSON_PATCH}")
    ops = request.state.json if hasattr(request.state, "json") else None
    if ops is None:
        raise InvalidInput("the body must be a JSON Patch document (an array of operations)")
    return await run_command(svc, who, session_id, "patch", {"ops": ops, "root": root}, if_match)


@router.patch(
    "/sessions/{session_id}",
    openapi_extra={
        "requestBody": {
            "content": {JSON_PATCH: {"schema": {"type": "array", "items": {"type": "object"}}}}
        }
    },
)
async def patch_session(
    session_id: str, request: Request, svc: Svc, who: CallerDep, if_match: IfMatch = None
) -> JSONResponse:
    """RFC 6902 on the whole session document, all or nothing, then validated.

    Only content roots may be patched (title, template, forms, validation, ui, navigation, cv,
    target, data, rules); workflow state changes through its named operations.
    """
    return await _raw_patch(request, svc, who, session_id, "", if_match)


@router.patch(
    "/sessions/{session_id}/data",
    openapi_extra={
        "requestBody": {
            "content": {JSON_PATCH: {"schema": {"type": "array", "items": {"type": "object"}}}}
        }
    },
)
async def patch_data(
    session_id: str, request: Request, svc: Svc, who: CallerDep, if_match: IfMatch = None
) -> JSONResponse:
    """RFC 6902 on the session's free-form `data` value (any JSON)."""
    return await _raw_patch(request, svc, who, session_id, "/data", if_match)


@router.get("/sessions/{session_id}/data")
async def get_data(session_id: str, svc: Svc, who: CallerDep) -> JSONResponse:
    row = await anyio.to_thread.run_sync(svc.sessions.get, who.user_id, session_id)
    return JSONResponse(row.document["data"], headers={"ETag": f'"{row.version}"'})


@router.put("/sessions/{session_id}/data")
async def put_data(
    session_id: str, request: Request, svc: Svc, who: CallerDep, if_match: IfMatch = None
) -> JSONResponse:
    """Replace the free-form `data` value with any JSON value."""
    if not is_json_type(request.headers.get("content-type", "")) or not hasattr(
        request.state, "json"
    ):
        raise InvalidInput("send a JSON body (application/json)")
    response = await run_command(
        svc, who, session_id, "data.put", {"value": request.state.json}, if_match
    )
    return response


# conflicts -------------------------------------------------------------------------------------
class ResolveIn(BaseModel):
    choice: Literal["mine", "theirs", "value"]
    value: Any = None


@router.get("/sessions/{session_id}/conflicts")
async def list_conflicts(
    session_id: str, svc: Svc, who: CallerDep, status: Literal["open", "resolved"] | None = None
) -> dict[str, Any]:
    rows = await anyio.to_thread.run_sync(svc.sessions.conflicts, who.user_id, session_id, status)
    return {"conflicts": [conflict_json(c) for c in rows]}


@router.post("/sessions/{session_id}/conflicts/{conflict_id}/resolve")
async def resolve_conflict(
    session_id: str, conflict_id: str, body: ResolveIn, svc: Svc, who: CallerDep
) -> JSONResponse:
    """Keep mine, keep theirs, or write a new value; the resolution is itself a mutation."""
    args: dict[str, Any] = {"conflictId": conflict_id, "choice": body.choice}
    if body.choice == "value":
        args["value"] = body.value
    return await run_command(svc, who, session_id, "conflict.resolve", args)


# history ---------------------------------------------------------------------------------------
@router.get("/sessions/{session_id}/history")
async def field_history(
    session_id: str,
    svc: Svc,
    who: CallerDep,
    path: Annotated[str, Query(max_length=1000)] = "",
    since: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Changes to `path` (a JSON Pointer; all changes if empty): what it held before each."""
    try:
        split_pointer(path)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    _, entries, _ = await anyio.to_thread.run_sync(
        lambda: svc.sessions.log_since(who.user_id, session_id, since, 100_000)
    )
    changes: list[dict[str, Any]] = []
    for e in entries:
        for op in e.ops:
            p = op["path"]
            if not path or p == path or p.startswith(path + "/") or path.startswith(p + "/"):
                changes.append(
                    {
                        "version": e.version,
                        "name": e.name,
                        "clientID": e.client_id,
                        "at": e.created_at.isoformat(),
                        "op": op["op"],
                        "path": p,
                        "value": op.get("value"),
                        "old": op.get("old"),
                    }
                )
    return {"path": path, "changes": changes[-limit:]}


@router.get("/links/resolve")
async def resolve_link(
    svc: Svc, who: CallerDep, url: Annotated[str, Query(max_length=4096)]
) -> dict[str, Any]:
    """Turn a deep link into the full state it points at (404 if not the caller's)."""
    link, row = await anyio.to_thread.run_sync(svc.sessions.resolve_link, who.user_id, url)
    return {
        "sessionId": link.session_id,
        "step": link.step,
        "substep": link.substep,
        "params": dict(link.params),
        "session": row.document,
    }
