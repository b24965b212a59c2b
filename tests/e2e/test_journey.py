"""The whole nine-step journey in the browser with a real sample CV, and processing that
survives a reload."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.e2e.conftest import STEPS, Console, session_document, wait_ready
from tests.servers import Server

RESUMES = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "resumes"
DOCX = RESUMES / "cvextract-sarah_connor.docx"


def _session_id(page: Page) -> str:
    match = re.search(r"/session/([^/]+)/", page.url)
    assert match, page.url
    return match.group(1)


def _new_session(page: Page, title: str = "Sarah's CV") -> None:
    page.goto("/new")
    wait_ready(page)
    page.get_by_label("Name this CV").fill(title)
    page.get_by_label("Target role").fill("Security engineer")
    page.get_by_role("button", name="Create and upload my CV").click()
    page.wait_for_url("**/upload/file-select")


def test_full_journey_with_a_real_cv(context: BrowserContext, page: Page, console: Console) -> None:
    """Upload a real DOCX and walk all nine steps; the server ends with every step done,
    the edit made on the analysis page in the CV, and a generated CV to download."""
    _new_session(page)
    page.set_input_files("input[type=file]", str(DOCX))
    page.get_by_role("button", name="Upload and process").click()
    page.wait_for_url("**/processing")
    page.wait_for_selector(".job-status[data-status='completed']", timeout=60_000)
    sid = _session_id(page)

    page.get_by_role("button", name="Continue to analysis").click()
    page.wait_for_selector("[data-page='analysis']")
    expect(page.get_by_label("Full name")).to_have_value("Sarah Connor")
    page.get_by_label("Phone").fill("+1 555 0100")
    page.get_by_role("button", name="Save and continue to features").click()

    page.wait_for_selector("[data-page='features']")
    page.get_by_role("switch", name=re.compile("ATS optimisation")).check()
    page.get_by_role("button", name="Continue to templates").click()

    page.wait_for_selector("[data-page='templates']")
    page.get_by_label("Classic").check()
    page.get_by_role("button", name="Continue to preview").click()

    page.wait_for_selector("[data-page='preview']")
    page.get_by_role("button", name="Generate my CV").click()
    page.wait_for_selector(".job-status[data-status='completed']", timeout=60_000)
    frame = page.frame_locator("iframe.cv-frame")
    expect(frame.get_by_text("Sarah Connor").first).to_be_visible()
    page.get_by_role("button", name="Approve and continue").click()

    page.wait_for_selector("[data-page='results']")
    download = page.get_by_role("link", name="JSON Resume")
    expect(download).to_have_attribute("href", f"/api/sessions/{sid}/download/json")
    page.get_by_role("button", name="Optimise keywords").click()

    page.wait_for_selector("[data-page='keywords']")
    page.get_by_label("Job description").fill("Haskell and Fortran security engineer")
    page.get_by_role("button", name="Find missing keywords").click()
    page.get_by_label("haskell").check()
    page.get_by_role("button", name="Add the chosen keywords").click()
    page.get_by_role("button", name="Done: finish").click()

    page.wait_for_selector("[data-page='completed']")
    page.get_by_role("button", name="Mark my CV as complete").click()
    expect(page.get_by_text("Your CV is complete")).to_be_visible()

    doc = session_document(context, sid)
    assert "completed" == doc["status"]
    assert STEPS == doc["completedSteps"]
    assert "+1 555 0100" == doc["cv"]["basics"]["phone"]
    assert "haskell" in [s["name"] for s in doc["cv"]["skills"]]
    assert doc["features"]["ats-optimization"]["enabled"] is True
    assert "classic" == doc["template"]["selected"]
    html = context.request.get(f"/api/sessions/{sid}/download/html?template=classic")
    assert 200 == html.status and "Sarah Connor" in html.text()
    assert [] == console.errors
    assert [] == console.csp_violations()


def test_processing_survives_a_reload(context: BrowserContext, page: Page, server: Server) -> None:
    """Paused mid-pipeline, a reload shows the same job, phase and progress; resumed, the
    same job finishes from its checkpoint."""
    _new_session(page, "Reload")
    paused: list[int] = []

    def pause_as_soon_as_queued(route: Route) -> None:
        # The pipeline takes a few hundred ms; pausing the moment the job is queued catches it
        # before it finishes (it stops at the next phase boundary).
        response = route.fetch()
        sid = response.json()["job"]["sessionId"]
        result = context.request.post(
            f"/api/sessions/{sid}/jobs/pause", headers={"Origin": server.url}
        )
        paused.append(result.status)
        route.fulfill(response=response)

    page.route("**/uploads/*/process", pause_as_soon_as_queued)
    page.set_input_files("input[type=file]", str(DOCX))
    page.get_by_role("button", name="Upload and process").click()
    page.wait_for_url("**/processing")
    sid = _session_id(page)
    assert [200] == paused
    page.wait_for_selector(".job-status[data-status='paused']", timeout=30_000)
    # A phase that was running when the pause came finishes first: wait for it to settle.
    page.wait_for_function("() => !document.querySelector('.phase .tag-running')", timeout=30_000)
    before = page.locator(".job-status").get_attribute("data-progress")
    jobs = session_document(context, sid)["processing"]["jobs"]
    assert 1 == len(jobs)
    (job_id,) = jobs

    page.reload()
    wait_ready(page)
    status = page.locator(".job-status[data-status='paused']")
    expect(status).to_have_attribute("data-progress", before or "")
    page.get_by_role("button", name="Resume").click()
    page.wait_for_selector(".job-status[data-status='completed']", timeout=60_000)
    after = session_document(context, sid)["processing"]
    assert [job_id] == list(after["jobs"])
    assert all("completed" == cp["state"] for cp in after["checkpoints"].values())
    assert 0 == httpx2.get(server.url + "/healthz").is_error
