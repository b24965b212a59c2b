"""The visual artefacts a CV can carry: skills charts, QR code, timeline and language levels.

Each builder takes a JSON Resume and plain, already validated options, and returns data plus
an SVG or HTML fragment (`features` validates configuration and wraps them as artefacts).
SVG is written as strings with every piece of CV text escaped and the characters XML 1.0
forbids even escaped (NUL, lone surrogates, U+FFFE) removed, so it always parses; coordinates
are rounded to two decimals, so the same input gives the same bytes. `is_safe_svg` is the check
an SVG passes before `render` inlines it.
"""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import segno

from cvsession.core.catalogue import TEMPLATES
from cvsession.processing.analyse import _strings
from cvsession.processing.jsonresume import ISO8601, URL

__all__ = [
    "MAX_SVG_CHARS",
    "NAMED_COLORS",
    "bar_chart",
    "format_date",
    "is_safe_svg",
    "language_levels",
    "languages",
    "languages_fragment",
    "qr_code",
    "qr_svg",
    "radar_chart",
    "safe_color",
    "skill_levels",
    "skills_chart",
    "timeline",
    "timeline_entries",
    "timeline_fragment",
    "xml_text",
]

SVG_NS = "http://www.w3.org/2000/svg"
# A QR code of the largest version is about 60 kB; charts are a few kB.
MAX_SVG_CHARS = 200_000
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LABEL_CHARS = 28
_FONT = "system-ui, -apple-system, 'Segoe UI', Arial, sans-serif"
# What an embedded SVG may contain: shapes and text, never scripts, links, styles or foreign
# content. Every attribute value is data for a shape; `on*` handlers and hrefs are not listed.
_TAGS = frozenset(
    ["svg", "g", "path", "rect", "circle", "line", "polygon", "polyline", "text", "tspan", "title",
     "desc"]
)  # fmt: skip
_ATTRIBUTES = frozenset(
    ["width", "height", "viewBox", "role", "aria-label", "x", "y", "x1", "y1", "x2", "y2", "cx",
     "cy", "r", "d", "fill", "stroke", "stroke-width", "fill-opacity", "stroke-opacity",
     "opacity", "transform", "points", "text-anchor", "dominant-baseline", "font-family",
     "font-size", "font-weight", "class", "preserveAspectRatio", "shape-rendering"]
)  # fmt: skip
_UNSAFE_VALUE = re.compile(r"(?i)url\s*\(|javascript:|expression\s*\(|[<>]")


def xml_text(value: str) -> str:
    """Return ``value`` safe as XML text or a double-quoted attribute value."""
    return escape(_XML_INVALID.sub("", value), {'"': "&quot;", "'": "&#39;"})


def _label(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= _LABEL_CHARS else value[: _LABEL_CHARS - 1] + "\u2026"


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def bar_chart(items: list[tuple[str, int]], *, color: str, title: str) -> str:
    """A horizontal bar per (label, level 0-100), in the order given."""
    row, label_w, bar_w, top = 26, 190, 250, 34
    width, height = label_w + bar_w + 50, top + row * len(items) + 8
    parts = [
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{xml_text(title)}" font-family="{_FONT}" font-size="13">',
        f"<title>{xml_text(title)}</title>",
        f'<text x="0" y="18" font-size="15" font-weight="bold" fill="#222">{xml_text(title)}'
        "</text>",
    ]
    for index, (label, level) in enumerate(items):
        y = top + index * row
        level = max(0, min(100, level))
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="#222">'
            f"{xml_text(_label(label))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#e8eaed"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{_num(bar_w * level / 100)}" height="16"'
            f' fill="{color}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 15}" fill="#444">{level}%</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def radar_chart(items: list[tuple[str, int]], *, color: str, title: str) -> str:
    """A radar (spider) chart with one axis per (label, level 0-100); needs 3 items or more."""
    if len(items) < 3:
        raise ValueError("a radar chart needs at least three axes")
    size, radius = 460, 150.0
    cx, cy = size / 2, size / 2 + 10
    count = len(items)

    def point(index: int, fraction: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / count
        return cx + radius * fraction * math.cos(angle), cy + radius * fraction * math.sin(angle)

    def polygon(fractions: list[float]) -> str:
        return " ".join(
            f"{_num(x)},{_num(y)}" for x, y in (point(i, f) for i, f in enumerate(fractions))
        )

    parts = [
        f'<svg xmlns="{SVG_NS}" width="{size}" height="{size + 20}" '
        f'viewBox="0 0 {size} {size + 20}" role="img" aria-label="{xml_text(title)}" '
        f'font-family="{_FONT}" font-size="12">',
        f"<title>{xml_text(title)}</title>",
        f'<text x="0" y="18" font-size="15" font-weight="bold" fill="#222">{xml_text(title)}'
        "</text>",
    ]
    for ring in (0.25, 0.5, 0.75, 1.0):
        parts.append(f'<polygon points="{polygon([ring] * count)}" fill="none" stroke="#d0d4d9"/>')
    for index, (label, _) in enumerate(items):
        x, y = point(index, 1.0)
        lx, ly = point(index, 1.12)
        cos = (lx - cx) / (radius * 1.12)
        anchor = "middle" if abs(cos) < 0.2 else ("start" if cos > 0 else "end")
        parts.append(
            f'<line x1="{_num(cx)}" y1="{_num(cy)}" x2="{_num(x)}" y2="{_num(y)}" '
            f'stroke="#d0d4d9"/><text x="{_num(lx)}" y="{_num(ly + 4)}" text-anchor="{anchor}" '
            f'fill="#222">{xml_text(_label(label))}</text>'
        )
    levels = [max(0, min(100, level)) / 100 for _, level in items]
    parts.append(
        f'<polygon points="{polygon(levels)}" fill="{color}" fill-opacity="0.35" '
        f'stroke="{color}" stroke-width="2"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def is_safe_svg(content: object) -> bool:
    """True if ``content`` is one well-formed SVG of shapes and text only (safe to inline)."""
    if not isinstance(content, str) or len(content) > MAX_SVG_CHARS:
        return False
    # Entity declarations are how XML bombs and external references start; ours never have any.
    if "<!" in content or "<?" in content:
        return False
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return False
    if root.tag != f"{{{SVG_NS}}}svg":
        return False
    for element in root.iter():
        namespace, _, tag = element.tag.rpartition("}")
        if namespace != "{" + SVG_NS or tag not in _TAGS:
            return False
        for name, value in element.attrib.items():
            if name not in _ATTRIBUTES or _UNSAFE_VALUE.search(value):
                return False
    return True


NAMED_COLORS = frozenset(
    ["black", "white", "gray", "grey", "silver", "navy", "blue", "teal", "green", "olive",
     "maroon", "red", "purple", "orange", "crimson", "indigo", "steelblue", "darkslategray",
     "darkgreen", "firebrick", "slategray", "dimgray"]
)  # fmt: skip
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def safe_color(value: object, default: str) -> str:
    """``value`` if it is ``#rgb``, ``#rrggbb`` or in `NAMED_COLORS`, else ``default``."""
    if isinstance(value, str):
        value = value.strip().lower()
        if _HEX.fullmatch(value) or value in NAMED_COLORS:
            return value
    return default


def format_date(value: str) -> str:
    """``2020-01`` or ``2020-01-15`` → ``Jan 2020``; a year stays a year; other text as is."""
    if ISO8601.match(value) and len(value) >= 7 and 1 <= int(value[5:7]) <= 12:
        return f"{_MONTHS[int(value[5:7]) - 1]} {value[:4]}"
    return value


def _time(value: str) -> str:
    if ISO8601.match(value):
        return f'<time datetime="{value}">{format_date(value)}</time>'
    return xml_text(value)


def _str(obj: object, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value.strip() if isinstance(value, str) else ""


def _dicts(cv: dict[str, Any], section: str) -> list[tuple[int, dict[str, Any]]]:
    items = cv.get(section)
    if not isinstance(items, list):
        return []
    return [(i, e) for i, e in enumerate(items) if isinstance(e, dict)]


# --- skills -------------------------------------------------------------------------------------
_LEVEL_WORDS = (
    ("master", 100), ("expert", 95), ("advanced", 80), ("proficient", 75), ("experienced", 75),
    ("strong", 75), ("intermediate", 60), ("competent", 60), ("working", 55), ("familiar", 40),
    ("basic", 35), ("elementary", 30), ("beginner", 25), ("novice", 20), ("learning", 20),
)  # fmt: skip


def level_percent(value: object) -> int | None:
    """A skill level as 0-100: words (Advanced), stars, ``4/5``, ``80%``, ``3`` (of 5 or 10)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip().casefold()
    full, empty = text.count("★"), text.count("☆")
    ratio: float | None = full / (full + empty) if full + empty else None
    if match := re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:/|of|out of)\s*(\d+(?:\.\d+)?)", text):
        ratio = float(match.group(1)) / float(match.group(2)) if float(match.group(2)) else None
    elif match := re.fullmatch(r"(\d+(?:\.\d+)?)\s*%?", text):
        number = float(match.group(1))
        ratio = number / 5 if number <= 5 else number / 10 if number <= 10 else number / 100
    if ratio is not None:
        return max(0, min(100, round(100 * ratio)))
    for word, percent in _LEVEL_WORDS:
        if re.search(rf"\b{word}\b", text):
            return percent
    return None


def _mentions(texts: list[str], term: str) -> int:
    pattern = re.compile(rf"(?<![\w]){re.escape(term)}(?![\w+#])", re.IGNORECASE)
    return sum(len(pattern.findall(text)) for text in texts)


def skill_levels(
    cv: dict[str, Any], *, by: str, max_items: int
) -> tuple[list[dict[str, Any]], str]:
    """Skills with a 0-100 level, strongest first, and the basis (``skill`` or ``keyword``).

    A stated level (``skills[].level``) is used as is; without one the level is relative to
    how often the skill (its name or keywords) appears in the rest of the CV, plus the number
    of its keywords. ``by="auto"`` charts keywords when there are too few skill entries for a
    chart of categories.
    """
    entries = [e for _, e in _dicts(cv, "skills") if _str(e, "name") or e.get("keywords")]
    keywords = [[k.strip() for k in e.get("keywords", []) if isinstance(k, str) and k.strip()]
                if isinstance(e.get("keywords"), list) else [] for e in entries]  # fmt: skip
    if by == "auto":
        by = "keyword" if len(entries) < 3 and sum(map(len, keywords)) >= 3 else "skill"
    texts = [t for p, t in _strings(cv) if not p.startswith("/skills")]
    rows: list[tuple[str, int | None, int]] = []  # label, stated level, weight
    for entry, words in zip(entries, keywords, strict=True):
        stated = level_percent(entry.get("level"))
        if by == "skill":
            label = _str(entry, "name") or ", ".join(words[:3])
            terms = [t for t in [_str(entry, "name"), *words] if t]
            rows.append((label, stated, sum(_mentions(texts, t) for t in terms) + len(words)))
        else:
            rows += [(word, stated, _mentions(texts, word) + 1) for word in words]
    top = max((weight for _, stated, weight in rows if stated is None), default=0)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for label, stated, weight in rows:
        if label.casefold() in seen:
            continue
        seen.add(label.casefold())
        level = stated if stated is not None else max(10, round(100 * weight / top)) if top else 50
        items.append({"name": label, "level": level,
                      "source": "level" if stated is not None else "mentions"})  # fmt: skip
    items.sort(key=lambda item: -int(item["level"]))
    return items[:max_items], by


# --- QR code ------------------------------------------------------------------------------------
def qr_svg(data: str, *, error: str, color: str) -> tuple[str, dict[str, Any]]:
    """An SVG QR code of ``data`` (dark modules in ``color`` on white), and its parameters."""
    qr = segno.make(data, error=error.lower(), micro=False)
    out = io.BytesIO()
    # omitsize: a viewBox instead of a fixed size, so the page can scale it.
    qr.save(out, kind="svg", xmldecl=False, svgns=True, scale=4, border=4, dark=color,
            light="#ffffff", nl=False, omitsize=True, svgclass=None, lineclass=None)  # fmt: skip
    info = {
        "version": qr.version,
        "errorCorrection": qr.error,
        "modules": qr.symbol_size(scale=1, border=0)[0],
    }
    return out.getvalue().decode("ascii"), info


# --- timeline -----------------------------------------------------------------------------------
_TITLES = {
    "work": ("position", "name"), "education": ("studyType", "institution"),
    "volunteer": ("position", "organization"), "projects": ("name", "entity"),
}  # fmt: skip


def _month(value: str, *, end: bool) -> int | None:
    """Months since year 0 of an ISO date; a bare year is its January (start) or December."""
    if not ISO8601.match(value):
        return None
    month = int(value[5:7]) if len(value) >= 7 else (12 if end else 1)
    return int(value[:4]) * 12 + min(max(month, 1), 12) - 1


def timeline_entries(
    cv: dict[str, Any], *, sections: list[str], descending: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """Dated entries of ``sections`` in date order, each in the lowest lane free at its start.

    Entries that overlap in time get different lanes and list each other in ``overlaps``; an
    entry without an end date is ongoing and overlaps everything after its start (no clock is
    read, so the result does not change with the day). Returns (entries, undated paths).
    """
    rows: list[tuple[int, float, int, int, dict[str, Any]]] = []
    undated: list[str] = []
    for rank, section in enumerate(sections):
        title_key, org_key = _TITLES[section]
        for i, e in _dicts(cv, section):
            start, end = _str(e, "startDate"), _str(e, "endDate")
            first, last = _month(start, end=False), _month(end, end=True)
            if first is None and last is None:
                undated.append(f"/{section}/{i}")
                continue
            first = last if first is None else first
            assert first is not None
            stop: float = float("inf") if last is None else max(last, first)
            title = _str(e, title_key)
            if section == "education" and _str(e, "area"):
                title = f"{title} in {_str(e, 'area')}" if title else _str(e, "area")
            entry: dict[str, Any] = {
                "id": f"{section}-{i}", "section": section, "path": f"/{section}/{i}",
                "title": title or _str(e, org_key), "organisation": _str(e, org_key),
                "start": start if ISO8601.match(start) else end,
                "end": end if last is not None else None,
                "ongoing": last is None,
                "details": [h for h in e.get("highlights", []) if isinstance(h, str)][:5]
                if isinstance(e.get("highlights"), list) else [],
            }  # fmt: skip
            rows.append((first, stop, rank, i, entry))
    rows.sort(key=lambda row: row[:4])
    lanes: list[float] = []  # the last month each lane is busy
    for first, stop, _, _, entry in rows:
        lane = next((n for n, busy in enumerate(lanes) if busy < first), len(lanes))
        lanes[lane : lane + 1] = [stop]
        entry["lane"] = lane
        entry["overlaps"] = [
            other["id"] for f, s, _, _, other in rows
            if other is not entry and f <= stop and first <= s
        ]  # fmt: skip
    entries = [row[4] for row in rows]
    return (entries[::-1] if descending else entries), undated


def timeline_fragment(entries: list[dict[str, Any]]) -> str:
    """An HTML ``<ol>`` of `timeline_entries`, each expandable with ``<details>`` (no script)."""
    titles = {e["id"]: e["title"] for e in entries}
    items = []
    for e in entries:
        start = _time(e["start"]) if e["start"] else ""
        end = "Present" if e["ongoing"] else _time(e["end"] or "")
        when = f"{start} \u2013 {end}" if start and end and e["start"] != e["end"] else start or end
        org = (
            f' <span class="tl-org">{xml_text(e["organisation"])}</span>'
            if e["organisation"]
            else ""
        )
        details = "".join(f"<li>{xml_text(d)}</li>" for d in e["details"])
        overlap = xml_text(", ".join(titles[o] for o in e["overlaps"] if titles.get(o)))
        items.append(
            # The lane indents overlapping entries, so concurrent roles sit side by side.
            f'<li class="tl-item tl-{e["section"]}" style="--lane:{min(e["lane"], 99)}">'
            f'<details><summary><span class="tl-when">{when}</span> '
            f"<strong>{xml_text(e['title'])}</strong>{org}</summary>"
            + (f"<ul>{details}</ul>" if details else "")
            + (f'<p class="tl-overlap">Overlaps with {overlap}</p>' if overlap else "")
            + "</details></li>"
        )
    return f'<ol class="cv-timeline">{"".join(items)}</ol>'


# --- languages ----------------------------------------------------------------------------------
CEFR = ("A1", "A2", "B1", "B2", "C1", "C2", "native")
CEFR_LABELS = {"A1": "Beginner (A1)", "A2": "Elementary (A2)", "B1": "Intermediate (B1)",
               "B2": "Upper intermediate (B2)", "C1": "Advanced (C1)", "C2": "Proficient (C2)",
               "native": "Native"}  # fmt: skip
# Checked in order, so the most specific phrase wins ("limited working proficiency" is B1, not
# "proficien"); the LinkedIn scale maps to A2/B1/B2/C1/native. "Fluent" is C1 rather than C2, so
# as never to overstate.
_FLUENCY = (
    (r"native|mother tongue|bilingual|first language", "native"), (r"limited working", "B1"),
    (r"professional working", "B2"), (r"full professional", "C1"), (r"elementary", "A2"),
    (r"proficien|mastery", "C2"), (r"fluent|advanced", "C1"),
    (r"upper[- ]intermediate|good command|very good", "B2"),
    (r"pre[- ]intermediate|basic|notions|survival", "A2"),
    (r"intermediate|conversational|working knowledge|moderate|good", "B1"),
    (r"beginner|novice|starter|learning", "A1"),
)  # fmt: skip


def cefr(text: str) -> str | None:
    """A CEFR level (A1-C2) or ``native`` from a fluency text; None if it names no level."""
    match = re.search(r"\b([ABC])\s?([12])\b", text, re.IGNORECASE)
    if match:
        return f"{match.group(1).upper()}{match.group(2)}"
    for pattern, level in _FLUENCY:
        if re.search(rf"\b(?:{pattern})", text, re.IGNORECASE):
            return level
    return None


def language_levels(cv: dict[str, Any]) -> list[dict[str, Any]]:
    """Each language with its stated fluency, CEFR level, label and rank (1 = A1 … 7 = native)."""
    out = []
    for i, entry in _dicts(cv, "languages"):
        name = _str(entry, "language") or _str(entry, "name")
        fluency = _str(entry, "fluency") or _str(entry, "level")  # "level": JSON Resume < 1.0
        # "English (native)" in the name field, as some parsers and people write it.
        level = cefr(fluency) if fluency else cefr(name)
        out.append({"path": f"/languages/{i}", "language": name, "fluency": fluency,
                    "level": level, "label": CEFR_LABELS.get(level or "", "Not stated"),
                    "rank": CEFR.index(level) + 1 if level else 0})  # fmt: skip
    return out


def languages_fragment(languages: list[dict[str, Any]]) -> str:
    """An HTML list of `language_levels`, with a ``<meter>`` of each level."""
    items = []
    for lang in languages:
        label = xml_text(lang["label"])
        meter = f'<meter min="0" max="7" value="{lang["rank"]}" title="{label}"></meter>'
        items.append(
            f'<li><span class="lang-name">{xml_text(lang["language"])}</span>'
            f'{meter if lang["rank"] else ""}<span class="level">{label}</span></li>'
        )
    return f'<ul class="cv-languages">{"".join(items)}</ul>'


# --- the visual features ------------------------------------------------------------------------
# Each takes the CV and its validated options (see `features`) and returns (artefacts, summary).
Built = tuple[dict[str, Any], dict[str, Any]]


def skills_chart(cv: dict[str, Any], options: dict[str, Any], *, name: str) -> Built:
    """A bar or radar chart of `skill_levels` (a radar needs three skills, else bars)."""
    chart = options["chart"]
    items, basis = skill_levels(cv, by=options["by"], max_items=options["maxItems"])
    summary: dict[str, Any] = {"chart": chart, "basis": basis, "items": items, "changes": []}
    if not items:
        return {}, {**summary, "skipped": "the CV lists no skills"}
    if chart == "radar" and len(items) < 3:
        chart = summary["chart"] = "bar"
        summary["fallback"] = "a radar chart needs at least three skills"
    color = safe_color(options.get("color"), TEMPLATES["modern"].colors["primary"])
    pairs = [(str(item["name"]), int(item["level"])) for item in items]
    draw = radar_chart if chart == "radar" else bar_chart
    svg = draw(pairs, color=color, title=options["title"])
    return {name: {"mediaType": "image/svg+xml", "content": svg}}, summary


def qr_code(cv: dict[str, Any], options: dict[str, Any]) -> Built:
    """A QR code of the configured URL, else of the CV's website or one of its profiles.

    Only the caller knows a session's share link, so ``target: share-link`` needs ``url``;
    without it the CV's own links are used. ``target: profile`` prefers profiles over the
    website and ``network`` picks one.
    """
    basics = cv.get("basics") if isinstance(cv.get("basics"), dict) else {}
    network = (options.get("network") or "").casefold()
    profiles = [
        (f"/basics/profiles/{i}/url", _str(p, "url"))
        for i, p in _dicts(basics if isinstance(basics, dict) else {}, "profiles")
        if not network or _str(p, "network").casefold() == network
    ]
    website = [("/basics/url", _str(basics, "url"))]
    candidates = [("configuration", options.get("url") or "")]
    candidates += profiles + website if options["target"] == "profile" else website + profiles
    source, data = next(((s, u) for s, u in candidates if u and URL.match(u)), ("", ""))
    if not data:
        reason = "no URL to encode: set configuration.url or add a website or profile to the CV"
        return {}, {"data": None, "skipped": reason, "changes": []}
    svg, info = qr_svg(data, error=options["errorCorrection"], color=safe_color(
        options.get("color"), "#000000"))  # fmt: skip
    return {"qrCode": {"mediaType": "image/svg+xml", "content": svg}}, {
        "data": data, "source": source, **info, "changes": []}  # fmt: skip


def timeline(cv: dict[str, Any], options: dict[str, Any]) -> Built:
    """`timeline_entries` as data and as an HTML fragment."""
    entries, undated = timeline_entries(
        cv, sections=options["sections"], descending=options["order"] == "desc"
    )
    summary: dict[str, Any] = {
        "entries": len(entries), "lanes": max((e["lane"] for e in entries), default=-1) + 1,
        "overlapping": sorted(e["id"] for e in entries if e["overlaps"]), "undated": undated,
        "changes": [],
    }  # fmt: skip
    if not entries:
        return {}, {**summary, "skipped": "no dated entries"}
    return {
        "timeline": {"mediaType": "application/json", "content": entries},
        "timelineHtml": {"mediaType": "text/html", "content": timeline_fragment(entries)},
    }, summary


def languages(cv: dict[str, Any], options: dict[str, Any]) -> Built:
    """`language_levels` as data and HTML; ``rewriteFluency`` writes the labels into ``cv``."""
    levels = language_levels(cv)
    changes = []
    for lang in levels if options["rewriteFluency"] else []:
        entry = cv["languages"][int(lang["path"].rsplit("/", 1)[1])]
        if lang["level"] and entry.get("fluency") != CEFR_LABELS[lang["level"]]:
            entry["fluency"] = CEFR_LABELS[lang["level"]]
            changes.append({"path": f"{lang['path']}/fluency", "action": "normalise",
                            "to": entry["fluency"]})  # fmt: skip
    unrated = [x["path"] for x in levels if not x["level"]]
    summary = {"languages": levels, "unrated": unrated, "changes": changes}
    if not levels:
        return {}, {**summary, "skipped": "the CV lists no languages"}
    return {
        "languages": {"mediaType": "application/json", "content": levels},
        "languagesHtml": {"mediaType": "text/html", "content": languages_fragment(levels)},
    }, summary
