"""The caller's data as a whole: `GET /api/me/export` and `DELETE /api/me` (decision 0022)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cvsession.api import auth
from cvsession.api.app import CallerDep, Svc
from cvsession.core.errors import InvalidInput
from cvsession.service.account import CONFIRMATION

router = APIRouter(prefix="/api/me", tags=["identity"])


class DeleteIn(BaseModel):
    confirm: str = Field(max_length=100)


@router.get("/export")
async def export_my_data(
    svc: Svc, who: CallerDep, files: bool = Query(default=False)
) -> JSONResponse:
    """Every session of the caller: document, JSON Resume, retained history (the oldest
    snapshot and the log after it), conflicts, uploads (`?files=1`: with their bytes in
    base64, and generated files with their content), jobs."""
    payload = await anyio.to_thread.run_sync(lambda: svc.account.export(who.user_id, files=files))
    return JSONResponse(
        payload,
        headers={"Content-Disposition": 'attachment; filename="cvsession-export.json"'},
    )


@router.delete("")
async def delete_everything(
    body: DeleteIn, request: Request, response: Response, svc: Svc, who: CallerDep
) -> dict[str, Any]:
    """Delete every session of the caller with its files, then the caller's identity and
    every token of it. The body must be `{"confirm": "delete everything"}`."""
    if body.confirm != CONFIRMATION:
        raise InvalidInput(f'send {{"confirm": "{CONFIRMATION}"}} to delete everything')
    engine = getattr(request.app.state, "jobs", None)
    if engine is not None:  # stop work first, so no job writes for a session being deleted
        ids = await anyio.to_thread.run_sync(svc.account.owned_session_ids, who.user_id)
        for session_id in ids:
            await anyio.to_thread.run_sync(engine.control_session, who.user_id, session_id,
                                           "cancel")  # fmt: skip
    deleted = await anyio.to_thread.run_sync(svc.account.delete_everything, who.user_id)
    # Every process: open connections end, cached tokens go (not after the cache's lifetime).
    await request.app.state.hub.user_deleted(who.user_id)
    response.delete_cookie(auth.COOKIE)
    return {"deletedSessions": len(deleted)}
