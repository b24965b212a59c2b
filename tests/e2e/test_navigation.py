"""Deep links, back/forward and prerequisites in the browser."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import become_guest, create_session, through_analysis, wait_ready
from tests.servers import Server


def test_deep_link_restores_template_and_customisations_in_a_fresh_context(
    context: BrowserContext, page: Page, server: Server, browser: Browser,
    other_context: BrowserContext,
) -> None:  # fmt: skip
    """The same owner opening /templates/template-customize in a new browser profile sees the
    chosen template with its colour, font and hidden section; another user gets not-found."""
    become_guest(context, server)
    sid = create_session(context, server)
    through_analysis(context, server, sid)
    page.goto(f"/session/{sid}/templates/template-select")
    wait_ready(page)
    page.get_by_label("Creative").check()
    page.get_by_label("Accent colour").first.fill("#117733")
    page.get_by_role("checkbox", name="Hide Education").check()
    expect(page.locator("#save-status [data-kind='saved']")).to_be_visible()

    owner = browser.new_context(base_url=server.url)
    try:
        owner.add_cookies(context.cookies())
        fresh = owner.new_page()
        fresh.goto(f"/session/{sid}/templates/template-customize")
        wait_ready(fresh)
        expect(fresh.get_by_label("Creative")).to_be_checked()
        expect(fresh.get_by_label("Accent colour").first).to_have_value("#117733")
        expect(fresh.get_by_role("checkbox", name="Hide Education")).to_be_checked()
        current = fresh.locator("[data-substep='template-customize']")
        expect(current).to_have_class(re.compile(r"\bis-current\b"))
    finally:
        owner.close()

    become_guest(other_context, server)
    stranger = other_context.new_page()
    response = stranger.goto(f"/session/{sid}/templates/template-customize")
    assert response is not None and 404 == response.status
    wait_ready(stranger)
    expect(stranger.locator("[data-not-found]")).to_be_visible()
    expect(stranger.get_by_text("Grace Hopper")).to_have_count(0)


def test_back_and_forward_move_between_steps(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Browser history moves between step pages without reloading the app."""
    become_guest(context, server)
    sid = create_session(context, server)
    through_analysis(context, server, sid)
    page.goto(f"/session/{sid}/analysis")
    wait_ready(page)
    page.locator("#progress a[data-step='features']").click()
    page.wait_for_selector("[data-page='features']")
    page.locator("#progress a[data-step='templates']").click()
    page.wait_for_selector("[data-page='templates']")
    marker = page.evaluate("window.cvsessionApp !== undefined && (window.__marker = 1)")
    page.go_back()
    page.wait_for_selector("[data-page='features']")
    page.go_back()
    page.wait_for_selector("[data-page='analysis']")
    page.go_forward()
    page.wait_for_selector("[data-page='features']")
    assert marker == page.evaluate("window.__marker")  # same document: no reload


def test_locked_step_explains_its_prerequisites(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """A step whose prerequisites are missing says which, with links to them."""
    become_guest(context, server)
    sid = create_session(context, server)
    page.goto(f"/session/{sid}/preview")
    wait_ready(page)
    locked = page.locator("[data-locked='preview']")
    expect(locked).to_contain_text("Preview needs Analysis, Features and Templates")
    expect(locked.get_by_role("link", name="Templates")).to_have_attribute(
        "href", f"/session/{sid}/templates"
    )


def test_returning_user_is_offered_where_to_continue(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Coming back to /, the resume dialog names the recommended step with its reason, an
    estimate and a confidence, lists the other resumable sessions, and Continue goes there."""
    become_guest(context, server)
    older = create_session(context, server, title="Older CV")
    sid = create_session(context, server, title="Newest CV")
    through_analysis(context, server, sid)
    page.goto("/")
    wait_ready(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Continue “Newest CV” at Features")
    expect(dialog.locator(".resume-reason")).not_to_be_empty()
    expect(dialog).to_contain_text("Time to finish: about")
    expect(dialog).to_contain_text("Confidence:")
    expect(dialog.locator(".resumable")).to_contain_text("Older CV")
    dialog.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"**/session/{sid}/features**")
    page.wait_for_selector("[data-page='features']")
    assert older != sid
