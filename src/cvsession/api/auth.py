"""Who is calling: bearer tokens for API clients, an HttpOnly cookie for browsers.

Cookie-authenticated writes must come from an allowed Origin (the server's own, or one listed in
CVSESSION_ALLOWED_ORIGINS): a cross-site form or script cannot write on a visitor's behalf.
Bearer requests are not subject to the check (a browser never adds that header by itself).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Response
from starlette.requests import HTTPConnection

from cvsession.api.problems import problem
from cvsession.core.errors import DomainError

COOKIE = "cvsession_token"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers accept
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401


class ForbiddenOrigin(DomainError):
    code = "forbidden_origin"
    status = 403


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    via: Literal["bearer", "cookie"]


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


def check_origin(request: Request, allowed: tuple[str, ...]) -> None:
    """Refuse a cookie-authenticated write whose Origin (or Referer) is not ours."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer", "")
        parts = referer.split("/")
        origin = "/".join(parts[:3]) if len(parts) >= 3 and "://" in referer else None
    if origin is None or origin == "null":
        raise ForbiddenOrigin("a cookie-authenticated write needs an Origin header")
    if origin != own_origin(request) and origin not in allowed:
        raise ForbiddenOrigin(f"writes from origin {origin} are not allowed")


def set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


class RateLimiter:
    """A sliding-window limit per key (e.g. client address), answering 429 past it."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> None:
        now = time.monotonic()
        window = self._hits.setdefault(key, deque())
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.per_minute:
            raise RateLimited("too many requests; try again in a minute")
        window.append(now)
        if len(self._hits) > 10_000:  # keep memory flat under many addresses
            for stale in [k for k, w in self._hits.items() if not w or now - w[-1] > 60]:
                del self._hits[stale]


__all__ = [
    "COOKIE",
    "Caller",
    "RateLimiter",
    "bearer_token",
    "check_origin",
    "problem",
    "set_cookie",
]
