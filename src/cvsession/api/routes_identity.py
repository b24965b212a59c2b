"""Identity routes: guest and API identities, tokens, device pairing, health, catalogue."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from cvsession import __version__
from cvsession.api import auth
from cvsession.api.app import CallerDep, Svc
from cvsession.core import catalogue, flags

router = APIRouter()


class IdentityIn(BaseModel):
    displayName: str = Field(default="", max_length=100)


class PairingRedeemIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    # "cookie" for a browser (sets the HttpOnly cookie), "bearer" to receive a token.
    mode: str = Field(default="cookie", pattern="^(cookie|bearer)$")


def _client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/healthz", tags=["meta"])
async def healthz(svc: Svc) -> dict[str, Any]:
    version = await anyio.to_thread.run_sync(svc.store.schema_version)
    return {"status": "ok", "version": __version__, "schemaVersion": version}


@router.get("/api/catalogue", tags=["meta"])
async def get_catalogue() -> dict[str, Any]:
    """The workflow catalogue: steps, features, templates and built-in rules."""
    return {
        "steps": [
            {
                "id": s.id,
                "title": s.title,
                "substeps": list(s.substeps),
                "substepTitles": {sub: catalogue.substep_title(sub) for sub in s.substeps},
                "requires": list(s.requires),
                "estimatedMinutes": s.estimated_minutes,
                "skippable": s.skippable,
                "description": s.description,
            }
            for s in catalogue.STEPS
        ],
        "features": [
            {
                "id": f.id,
                "title": f.title,
                "description": f.description,
                "dependencies": list(f.dependencies),
                "requiresSteps": list(f.requires_steps),
                "premium": f.premium,
                "estimatedMinutes": f.estimated_minutes,
            }
            for f in catalogue.FEATURES.values()
        ],
        "templates": [
            {
                "id": t.id,
                "title": t.title,
                "description": t.description,
                "colors": t.colors,
                "fonts": t.fonts,
                "sections": list(t.sections),
            }
            for t in catalogue.TEMPLATES.values()
        ],
        "rules": [
            {"id": r.id, "when": r.when, "action": r.action, "target": r.target, "reason": r.reason}
            for r in catalogue.RULES
        ],
    }


@router.post("/api/identity", status_code=201, tags=["identity"])
async def create_identity(
    request: Request, svc: Svc, body: IdentityIn | None = None
) -> dict[str, Any]:
    """Create an API identity; the bearer token is shown once."""
    svc.identity_limiter.hit(_client_key(request))
    cred = await anyio.to_thread.run_sync(
        lambda: svc.identity.create_user("bearer", body.displayName if body else "")
    )
    return {"userId": cred.user_id, "token": cred.token, "tokenType": "bearer"}


@router.post("/api/identity/guest", tags=["identity"])
async def guest(request: Request, response: Response, svc: Svc) -> dict[str, Any]:
    """Give a browser a guest identity in an HttpOnly cookie (or return the one it has)."""
    token = request.cookies.get(auth.COOKIE)
    user_id = await anyio.to_thread.run_sync(svc.identity.authenticate, token) if token else None
    if user_id is None:
        svc.identity_limiter.hit(_client_key(request))
        cred = await anyio.to_thread.run_sync(lambda: svc.identity.create_user("guest"))
        auth.set_cookie(request, response, cred.token)
        user_id = cred.user_id
    return {"userId": user_id}


@router.get("/api/me", tags=["identity"])
async def me(who: CallerDep) -> dict[str, Any]:
    return {"userId": who.user_id, "via": who.via}


@router.post("/api/tokens", status_code=201, tags=["identity"])
async def new_token(who: CallerDep, svc: Svc) -> dict[str, Any]:
    """Issue another bearer token for the calling owner (e.g. for a script)."""
    cred = await anyio.to_thread.run_sync(lambda: svc.identity.issue_token(who.user_id))
    return {"userId": cred.user_id, "token": cred.token, "tokenType": "bearer"}


@router.post("/api/pairing", status_code=201, tags=["identity"])
async def create_pairing(who: CallerDep, svc: Svc) -> dict[str, Any]:
    """A one-time code to continue on another device as the same owner (10 minutes)."""
    await anyio.to_thread.run_sync(
        svc.flags.require,
        flags.CROSS_DEVICE_SYNC,
        who.user_id,
        "continuing on another device is switched off at the moment",
    )
    code, expires = await anyio.to_thread.run_sync(svc.identity.create_pairing_code, who.user_id)
    return {"code": code, "expiresAt": expires.isoformat()}


@router.post("/api/pairing/redeem", tags=["identity"])
async def redeem_pairing(
    body: PairingRedeemIn, request: Request, response: Response, svc: Svc
) -> dict[str, Any]:
    svc.identity_limiter.hit(_client_key(request))
    kind: Any = "guest" if body.mode == "cookie" else "bearer"
    cred = await anyio.to_thread.run_sync(svc.identity.redeem_pairing_code, body.code, kind)
    if body.mode == "cookie":
        auth.set_cookie(request, response, cred.token)
        return {"userId": cred.user_id}
    return {"userId": cred.user_id, "token": cred.token, "tokenType": "bearer"}
