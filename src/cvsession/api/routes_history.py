"""History routes: a session's document at a past version, and restores to it.

What a single field held before is `GET /api/sessions/{id}/history?path=...` (routes_sync).
A restore is the named mutation `history.restore`, so it is logged and synced like any edit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cvsession.api.app import CallerDep, Svc
from cvsession.api.routes_sessions import run_command
from cvsession.core.mutations_history import MAX_VERSION, RESTORE
from cvsession.service.history import HistoryService

router = APIRouter(prefix="/api/sessions", tags=["history"])
Version = Annotated[int, PathParam(ge=0, le=MAX_VERSION)]


@router.get("/{session_id}/versions")
async def versions(session_id: str, svc: Svc, who: CallerDep) -> dict[str, Any]:
    """The range of versions that can be shown or restored: `oldest` to `current`."""
    oldest, current = await anyio.to_thread.run_sync(
        HistoryService(svc.sessions).retained, who.user_id, session_id
    )
    return {"oldest": oldest, "current": current}


@router.get("/{session_id}/versions/{version}")
async def document_at(session_id: str, version: Version, svc: Svc, who: CallerDep) -> JSONResponse:
    """The session document as it was at `version` (410 if compacted away)."""
    doc = await anyio.to_thread.run_sync(
        HistoryService(svc.sessions).document_at, who.user_id, session_id, version
    )
    return JSONResponse(doc)


class RestoreIn(BaseModel):
    version: int = Field(ge=0, le=MAX_VERSION)
    path: str | None = Field(default=None, max_length=1000)
    scope: Literal["field", "form", "session"] | None = None


@router.post("/{session_id}/restore")
async def restore(session_id: str, body: RestoreIn, svc: Svc, who: CallerDep) -> JSONResponse:
    """Restore a field or form (`path`) or the whole session to `version`; returns the session.

    The restore is a new mutation (logged, synced, itself restorable); nothing differing makes
    it a no-op.
    """
    return await run_command(
        svc, who, session_id, RESTORE, body.model_dump(exclude_none=True, exclude_unset=True)
    )
