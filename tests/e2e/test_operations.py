"""The operations side in the browser: resume metrics reported by the app, the metrics page,
and a feature flag changed while the server runs."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import become_guest, create_session, through_analysis, wait_ready
from tests.servers import Server

ADA = {"basics": {"name": "Ada"}}


def _summary(context: BrowserContext) -> dict[str, Any]:
    response = context.request.get("/metrics/summary")
    assert 200 == response.status, response.text()
    body: dict[str, Any] = response.json()
    return body


def test_a_resume_through_the_dialog_is_measured_as_a_success(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Offered, taken and restored at the recommended step: the user's own summary counts
    one offer, one acceptance and one success, with a time to resume; the metrics page
    draws the funnel."""
    become_guest(context, server)
    sid = create_session(context, server, title="Measured")
    through_analysis(context, server, sid, ADA)
    page.goto("/")
    wait_ready(page)
    page.get_by_role("dialog").get_by_role("button", name="Continue").click()
    page.wait_for_selector("[data-page='features']")
    deadline = time.monotonic() + 15
    resume = _summary(context)["resume"]
    while resume["succeeded"] < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
        resume = _summary(context)["resume"]
    assert (1, 1, 1) == (resume["offered"], resume["taken"], resume["succeeded"])
    assert 1.0 == resume["acceptanceRate"]
    assert resume["timeToResumeMs"]["count"] >= 1

    page.goto("/admin")
    wait_ready(page)
    expect(page.locator("[data-scope='own']")).to_be_visible()
    expect(page.get_by_text("Step funnel")).to_be_visible()
    expect(page.get_by_role("img", name="Step funnel", exact=False)).to_be_visible()


def test_switching_a_flag_off_takes_effect_without_a_restart(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """`cvsession flags set resume-dialog --deny <me>` on the running server's database: the
    next visit gets no resume dialog; resetting the flag brings it back."""
    user_id = become_guest(context, server)
    sid = create_session(context, server, title="Flagged")
    through_analysis(context, server, sid, ADA)
    flags = [sys.executable, "-m", "cvsession", "flags"]
    where = ["--data-dir", str(server.data_dir)]
    subprocess.run([*flags, "set", "resume-dialog", "--deny", user_id, *where], check=True)
    try:
        deadline = time.monotonic() + 10
        while context.request.get("/api/flags").json()["flags"]["resume-dialog"]:
            assert time.monotonic() < deadline, "the flag change never reached the server"
            time.sleep(0.2)
        page.goto("/")
        wait_ready(page)
        expect(page.get_by_text("Your CVs")).to_be_visible()
        expect(page.get_by_role("dialog")).to_be_hidden()
        expect(page.get_by_role("button", name="Where was I?")).to_have_count(0)
    finally:
        subprocess.run([*flags, "reset", "resume-dialog", *where], check=True)
    deadline = time.monotonic() + 10
    while not context.request.get("/api/flags").json()["flags"]["resume-dialog"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    fresh = context.new_page()
    fresh.goto("/")
    wait_ready(fresh)
    expect(fresh.get_by_role("dialog")).to_be_visible()
