"""Share links: an owner's public read-only links to the generated CV, and the page they open.

`/api/sessions/{id}/share-links` is owner-authenticated like every session route; `/s/{token}`
needs no credentials and serves only the newest rendered HTML of the link's template, under
a CSP that allows no script, no network and no navigation (docs/decisions/0025).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cvsession.api.app import CallerDep, Svc
from cvsession.service.shares import MAX_EXPIRY_DAYS
from cvsession.store.shares import ShareLinkRow

router = APIRouter(tags=["share-links"])

# The generated HTML needs inline <style> and data: images (inline SVG charts, QR codes); it
# has no scripts, forms or external resources, and `sandbox` gives it an opaque origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "sandbox",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


class NewShareLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str | None = Field(default=None, max_length=80)
    # Days until the link stops working on its own; absent or null: until revoked.
    expiresInDays: int | None = Field(default=None, ge=1, le=MAX_EXPIRY_DAYS, strict=True)


def link_json(row: ShareLinkRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "template": row.template,
        "createdAt": row.created_at.isoformat(),
        "views": row.views,
        "lastViewedAt": None if row.last_viewed_at is None else row.last_viewed_at.isoformat(),
        "expiresAt": None if row.expires_at is None else row.expires_at.isoformat(),
    }


def share_url(request: Request, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/s/{token}"


@router.post("/api/sessions/{session_id}/share-links", status_code=201)
async def create_share_link(
    session_id: str,
    request: Request,
    svc: Svc,
    who: CallerDep,
    body: Annotated[NewShareLink | None, Body()] = None,
) -> dict[str, Any]:
    """Create a public read-only link; the token is in this answer only (never stored)."""
    template = body.template if body is not None else None
    days = body.expiresInDays if body is not None else None
    row, token = await anyio.to_thread.run_sync(
        svc.shares.create, who.user_id, session_id, template, days
    )
    return {**link_json(row), "url": share_url(request, token), "token": token}


@router.get("/api/sessions/{session_id}/share-links")
async def list_share_links(session_id: str, svc: Svc, who: CallerDep) -> dict[str, Any]:
    """The session's active links (without tokens: they are not kept)."""
    rows = await anyio.to_thread.run_sync(svc.shares.list, who.user_id, session_id)
    return {"shareLinks": [link_json(r) for r in rows]}


@router.delete("/api/sessions/{session_id}/share-links/{link_id}", status_code=204)
async def revoke_share_link(session_id: str, link_id: str, svc: Svc, who: CallerDep) -> Response:
    await anyio.to_thread.run_sync(svc.shares.revoke, who.user_id, session_id, link_id)
    return Response(status_code=204)


@router.get("/s/{token}", include_in_schema=False)
async def shared_cv(token: str, request: Request, svc: Svc) -> Response:
    """The shared CV as HTML; 404 problem+json for a malformed, unknown, revoked or expired
    token."""
    svc.share_limiter.hit(request.client.host if request.client else "unknown")
    _, artifact = await anyio.to_thread.run_sync(svc.shares.view, token)
    return Response(artifact.content, media_type="text/html", headers=PAGE_HEADERS)
