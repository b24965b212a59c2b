"""The results page's read-only share link: create it, open it signed out, revoke it."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import (
    Console,
    become_guest,
    complete_steps,
    create_session,
    new_context,
    sample_cv,
    session_document,
    wait_ready,
)
from tests.servers import Server


def generate(context: BrowserContext, server: Server, sid: str, template: str) -> None:
    """Run a template-application job to completion, as the preview's "Generate" does."""
    response = context.request.post(
        f"/api/sessions/{sid}/jobs",
        data={"type": "template-application", "template": template},
        headers={"Origin": server.url},
    )
    assert 202 == response.status, response.text()
    job_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        status = context.request.get(f"/api/sessions/{sid}/jobs/{job_id}").json()["status"]
        if status == "completed":
            return
        assert status not in ("failed", "cancelled") and time.monotonic() < deadline, status
        time.sleep(0.2)


def test_share_link_opens_signed_out_until_revoked(
    browser: Browser, server: Server, context: BrowserContext, page: Page, console: Console
) -> None:
    """A link made on the results page (to expire in 7 days) shows the CV to a browser with no
    cookies, without script or CSP errors in the app; once revoked, reloading it answers 404."""
    become_guest(context, server)
    sid = create_session(context, server)
    steps = ["upload", "processing", "analysis", "features", "templates", "preview"]
    complete_steps(context, server, sid, sample_cv(), steps)
    generate(context, server, sid, "modern")

    page.goto(f"/session/{sid}/results/results-share")
    wait_ready(page)
    page.get_by_label("Link expires").select_option("7")
    page.get_by_role("button", name="Create link").click()
    url = page.locator(".share-url").inner_text()
    assert f"{server.url}/s/" in url
    expect(page.locator(".share-link")).to_have_count(1)
    expect(page.locator(".share-link")).to_contain_text("expires")
    links = context.request.get(f"{server.url}/api/sessions/{sid}/share-links").json()
    assert links["shareLinks"][0]["expiresAt"] is not None

    with new_context(browser, server) as stranger:
        assert [] == stranger.cookies()
        public = stranger.new_page()
        response = public.goto(url)
        assert response is not None and 200 == response.status
        expect(public.get_by_text("Grace Hopper").first).to_be_visible()
        assert "noindex" == response.headers["x-robots-tag"]

        page.locator(".share-link").get_by_role("button", name="Revoke").click()
        expect(page.locator(".share-link")).to_have_count(0)
        again = public.reload()
        assert again is not None and 404 == again.status
    assert [] == console.errors
    assert [] == console.csp_violations()


def test_new_link_can_become_the_qr_codes_target(
    server: Server, context: BrowserContext, page: Page, console: Console
) -> None:
    """With the QR code feature pointing at "your share link" and no URL yet, creating a
    link offers to put its URL into the feature's configuration, which then holds it."""
    become_guest(context, server)
    sid = create_session(context, server)
    steps = ["upload", "processing", "analysis", "features", "templates", "preview"]
    complete_steps(context, server, sid, sample_cv(), steps)
    response = context.request.put(
        f"/api/sessions/{sid}/features/embed-qr-code",
        data={"enabled": True},
        headers={"Origin": server.url},
    )
    assert 200 == response.status, response.text()

    page.goto(f"/session/{sid}/results/results-share")
    wait_ready(page)
    page.get_by_role("button", name="Create link").click()
    url = page.locator(".share-url").inner_text()
    page.get_by_role("button", name="Use this link in the QR code").click()
    expect(page.get_by_text("The QR code will link here")).to_be_visible()
    deadline = time.monotonic() + 10
    while True:
        feature = session_document(context, sid)["features"]["embed-qr-code"]
        if feature.get("configuration", {}).get("url") == url:
            break
        assert time.monotonic() < deadline, feature
        time.sleep(0.2)
    assert [] == console.errors
