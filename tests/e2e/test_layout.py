"""Every page at phone width: nothing wider than the screen, every control labelled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import STEPS, become_guest, complete_steps, create_session, new_context
from tests.servers import Server

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
def phone(browser: Browser, server: Server) -> Iterator[Page]:
    with new_context(browser, server, viewport={"width": 375, "height": 740}) as context:
        yield context.new_page()


def test_every_step_fits_a_phone_and_labels_every_control(phone: Page, server: Server) -> None:
    """At 375 px wide no page scrolls sideways, and every control and link has a name."""
    context = phone.context
    become_guest(context, server)
    sid = create_session(context, server)
    cv = {"basics": {"name": "Grace Hopper"}, "work": [{"name": "Navy", "position": "Admiral"}]}
    complete_steps(context, server, sid, cv, STEPS[:7])  # up to and including results
    for step in STEPS:
        phone.goto(f"/session/{sid}/{step}")
        phone.wait_for_selector(f"[data-page='{step}']")
        audit = phone.evaluate(AUDIT)
        assert ([], 0) == (audit["unnamed"], audit["overflow"]), step
