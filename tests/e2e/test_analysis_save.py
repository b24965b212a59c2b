"""The analysis page's "Save to CV": every edited field reaches the CV in one version."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import analysis_session, session_document, wait_ready
from tests.servers import Server

EDITS = {  # by the inputs' names: cv.<field of form "cv">
    "cv.basics.name": "Grace Brewster Hopper",
    "cv.basics.label": "Rear admiral",
    "cv.basics.phone": "+1 555 0100",
    "cv.basics.location.city": "Arlington",
    "cv.basics.summary": "Compilers, COBOL and nanoseconds.",
    "cv.skills": "COBOL, FLOW-MATIC",
}


def _cv_changes(context: BrowserContext, sid: str, since: int) -> list[dict[str, Any]]:
    response = context.request.get(f"/api/sessions/{sid}/history?path=/cv&since={since}")
    assert 200 == response.status, response.text()
    changes: list[dict[str, Any]] = response.json()["changes"]
    return changes


def test_save_to_cv_writes_every_edit_as_one_mutation(
    context: BrowserContext, page: Page, server: Server
) -> None:
    """Six fields edited, one click: the CV holds them all, written by a single cv.setFields
    (one version in the CV's history), and the substep is completed."""
    sid = analysis_session(context, server, jobs=2)
    page.goto(f"/session/{sid}/analysis/content-analyze")
    wait_ready(page)
    for name, value in EDITS.items():
        page.locator(f"[name='{name}']").fill(value)
    since = session_document(context, sid)["version"]
    page.get_by_role("button", name="Save to CV").click()
    expect(page.get_by_text(f"Saved {len(EDITS)} changes to your CV.")).to_be_visible()

    deadline = time.monotonic() + 20
    doc = session_document(context, sid)
    while doc["cv"]["basics"].get("phone") is None and time.monotonic() < deadline:
        time.sleep(0.2)
        doc = session_document(context, sid)
    basics = doc["cv"]["basics"]
    for name, value in EDITS.items():
        if name.startswith("cv.basics."):
            held = basics
            for key in name.split(".")[2:]:
                held = held[key]
            assert value == held, name
    assert ["COBOL", "FLOW-MATIC"] == [s["name"] for s in doc["cv"]["skills"]]
    changes = _cv_changes(context, sid, since)
    assert 1 == len({c["version"] for c in changes}), changes
    assert {"cv.setFields"} == {c["name"] for c in changes}
    analysis = doc["steps"]["analysis"]["substeps"]["content-analyze"]
    assert "completed" == analysis["status"]
