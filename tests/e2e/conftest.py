"""Browser tests: a real server (jobs on) and Debian's Chromium driven by sync Playwright.

They run in a pytest process of their own (`pytest tests/e2e`; the main run ignores this
folder): sync Playwright in a session fixture and asyncio-based tests break each other.
/usr/bin/chromium comes from `scripts/browser`; without it the tests are skipped, unless CI or
CVSESSION_REQUIRE_SERVICES=1 is set, in which case they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.conftest import _unavailable
from tests.servers import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
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
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    """A fresh profile (no cookies, no service worker, no caches) on the server's origin."""
    ctx = browser.new_context(base_url=server.url)
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


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
