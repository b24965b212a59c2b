"""The app shell in a real browser: page URLs, honest 404s, the CSP, the import map and the
service worker keeping the shell available offline."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page

from tests.e2e.conftest import (
    Console,
    become_guest,
    create_session,
    foreign_session,
    shell_bytes,
)
from tests.servers import Server

# Resolved through the shell's import map to /vendor/fast-json-patch/index.mjs.
IMPORT_VENDOR = "async () => typeof (await import('fast-json-patch')).applyPatch"
SW_CONTROLS = "navigator.serviceWorker.controller !== null"


def test_shell_loads_at_root_without_csp_violations(page: Page, console: Console) -> None:
    """A browser at / gets the shell; the import map passes the CSP and resolves the vendor
    module; nothing on the page violates the CSP."""
    response = page.goto("/")
    assert response is not None
    assert (200, shell_bytes()) == (response.status, response.body())
    assert "'sha256-" in response.headers["content-security-policy"]
    assert "function" == page.evaluate(IMPORT_VENDOR)
    page.wait_for_load_state("networkidle")
    assert [] == console.csp_violations()


def test_deep_link_to_own_session_loads_the_shell(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """A deep link to a substep of the browser's own session is the shell with 200."""
    become_guest(context, server)
    session_id = create_session(context, server)
    response = page.goto(f"/session/{session_id}/templates/template-customize")
    assert response is not None
    assert (200, shell_bytes()) == (response.status, response.body())


def test_foreign_session_deep_link_is_404(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Another owner's session and a missing one are both 404 (the shell renders not-found)."""
    become_guest(context, server)
    theirs = page.goto(f"/session/{foreign_session(server)}/upload")
    assert theirs is not None
    assert (404, shell_bytes()) == (theirs.status, theirs.body())
    missing = page.goto("/session/s_missing/upload")
    assert missing is not None
    assert (404, shell_bytes()) == (missing.status, missing.body())


def test_unknown_step_deep_link_is_404(page: Page) -> None:
    """A deep link to a step the catalogue does not have is 404."""
    response = page.goto("/session/s_any/no-such-step")
    assert response is not None
    assert 404 == response.status


def test_service_worker_serves_the_shell_offline(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Once the service worker controls the page, an offline reload and an offline deep link
    still render the shell and its modules, while /api is never answered from a cache."""
    page.goto("/sessions")
    page.evaluate("async () => { await navigator.serviceWorker.register('/sw.js'); }")
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.reload()
    page.wait_for_function(SW_CONTROLS)
    online = page.evaluate("async () => (await fetch('/api/catalogue')).status")
    assert 200 == online

    context.set_offline(True)
    try:
        reloaded = page.reload()
        assert reloaded is not None
        assert (200, True) == (reloaded.status, reloaded.from_service_worker)
        assert 1 == page.locator("script[type=importmap]").count()
        assert "function" == page.evaluate(IMPORT_VENDOR)
        deep = page.goto("/session/s_never_visited/analysis/keywords-extract")
        assert deep is not None and deep.from_service_worker
        assert 1 == page.locator("script[type=importmap]").count()
        api = page.evaluate(
            "async () => { try { await fetch('/api/catalogue'); return 'answered'; }"
            " catch { return 'failed'; } }"
        )
        assert "failed" == api
    finally:
        context.set_offline(False)


def test_service_worker_keeps_404s(context: BrowserContext, page: Page, server: Server) -> None:
    """Online, a navigation through the service worker still gets the server's 404."""
    become_guest(context, server)
    page.goto("/sessions")
    page.evaluate("async () => { await navigator.serviceWorker.register('/sw.js'); }")
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.reload()
    page.wait_for_function(SW_CONTROLS)
    response = page.goto(f"/session/{foreign_session(server)}")
    assert response is not None
    assert (404, True) == (response.status, response.from_service_worker)
