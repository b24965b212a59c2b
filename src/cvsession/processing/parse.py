"""Rule-based parser from extracted CV text to the JSON Resume shape (no network, stdlib only)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from cvsession.processing.jsonresume import DATE_RANGE, SINGLE_DATE, clean, find_date_range
from cvsession.processing.jsonresume import strip_dates as _strip_dates

# Large enough for any real CV; bounds the work done on hostile input.
MAX_CHARS = 200_000

_HEADINGS: dict[str, tuple[str, ...]] = {
    "work": ("experience", "work experience", "professional experience", "work history",
             "employment", "employment history", "career history", "relevant experience",
             "work", "professional background", "experience and employment"),
    "education": ("education", "academic background", "education and training",
                  "qualifications", "academic qualifications", "studies"),
    "skills": ("skills", "technical skills", "core skills", "key skills", "competencies",
               "core competencies", "skills and expertise", "technologies", "expertise"),
    "projects": ("projects", "personal projects", "selected projects", "side projects",
                 "open source", "key projects"),
    "languages": ("languages", "language skills", "spoken languages"),
    "certificates": ("certifications", "certificates", "certification", "licenses",
                     "licenses and certifications", "certifications and licenses"),
    "awards": ("awards", "honors", "honours", "honors and awards", "awards and honors",
               "selected honors", "achievements", "awards and achievements"),
    "summary": ("summary", "profile", "about", "about me", "professional summary",
                "overview", "objective", "career objective", "personal statement"),
    "profiles": ("profiles", "links", "social", "online profiles", "contact", "contact me",
                 "contact information", "personal information", "personal details"),
    "other": ("publications", "patents", "invited talks", "talks", "references",
              "interests", "hobbies", "volunteer", "volunteering", "coursework",
              "relevant coursework", "miscellaneous", "activities", "extracurricular activities",
              "leadership", "research", "teaching", "additional information"),
}  # fmt: skip
HEADINGS: dict[str, str] = {}
for _kind, _names in _HEADINGS.items():
    for _name in _names:
        # PDF extraction often loses the "fi" ligature: "Pro les", "Certi cations".
        for _variant in (_name, _name.replace("fi", " "), _name.replace("fi", "")):
            HEADINGS.setdefault(_variant, _kind)

EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}"
)
PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d[\d\s.-]{5,18}\d(?!\w)")
URL_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'|]+|(?<![@\w.])[a-z0-9][a-z0-9-]{0,62}\."
    r"(?:com|me|io|dev|org|net|co|ai|app|info|tech|site|page)(?:/[^\s<>\"'|]*)?(?![\w@])",
    re.IGNORECASE,
)
NETWORKS = {
    "linkedin": "LinkedIn", "github": "GitHub", "gitlab": "GitLab", "twitter": "Twitter",
    "x": "X", "stackoverflow": "StackOverflow", "facebook": "Facebook", "fb": "Facebook",
    "instagram": "Instagram", "youtube": "YouTube", "medium": "Medium", "quora": "Quora",
    "behance": "Behance", "dribbble": "Dribbble", "kaggle": "Kaggle", "mastodon": "Mastodon",
}  # fmt: skip
_NETWORK_URLS = {"LinkedIn": "https://www.linkedin.com/in/", "GitHub": "https://github.com/",
                 "GitLab": "https://gitlab.com/", "Twitter": "https://twitter.com/",
                 "StackOverflow": "https://stackoverflow.com/users/"}  # fmt: skip
ROLE_WORDS = re.compile(
    r"\b(?:intern|engineer|developer|manager|researcher|scientist|cto|ceo|cfo|coo|lead|director"
    r"|analyst|consultant|designer|architect|founder|co-founder|student|assistant|associate"
    r"|officer|specialist|fellow|head|vp|president|administrator|technician|programmer"
    r"|teacher|professor|lecturer|editor|writer|maintainer|owner|partner|advisor|coordinator"
    r"|representative|agent|executive|supervisor)s?\b",
    re.IGNORECASE,
)
INSTITUTION = re.compile(
    r"\b(?:university|universit[éàäy]|college|institute|institut|school|academy|polytechnic"
    r"|conservatory|hochschule|ecole|école|iit|mit|ucla)\b",
    re.IGNORECASE,
)
DEGREE = re.compile(
    r"^(?:ph\.?\s?d\.?|d\.?phil|m\.?\s?eng|b\.?\s?eng|m\.?\s?sc|b\.?\s?sc|m\.?\s?s\.?|b\.?\s?s\.?"
    r"|b\.?\s?a\.?|m\.?\s?a\.?|mba|bachelor(?:'s)?|master(?:'s)?|doctor(?:ate)?|associate"
    r"|diploma|a-levels|high school diploma|ged)(?![a-z])",
    re.IGNORECASE,
)
LEVELS = re.compile(
    r"^(?:native(?: speaker)?|fluent|bilingual|proficient|advanced|intermediate|beginner|basic"
    r"|elementary|conversational|professional(?: working)?(?: proficiency)?|expert|novice"
    r"|limited working proficiency|full professional proficiency|mother tongue|[abc][12])$",
    re.IGNORECASE,
)
LANGUAGE_NAMES = re.compile(
    r"^(?:english|spanish|french|german|italian|portuguese|dutch|russian|chinese|mandarin"
    r"|cantonese|japanese|korean|arabic|hindi|bengali|turkish|polish|swedish|norwegian|danish"
    r"|finnish|greek|hebrew|urdu|persian|farsi|vietnamese|thai|indonesian|malay|ukrainian"
    r"|czech|romanian|hungarian|tamil|telugu|swahili|catalan|tagalog)$",
    re.IGNORECASE,
)
BULLET = re.compile(r"^\s*(?:[•●▪◦‣∙·*\u2013-]|\d{1,2}[.)])\s+")
LOCATION = re.compile(
    r"^[A-Z][\w.' -]{1,30},\s?(?:[A-Z]{2,3}(?:\s\d{4,6})?|[A-Z][^\W\d_]+(?:\s[A-Z][^\W\d_]+)?)$"
)
DURATION = re.compile(r"^\d+\s+(?:years?|yrs?|months?|mos?)(?:\s+\d+\s+(?:months?|mos?))?$", re.I)
PAGE_FOOTER = re.compile(
    r"^(?:.{0,60}\s[-\u2013—]\s\d{1,3}/\d{1,3}|page \d{1,3}(?: of \d{1,3})?)$", re.I
)
_SMALL = {"of", "and", "the", "in", "for", "&", "at", "a", "an", "to", "on", "de", "du", "von"}


def _clean_text(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS])
    out = []
    for raw in text.splitlines():
        # Icon fonts use private-use code points; control characters are never content.
        line = "".join(
            " " if unicodedata.category(ch) in {"Co", "Cc", "Cf", "Cs", "Cn", "Zl", "Zp"} else ch
            for ch in raw
        )
        line = re.sub(r"\s+", " ", line).strip()
        if line and not PAGE_FOOTER.match(line):
            out.append(line)
    return out


def heading_kind(line: str) -> str | None:
    """Return the section kind when ``line`` is a section heading, else None."""
    if len(line) > 50:
        return None
    key = re.sub(r"[^\w& ]+", " ", line.casefold().replace("&", " and "))
    key = re.sub(r"\s+", " ", key).strip()
    return HEADINGS.get(key) if 0 < len(key.split()) <= 5 else None


def _is_location(line: str) -> bool:
    if not LOCATION.match(line) or INSTITUTION.search(line) or DEGREE.match(line):
        return False
    city, region = line.split(",", 1)
    return len(city.split()) <= 3 and not ROLE_WORDS.search(region)


def _is_title(line: str) -> bool:
    """Whether a line looks like an entry title (company, position, institution), not prose."""
    if len(line) > 90 or BULLET.match(line) or line.endswith((",", ";")):
        return False
    if line.endswith(".") and len(line.split()) > 5:
        return False
    if _is_location(line) or DURATION.match(line) or URL_RE.fullmatch(line):
        return False
    words = [w for w in re.findall(r"[^\W\d_][\w'&.+-]*", _strip_dates(line))]
    words = [w for w in words if w.casefold() not in _SMALL]
    if not words:
        return False
    caps = sum(1 for w in words if w[0].isupper())
    return caps / len(words) >= 0.6


def _continues(prev: str, line: str) -> bool:
    """Whether ``line`` is the wrapped continuation of the prose line ``prev``."""
    if not prev or _is_title(prev) or heading_kind(line) or DATE_RANGE.search(line):
        return False
    return len(prev) > 55 and not prev.endswith((".", ":", "!", "?"))


def _is_date_line(line: str) -> bool:
    rest = _strip_dates(line)
    found = DATE_RANGE.search(line) or SINGLE_DATE.search(line)
    return bool(found) and (not rest or _is_location(rest) or bool(DURATION.match(rest)))


def _person_like(line: str) -> bool:
    words = line.split()
    if not 2 <= len(words) <= 4 or heading_kind(line) or ROLE_WORDS.search(line):
        return False
    return all(
        re.fullmatch(r"[^\W\d_][^\W\d_'.-]*(?:['.-][^\W\d_]+)*\.?", w) for w in words
    ) and all(w[0].isupper() for w in words)


def _sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Split lines into (kind, lines); a run of headings shares the content after it."""
    out: list[tuple[str, list[str]]] = [("preamble", [])]
    run: list[str] = []
    for line in lines:
        kind = heading_kind(line)
        if kind:
            run.append(kind)
            continue
        if run:
            if len(run) == 1:
                out.append((run[0], []))
            else:
                out.append(("run:" + ",".join(run), []))
            run = []
        out[-1][1].append(line)
    for kind in run:
        out.append((kind, []))
    split: list[tuple[str, list[str]]] = []
    for kind, body in out:
        if kind.startswith("run:"):
            split.extend(_split_run(kind[4:].split(","), body))
        else:
            split.append((kind, body))
    return split


def _line_scores(line: str) -> dict[str, int]:
    s: dict[str, int] = {}
    low = line.casefold()
    if low in NETWORKS or (re.fullmatch(r"@?[\w.-]{2,30}", line) and line.islower()):
        s["profiles"] = 3 if low in NETWORKS else 1
    if len(re.findall(r"[,•·;]", line)) >= 2 and len(line) < 120 and not line.endswith("."):
        s["skills"] = 3
    if LEVELS.match(line):
        s["skills"] = s["languages"] = 1
    if re.search(r"certif", low):
        s["certificates"] = 3
    if re.fullmatch(r"(?:19|20)\d{2}", line):
        s["certificates"] = s["awards"] = 1
    if re.search(r"\b(?:award|prize|honou?r)", low):
        s["awards"] = 2
    if LANGUAGE_NAMES.match(line):
        s["languages"] = 3
    if DATE_RANGE.search(line):
        s["work"] = s["education"] = 2
    if ROLE_WORDS.search(line) and _is_title(line):
        s["work"] = s.get("work", 0) + 1
        s["projects"] = 1
    if INSTITUTION.search(line):
        s["education"] = 5
    if DEGREE.match(line):
        s["education"] = 3
    if len(line.split()) >= 8 and not BULLET.match(line):
        for kind in ("summary", "work", "projects"):
            s[kind] = s.get(kind, 0) + 1
    return s


def _split_run(kinds: list[str], body: list[str]) -> list[tuple[str, list[str]]]:
    """Assign content to a run of headings in their order, maximising per-line evidence."""
    n, k = len(body), len(kinds)
    scores = [_line_scores(line) for line in body]
    for i, line in enumerate(body):
        ahead = body[i + 1 : i + 4]
        if _is_title(line) and any(DATE_RANGE.search(a) for a in ahead):
            scores[i]["work"] = scores[i].get("work", 0) + 1
        if any(re.fullmatch(r"(?:19|20)\d{2}", a) for a in ahead[:2]):
            scores[i]["certificates"] = scores[i].get("certificates", 0) + 1
    # best[i][j]: best score for the first i lines with line i-1 in section j (monotone in j).
    neg = -(10**9)
    best = [[neg] * k for _ in range(n + 1)]
    back = [[0] * k for _ in range(n + 1)]
    best[0] = [0] * k
    for i in range(1, n + 1):
        running, arg = neg, 0
        for j in range(k):
            if best[i - 1][j] > running:
                running, arg = best[i - 1][j], j
            best[i][j] = running + scores[i - 1].get(kinds[j], 0)
            back[i][j] = arg
    assign = [0] * n
    j = max(range(k), key=lambda c: best[n][c]) if n else 0
    for i in range(n, 0, -1):
        assign[i - 1] = j
        j = back[i][j]
    return [(kind, [body[i] for i in range(n) if assign[i] == c]) for c, kind in enumerate(kinds)]


def _entries(lines: list[str], *, institution_starts: bool = False) -> list[list[str]]:
    """Group a section's lines into entries, each anchored on one date line."""
    entries: list[list[str]] = []
    has_date = prev_title = False
    has_institution = False
    prev = ""
    for line in lines:
        title = _is_title(line) and not _continues(prev, line)
        prev = line
        dated = bool(DATE_RANGE.search(line) or SINGLE_DATE.search(line))
        starts = False
        if institution_starts:
            inst = bool(INSTITUTION.search(line)) and title
            starts = inst and has_institution
            has_institution = has_institution or inst
        elif title and has_date and (not prev_title or (dated and not _is_date_line(line))):
            starts = True
        if starts or not entries:
            entries.append([])
            has_date = False
            has_institution = bool(INSTITUTION.search(line)) and title
        entries[-1].append(line)
        has_date = has_date or dated
        prev_title = title and not _is_date_line(line)
    return entries


def _entry_parts(entry: list[str]) -> tuple[list[str], list[str], tuple[str | None, str | None]]:
    """Return (titles, descriptions, (start, end)) for an entry's lines."""
    titles: list[str] = []
    desc: list[str] = []
    dates: tuple[str | None, str | None] = (None, None)
    found_range = False
    prev = ""
    for line in entry:
        # A wrapped line that starts with a figure ("…resulting in a" / "40% increase…")
        # continues the line before it when that one runs long without ending a sentence.
        wrapped = bool(desc) and line[:1].isdigit() and _continues(prev, line)
        prev = line
        found = find_date_range(line)
        if found and not found_range and (found[2] or dates == (None, None)):
            dates, found_range = (found[0], found[1]), found[2]
        if _is_date_line(line) or _is_location(line) or DURATION.match(line):
            continue
        if URL_RE.fullmatch(line):
            continue
        text = _strip_dates(line) if found else line
        if _is_title(line) and not desc and text:
            titles.append(text)
        elif BULLET.match(line) or not desc or not (wrapped or re.match(r"^[a-z(]", line)):
            desc.append(BULLET.sub("", line))
        else:
            desc[-1] = desc[-1].rstrip("-") + ("" if desc[-1].endswith("-") else " ") + line
    return titles, desc, dates


def _split_title(text: str) -> tuple[str, str]:
    """Split 'Company, Position' / 'Position at Company' / 'A | B' into (first, second)."""
    for sep in (" at ", " @ ", " | ", " — ", " \u2013 ", " - ", ", "):
        if sep in text:
            left, right = (p.strip() for p in text.split(sep, 1))
            if sep == ", " and re.match(r"(?i)^(?:inc|llc|ltd|gmbh|plc|corp)\.?$", right):
                continue
            if sep in (" at ", " @ "):
                return right, left
            return left, right
    return text, ""


def _work(section: list[str]) -> list[dict[str, Any]]:
    out = []
    for entry in _entries(section):
        titles, desc, (start, end) = _entry_parts(entry)
        company = position = ""
        if len(titles) >= 2:
            company, position = titles[0], titles[1]
        elif titles:
            company, position = _split_title(titles[0])
            if not position and ROLE_WORDS.search(company):
                company, position = "", company
        if position and company and ROLE_WORDS.search(company) and not ROLE_WORDS.search(position):
            company, position = position, company
        highlights = [d for d in desc if d]
        if not (company or position or start):
            continue
        out.append({"name": company, "position": position, "startDate": start, "endDate": end,
                    "highlights": highlights})  # fmt: skip
    return out


def _education(section: list[str]) -> list[dict[str, Any]]:
    has_inst = any(INSTITUTION.search(line) for line in section)
    out = []
    for entry in _entries(section, institution_starts=has_inst):
        titles, desc, (start, end) = _entry_parts(entry)
        inst = area = study = score = ""
        for title in titles:
            parts = [p.strip() for p in re.split(r",| \| | \u2013 | — ", title) if p.strip()]
            for idx, part in enumerate(parts):
                if not inst and INSTITUTION.search(part):
                    degree = DEGREE.match(part)
                    if degree and not INSTITUTION.search(degree.group(0)):
                        study = study or part[: degree.end()].strip()
                        part = part[degree.end() :].strip()
                    inst = re.sub(r"\s*\([^)]*\)$", "", part)
                    rest = [p for p in parts[idx + 1 :] if not _is_location(p)]
                    area = area or (rest[0] if rest and not _is_location(", ".join(rest)) else "")
            if not INSTITUTION.search(title) and DEGREE.match(title):
                study = study or title
                match = re.search(r"\bin\s+(.+)$", title, re.IGNORECASE)
                area = area or (match.group(1) if match else "")
        if not inst and titles:
            inst = titles[0]
        for line in desc:
            match = re.search(r"\bGPA:?\s*([\d.]+\s*/\s*[\d.]+|[\d.]+)", line, re.IGNORECASE)
            score = score or (match.group(1) if match else "")
        if start and not end and not DATE_RANGE.search(" ".join(entry)):
            start, end = None, start  # a single date on an education entry is the end date
        if inst or start or end:
            out.append({"institution": inst, "area": area, "studyType": study, "startDate": start,
                        "endDate": end, "score": score})  # fmt: skip
    return out


def _skills(section: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pending = ""
    level = ""
    for raw in section:
        line = BULLET.sub("", raw)
        name, sep, rest = line.partition(":")
        if sep and len(name) <= 40 and rest.strip():
            items, pending = _keywords(rest), ""
            out.append({"name": name.strip(), "keywords": items})
        elif LEVELS.match(line):
            level = line
        elif len(_keywords(line)) >= 2:
            out.append({"name": pending or "Skills", "level": level, "keywords": _keywords(line)})
            pending = level = ""
        elif sep and not rest.strip():
            pending = name.strip()
        else:
            if (pending and len(out) == 0) or (pending and out[-1].get("name") != pending):
                out.append({"name": pending, "level": level, "keywords": []})
            pending, level = line, ""
    if pending:
        out.append({"name": pending, "level": level, "keywords": []})
    return [s for s in out if s.get("name") or s.get("keywords")]


def _keywords(text: str) -> list[str]:
    return [p.strip(" .") for p in re.split(r"[,•·;|]|\s[>=]=?\s", text) if p.strip(" .")]


def _languages(section: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in section:
        line = BULLET.sub("", raw)
        name, sep, rest = line.partition(":")
        if sep and name.strip().casefold() == "languages":
            line = rest
        for part in (p.strip() for p in re.split(r"[,;•]", line) if p.strip()):
            match = re.match(r"^([^\W\d_]+)\s*(?:[-\u2013—:(]\s*)(.+?)\)?$", part)
            if match and LANGUAGE_NAMES.match(match.group(1)):
                out.append({"language": match.group(1), "fluency": match.group(2)})
            elif LEVELS.match(part) and out and "fluency" not in out[-1]:
                out[-1]["fluency"] = part
            elif LANGUAGE_NAMES.match(part) or (len(part.split()) <= 2 and not LEVELS.match(part)):
                out.append({"language": part})
    return out


def _dated_items(section: list[str]) -> list[tuple[list[str], str | None]]:
    """Group lines into items closed by a date (certificates, awards)."""
    items: list[tuple[list[str], str | None]] = []
    current: list[str] = []
    for raw in section:
        line = BULLET.sub("", raw)
        found = find_date_range(line)
        rest = _strip_dates(line) if found else line
        if rest:
            current.append(rest)
        if found or BULLET.match(raw):
            if current:
                date = (found[1] or found[0]) if found else None
                items.append((current, date))
            current = []
    if current:
        items.append((current, None))
    return items


def _projects(section: list[str]) -> list[dict[str, Any]]:
    out = []
    for entry in _entries(section):
        titles, desc, (start, end) = _entry_parts(entry)
        if not titles:
            continue
        out.append({"name": titles[0], "roles": titles[1:2], "startDate": start, "endDate": end,
                    "description": desc[0] if desc and not BULLET.match(desc[0]) else "",
                    "highlights": desc})  # fmt: skip
    return out


def _profiles(lines: list[str], text: str) -> list[dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for url in URL_RE.findall(text):
        match = re.search(r"(?i)(linkedin|github|gitlab|twitter|stackoverflow|medium|kaggle)\.\w+"
                          r"/(?:in/|users/\d+/)?([\w.-]+)", url)  # fmt: skip
        if match:
            network = NETWORKS[match.group(1).casefold()]
            full = url if url.startswith("http") else "https://" + url
            found.setdefault(network, {"network": network, "username": match.group(2), "url": full})
    for line in lines:
        match = re.match(r"^([A-Za-z]+)\s*(?::|://|:\s*//)\s*@?([\w.-]+)$", line)
        if match and match.group(1).casefold() in NETWORKS:
            network = NETWORKS[match.group(1).casefold()]
            found.setdefault(network, {"network": network, "username": match.group(2)})
    return list(found.values())


def _sidebar_profiles(section: list[str]) -> list[dict[str, str]]:
    out, handle = [], ""
    for line in section:
        network = NETWORKS.get(line.casefold())
        if network and handle:
            prefix = _NETWORK_URLS.get(network)
            out.append({"network": network, "username": handle,
                        "url": prefix + handle if prefix else ""})  # fmt: skip
            handle = ""
        elif re.fullmatch(r"@?[\w.-]{2,39}", line):
            handle = line.lstrip("@")
    return out


def _basics(lines: list[str], text: str) -> dict[str, Any]:
    email = EMAIL.search(text)
    phone = next((m.group(0) for m in PHONE.finditer(text) if _phone_ok(m.group(0))), "")
    contact_idx = next((i for i, ln in enumerate(lines) if EMAIL.search(ln)), len(lines))
    name_idx = next(
        (i for i in range(contact_idx - 1, max(contact_idx - 6, -1), -1) if _person_like(lines[i])),
        None,
    )
    if name_idx is None:
        name_idx = next((i for i, ln in enumerate(lines[:40]) if _person_like(ln)), None)
    basics: dict[str, Any] = {"email": email.group(0) if email else "", "phone": phone.strip()}
    if name_idx is not None:
        basics["name"] = lines[name_idx]
        nxt = lines[name_idx + 1] if name_idx + 1 < len(lines) else ""
        plain = not (heading_kind(nxt) or EMAIL.search(nxt) or PHONE.search(nxt))
        if nxt and plain and _is_title(nxt) and not URL_RE.search(nxt) and len(nxt.split()) <= 8:
            basics["label"] = nxt
    window = lines[max(0, (name_idx or 0)) : contact_idx + 3]
    for line in window:
        for url in URL_RE.findall(line):
            if "@" in url or re.search(r"(?i)linkedin|github|twitter|gitlab|stackoverflow", url):
                continue
            basics["url"] = url if url.lower().startswith("http") else "https://" + url
            break
        if "url" in basics:
            break
    for line in window:
        for part in re.split(r"\s[|·•]\s|\s{2,}|(?<=[A-Z]{2})\s(?=\S+@)", line):
            loc = re.match(r"^([A-Z][\w.' -]{1,30}),\s?([A-Z]{2})\b(?:\s\d{5})?", part.strip())
            if loc and "location" not in basics:
                basics["location"] = {"city": loc.group(1).strip(), "region": loc.group(2)}
    return basics


def _phone_ok(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 9 <= len(digits) <= 15 and not DATE_RANGE.search(value)


def parse_resume(text: str) -> dict[str, Any]:
    """Parse CV text into a JSON Resume object; never raises, unknown parts are left out."""
    if not isinstance(text, str):
        return {}
    lines = _clean_text(text)
    joined = "\n".join(lines)
    resume: dict[str, Any] = {"basics": _basics(lines, joined)}
    work: list[dict[str, Any]] = []
    education: list[dict[str, Any]] = []
    skills: list[dict[str, Any]] = []
    languages: list[dict[str, Any]] = []
    certificates: list[dict[str, Any]] = []
    awards: list[dict[str, Any]] = []
    projects: list[dict[str, Any]] = []
    profiles = _profiles(lines, joined)
    summary: list[str] = []
    for kind, body in _sections(lines):
        if kind == "work":
            work += _work(body)
        elif kind == "education":
            education += _education(body)
        elif kind == "skills":
            skills += _skills(body)
        elif kind == "languages":
            languages += _languages(body)
        elif kind == "projects":
            projects += _projects(body)
        elif kind == "summary":
            summary += body
        elif kind == "profiles":
            known = {p["network"] for p in profiles}
            profiles += [p for p in _sidebar_profiles(body) if p["network"] not in known]
        elif kind == "certificates":
            for parts, date in _dated_items(body):
                certificates.append({"name": parts[0], "issuer": " ".join(parts[1:2]),
                                     "date": date})  # fmt: skip
        elif kind == "awards":
            for parts, date in _dated_items(body):
                awards.append({"title": " ".join(parts), "date": date})
    resume["basics"]["profiles"] = profiles
    resume["basics"]["summary"] = " ".join(summary)
    resume.update(work=work, education=education, skills=skills, languages=languages,
                  certificates=certificates, awards=awards, projects=projects)  # fmt: skip
    cleaned: dict[str, Any] = clean(resume)
    return cleaned
