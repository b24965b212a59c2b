"""RFC 9457 problem details and strict JSON request bodies.

Every error leaves the server as `application/problem+json`. Request bodies that claim to be JSON
are checked before any route sees them, by an ASGI middleware: size capped while streaming (413),
strict RFC 8259 JSON (400: NaN/Infinity, invalid UTF-8, lone surrogates and integers outside
the signed 64-bit range are refused; a duplicate key keeps its last value, as RFC 8259 allows),
nesting depth capped (400).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cvsession.core.errors import DomainError

PROBLEM = "application/problem+json"
INT64 = 2**63
_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code"})
_LONG_DIGITS = re.compile(r"\d{19,}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BadJSON(ValueError):
    pass


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def domain_problem_body(exc: DomainError) -> dict[str, Any]:
    """The problem document of a domain error: its code, message and JSON-able details."""
    body: dict[str, Any] = {
        "type": f"/problems/{exc.code}",
        "title": exc.code.replace("_", " ").capitalize(),
        "status": exc.status,
        "detail": exc.message,
        "code": exc.code,
    }
    body.update(
        (k, v)
        for k, v in exc.detail.items()
        if k not in _RESERVED and isinstance(v, str | int | float | bool | list | dict | type(None))
    )
    return body


def domain_problem(exc: DomainError) -> JSONResponse:
    return JSONResponse(domain_problem_body(exc), status_code=exc.status, media_type=PROBLEM)


def _reject_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not valid JSON")


def _check_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if _SURROGATE.search(key):
            raise BadJSON("lone surrogate in a key")
        out[key] = value
    return out


def _check_int(text: str) -> int:
    value = int(text)
    if not -INT64 <= value < INT64:
        raise BadJSON("integer outside the signed 64-bit range")
    return value


def _check_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadJSON("number out of range")
    return value


def _walk(value: Any, depth: int, limit: int) -> None:
    if depth > limit:
        raise BadJSON(f"nesting deeper than {limit}")
    if isinstance(value, dict):
        for v in value.values():
            _walk(v, depth + 1, limit)
    elif isinstance(value, list):
        for v in value:
            _walk(v, depth + 1, limit)
    elif isinstance(value, str) and _SURROGATE.search(value):
        raise BadJSON("lone surrogate in a string")


def parse_strict(raw: bytes, max_depth: int = 64) -> Any:
    """Parse a JSON text strictly (RFC 8259 plus the limits above); raise BadJSON."""
    if not raw.strip():
        raise BadJSON("the body is empty; a JSON value is required")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJSON("the body is not valid UTF-8") from exc
    if text.startswith("\ufeff"):
        raise BadJSON("a byte order mark is not allowed")
    if not _LONG_DIGITS.search(text):
        # Fast path: orjson is strict RFC 8259 (no NaN, no lone surrogates, no trailing
        # commas); the one thing it relaxes, integers beyond 64 bits becoming floats, cannot
        # occur without a run of 19 digits.
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadJSON(f"invalid JSON: {exc}") from exc
        if raw.count(b"[") + raw.count(b"{") > max_depth:  # else it cannot be nested deeper
            _walk(value, 0, max_depth)
        return value
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_check_pairs,
            parse_int=_check_int,
            parse_float=_check_float,
        )
    except RecursionError as exc:
        raise BadJSON("nesting too deep") from exc
    except BadJSON:
        raise
    except json.JSONDecodeError as exc:
        raise BadJSON(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except ValueError as exc:  # e.g. an integer literal too long to convert
        raise BadJSON(f"invalid JSON: {exc}") from exc
    _walk(value, 0, max_depth)
    return value


def is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class BodyLimitMiddleware:
    """Cap request bodies while streaming and refuse JSON bodies that are not strict JSON."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_depth: int = 64,
        larger: tuple[tuple[str, int], ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        # (path regex, limit) for routes that take bigger bodies (file uploads)
        self.larger = tuple((re.compile(pattern), limit) for pattern, limit in larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = next(
            (n for pattern, n in self.larger if pattern.fullmatch(scope["path"])), self.max_bytes
        )
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reply(
                scope,
                receive,
                send,
                413,
                "Request body too large",
                f"the limit is {limit} bytes",
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._reply(
                    scope,
                    receive,
                    send,
                    413,
                    "Request body too large",
                    f"the limit is {limit} bytes",
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if is_json_type(headers.get("content-type", "")):
            try:
                scope.setdefault("state", {})["json"] = parse_strict(body, self.max_depth)
            except BadJSON as exc:
                await self._reply(scope, receive, send, 400, "Malformed JSON", str(exc))
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _reply(
        scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str
    ) -> None:
        await problem(status, title, detail)(scope, receive, send)


def install_handlers(app: FastAPI) -> None:
    """Register problem+json handlers for every error a route can raise."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ][:20]
        return problem(
            422,
            "Invalid request",
            "the request does not match the schema",
            type_="/problems/invalid_request",
            extra={"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem(500, "Internal error", "the server failed; nothing was acknowledged")
