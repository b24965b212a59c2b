"""Upload routes: the CV file of a session (PDF or DOCX, recognised by content, ≤ 10 MiB).

The body is the file itself (any Content-Type; it is not trusted); the name comes from the
`filename` query parameter, for display only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Query, Request, Response

from cvsession.api.app import CallerDep, Svc
from cvsession.core.errors import InvalidInput
from cvsession.service.uploads import MEDIA_TYPES
from cvsession.store.uploads import UploadRow

router = APIRouter(prefix="/api/sessions", tags=["uploads"])


def upload_json(row: UploadRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "sessionId": row.session_id,
        "filename": row.filename,
        "kind": row.kind,
        "size": row.size,
        "sha256": row.sha256,
        "createdAt": row.created_at.isoformat(),
    }


@router.post(
    "/{session_id}/uploads",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "required": True,
        }
    },
)
async def upload(
    session_id: str,
    request: Request,
    svc: Svc,
    who: CallerDep,
    filename: Annotated[str, Query(max_length=255)] = "cv",
) -> dict[str, Any]:
    """Store a CV file for the session; 413 past 10 MiB, 415 unless it is a PDF or DOCX."""
    data = await request.body()  # already size-capped while streaming by the middleware
    if not data:
        raise InvalidInput("the body is empty: send the file's bytes")
    row = await anyio.to_thread.run_sync(svc.uploads.save, who.user_id, session_id, filename, data)
    return upload_json(row)


@router.get("/{session_id}/uploads")
async def list_uploads(session_id: str, svc: Svc, who: CallerDep) -> dict[str, Any]:
    rows = await anyio.to_thread.run_sync(svc.uploads.list, who.user_id, session_id)
    return {"uploads": [upload_json(r) for r in rows]}


@router.get("/{session_id}/uploads/{upload_id}")
async def download(session_id: str, upload_id: str, svc: Svc, who: CallerDep) -> Response:
    row, data = await anyio.to_thread.run_sync(svc.uploads.read, who.user_id, session_id, upload_id)
    return Response(
        data,
        media_type=MEDIA_TYPES[row.kind],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/{session_id}/uploads/{upload_id}", status_code=204)
async def delete_upload(session_id: str, upload_id: str, svc: Svc, who: CallerDep) -> Response:
    await anyio.to_thread.run_sync(svc.uploads.delete, who.user_id, session_id, upload_id)
    return Response(status_code=204)
