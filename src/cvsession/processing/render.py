"""HTML rendering of a JSON Resume with a catalogue template, and JSON Resume export.

Safety: every piece of CV text goes through `_esc` (HTML-escaped, control characters and lone
surrogates dropped); a link is emitted only for an http(s) URL or a plausible e-mail address.
Customisation values never reach the CSS unchecked: colours must be ``#rgb``, ``#rrggbb`` or
in `visuals.NAMED_COLORS`, fonts come from `FONTS` or are a plain family name (letters, digits,
spaces, hyphens); anything else silently falls back to the template's default. Feature
artefacts are embedded only after a check (`visuals.is_safe_svg`, `_is_safe_fragment`), since
a stored result could have been tampered with; the page's CSP forbids scripts as a last line.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from cvsession.core.catalogue import TEMPLATES, TemplateDef
from cvsession.core.errors import DomainError
from cvsession.processing.jsonresume import ISO8601, URL, clean
from cvsession.processing.parse import EMAIL
from cvsession.processing.visuals import format_date, is_safe_svg, safe_color

__all__ = [
    "ARTIFACT_SLOTS",
    "FONTS",
    "UnknownTemplate",
    "export_json_resume",
    "render_html",
]


class UnknownTemplate(DomainError):
    code = "unknown_template"
    status = 422


# Artefact name → (media type, where it goes). Other names are ignored.
ARTIFACT_SLOTS = {
    "skillsChart": ("image/svg+xml", "skills"),
    "skillsRadar": ("image/svg+xml", "skills"),
    "qrCode": ("image/svg+xml", "basics"),
    "timelineHtml": ("text/html", "timeline"),
    "languagesHtml": ("text/html", "languages"),
    "achievements": ("application/json", "highlights"),
}
_SANS = "system-ui, -apple-system, 'Segoe UI', Arial, sans-serif"
_SERIF = "Georgia, 'Times New Roman', serif"
# Family → fallback stack; documents load no web fonts, so readers without it get the stack.
FONTS = {
    name.casefold(): (name, stack)
    for name, stack in (
        ("Inter", _SANS), ("Poppins", _SANS), ("Source Sans 3", _SANS), ("Roboto", _SANS),
        ("Open Sans", _SANS), ("Lato", _SANS), ("Helvetica", _SANS), ("Arial", _SANS),
        ("Verdana", _SANS), ("Calibri", _SANS), ("Montserrat", _SANS), ("IBM Plex Sans", _SANS),
        ("Georgia", _SERIF), ("Times New Roman", _SERIF), ("Garamond", _SERIF),
        ("Merriweather", _SERIF), ("Playfair Display", _SERIF), ("Cambria", _SERIF),
        ("Source Serif 4", _SERIF), ("Courier New", "'Courier New', monospace"),
    )
}  # fmt: skip
_FAMILY = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[ -][A-Za-z0-9]+){0,5}")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
TITLES = {
    "basics": "Profile", "work": "Experience", "education": "Education", "skills": "Skills",
    "projects": "Projects", "awards": "Awards", "certificates": "Certificates",
    "languages": "Languages", "interests": "Interests", "references": "References",
    "volunteer": "Volunteering", "publications": "Publications", "timeline": "Timeline",
}  # fmt: skip
# Sections the creative template puts in its sidebar; the rest go to the main column.
_SIDEBAR = frozenset({"basics", "skills", "languages", "interests"})


def _esc(value: object) -> str:
    return html.escape(_CONTROL.sub("", value if isinstance(value, str) else str(value)))


def _plain(value: object) -> str:
    """``value`` as display text (strings and numbers, controls dropped, trimmed), else ""."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return _CONTROL.sub("", str(value)).strip()


def _s(obj: object, key: str) -> str:
    """The text at ``obj[key]``; stored CVs can hold anything, so anything else is ""."""
    return _plain(obj.get(key) if isinstance(obj, dict) else None)


def _items(obj: object, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _link(url: str, text: str) -> str:
    if URL.match(url) and not _CONTROL.search(url):
        return f'<a href="{_esc(url)}" rel="noopener noreferrer">{_esc(text)}</a>'
    return _esc(text)


def _font(value: object, default: str) -> str:
    """A CSS font-family list: allow-listed family, plain family name, or the default's."""
    fallback = FONTS.get(default.casefold(), (default, _SANS))
    if isinstance(value, str):
        name = " ".join(value.split())
        if name.casefold() in FONTS:
            family, stack = FONTS[name.casefold()]
            return f"'{family}', {stack}"
        if _FAMILY.fullmatch(name):
            return f"'{name}', {fallback[1]}"
    return f"'{fallback[0]}', {fallback[1]}"


@dataclass(frozen=True, slots=True)
class _Theme:
    colors: dict[str, str]
    heading_font: str
    body_font: str
    sections: tuple[str, ...]


def _theme(template: TemplateDef, customization: object) -> _Theme:
    custom = customization if isinstance(customization, dict) else {}
    colors_in = custom.get("colors") if isinstance(custom.get("colors"), dict) else {}
    fonts_in = custom.get("fonts") if isinstance(custom.get("fonts"), dict) else {}
    assert isinstance(colors_in, dict) and isinstance(fonts_in, dict)
    colors = {key: safe_color(colors_in.get(key), value) for key, value in template.colors.items()}
    known = list(template.sections)
    known.insert(known.index("work") if "work" in known else len(known), "timeline")
    ordered: list[str] = []
    order = custom.get("sectionOrder")
    if isinstance(order, dict):
        entries = [
            (str(v.get("sortKey", "")), str(k), v.get("section"))
            for k, v in order.items()
            if isinstance(v, dict)
        ]
        order = [section for _, _, section in sorted(entries)]
    for section in order if isinstance(order, list) else []:
        if section in known and section not in ordered:
            ordered.append(section)
    ordered += [s for s in known if s not in ordered]
    hidden = custom.get("hiddenSections")
    if isinstance(hidden, dict):
        hidden = [k for k, v in hidden.items() if v is True]
    hidden_set = {h for h in hidden if isinstance(h, str)} if isinstance(hidden, list) else set()
    return _Theme(
        colors,
        _font(fonts_in.get("heading"), template.fonts.get("heading", "Inter")),
        _font(fonts_in.get("body"), template.fonts.get("body", "Inter")),
        tuple(s for s in ordered if s not in hidden_set),
    )


def _valid_artifacts(artifacts: object) -> dict[str, Any]:
    """The artefacts `render_html` can place, each checked against its expected media type."""
    out: dict[str, Any] = {}
    for name, (media_type, _) in ARTIFACT_SLOTS.items():
        item = artifacts.get(name) if isinstance(artifacts, dict) else None
        if not isinstance(item, dict) or item.get("mediaType") != media_type:
            continue
        content = item.get("content")
        safe = is_safe_svg if media_type == "image/svg+xml" else _is_safe_fragment
        if media_type != "application/json" and safe(content):
            out[name] = content
        elif name == "achievements" and isinstance(content, list):
            # Keyed by text, not path: other features may have moved the highlights since.
            out[name] = {
                _plain(a.get("text")): [m for m in a["metrics"] if isinstance(m, str) and m]
                for a in content
                if isinstance(a, dict) and isinstance(a.get("metrics"), list)
            }
    return out


_FRAGMENT_TAGS = frozenset(
    ["div", "section", "ol", "ul", "li", "span", "strong", "em", "p", "h3", "h4", "details",
     "summary", "time", "meter", "small", "br"]
)  # fmt: skip
_FRAGMENT_ATTRS = frozenset(
    ["class", "datetime", "value", "min", "max", "low", "high", "optimum", "title", "aria-label",
     "role", "open"]
)  # fmt: skip


class _FragmentCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ok = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "style":
                # Only the timeline's lane offset: no url(), no expressions, nothing else.
                self.ok &= value is not None and re.fullmatch(r"--lane:\d{1,2}", value) is not None
            elif name not in _FRAGMENT_ATTRS and not re.fullmatch(r"data-[a-z-]{1,30}", name):
                self.ok = False
        self.ok &= tag in _FRAGMENT_TAGS

    def handle_endtag(self, tag: str) -> None:
        self.ok &= tag in _FRAGMENT_TAGS

    def handle_comment(self, data: str) -> None:
        self.ok = False

    def handle_decl(self, decl: str) -> None:
        self.ok = False

    def handle_pi(self, data: str) -> None:
        self.ok = False

    def unknown_decl(self, data: str) -> None:
        self.ok = False


def _is_safe_fragment(content: object) -> bool:
    if not isinstance(content, str) or len(content) > 500_000:
        return False
    check = _FragmentCheck()
    check.feed(content)
    check.close()
    return check.ok


# --- text helpers -------------------------------------------------------------------------------
def _time(value: str) -> str:
    if ISO8601.match(value):
        return f'<time datetime="{value}">{format_date(value)}</time>'
    return _esc(value)


def _dates(entry: object, start_key: str = "startDate", end_key: str = "endDate") -> str:
    start, end = _s(entry, start_key), _s(entry, end_key)
    if not start and not end:
        return ""
    if not end:
        return f'<span class="dates">{_time(start)} \u2013 Present</span>'
    if not start:
        return f'<span class="dates">{_time(end)}</span>'
    return f'<span class="dates">{_time(start)} \u2013 {_time(end)}</span>'


def _marked(text: str, metrics: list[str]) -> str:
    """``text`` escaped, with each metric of an achievement in <strong>."""
    wanted = [m for m in sorted(set(metrics), key=len, reverse=True) if m in text]
    if not wanted:
        return _esc(text)
    pieces = re.split("(" + "|".join(re.escape(m) for m in wanted) + ")", text)
    return "".join(
        f"<strong>{_esc(p)}</strong>" if i % 2 else _esc(p) for i, p in enumerate(pieces)
    )


def _bullets(items: list[Any], marks: dict[str, list[str]]) -> str:
    out = []
    for text in (_plain(item) for item in items):
        metrics = marks.get(text)
        if text and metrics:
            out.append(f'<li class="achievement">{_marked(text, metrics)}</li>')
        elif text:
            out.append(f"<li>{_esc(text)}</li>")
    return f'<ul class="highlights">{"".join(out)}</ul>' if out else ""


def _tags(items: list[Any]) -> str:
    tags = [f"<li>{_esc(t)}</li>" for t in items if isinstance(t, str) and t.strip()]
    return f'<ul class="tags">{"".join(tags)}</ul>' if tags else ""


# --- sections -----------------------------------------------------------------------------------
def _entry(title: str, subtitle: str, dates: str, body: str, *, url: str = "") -> str:
    head = f"<h3>{_link(url, title) if url and title else _esc(title)}</h3>" if title else ""
    sub = f'<p class="subtitle">{subtitle}</p>' if subtitle else ""
    head = f'<div class="entry-head">{head}{dates}</div>'
    return f'<article class="entry">{head}{sub}{body}</article>'


def _join(*parts: str) -> str:
    return " \u00b7 ".join(_esc(p) for p in parts if p)


def _para(text: str, css: str = "") -> str:
    if not text:
        return ""
    return f'<p class="{css}">{_esc(text)}</p>' if css else f"<p>{_esc(text)}</p>"


def _basics(basics: object, art: dict[str, Any]) -> str:
    name, label = _s(basics, "name"), _s(basics, "label")
    contact: list[str] = []
    email = _s(basics, "email")
    if email:
        ok = EMAIL.fullmatch(email) is not None
        contact.append(f'<a href="mailto:{_esc(email)}">{_esc(email)}</a>' if ok else _esc(email))
    if _s(basics, "phone"):
        contact.append(_esc(_s(basics, "phone")))
    if _s(basics, "url"):
        contact.append(_link(_s(basics, "url"), _s(basics, "url")))
    location = basics.get("location") if isinstance(basics, dict) else None
    keys = ("address", "city", "region", "postalCode", "countryCode")
    place = ", ".join(v for v in (_s(location, k) for k in keys) if v)
    if place:
        contact.append(_esc(place))
    for profile in _items(basics, "profiles"):
        text = ": ".join(v for v in (_s(profile, "network"), _s(profile, "username")) if v)
        if text or _s(profile, "url"):
            contact.append(_link(_s(profile, "url"), text or _s(profile, "url")))
    image = _s(basics, "image")
    photo = f'<img class="photo" src="{_esc(image)}" alt="">' if URL.match(image) else ""
    qr = f'<div class="qr">{art["qrCode"]}</div>' if "qrCode" in art else ""
    items = "".join(f"<li>{c}</li>" for c in contact)
    return (
        f'<header class="cv-header" id="section-basics" data-section="basics">{photo}{qr}'
        f"<h1>{_esc(name)}</h1>{_para(label, 'label')}"
        + (f'<ul class="contact">{items}</ul>' if items else "")
        + f"{_para(_s(basics, 'summary'), 'summary')}</header>"
    )


def _section_body(section: str, cv: dict[str, Any], art: dict[str, Any]) -> str:
    marks: dict[str, list[str]] = art.get("achievements", {})
    parts: list[str] = []
    if section == "timeline":
        return str(art.get("timelineHtml", ""))
    if section == "skills":
        parts += [f'<div class="chart">{art[k]}</div>' for k in ("skillsChart", "skillsRadar")
                  if k in art]  # fmt: skip
    if section == "languages" and "languagesHtml" in art:
        return str(art["languagesHtml"])
    for e in _items(cv, section):
        if not isinstance(e, dict):
            continue
        if section in ("work", "volunteer"):
            org = _s(e, "name" if section == "work" else "organization")
            body = _para(_s(e, "description")) + _para(_s(e, "summary"))
            body += _bullets(_items(e, "highlights"), marks)
            head = _s(e, "position") or org
            sub = _join(org if head != org else "", _s(e, "location"))
            parts.append(_entry(head, sub, _dates(e), body, url=_s(e, "url")))
        elif section == "education":
            title = " in ".join(v for v in (_s(e, "studyType"), _s(e, "area")) if v)
            body = _para(f"Score: {_s(e, 'score')}" if _s(e, "score") else "")
            body += _tags(_items(e, "courses"))
            head = title or _s(e, "institution")
            sub = _join(_s(e, "institution") if head != _s(e, "institution") else "")
            parts.append(_entry(head, sub, _dates(e), body, url=_s(e, "url")))
        elif section == "projects":
            body = _para(_s(e, "description"))
            body += _bullets(_items(e, "highlights"), marks)
            body += _tags(_items(e, "keywords"))
            sub = _join(_s(e, "entity"), _s(e, "type"), ", ".join(
                r for r in _items(e, "roles") if isinstance(r, str)))  # fmt: skip
            parts.append(_entry(_s(e, "name"), sub, _dates(e), body, url=_s(e, "url")))
        elif section in ("awards", "certificates", "publications"):
            title, by, date = {
                "awards": ("title", "awarder", "date"),
                "certificates": ("name", "issuer", "date"),
                "publications": ("name", "publisher", "releaseDate"),
            }[section]
            dates = f'<span class="dates">{_time(_s(e, date))}</span>' if _s(e, date) else ""
            body = _para(_s(e, "summary"))
            parts.append(_entry(_s(e, title), _join(_s(e, by)), dates, body, url=_s(e, "url")))
        elif section in ("skills", "interests"):
            level = _s(e, "level")
            level_html = f' <span class="level">{_esc(level)}</span>' if level else ""
            parts.append(
                f'<div class="skill"><span class="skill-name">{_esc(_s(e, "name"))}</span>'
                f"{level_html}{_tags(_items(e, 'keywords'))}</div>"
            )
        elif section == "languages":
            fluency = f' <span class="level">{_esc(_s(e, "fluency"))}</span>'
            parts.append(
                f'<div class="skill"><span class="skill-name">{_esc(_s(e, "language"))}</span>'
                f"{fluency if _s(e, 'fluency') else ''}</div>"
            )
        elif section == "references":
            quote = f"<blockquote>{_esc(_s(e, 'reference'))}</blockquote>"
            who = f'<p class="subtitle">\u2014 {_esc(_s(e, "name"))}</p>' if _s(e, "name") else ""
            quote = quote if _s(e, "reference") else ""
            parts.append(f'<article class="entry">{quote}{who}</article>')
    return "".join(parts)


def _section(section: str, cv: dict[str, Any], art: dict[str, Any]) -> str:
    if section == "basics":
        return _basics(cv.get("basics"), art)
    body = _section_body(section, cv, art)
    if not body:
        return ""
    return (
        f'<section class="cv-section" id="section-{section}" data-section="{section}">'
        f"<h2>{TITLES.get(section, section.title())}</h2>{body}</section>"
    )


# --- document -----------------------------------------------------------------------------------
_CSS_BASE = """*{box-sizing:border-box}
body{margin:0;background:var(--background);color:var(--text);font:10.5pt/1.45 var(--body-font)}
.cv{max-width:820px;margin:0 auto;padding:36px 40px}
h1,h2,h3{font-family:var(--heading-font);line-height:1.2;margin:0}
h1{font-size:26pt}h2{font-size:13pt;color:var(--primary);margin:22px 0 10px}h3{font-size:11pt}
a{color:var(--primary)}p{margin:4px 0}.label{font-size:13pt;color:var(--primary)}
.contact{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:4px 16px}
.entry{margin:0 0 12px;break-inside:avoid}.subtitle{font-style:italic}
.entry-head{display:flex;justify-content:space-between;gap:12px;align-items:baseline}
.dates{white-space:nowrap;opacity:.8;font-size:.92em}.highlights{margin:4px 0;padding-left:18px}
.tags{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px}
.tags li{border:1px solid var(--primary);border-radius:3px;padding:0 6px;font-size:.9em}
.skill{margin:0 0 8px}.skill-name{font-weight:600}.level{opacity:.8}
.achievement strong{color:var(--primary)}.photo{width:96px;height:96px;object-fit:cover}
.qr{float:right}.qr svg{width:96px;height:96px}.chart svg{max-width:100%;height:auto}
blockquote{margin:4px 0;padding-left:10px;border-left:3px solid var(--primary)}
.cv-timeline{list-style:none;margin:0;padding:0 0 0 10px;border-left:2px solid var(--primary)}
.tl-item{margin:0 0 6px calc(var(--lane,0) * 18px)}.tl-item summary{cursor:pointer}
.tl-overlap{font-size:.9em;opacity:.8}
.cv-languages{list-style:none;padding:0}.cv-languages li{display:flex;gap:8px;align-items:center}
.cv-languages meter{width:90px}
@page{size:A4;margin:14mm}
@media print{.cv{padding:0}a{color:inherit;text-decoration:none}details>*{display:block}}
"""
_CSS = {
    "modern": """h2{text-transform:uppercase;letter-spacing:.08em;border-bottom:2px solid
var(--primary);padding-bottom:3px}.cv-header{border-left:6px solid var(--primary);padding-left:16px}
""",
    "classic": """.cv-header{text-align:center}.contact{justify-content:center}
h2{font-variant:small-caps;color:var(--text);border-bottom:1px solid var(--text)}.qr{float:none}
""",
    "creative": """.cv{display:grid;grid-template-columns:270px 1fr;max-width:980px;padding:0}
.sidebar{background:var(--primary);color:#fff;padding:32px 24px}.sidebar a,.sidebar h2,
.sidebar .label,.sidebar .achievement strong{color:#fff}.sidebar .tags li{border-color:#fff}
.sidebar .contact{display:block}.sidebar .qr{float:none;background:#fff;display:inline-block}
.content{padding:32px 36px}h1{font-size:22pt}
""",
}
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "base-uri 'none'; form-action 'none'"
)


def render_html(
    cv: dict[str, Any],
    template_id: str,
    customization: dict[str, Any] | None = None,
    *,
    artifacts: dict[str, Any] | None = None,
) -> str:
    """A complete, standalone HTML5 document of ``cv`` in template ``template_id``.

    ``customization`` is the session's ``{colors, fonts, sectionOrder, hiddenSections}`` for the
    template (``sectionOrder`` a ``{key: {section, sortKey}}`` map or a list of section names;
    ``hiddenSections`` a ``{section: true}`` map or a list); invalid values fall back to the
    template's defaults. ``artifacts`` are `generate_feature` artefacts, merged by name; those
    named in `ARTIFACT_SLOTS` are placed (QR code in the header, charts in skills, the timeline
    as its own ``timeline`` section before work, language levels in languages, achievement
    metrics emphasised), the others ignored. Deterministic; raises `UnknownTemplate`.
    """
    template = TEMPLATES.get(template_id) if isinstance(template_id, str) else None
    if template is None:
        raise UnknownTemplate(
            f"unknown template {str(template_id)[:40]!r}; one of {', '.join(TEMPLATES)}",
            template=str(template_id)[:40],
        )
    cv = cv if isinstance(cv, dict) else {}
    theme = _theme(template, customization)
    art = _valid_artifacts(artifacts)
    if "basics" not in theme.sections:
        art.pop("qrCode", None)
    if template.id == "creative":
        # A chart is unreadable at the sidebar's width: it opens the main column instead.
        charts = {k: art.pop(k) for k in ("skillsChart", "skillsRadar") if k in art}
        rendered = [(s, _section(s, cv, art)) for s in theme.sections]
        side = "".join(h for s, h in rendered if s in _SIDEBAR)
        main = "".join(h for s, h in rendered if s not in _SIDEBAR)
        if charts and "skills" in theme.sections:
            figures = "".join(f'<div class="chart">{svg}</div>' for svg in charts.values())
            main = f'<section class="section skills-overview">{figures}</section>' + main
        body = f'<aside class="sidebar">{side}</aside><div class="content">{main}</div>'
    else:
        rendered = [(s, _section(s, cv, art)) for s in theme.sections]
        body = "".join(h for _, h in rendered)
    name = _s(cv.get("basics"), "name") if "basics" in theme.sections else ""
    title = f"{name} \u2014 CV" if name else "CV"
    colors = ";".join(f"--{key}:{value}" for key, value in sorted(theme.colors.items()))
    root = f":root{{{colors};--heading-font:{theme.heading_font};--body-font:{theme.body_font}}}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{_esc(title)}</title>\n"
        f"<style>\n{root}\n{_CSS_BASE}{_CSS[template.id]}</style>\n</head>\n"
        f'<body class="template-{template.id}">\n<main class="cv">{body}</main>\n</body>\n</html>\n'
    )


_SECTIONS = ("work", "volunteer", "education", "awards", "certificates", "publications", "skills",
             "languages", "interests", "references", "projects")  # fmt: skip
# Field types of JSON Resume 1.0 (schema.json); keys the schema does not name pass through.
_STRING_FIELDS = {
    section: frozenset(fields.split())
    for section, fields in {
        "basics": "name label image email phone url summary",
        "location": "address postalCode city countryCode region",
        "profiles": "network username url",
        "work": "name location description position url startDate endDate summary",
        "volunteer": "organization position url startDate endDate summary",
        "education": "institution url area studyType startDate endDate score",
        "awards": "title date awarder summary",
        "certificates": "name date url issuer",
        "publications": "name publisher releaseDate url summary",
        "skills": "name level",
        "languages": "language fluency",
        "interests": "name",
        "references": "name reference",
        "projects": "name description startDate endDate url entity type",
        "meta": "canonical version lastModified",
    }.items()
}
_STRING_LISTS = frozenset({"highlights", "keywords", "courses", "roles"})


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    return None if isinstance(value, bool) or not isinstance(value, int | float) else str(value)


def _conform(obj: object, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items() if isinstance(obj, dict) else ():
        if key in _STRING_LISTS:
            texts = [_as_text(v) for v in value] if isinstance(value, list) else []
            out[key] = [t for t in texts if t is not None]
        elif key in _STRING_FIELDS[kind]:
            out[key] = _as_text(value)
        elif kind == "basics" and key in ("location", "profiles"):
            sub = [value] if key == "location" else value if isinstance(value, list) else []
            entries = [_conform(v, key) for v in sub if isinstance(v, dict)]
            out[key] = entries[0] if key == "location" and entries else entries
        else:
            out[key] = value
    return out


def export_json_resume(cv: dict[str, Any]) -> str:
    """``cv`` as pretty-printed JSON Resume that validates against the 1.0 schema.

    Known fields are coerced to their schema types (numbers to strings, other values dropped),
    non-object entries of sections dropped, then dates that are not ISO 8601, URLs that are not
    URLs and empty values removed (`jsonresume.clean`). Unknown keys pass through.
    """
    out: dict[str, Any] = {}
    for key, value in cv.items() if isinstance(cv, dict) else ():
        if key in ("basics", "meta"):
            out[key] = _conform(value, key) if isinstance(value, dict) else None
        elif key in _SECTIONS:
            items = value if isinstance(value, list) else []
            out[key] = [_conform(v, key) for v in items if isinstance(v, dict)]
        elif key == "$schema":
            out[key] = _as_text(value)
        else:
            out[key] = value
    text = json.dumps(clean(out), ensure_ascii=False, indent=2) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only \u escapes can carry them
        text = json.dumps(clean(out), indent=2) + "\n"
    return text
