"""Auto-save, tabs, offline and conflicts in the browser, checked against the server."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import BrowserContext, Page, WebSocket, expect

from tests.e2e.conftest import analysis_session, session_document, wait_ready
from tests.servers import Server

WORK_FIELDS = ("Company", "Position", "Start (YYYY-MM)", "End (YYYY-MM)", "What you did")


def _fields(page: Page, count: int) -> list[Any]:
    """The first `count` text inputs of the analysis editor, in page order."""
    editor = page.locator("[data-substep='content-analyze'] [data-form='cv']")
    expect(editor.nth(count - 1)).to_be_attached()
    return [editor.nth(i) for i in range(count)]


def _form(context: BrowserContext, sid: str, form: str = "cv") -> dict[str, Any]:
    state: dict[str, Any] = session_document(context, sid)["forms"].get(form, {})
    return state


def _wait_saved(page: Page) -> None:
    expect(page.locator("#save-status [data-kind='saved']")).to_be_visible(timeout=20_000)


def test_fields_typed_before_the_debounce_survive_closing_the_tab(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Type into 20 fields and close the tab at once: a new tab shows every value and its
    state (touched, the validation error), and the server receives them."""
    sid = analysis_session(context, server, jobs=3)
    page.goto(f"/session/{sid}/analysis/content-analyze")
    wait_ready(page)
    fields = _fields(page, 20)
    names = [f.get_attribute("name") for f in fields]
    values = {}
    for i, field in enumerate(fields):
        value = "not-an-email" if names[i] == "cv.basics.email" else f"value {i}"
        field.fill(value)
        values[names[i]] = value
    page.close()  # well inside the 400 ms debounce for the last fields

    again = context.new_page()
    again.goto(f"/session/{sid}/analysis/content-analyze")
    wait_ready(again)
    for name, value in values.items():
        expect(again.locator(f"[name='{name}']")).to_have_value(value)
    email = again.locator("[name='cv.basics.email']")
    expect(email).to_have_attribute("aria-invalid", "true")
    _wait_saved(again)
    stored = _form(context, sid)["fields"]
    assert values == {f"cv.{k}": v["value"] for k, v in stored.items() if f"cv.{k}" in values}
    assert stored["basics.email"]["touched"] is True
    assert stored["basics.email"]["errors"]


def test_two_tabs_share_one_socket_and_see_each_others_edits(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Edits in one tab appear in the other; the two tabs hold one WebSocket between them."""
    sid = analysis_session(context, server, jobs=1)
    sockets: list[WebSocket] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.goto(f"/session/{sid}/analysis")
    wait_ready(page)
    _wait_saved(page)
    second = context.new_page()
    second.on("websocket", lambda ws: sockets.append(ws))
    second.goto(f"/session/{sid}/analysis")
    wait_ready(second)

    page.get_by_label("Headline").fill("From the first tab")
    expect(second.get_by_label("Headline")).to_have_value("From the first tab")
    second.get_by_label("City").fill("From the second tab")
    expect(page.get_by_label("City")).to_have_value("From the second tab")
    _wait_saved(page)
    assert 1 == len([s for s in sockets if "/ws" in s.url])
    fields = _form(context, sid)["fields"]
    assert "From the first tab" == fields["basics.label"]["value"]
    assert "From the second tab" == fields["basics.location.city"]["value"]


def test_fifty_offline_edits_survive_a_reload_and_arrive_once(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Offline: edit 50 fields, reload while still offline (the service worker and IndexedDB
    bring the session back), go online: the server holds all 50, each applied once."""
    sid = analysis_session(context, server, jobs=9)
    page.goto(f"/session/{sid}/analysis/content-analyze")
    wait_ready(page)
    _wait_saved(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    fields = _fields(page, 50)
    names = [f.get_attribute("name") for f in fields]
    for i, field in enumerate(fields):
        field.fill(f"offline {i}")
    expect(page.locator("#save-status [data-kind='offline']")).to_be_visible()

    page.reload()
    wait_ready(page)
    for i, name in enumerate(names):
        expect(page.locator(f"[name='{name}']")).to_have_value(f"offline {i}")
    status = page.locator("#save-status [data-kind='offline']")
    expect(status).to_have_attribute("data-pending", "50")

    context.set_offline(False)
    _wait_saved(page)
    form = _form(context, sid)
    assert {n: f"offline {i}" for i, n in enumerate(names)} == {
        f"cv.{k}": v["value"] for k, v in form["fields"].items()
    }
    # form.setField bumps the form's version once per applied mutation: 50 edits, 50 bumps.
    assert 50 == form["metadata"]["version"]


def test_same_field_edited_on_two_devices_shows_both_values_and_syncs_the_choice(
    context: BrowserContext, page: Page, server: Server, other_context: BrowserContext
) -> None:
    """Device B edits a field offline that device A changed meanwhile: B's conflict panel
    shows both values; choosing one updates the field on both devices."""
    device_b = other_context
    sid = analysis_session(context, server, jobs=1)
    device_b.add_cookies(context.cookies())
    page.goto(f"/session/{sid}/analysis")
    wait_ready(page)
    b = device_b.new_page()
    b.goto(f"/session/{sid}/analysis")
    wait_ready(b)
    _wait_saved(b)

    device_b.set_offline(True)
    page.get_by_label("Headline").fill("Written on A")
    _wait_saved(page)
    b.get_by_label("Headline").fill("Written on B")
    b.get_by_label("City").focus()  # leave the field, as a user would
    expect(b.locator("#save-status [data-kind='offline']")).to_be_visible()
    device_b.set_offline(False)

    panel = b.locator("#conflicts")
    expect(panel).to_be_visible()
    expect(panel.locator(".conflict-yours")).to_have_text("Written on B")
    expect(panel.locator(".conflict-theirs")).to_have_text("Written on A")
    panel.get_by_role("button", name="Keep mine").click()
    expect(panel).to_be_hidden()
    headline = "[name='cv.basics.label']"
    expect(page.locator(headline)).to_have_value("Written on B")
    expect(b.locator(headline)).to_have_value("Written on B")
    expect(page.locator("#conflicts")).to_be_hidden()  # A saw it too; resolved there as well
    assert "Written on B" == _form(context, sid)["fields"]["basics.label"]["value"]
