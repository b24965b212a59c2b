"""Every page at phone width: nothing wider than the screen, every control labelled."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import become_guest, create_session
from tests.servers import Server

STEPS = ["upload", "processing", "analysis", "features", "templates", "preview", "results",
         "keywords", "completed"]  # fmt: skip
# Controls without an accessible name, and the document's width beyond the viewport.
AUDIT = """() => {
  const unnamed = [];
  for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
    if (el.type === 'hidden' || el.closest('[hidden]')) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.textContent.trim();
    if (!named) unnamed.push(el.outerHTML.slice(0, 120));
  }
  return { unnamed, overflow: document.documentElement.scrollWidth - window.innerWidth };
}"""


@pytest.fixture
def phone(browser: Browser, server: Server) -> Page:
    context = browser.new_context(base_url=server.url, viewport={"width": 375, "height": 740})
    context.set_default_timeout(20_000)
    return context.new_page()


def test_every_step_fits_a_phone_and_labels_every_control(phone: Page, server: Server) -> None:
    """At 375 px wide no page scrolls sideways, and every control and link has a name."""
    context = phone.context
    become_guest(context, server)
    sid = create_session(context, server)
    cv = {"basics": {"name": "Grace Hopper"}, "work": [{"name": "Navy", "position": "Admiral"}]}
    mutations = [{"id": 1, "name": "cv.set", "args": {"cv": cv}}]
    mutations += [
        {"id": i + 2, "name": "step.complete", "args": {"step": s}}
        for i, s in enumerate(["upload", "processing", "analysis", "features", "templates",
                               "preview", "results"])
    ]  # fmt: skip
    response = context.request.post(
        f"/api/sessions/{sid}/mutations",
        data={"clientID": f"setup-{sid}", "mutations": mutations},
        headers={"Origin": server.url},
    )
    assert 200 == response.status, response.text()
    for step in STEPS:
        phone.goto(f"/session/{sid}/{step}")
        phone.wait_for_selector(f"[data-page='{step}']")
        audit = phone.evaluate(AUDIT)
        assert ([], 0) == (audit["unnamed"], audit["overflow"]), step
    context.close()
