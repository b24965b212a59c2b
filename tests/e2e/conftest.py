"""Browser tests: a real server (jobs on) and Debian's Chromium driven by sync Playwright.

They run in a pytest process of their own (`pytest tests/e2e`; the main run ignores this
folder): sync Playwright in a session fixture and asyncio-based tests break each other.
/usr/bin/chromium comes from `scripts/browser`; without it the tests are skipped, unless CI or
CVSESSION_REQUIRE_SERVICES=1 is set, in which case they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.browser import CHROMIUM, launch_chromium
from tests.conftest import _unavailable
from tests.servers import Server

STEPS = ["upload", "processing", "analysis", "features", "templates", "preview", "results",
         "keywords", "completed"]  # fmt: skip
WEB_DIR = Path(__file__).resolve().parents[2] / "src" / "cvsession" / "web"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`cvsession serve` on a free port with background jobs running (CVSESSION_JOBS=1)."""
    # Server's default turns jobs off for the sync tests; the web app processes CVs for real.
    srv = Server(tmp_path_factory.mktemp("e2e-server"), env={"CVSESSION_JOBS": "1"})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run (each test gets a fresh context)."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: run ./scripts/browser")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def new_context(browser: Browser, server: Server, **options: Any) -> Iterator[BrowserContext]:
    """A fresh profile (no cookies, no service worker, no caches) on the server's origin."""
    ctx = browser.new_context(base_url=server.url, **options)
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    """The test's browser profile (see `new_context`)."""
    with new_context(browser, server) as ctx:
        yield ctx


@pytest.fixture
def other_context(
    browser: Browser, server: Server, context: BrowserContext
) -> Iterator[BrowserContext]:
    """A second fresh profile: another user, or another device of the same owner once given
    `context`'s cookies."""
    with new_context(browser, server) as ctx:
        yield ctx


@dataclass
class Console:
    """What the page said: console messages and uncaught errors."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


@pytest.fixture
def console(context: BrowserContext) -> Console:
    """Collects every page's console output and uncaught errors in this context."""
    seen = Console()

    def on_page(page: Page) -> None:
        def on_message(message: ConsoleMessage) -> None:
            seen.messages.append(f"{message.type}: {message.text}")

        page.on("console", on_message)
        page.on("pageerror", lambda error: seen.errors.append(str(error)))

    context.on("page", on_page)
    return seen


@pytest.fixture
def page(context: BrowserContext, console: Console) -> Page:
    return context.new_page()


def become_guest(context: BrowserContext, server: Server) -> str:
    """Give the browser a guest cookie, as the web app does on first load; return the user id."""
    response = context.request.post("/api/identity/guest", headers={"Origin": server.url})
    assert 200 == response.status, response.text()
    user_id: str = response.json()["userId"]
    return user_id


def create_session(context: BrowserContext, server: Server, title: str = "My CV") -> str:
    """A session owned by the browser's guest identity."""
    response = context.request.post(
        "/api/sessions", data={"title": title}, headers={"Origin": server.url}
    )
    assert 201 == response.status, response.text()
    session_id: str = response.json()["id"]
    return session_id


def foreign_session(server: Server) -> str:
    """A session of another owner (an API identity the browser never sees)."""
    token = httpx2.post(server.url + "/api/identity", json={}).json()["token"]
    created = httpx2.post(
        server.url + "/api/sessions",
        json={"title": "Not yours"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert 201 == created.status_code, created.text
    session_id: str = created.json()["id"]
    return session_id


def shell_bytes() -> bytes:
    return (WEB_DIR / "index.html").read_bytes()


def wait_ready(page: Page) -> None:
    """Wait until the web app has rendered its page (it sets html[data-ready='1'])."""
    page.wait_for_selector("html[data-ready='1']")


def sample_cv(jobs: int = 0) -> dict[str, Any]:
    """A parsed CV: Grace Hopper with a summary, one skill and `jobs` work entries (if any)."""
    cv: dict[str, Any] = {"basics": {"name": "Grace Hopper", "summary": "Compilers."}}
    if jobs:
        cv["work"] = [{"name": f"Company {i}", "position": "Engineer"} for i in range(jobs)]
    cv["skills"] = [{"name": "COBOL"}]
    return cv


def complete_steps(
    context: BrowserContext, server: Server, sid: str, cv: dict[str, Any], steps: list[str]
) -> None:
    """Set the session's CV and complete `steps` over the mutations endpoint, as if the
    browser's owner had got that far."""
    mutations = [{"id": 1, "name": "cv.set", "args": {"cv": cv}}]
    mutations += [
        {"id": i + 2, "name": "step.complete", "args": {"step": s}} for i, s in enumerate(steps)
    ]
    response = context.request.post(
        f"/api/sessions/{sid}/mutations",
        data={"clientID": f"setup-{sid}", "mutations": mutations},
        headers={"Origin": server.url},
    )
    assert 200 == response.status, response.text()


def through_analysis(
    context: BrowserContext, server: Server, sid: str, cv: dict[str, Any] | None = None
) -> None:
    """Upload, processing and analysis done, as if a CV (`sample_cv()` by default) had been
    processed: the next step is features."""
    complete_steps(context, server, sid, cv or sample_cv(), ["upload", "processing", "analysis"])


def analysis_session(context: BrowserContext, server: Server, jobs: int) -> str:
    """A new session of the browser's owner (made a guest) with a parsed CV of `jobs` work
    entries, upload and processing done: analysis is open for editing."""
    become_guest(context, server)
    sid = create_session(context, server)
    complete_steps(context, server, sid, sample_cv(jobs), ["upload", "processing"])
    return sid


def session_document(context: BrowserContext, sid: str) -> dict[str, Any]:
    """The session as the server holds it (GET /api/sessions/{sid})."""
    response = context.request.get(f"/api/sessions/{sid}")
    assert 200 == response.status, response.text()
    doc: dict[str, Any] = response.json()
    return doc
