"""Tests for cvsession.core.navigation: prerequisites, next step, deep links, breadcrumbs."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.core import catalogue, navigation
from cvsession.core.errors import InvalidInput
from tests.strategies import (
    complete_through,
    mark_step,
    mark_substep,
    new_doc,
    session_documents,
    session_ids,
)

UP_TO_ANALYSIS = ("upload", "processing", "analysis")


def test_missing_prerequisites_in_catalogue_order() -> None:
    """Preview on a fresh session misses analysis, features and templates."""
    assert ["analysis", "features", "templates"] == navigation.missing_prerequisites(
        new_doc(), "preview"
    )
    assert [] == navigation.missing_prerequisites(new_doc(), "upload")


def test_skipped_prerequisite_counts_only_when_skippable() -> None:
    """A skipped keywords step would satisfy; a skipped (non-skippable) upload does not."""
    doc = new_doc()
    doc["steps"]["upload"]["status"] = "skipped"
    assert ["upload"] == navigation.missing_prerequisites(doc, "processing")


def test_in_progress_prerequisite_is_missing() -> None:
    """A prerequisite that is only in progress is not satisfied."""
    doc = complete_through(new_doc(), "upload")
    doc["steps"]["processing"]["status"] = "in_progress"
    assert ["processing"] == navigation.missing_prerequisites(doc, "analysis")


def test_prerequisite_reason_reads_well() -> None:
    """The explanation names the step and its missing prerequisites by title."""
    assert (
        "Preview needs Features and Templates to be completed first."
        == navigation.prerequisite_reason("preview", ["features", "templates"])
    )
    assert (
        "Preview needs Analysis, Features and Templates to be completed first."
        == navigation.prerequisite_reason("preview", ["analysis", "features", "templates"])
    )
    assert (
        "Processing needs Upload your CV to be completed first."
        == navigation.prerequisite_reason("processing", ["upload"])
    )
    assert "Upload your CV is ready to start." == navigation.prerequisite_reason("upload", [])


def test_first_open_substep() -> None:
    """The first substep not completed or skipped; an errored one is open; None when all done."""
    doc = new_doc()
    assert "file-select" == navigation.first_open_substep(doc, "upload")
    mark_substep(doc, "upload", "file-select", "skipped")
    mark_substep(doc, "upload", "file-validate", "error")
    assert "file-validate" == navigation.first_open_substep(doc, "upload")
    mark_step(doc, "upload", "completed")
    assert navigation.first_open_substep(doc, "upload") is None


def test_next_step_follows_prerequisites() -> None:
    """Upload first; after analysis, features; templates before preview; keywords before end."""
    doc = new_doc()
    assert "upload" == navigation.next_step(doc)
    complete_through(doc, *UP_TO_ANALYSIS)
    assert "features" == navigation.next_step(doc)
    complete_through(doc, "features")
    assert "templates" == navigation.next_step(doc)
    complete_through(doc, "templates", "preview", "results")
    assert "keywords" == navigation.next_step(doc)
    mark_step(doc, "keywords", "skipped")
    assert "completed" == navigation.next_step(doc)
    complete_through(doc, "completed")
    assert navigation.next_step(doc) is None


@given(session_documents())
@settings(max_examples=60, deadline=None)
def test_next_step_is_reachable_and_open(doc: dict[str, Any]) -> None:
    """The next step always has its prerequisites met and is neither completed nor skipped."""
    nxt = navigation.next_step(doc)
    if nxt is not None:
        assert [] == navigation.missing_prerequisites(doc, nxt)
        assert not navigation.is_step_done(doc, nxt)


# Deep links --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "url"),
    [
        (("abc",), "/session/abc"),
        (("abc", "templates"), "/session/abc/templates"),
        (("abc", "templates", "template-customize"), "/session/abc/templates/template-customize"),
        (
            ("a_B-9", "upload", None, {"b": "2", "a": "x y&z"}),
            "/session/a_B-9/upload?a=x%20y%26z&b=2",
        ),
    ],
)
def test_deep_link_formats(args: tuple[Any, ...], url: str) -> None:
    """Links are /session/{id}[/{step}[/{substep}]] with sorted, encoded parameters."""
    assert url == navigation.deep_link(*args)


@pytest.mark.parametrize(
    "args",
    [
        ("",),
        ("a" * 65,),
        ("a/b",),
        ("ab c",),
        ("abc", "nowhere"),
        ("abc", None, "file-select"),
        ("abc", "upload", "ai-analysis"),
        ("abc", "upload", None, {"": "x"}),
        ("abc", "upload", None, {"k": "v" * 257}),
        ("abc", "upload", None, {"k" * 257: "v"}),
        ("abc", "upload", None, {f"k{i}": "v" for i in range(33)}),
    ],
)
def test_deep_link_refuses_bad_parts(args: tuple[Any, ...]) -> None:
    """Bad ids, unknown steps, foreign substeps and oversized parameters are refused."""
    with pytest.raises(InvalidInput):
        navigation.deep_link(*args)


def test_parse_deep_link_accepts_absolute_urls_and_ignores_host_and_fragment() -> None:
    """Only path and query of an http(s) URL are used; one trailing slash is fine."""
    link = navigation.parse_deep_link(
        "https://cv.example.com/session/abc/templates/template-select/?tab=colors&x=a+b#top"
    )
    assert (
        navigation.DeepLink("abc", "templates", "template-select", {"tab": "colors", "x": "a b"})
        == link
    )
    assert navigation.DeepLink("abc") == navigation.parse_deep_link("/session/abc/")
    assert {
        "sessionId": "abc",
        "step": "upload",
        "substep": None,
        "params": {"k": ""},
    } == navigation.parse_deep_link("/session/abc/upload?k").to_json()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "non-empty"),
        ("ftp://host/session/abc", "http(s)"),
        ("javascript:alert(1)", "http(s)"),
        ("//evil.example/session/abc", "http(s)"),
        ("session/abc", "starts with /session/"),
        ("/sessions/abc", "starts with /session/"),
        ("/session/", "/session/{id}"),
        ("/session/ab%2Fc", "session id"),
        ("/session/abc/nowhere", "unknown step"),
        ("/session/abc/upload/ai-analysis", "not a substep"),
        ("/session/abc/upload/file-select/more", "at most a step and a substep"),
        ("/session/abc?a=1&a=2", "repeated"),
        ("/session/abc?=1", "needs a name"),
        ("/session/abc?a=%ff", "UTF-8"),
        ("/session/abc?" + "&".join(f"k{i}=v" for i in range(33)), "at most 32"),
        ("/session/abc?k=" + "v" * 257, "at most 256"),
        ("/session/abc?" + "&" * 200, "at most 32"),
        ("/session/" + "a" * 9000, "8192"),
    ],
)
def test_parse_deep_link_refuses_with_a_clear_message(url: str, words: str) -> None:
    """Each malformed link is refused with a message saying what is wrong."""
    with pytest.raises(InvalidInput) as info:
        navigation.parse_deep_link(url)
    assert words in info.value.message


_steps_and_subs = st.sampled_from(
    [(None, None)]
    + [(s.id, None) for s in catalogue.STEPS]
    + [(s.id, sub) for s in catalogue.STEPS for sub in s.substeps]
)
_params = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=30), max_size=6)


@given(session_ids, _steps_and_subs, _params)
@settings(max_examples=200, deadline=None)
def test_deep_links_round_trip(
    session_id: str, where: tuple[str | None, str | None], params: dict[str, str]
) -> None:
    """parse_deep_link(deep_link(...)) gives back the same parts, also as an absolute URL."""
    step, sub = where
    url = navigation.deep_link(session_id, step, sub, params)
    expected = navigation.DeepLink(session_id, step, sub, params)
    assert expected == navigation.parse_deep_link(url)
    assert expected == navigation.parse_deep_link("http://localhost:8000" + url)
    assert url == navigation.parse_deep_link(url).to_url()


# Breadcrumbs and step states ---------------------------------------------------------------------


def test_breadcrumbs_up_to_the_current_substep() -> None:
    """Crumbs run to the current step, then the current substep, which alone is current."""
    doc = complete_through(new_doc("s1"), *UP_TO_ANALYSIS)
    doc["currentStep"], doc["currentSubstep"] = "templates", "template-customize"
    crumbs = [c.to_json() for c in navigation.breadcrumbs(doc)]
    assert ["upload", "processing", "analysis", "features", "templates", "templates"] == [
        c["step"] for c in crumbs
    ]
    assert {
        "step": "templates",
        "substep": "template-customize",
        "title": "Customise the template",
        "status": "pending",
        "url": "/session/s1/templates/template-customize",
        "current": True,
        "reachable": True,
    } == crumbs[-1]
    assert [False] * 5 + [True] == [c["current"] for c in crumbs]
    assert ["completed"] * 3 + ["pending"] * 3 == [c["status"] for c in crumbs]


def test_breadcrumbs_without_substep_mark_the_step_current() -> None:
    """With no current substep the current step's crumb is the current one."""
    doc = new_doc("s1")
    doc["currentSubstep"] = None
    crumbs = navigation.breadcrumbs(doc)
    assert [("upload", True)] == [(c.step, c.current) for c in crumbs]


def test_breadcrumbs_show_unreachable_steps() -> None:
    """A current step ahead of its prerequisites is shown as unreachable."""
    doc = new_doc("s1")
    doc["currentStep"], doc["currentSubstep"] = "processing", None
    assert [True, False] == [c.reachable for c in navigation.breadcrumbs(doc)]


def test_step_states_cover_all_steps() -> None:
    """Step states list all nine steps with completion, reachability and what is missing."""
    doc = complete_through(new_doc("s1"), "upload")
    mark_substep(doc, "processing", "text-extract", "completed")
    states = {s.step: s.to_json() for s in navigation.step_states(doc)}
    assert list(catalogue.STEP_IDS) == list(states)
    assert {
        "step": "processing",
        "title": "Processing",
        "status": "pending",
        "completion": 33,
        "reachable": True,
        "missing": [],
        "current": False,
        "skippable": False,
        "url": "/session/s1/processing",
    } == states["processing"]
    assert ["processing"] == states["analysis"]["missing"]
    assert states["keywords"]["skippable"]
    assert states["upload"]["current"]


@given(session_documents())
@settings(max_examples=40, deadline=None)
def test_breadcrumbs_end_at_the_current_position(doc: dict[str, Any]) -> None:
    """The last crumb is the current substep (or step) and is the only current one."""
    crumbs = navigation.breadcrumbs(doc)
    last = crumbs[-1]
    assert (doc["currentStep"], doc["currentSubstep"]) == (last.step, last.substep)
    assert [last] == [c for c in crumbs if c.current]


@given(st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_parse_deep_link_raises_only_invalid_input(url: str) -> None:
    """Arbitrary text is parsed or refused with InvalidInput, never another error."""
    try:
        link = navigation.parse_deep_link(url)
    except InvalidInput:
        return
    assert link.to_url().startswith("/session/")


@given(st.sampled_from(["/session/abc", "/session/abc/upload"]), st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_arbitrary_query_strings_raise_only_invalid_input(path: str, query: str) -> None:
    """Whatever follows the '?', parsing succeeds or raises InvalidInput."""
    with contextlib.suppress(InvalidInput):
        navigation.parse_deep_link(path + "?" + query)


def test_deep_link_refuses_unencodable_text() -> None:
    """A lone surrogate in a parameter is invalid input, not a crash."""
    with pytest.raises(InvalidInput):
        navigation.deep_link("abc", params={"k": "\ud800"})
