"""Feature flags over HTTP: the caller's evaluated flags, and the admin API that sets them.

The admin routes need a bearer token whose user id is in CVSESSION_ADMIN_USERS (403 otherwise,
also for a cookie: a browser session is never an admin credential). Changes take effect
without a restart (cvsession.service.flags).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from cvsession.api import auth
from cvsession.api.app import CallerDep, Svc
from cvsession.core import flags
from cvsession.core.errors import DomainError

router = APIRouter(tags=["flags"])


class NotAdmin(DomainError):
    code = "forbidden"
    status = 403


async def admin(who: CallerDep, svc: Svc) -> auth.Caller:
    """The caller, if it is an administrator using a bearer token."""
    if who.via != "bearer" or who.user_id not in svc.settings.admin_users:
        raise NotAdmin(
            "the admin API needs a bearer token of a user listed in CVSESSION_ADMIN_USERS"
        )
    return who


AdminDep = Annotated[auth.Caller, Depends(admin)]
UserIds = list[Annotated[str, Field(min_length=1, max_length=flags.MAX_USER_ID)]]


class FlagIn(BaseModel):
    """Fields to change; those left out keep their current value (a new flag: on, 0%)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    enabled: bool | None = None
    rollout: int | None = Field(default=None, ge=0, le=100)
    allow: UserIds | None = Field(default=None, max_length=flags.MAX_LIST)
    deny: UserIds | None = Field(default=None, max_length=flags.MAX_LIST)
    description: str | None = Field(default=None, max_length=flags.MAX_DESCRIPTION)


def _flag_json(flag: flags.Flag) -> dict[str, Any]:
    return {**flags.to_json(flag), "builtIn": flag.name in flags.DEFAULTS}


@router.get("/api/flags")
async def my_flags(who: CallerDep, svc: Svc, response: Response) -> dict[str, Any]:
    """The caller's flags, on or off: what the browser reads to turn capabilities on."""
    response.headers["Cache-Control"] = "no-store"  # a change must show on the next fetch
    values = await anyio.to_thread.run_sync(svc.flags.evaluate, who.user_id)
    return {"flags": values}


@router.get("/api/admin/flags")
async def list_flags(who: AdminDep, svc: Svc) -> dict[str, Any]:
    """Every flag's definition (built-in ones with `updatedAt: null` are at their default)."""
    definitions = await anyio.to_thread.run_sync(svc.flags.definitions)
    return {"flags": [_flag_json(f) for f in definitions.values()]}


@router.put("/api/admin/flags/{name}")
async def put_flag(name: str, body: FlagIn, who: AdminDep, svc: Svc) -> dict[str, Any]:
    """Create or change a flag; in effect everywhere within seconds, no restart."""
    changes = body.model_dump(exclude_none=True)
    flag = await anyio.to_thread.run_sync(svc.flags.set, name, changes)
    return _flag_json(flag)


@router.delete("/api/admin/flags/{name}", status_code=204)
async def reset_flag(name: str, who: AdminDep, svc: Svc) -> Response:
    """Back to the built-in default (a flag that is not built in is removed)."""
    await anyio.to_thread.run_sync(svc.flags.reset, name)
    return Response(status_code=204)
