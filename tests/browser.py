"""Debian's Chromium as the browser tests (tests/e2e) and bench/restore.py launch it.

`playwright install` cannot download browsers here: `scripts/browser` installs the distribution's
package at /usr/bin/chromium, and these flags keep it headless and quiet (no sandbox, GPU, QUIC,
first-run page or background network traffic of its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

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


def launch_chromium(playwright: Playwright) -> Browser:
    """A headless Chromium from /usr/bin/chromium with the flags above."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
