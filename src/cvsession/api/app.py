"""The ASGI application on FastAPI: REST API, sync WebSocket and the web app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request

from cvsession import __version__
from cvsession.api import auth
from cvsession.api.problems import BodyLimitMiddleware, install_handlers
from cvsession.config import Settings
from cvsession.processing.detect import MAX_UPLOAD_BYTES
from cvsession.service import history
from cvsession.service.account import AccountService
from cvsession.service.flags import FlagService
from cvsession.service.identity import Identity
from cvsession.service.pubsub import open_pubsub
from cvsession.service.retention import RetentionPolicy, RetentionService
from cvsession.service.sessions import SessionService
from cvsession.service.shares import ShareService
from cvsession.service.sync import SyncHub
from cvsession.service.uploads import UploadService
from cvsession.service.writer import Writer
from cvsession.store import Store, open_store

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _job_forgetter(store_url: str, data_dir: Path) -> Callable[[Sequence[str]], None]:
    def forget(job_ids: Sequence[str]) -> None:
        from cvsession.jobs.purge import forget_jobs  # imports DBOS: only when needed

        forget_jobs(job_ids, store_url=store_url, data_dir=data_dir)

    return forget


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    writer: Writer
    identity: Identity
    sessions: SessionService
    identity_limiter: auth.RateLimiter
    uploads: UploadService
    retention: RetentionService
    account: AccountService
    flags: FlagService
    shares: ShareService
    share_limiter: auth.RateLimiter

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Services:
        if store is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            store = open_store(settings.resolved_database_url())
        store.migrate()
        sqlite = store.url.startswith("sqlite")
        threads = 1 if sqlite else settings.writer_threads_postgres
        writer = Writer(
            store,
            max_batch=settings.writer_max_batch,
            threads=threads,
            inline=sqlite and settings.writer_inline,
        )
        writer.start()
        sessions = SessionService(
            store, writer, clock, max_document_bytes=settings.max_document_bytes
        )
        history.configure(sessions, history.HistoryPolicy.from_settings(settings))
        identity = Identity(store, writer, clock)
        uploads = UploadService(store, writer, sessions, settings.data_dir / "uploads", clock)
        uploads.forget_jobs = _job_forgetter(store.url, settings.data_dir)
        return cls(
            settings,
            store,
            writer,
            identity,
            sessions,
            auth.RateLimiter(settings.identity_rate_per_minute),
            uploads,
            RetentionService(sessions, uploads, RetentionPolicy.from_settings(settings)),
            AccountService(sessions, uploads, identity),
            FlagService(store, writer, clock),
            ShareService(store, writer, sessions, clock),
            auth.RateLimiter(settings.share_view_rate_per_minute),
        )

    def close(self) -> None:
        self.writer.stop()
        self.store.close()


async def retention_loop(svc: Services, minutes: float) -> None:
    """Run the retention pass every `minutes` (the first after one interval, so restarts do
    not bunch passes); every server process may run it (docs/decisions/0022)."""
    while True:
        await anyio.sleep(minutes * 60)
        try:
            await anyio.to_thread.run_sync(svc.retention.run)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("retention pass failed")


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(services)]


async def caller(request: Request, svc: Svc) -> auth.Caller:
    """Authenticate the request; cookie-authenticated writes must pass the Origin check."""
    token = auth.bearer_token(request)
    via: Any = "bearer"
    if token is None:
        token = request.cookies.get(auth.COOKIE)
        via = "cookie"
    user_id = await anyio.to_thread.run_sync(svc.identity.authenticate, token) if token else None
    if user_id is None:
        raise auth.Unauthenticated(
            "sign in: send 'Authorization: Bearer <token>' or the session cookie "
            "(POST /api/identity creates an identity)"
        )
    if via == "cookie" and request.method not in auth.SAFE_METHODS:
        auth.check_origin(request, svc.settings.allowed_origins)
    return auth.Caller(user_id, via)


CallerDep = Annotated[auth.Caller, Depends(caller)]


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """Build the application; the store is opened (and migrated) when the app starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = await anyio.to_thread.run_sync(
            lambda: Services.open(settings, store=store, clock=clock)
        )
        app.state.services = svc
        hub = SyncHub(
            svc.sessions,
            open_pubsub(settings.pubsub_url),
            sweep_seconds=settings.sync_sweep_seconds,
        )
        hub.user_listeners.append(svc.identity.forget_user)
        await hub.start()
        app.state.hub = hub
        app.state.jobs = None
        if settings.jobs_enabled:
            from cvsession.jobs import JobEngine

            engine = JobEngine(
                settings.data_dir,
                svc.sessions,
                svc.uploads,
                executor_id=settings.executor_id,
                app_version=__version__,
                execute=settings.jobs_mode != "submit",
                concurrency=settings.jobs_concurrency,
            )
            await anyio.to_thread.run_sync(engine.start)
            app.state.jobs = engine
        retention = None
        if settings.retention_interval_minutes > 0:
            retention = asyncio.create_task(
                retention_loop(svc, settings.retention_interval_minutes)
            )
        try:
            yield
        finally:
            if retention is not None:
                retention.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retention
            if app.state.jobs is not None:
                await anyio.to_thread.run_sync(app.state.jobs.stop)
            await hub.stop()
            await anyio.to_thread.run_sync(svc.close)

    app = FastAPI(
        title="cvsession",
        version=__version__,
        summary="Durable, resumable sessions for a nine-step CV-building workflow.",
        lifespan=lifespan,
    )
    install_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        larger=((r"/api/sessions/[^/]+/uploads", MAX_UPLOAD_BYTES),),
    )

    from cvsession.api import (
        routes_account,
        routes_flags,
        routes_history,
        routes_identity,
        routes_jobs,
        routes_metrics,
        routes_sessions,
        routes_shares,
        routes_sync,
        routes_uploads,
        routes_web,
        ws,
    )

    app.state.web = routes_web.WebAssets()
    # First: its "/" (JSON for API clients, the web app for a browser) must win over any other.
    app.include_router(routes_web.router)
    app.include_router(routes_identity.router)
    app.include_router(routes_account.router)
    app.include_router(routes_sessions.router)
    app.include_router(routes_sync.router)
    app.include_router(routes_history.router)
    app.include_router(routes_uploads.router)
    app.include_router(routes_shares.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_metrics.router)
    app.include_router(routes_flags.router)
    app.include_router(ws.router)
    return app
