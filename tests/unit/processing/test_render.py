"""HTML rendering and JSON Resume export: templates, customisation, escaping, artefacts."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from cvsession.core.catalogue import TEMPLATES
from cvsession.processing.analyse import analyse
from cvsession.processing.features import generate_feature
from cvsession.processing.render import UnknownTemplate, export_json_resume, render_html
from tests.unit.processing.cv_samples import JOB, NAMES, TESTDATA, sample, schema_errors

TEMPLATE_IDS = tuple(TEMPLATES)
BLNS: list[str] = json.loads((TESTDATA / "blns.json").read_text(encoding="utf-8"))
# What rendering drops from text: C0/C1 controls (but tab, LF, CR), lone surrogates, noncharacters.
DROPPED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
VOID = {"meta", "img", "br", "link", "input", "hr", "path", "rect", "line", "polygon", "circle"}


class Page(HTMLParser):
    """Start tags, attributes and the text inside chosen elements of an HTML document."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self.open: list[str] = []
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.open and tag == self.open[-1], f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open:
            self.text.setdefault(self.open[-1], []).append(data)


def sections(document: str) -> list[str]:
    """The ids of the rendered sections, in document order."""
    return re.findall(r'id="section-([a-z]+)"', document)


def features(cv: dict[str, Any], *ids: str) -> dict[str, Any]:
    """The artefacts of the given features on ``cv``, merged, as the pipeline would store them."""
    facts = analyse(cv, job_description=JOB)
    merged: dict[str, Any] = {}
    for feature in ids:
        merged.update(generate_feature(feature, cv, facts, {})["artifacts"])
    return merged


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("template", TEMPLATE_IDS)
def test_every_sample_renders_a_complete_document(template: str, name: str) -> None:
    """A balanced HTML5 document with a CSP, no script, the person's name and every section."""
    cv = sample(name)
    document = render_html(cv, template)
    page = Page(document)
    assert document.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert ([], ["html", "head", "meta"]) == (page.open, page.tags[:3])
    assert "script" not in page.tags
    policy = [
        a["content"] for t, a in page.attrs if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert [True] == [p is not None and p.startswith("default-src 'none';") for p in policy]
    assert [cv["basics"]["name"]] == page.text["h1"]
    present = [s for s in TEMPLATES[template].sections if cv.get(s)]
    assert set(present) <= set(sections(document))
    assert document == render_html(sample(name), template)


@pytest.mark.parametrize("template", TEMPLATE_IDS)
def test_blns_strings_are_text_never_markup(template: str) -> None:
    """Every naughty string as name, summary or highlight renders as that text and adds no tag."""

    def cv(text: str) -> dict[str, Any]:
        return {
            "basics": {"name": text, "summary": text},
            "work": [{"name": "Acme", "position": "Dev", "highlights": [text, "x"]}],
        }

    baseline = Page(render_html(cv("plain"), template)).tags
    for text in BLNS:
        document = render_html(cv(text), template)
        page = Page(document)
        expected = DROPPED.sub("", text).strip()
        assert "<script" not in document.casefold(), text
        if expected:  # blank text leaves its element out
            assert baseline == page.tags, text
            assert expected == "".join(page.text.get("h1", [])), text
    everything = render_html({"basics": {"name": "n"}, "work": [{"highlights": BLNS}]}, template)
    assert "<script" not in everything.casefold()
    assert len([s for s in BLNS if DROPPED.sub("", s).strip()]) == Page(everything).tags.count("li")


@pytest.mark.parametrize("template", TEMPLATE_IDS)
def test_custom_colours_and_fonts(template: str) -> None:
    """Valid colours and fonts reach the CSS; anything else falls back to the template's own."""
    cv = sample("reactiveresume-azurill")
    default = TEMPLATES[template]
    good = render_html(
        cv,
        template,
        {
            "colors": {"primary": "#C0FFEE", "text": "navy", "background": "#fff"},
            "fonts": {"heading": "roboto", "body": "My Font 2"},
        },
    )
    assert ":root{--background:#fff;--primary:#c0ffee;--text:navy;" in good
    assert "--heading-font:'Roboto', system-ui" in good and "--body-font:'My Font 2'," in good
    hostile = {
        "colors": {
            "primary": "red;}body{display:none",
            "text": "url(javascript:alert(1))",
            "background": "#12345",
            "accent": "#000",
        },
        "fonts": {"heading": "Arial'; } body { x", "body": "</style><script>alert(1)</script>"},
    }
    bad = render_html(cv, template, hostile)
    colors = default.colors
    assert (
        f":root{{--background:{colors['background']};--primary:{colors['primary']};"
        f"--text:{colors['text']};--heading-font:'{default.fonts['heading']}'"
    ) in bad
    assert [] == [
        v
        for v in ("display:none", "javascript", "#12345", "<script", "body { x", "--accent")
        if v in bad
    ]


@pytest.mark.parametrize("template", TEMPLATE_IDS)
def test_hidden_sections_are_absent(template: str) -> None:
    """A hidden section is not rendered at all, in the map or the list form."""
    cv = sample("reactiveresume-pikachu")
    for hidden in ({"education": True, "skills": True, "projects": False}, ["education", "skills"]):
        document = render_html(cv, template, {"hiddenSections": hidden})
        assert {"education", "skills"}.isdisjoint(sections(document))
        assert "projects" in sections(document)
        assert "University of California" not in document and "Webpack" not in document


def test_hidden_basics_hides_the_name_everywhere() -> None:
    """Hiding basics leaves neither header nor the name in the title."""
    document = render_html(sample("sample"), "modern", {"hiddenSections": {"basics": True}})
    assert "Richard Hendriks" not in document and "<title>CV</title>" in document


@pytest.mark.parametrize("template", TEMPLATE_IDS)
def test_section_order_follows_sort_keys(template: str) -> None:
    """sectionOrder entries sort by sortKey; unnamed sections follow in template order."""
    cv = sample("reactiveresume-pikachu")
    order = {
        "k1": {"section": "skills", "sortKey": "a0"},
        "k2": {"section": "basics", "sortKey": "a1"},
        "k3": {"section": "projects", "sortKey": "Zz"},
        "k4": {"section": "nonsense", "sortKey": "a"},
        "k5": "junk",
    }
    found = sections(render_html(cv, template, {"sectionOrder": order}))
    expected = [
        "projects",
        "skills",
        "basics",
        "work",
        "education",
        "certificates",
        "languages",
        "references",
    ]
    if template == "creative":  # the sidebar holds basics, skills and languages
        side = ["skills", "basics", "languages"]
        expected = side + [s for s in expected if s not in side]
    assert expected == found
    listed = sections(render_html(cv, template, {"sectionOrder": ["education", "work"]}))
    assert listed.index("education") < listed.index("work")


def test_artifacts_are_embedded_in_their_places() -> None:
    """Chart in skills, QR code in the header, timeline before work, levels in languages."""
    cv = sample("reactiveresume-pikachu")
    artifacts = features(
        cv,
        "skills-visualization",
        "embed-qr-code",
        "interactive-timeline",
        "language-proficiency",
        "achievement-highlighting",
    )
    document = render_html(cv, "modern", artifacts=artifacts)
    assert ["basics", "timeline", "work"] == sections(document)[:3]
    for name in ("skillsChart", "qrCode", "timelineHtml", "languagesHtml"):
        assert artifacts[name]["content"] in document
    header = document[document.index('id="section-basics"') : document.index("</header>")]
    assert artifacts["qrCode"]["content"] in header
    skills = document[document.index('id="section-skills"') :]
    assert skills.index(artifacts["skillsChart"]["content"]) < skills.index("</section>")
    assert "English</span>" in document and '<meter min="0" max="7" value="7"' in document
    assert "resulting in a <strong>40%</strong> increase" in document
    # The rendered CV is the original order: marks follow the text, not the reordered paths.
    assert "achieving a <strong>30%</strong> reduction" in document
    assert "<li>Managed the integration" in document
    Page(document)


def test_tampered_artifacts_are_not_embedded() -> None:
    """Artefacts with script, handlers, links, foreign content or the wrong type are dropped."""
    cv = sample("sample")
    svg = '<svg xmlns="http://www.w3.org/2000/svg">{}</svg>'
    bad = {
        "skillsChart": {
            "mediaType": "image/svg+xml",
            "content": svg.format("<script>x()</script>"),
        },
        "skillsRadar": {
            "mediaType": "image/svg+xml",
            "content": svg.format('<rect onload="x()" width="1"/>'),
        },
        "qrCode": {
            "mediaType": "image/svg+xml",
            "content": svg.format('<a href="javascript:x()"><text>QR</text></a>'),
        },
        "timelineHtml": {"mediaType": "text/html", "content": '<ol><img src=x onerror="x()"></ol>'},
        "languagesHtml": {"mediaType": "text/html", "content": '<ul style="background:url(x)">'},
        "achievements": {"mediaType": "text/html", "content": "<script>x()</script>"},
    }
    document = render_html(cv, "classic", artifacts=bad)
    assert document == render_html(cv, "classic")
    wrong_type = {"qrCode": {"mediaType": "text/html", "content": svg.format("")}}
    assert document == render_html(cv, "classic", artifacts=wrong_type)
    entity = '<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg"/>'
    assert document == render_html(
        cv, "classic", artifacts={"qrCode": {"mediaType": "image/svg+xml", "content": entity}}
    )


def test_links_only_for_web_urls_and_emails() -> None:
    """javascript: and other schemes stay text; e-mail becomes mailto only when it is one."""
    cv = {
        "basics": {
            "name": "A",
            "email": "not an email",
            "url": "javascript:alert(1)",
            "profiles": [{"network": "X", "url": "https://x.example/a?b=1&c=2"}],
        },
        "work": [{"name": "Acme", "position": "Dev", "url": "data:text/html,<b>x</b>"}],
    }
    page = Page(render_html(cv, "modern"))
    hrefs = [a["href"] for tag, a in page.attrs if tag == "a"]
    assert ["https://x.example/a?b=1&c=2"] == hrefs
    good = Page(render_html({"basics": {"name": "A", "email": "a@b.example"}}, "modern"))
    assert ["mailto:a@b.example"] == [a["href"] for tag, a in good.attrs if tag == "a"]


def test_odd_shapes_do_not_break_rendering() -> None:
    """A CV of wrong types (as a patched document may hold) still renders what it can."""
    cv = {
        "basics": ["x"],
        "work": [
            "x",
            {"name": 5, "highlights": {"a": 1}, "startDate": True},
            {"position": "Dev", "highlights": [None, 3, "ok"]},
        ],
        "skills": "lots",
    }
    for template in TEMPLATE_IDS:
        page = Page(render_html(cv, template))
        assert ["3", "ok"] == page.text["li"]


def test_unknown_template_is_a_domain_error() -> None:
    """An unknown template id is refused with a stable code."""
    with pytest.raises(UnknownTemplate) as caught:
        render_html(sample("sample"), "brutalist")
    assert ("unknown_template", 422) == (caught.value.code, caught.value.status)


@pytest.mark.parametrize("name", NAMES)
def test_export_is_pretty_valid_json_resume(name: str) -> None:
    """Exported JSON is indented, validates against the schema and keeps the content."""
    cv = sample(name)
    text = export_json_resume(cv)
    assert text.startswith('{\n  "') and text.endswith("}\n")
    assert [] == schema_errors(json.loads(text))
    assert cv["basics"]["name"] == json.loads(text)["basics"]["name"]


def test_export_coerces_a_messy_cv_to_the_schema() -> None:
    """Numbers become strings, bad dates and URLs go, non-object entries are dropped."""
    cv = {
        "basics": {
            "name": "A",
            "url": "javascript:alert(1)",
            "location": "Paris",
            "profiles": {"x": 1},
        },
        "work": [
            "junk",
            {
                "name": "Acme",
                "startDate": "Present",
                "endDate": "2020-13-45",
                "highlights": [1, None, "ok", {"a": 1}],
                "url": "ftp://x",
            },
        ],
        "education": [{"institution": "U", "score": 4.0, "courses": "none"}],
        "skills": "lots",
        "$schema": 5,
        "x-extra": {"kept": True},
        "name": "\ud800lone",
    }
    assert schema_errors(cv)
    out = json.loads(export_json_resume(cv))
    assert [] == schema_errors(out)
    assert {"name": "Acme", "highlights": ["1", "ok"]} == out["work"][0]
    assert ({"name": "A"}, "4.0", {"kept": True}) == (
        out["basics"],
        out["education"][0]["score"],
        out["x-extra"],
    )


def test_creative_puts_the_skills_chart_in_the_main_column() -> None:
    """In the creative template the chart opens the main column, where it is readable, not
    the narrow sidebar that keeps the skills list."""
    cv = sample("reactiveresume-pikachu")
    artifacts = features(cv, "skills-visualization")
    document = render_html(cv, "creative", artifacts=artifacts)
    chart = artifacts["skillsChart"]["content"]
    sidebar = document[document.index("<aside") : document.index("</aside>")]
    content = document[document.index('<div class="content">') :]
    assert chart not in sidebar
    assert 'id="section-skills"' in sidebar
    assert content.index(chart) < content.index('id="section-work"')
    assert 1 == document.count(chart)
