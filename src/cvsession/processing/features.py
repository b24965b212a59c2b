"""Feature generators of the generate phase: pure functions of a CV, its analysis and a config.

`generate_feature` returns one JSON value (str, int, float, bool, None, list, dict)::

    {"featureId": "ats-optimization",
     "cv": {...},                 # JSON Resume: a transformed copy; the input is never mutated
     "artifacts": {name: {"mediaType": "image/svg+xml" | "text/html" | "application/json",
                          "content": str (SVG, HTML fragment) or JSON (application/json)}},
     "summary": {"changes": [{"path": JSON pointer, "action": ..., ...}], ...,
                 "skipped": "why nothing was generated"}}   # "skipped" only when so

The same arguments always give an equal result: no clock, no randomness, no set order, since
the job engine may run a step twice. Nothing is invented: a keyword joins the skills only when
the CV's own text shows it, otherwise it is a suggestion. The visual features (charts, QR code,
timeline, languages) are built in `visuals`; this module validates their options.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

from cvsession.core.catalogue import FEATURES
from cvsession.core.errors import DomainError, InvalidInput
from cvsession.processing import visuals
from cvsession.processing.analyse import _contains, _strings, job_keywords, pii
from cvsession.processing.jsonresume import ISO8601, URL, find_date_range, normalise_date
from cvsession.processing.parse import HEADINGS, ROLE_WORDS

__all__ = ["OPTIONS", "SUPPORTED_FEATURES", "UnknownFeature", "generate_feature"]


class UnknownFeature(DomainError):
    """The feature id has no generator (not in the catalogue, or a feature we do not build)."""

    code = "unknown_feature"
    status = 422


Obj = dict[str, Any]
# A generator gets its own copy of the CV (to change in place), the analysis, validated options
# and the target; it returns (artefacts, summary).
_Generator = Callable[[Obj, dict[str, Any], dict[str, Any], dict[str, Any]], visuals.Built]
_SECTIONS = ("work", "volunteer", "projects", "education", "awards")
_MASK_NAMES = ("maskEmail", "maskPhone", "maskAddress", "maskLocation", "maskDateOfBirth",
               "maskProfiles", "maskPhoto")  # fmt: skip
# Each feature's options: name → (default, kind). Kinds: bool; (low, high) for an integer; a
# tuple of strings to choose from; "text" (1-80 chars); "url?" (absent or an http(s) URL);
# "text?"; "color" (checked where used, falls back to a default); a frozenset → a list of those.
# Defaults missing here come from the catalogue's default_configuration.
OPTIONS: dict[str, dict[str, tuple[Any, Any]]] = {
    "ats-optimization": {"targetScore": (80, (0, 100)), "removeHostileCharacters": (True, bool),
                         "skillsGroup": ("Key skills", "text")},
    "keyword-enhancement": {"maxKeywords": (15, (1, 100)), "addToSkills": (True, bool),
                            "skillsGroup": ("Key skills", "text")},
    "achievement-highlighting": {"reorder": (True, bool),
                                 "sections": (["work", "volunteer", "projects"],
                                              frozenset(_SECTIONS))},
    "skills-visualization": {"chart": ("bar", ("bar", "radar")), "title": ("Skills", "text"),
                             "by": ("auto", ("auto", "skill", "keyword")),
                             "maxItems": (12, (1, 30)), "color": (None, "color")},
    "embed-qr-code": {"target": ("share-link", ("share-link", "website", "profile")),
                      "url": (None, "url?"), "network": (None, "text?"),
                      "errorCorrection": ("M", ("L", "M", "Q", "H")), "color": (None, "color")},
    "interactive-timeline": {"order": ("asc", ("asc", "desc")), "sections": (
        ["work", "education"], frozenset({"work", "education", "volunteer", "projects"}))},
    "language-proficiency": {"rewriteFluency": (False, bool)},
    "privacy-mode": {name: (name not in ("maskLocation", "maskProfiles", "maskPhoto"), bool)
                     for name in _MASK_NAMES},
}  # fmt: skip
OPTIONS["skills-chart"] = {**OPTIONS["skills-visualization"], "chart": ("radar", ("radar",)),
                           "by": ("skill", ("skill",))}  # fmt: skip


def _options(feature_id: str, config: object) -> dict[str, Any]:
    """The feature's options: ``config`` over the catalogue's defaults over ours, validated."""
    given = {
        **FEATURES[feature_id].default_configuration,
        **(config if isinstance(config, dict) else {}),
    }
    out: dict[str, Any] = {}
    for name, (default, kind) in OPTIONS[feature_id].items():
        value = given.get(name, default)
        if kind is bool:
            ok = isinstance(value, bool)
        elif isinstance(kind, tuple) and kind and isinstance(kind[0], int):
            ok = type(value) is int and kind[0] <= value <= kind[1]
        elif isinstance(kind, tuple):
            ok = value in kind
        elif isinstance(kind, frozenset):
            ok = isinstance(value, list) and bool(value) and all(v in kind for v in value)
            value = list(dict.fromkeys(value)) if ok else value
        elif kind in ("text", "text?"):
            ok = (value is None and kind == "text?") or (
                isinstance(value, str) and 0 < len(value.strip()) <= 80)  # fmt: skip
            value = value.strip() if isinstance(value, str) else value
        elif kind == "url?":
            ok = value is None or (isinstance(value, str) and len(value) <= 1000
                                   and URL.match(value) is not None)  # fmt: skip
        else:
            ok = True
        if not ok:
            raise InvalidInput(f"configuration {name!r} of {feature_id} is not valid", field=name)
        out[name] = value
    return out


def generate_feature(
    feature_id: str,
    cv: Obj,
    analysis: dict[str, Any],
    config: dict[str, Any],
    *,
    target: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply feature ``feature_id`` to ``cv`` and return ``{featureId, cv, artifacts, summary}``.

    ``analysis`` is `analyse.analyse(cv, ...)`; ``config`` the feature's configuration from the
    session, over the defaults in `OPTIONS` and the catalogue; ``target`` the session's
    ``{role, jobDescription}``, which when given is the source of job keywords (else the
    analysis' keywords). Raises `UnknownFeature` for an id not in `SUPPORTED_FEATURES`, and
    `InvalidInput` for a configuration value out of range or a CV that is not JSON.
    """
    generator = _GENERATORS.get(feature_id) if isinstance(feature_id, str) else None
    if generator is None:
        known = isinstance(feature_id, str) and feature_id in FEATURES
        raise UnknownFeature(
            f"feature {str(feature_id)[:60]!r} "
            + ("has no generator" if known else "is not in the catalogue")
            + f"; supported: {', '.join(SUPPORTED_FEATURES)}",
            featureId=str(feature_id)[:60],
        )
    options = _options(feature_id, config)
    try:
        doc = json.loads(json.dumps(cv if isinstance(cv, dict) else {}, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the CV is not JSON: {exc}") from None
    facts = analysis if isinstance(analysis, dict) else {}
    artifacts, summary = generator(doc, facts, options, target if isinstance(target, dict) else {})
    return {"featureId": feature_id, "cv": doc, "artifacts": artifacts, "summary": summary}


# --- text helpers -------------------------------------------------------------------------------
def _entries(cv: Obj, section: str) -> list[tuple[int, dict[str, Any]]]:
    items = cv.get(section)
    return (
        [(i, e) for i, e in enumerate(items) if isinstance(e, dict)]
        if isinstance(items, list)
        else []
    )


def _str(obj: object, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value.strip() if isinstance(value, str) else ""


def _map_strings(value: Any, fn: Callable[[str, str], str], path: str = "") -> Any:
    """``value`` with every string (and object key) replaced by ``fn(path, text)``."""
    if isinstance(value, dict):
        return {fn(path, k): _map_strings(v, fn, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn, f"{path}/{i}") for i, v in enumerate(value)]
    return fn(path, value) if isinstance(value, str) else value


def _replace_all(cv: Obj, fn: Callable[[str, str], str]) -> None:
    """Apply `_map_strings` to ``cv`` in place (generators own their copy)."""
    new = {key: _map_strings(value, fn, f"/{key}") for key, value in cv.items()}
    cv.clear()
    cv.update(new)


# Text that says what someone did, as opposed to contact details, links and the skills list.
_NOT_EVIDENCE = re.compile(
    r"^/(?:skills|references|meta|\$schema)(?:/|$)|^/basics/(?:name|email|phone|image|url"
    r"|location|profiles)(?:/|$)|/url$"
)


def _pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(term)}(?![\w+#])", re.IGNORECASE)


def _evidence(cv: Obj, term: str) -> tuple[str, str] | None:
    """(JSON pointer, matched text) of the first place outside the skills that shows ``term``."""
    pattern = _pattern(term)
    for path, text in _strings(cv):
        match = None if _NOT_EVIDENCE.search(path) else pattern.search(text)
        if match:
            return path, match.group(0)
    return None


def _haystack(value: Any) -> str:
    return "\n".join(text for _, text in _strings(value)).casefold()


def _score(cv: Obj, keywords: list[str]) -> int:
    """The score of `analyse.ats` for ``keywords``: the share found anywhere in the CV."""
    haystack = _haystack(cv)
    found = sum(1 for k in keywords if _contains(haystack, k))
    return round(100 * found / len(keywords)) if keywords else 0


def _job(analysis: dict[str, Any], target: dict[str, Any]) -> tuple[list[str], str]:
    """The job's keywords and text: from the target if it has any, else from the analysis."""
    role, jd = _str(target, "role"), _str(target, "jobDescription")
    if role or jd:
        return job_keywords(jd, role), f"{role}\n{jd}"
    ats = analysis.get("ats")
    words = ats.get("keywords") if isinstance(ats, dict) else None
    found = [k.casefold() for k in words if isinstance(k, str)] if isinstance(words, list) else []
    return list(dict.fromkeys(found)), ""


_SENIORITY = frozenset({"senior", "junior", "principal", "staff", "chief", "mid", "entry", "level"})


def _is_role(keyword: str) -> bool:
    """A job title word ("senior", "developer"): the CV's titles match it, skills should not."""
    return keyword in _SENIORITY or ROLE_WORDS.fullmatch(keyword) is not None


def _add_to_skills(cv: Obj, group: str, terms: list[str]) -> list[dict[str, Any]]:
    """Append ``terms`` to the skills entry named ``group`` (created if needed)."""
    skills = cv.setdefault("skills", []) if terms else None
    if not isinstance(skills, list):
        return []
    named = [i for i, e in _entries(cv, "skills") if _str(e, "name").casefold() == group.casefold()]
    if not named:
        skills.append({"name": group, "keywords": []})
    index = named[0] if named else len(skills) - 1
    keywords = skills[index].setdefault("keywords", [])
    if not isinstance(keywords, list):
        return []
    keywords += terms
    start = len(keywords) - len(terms)
    return [{"path": f"/skills/{index}/keywords/{start + n}", "action": "add", "value": term}
            for n, term in enumerate(terms)]  # fmt: skip


# --- ats-optimization ---------------------------------------------------------------------------
_KINDS = {"work", "education", "skills", "projects", "languages", "certificates", "awards"}
_SECTION_ALIASES = {
    **{heading: kind for heading, kind in HEADINGS.items() if kind in _KINDS},
    "volunteering": "volunteer", "volunteer experience": "volunteer", "hobbies": "interests",
    "jobs": "work", "positions": "work", "schools": "education",
}  # fmt: skip
_STANDARD = frozenset({"basics", "volunteer", "publications", "interests", "references", "meta",
                       "$schema", *_KINDS})  # fmt: skip
_DATE_KEYS = ("startDate", "endDate", "date", "releaseDate")
_PRESENT = re.compile(r"(?i)^\s*(?:present|current|now|today|ongoing|to date)\s*$")
_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"',
    "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ", "\u2002": " ", "\u2003": " ",
    "\u2007": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\t": " ", "\u2022": "-",
    "\u25cf": "-", "\u25aa": "-", "\u25e6": "-", "\u2023": "-", "\u2219": "-", "\u27a2": "-",
}  # fmt: skip
_LEADING_BULLET = re.compile("^[\u2022\u25cf\u25aa\u25e6\u2023\u2219\u27a2\u25a0\u25ba\u2713"
                             "\u2714\u2192\u00bb*]\\s*")  # fmt: skip
_DROPPED_CATEGORIES = frozenset({"Co", "Cc", "Cf", "Cs", "Cn", "So"})


def _ats_char(ch: str) -> str | None:
    """The replacement of an ATS-hostile character ("" drops it); None for a harmless one."""
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    if "\ufb00" <= ch <= "\ufb06":  # ligatures: "ﬁ" reads as nothing to some parsers
        return unicodedata.normalize("NFKC", ch)
    # Icons (private use), controls, zero-width and bidi marks, emoji with their variation
    # selectors and skin-tone modifiers: parsers drop or garble them.
    if ch != "\n" and (
        unicodedata.category(ch) in _DROPPED_CATEGORIES
        or "\ufe00" <= ch <= "\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
    ):
        return ""
    return None


def _ats_text(text: str) -> tuple[str, list[str]]:
    """``text`` with ATS-hostile characters replaced or removed, and the characters found."""
    found: list[str] = []
    match = _LEADING_BULLET.match(text)
    if match:
        found.append(match.group(0)[0])
        text = text[match.end() :]
    out = []
    for ch in text:
        replacement = _ats_char(ch)
        out.append(ch if replacement is None else replacement)
        if replacement is not None:
            found.append(ch)
    if not found:
        return text, found
    return re.sub(r" {2,}", " ", "".join(out)).strip(" "), found


def _rename_sections(cv: Obj) -> list[dict[str, Any]]:
    """Move sections kept under other names ("experience", "workHistory") to their JSON Resume
    key, appending to what is there."""
    changes: list[dict[str, Any]] = []
    out: Obj = {}
    for key, value in cv.items():
        words = re.sub(r"(?<=[a-z])(?=[A-Z])|[_-]", " ", key).casefold()
        kind = None if key in _STANDARD else _SECTION_ALIASES.get(words)
        if kind and isinstance(value, list) and isinstance(cv.get(kind, []), list):
            out[kind] = [*(out[kind] if kind in out else cv.get(kind, [])), *value]
            changes.append({"path": f"/{key}", "action": "rename-section", "to": f"/{kind}"})
        elif key not in out:
            out[key] = value
    cv.clear()
    cv.update(out)
    return changes


# JSON Resume before 1.0 named these fields differently (its fixtures still do).
_OLD_FIELDS = {
    "work": {"company": "name", "website": "url"}, "volunteer": {"website": "url"},
    "awards": {"website": "url"}, "publications": {"website": "url"},
    "projects": {"website": "url"}, "education": {"gpa": "score"},
    "languages": {"name": "language", "level": "fluency"},
}  # fmt: skip


def _rename_fields(cv: Obj) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for section, renames in _OLD_FIELDS.items():
        for i, entry in _entries(cv, section):
            for old, new in renames.items():
                if old in entry and new not in entry:
                    entry[new] = entry.pop(old)
                    changes.append({"path": f"/{section}/{i}/{old}", "action": "rename-field",
                                    "to": f"/{section}/{i}/{new}"})  # fmt: skip
    return changes


def _normalise_dates(cv: Obj) -> list[dict[str, Any]]:
    """Dates in the schema's ISO 8601 form; "Present" end dates and non-dates removed."""
    changes: list[dict[str, Any]] = []
    for section in list(cv):
        for i, entry in _entries(cv, section):
            for key in _DATE_KEYS:
                value = entry.get(key)
                if key not in entry or (isinstance(value, str) and ISO8601.match(value)):
                    continue
                path, text = f"/{section}/{i}/{key}", str(value)
                found = find_date_range(text) if isinstance(value, str | int) else None
                if key == "endDate" and _PRESENT.match(text):
                    del entry[key]
                    changes.append({"path": path, "action": "remove-date", "reason": "ongoing"})
                elif found and found[0]:
                    end = found[1] if key == "endDate" and found[2] and found[1] else None
                    entry[key] = normalise_date(text) or end or found[0]
                    if found[2] and key == "startDate" and found[1] and "endDate" not in entry:
                        entry["endDate"] = found[1]  # "2019 - 2021" held in startDate
                    changes.append({"path": path, "action": "normalise-date", "from": text,
                                    "to": entry[key]})  # fmt: skip
                else:
                    del entry[key]
                    changes.append({"path": path, "action": "remove-date", "from": text,
                                    "reason": "not a date"})  # fmt: skip
    return changes


def _ats_optimization(cv: Obj, analysis: Obj, options: Obj, target: Obj) -> visuals.Built:
    remove = options["removeHostileCharacters"]
    keywords, _ = _job(analysis, target)
    before = _score(cv, keywords)
    changes = _rename_sections(cv) + _rename_fields(cv) + _normalise_dates(cv)
    hostile: Counter[str] = Counter()

    def clean(path: str, text: str) -> str:
        cleaned, found = _ats_text(text)
        hostile.update(found)
        if found:
            changes.append({"path": path, "action": "clean-text" if remove else "flag-text"})
        return cleaned if remove else text

    _replace_all(cv, clean)
    skills = _haystack(cv.get("skills", []))
    moved, missing = [], []
    for keyword in (k for k in keywords if not _is_role(k)):
        found = None if _contains(skills, keyword) else _evidence(cv, keyword)
        if found:
            moved.append(found[1] if found[1].casefold() == keyword else keyword)
        elif not _contains(skills, keyword):
            missing.append(keyword)
    changes += _add_to_skills(cv, options["skillsGroup"], moved)
    after, goal = _score(cv, keywords), options["targetScore"]
    characters = [
        {"char": f"U+{ord(ch):04X}", "name": unicodedata.name(ch, "?"), "count": n,
         "action": ("replaced" if ch in _REPLACEMENTS else "removed") if remove else "flagged"}
        for ch, n in sorted(hostile.items())
    ]  # fmt: skip
    return {}, {
        "score": {"before": before, "after": after, "target": goal, "meetsTarget": after >= goal},
        "keywords": {"total": len(keywords), "movedToSkills": moved, "missing": missing,
                     "roleWords": [k for k in keywords if _is_role(k)]},
        "hostileCharacters": characters,
        "changes": changes,
    }  # fmt: skip


# --- keyword-enhancement ------------------------------------------------------------------------
# Names for the same thing: a CV that says one shows the job keyword that says another.
_SYNONYMS = (
    ("javascript", "js", "ecmascript"), ("kubernetes", "k8s"), ("postgresql", "postgres"),
    ("machine learning", "ml"), ("artificial intelligence", "ai"),
    ("natural language processing", "nlp"), ("ci/cd", "continuous integration",
    "continuous delivery", "continuous deployment"), ("amazon web services", "aws"),
    ("google cloud platform", "gcp", "google cloud"), ("azure", "microsoft azure"),
    ("react", "react.js", "reactjs"), ("node.js", "nodejs"), ("vue", "vue.js", "vuejs"),
    ("golang", "go"), ("c#", "csharp"), ("user experience", "ux"), ("user interface", "ui"),
    ("microservices", "micro services", "microservice"), ("rest api", "rest apis", "restful"),
    ("search engine optimization", "seo"), ("a/b testing", "split testing"),
    ("test driven development", "tdd"), ("object oriented", "oop"), ("sql", "mysql", "t-sql"),
)  # fmt: skip
# "Go" (the verb) is no evidence of Golang, nor is "SQL" of MySQL: these count one way only.
_ONE_WAY = {"go", "sql"}
_VARIANTS: dict[str, list[str]] = {}
for _group in _SYNONYMS:
    for _term in _group:
        _VARIANTS.setdefault(_term, []).extend(t for t in _group if t not in (_term, *_ONE_WAY))


def _variants(term: str) -> list[str]:
    """``term`` and the spellings that show the same skill: synonyms, -ise/-ize, plurals."""
    out = [term, *_VARIANTS.get(term, [])]
    for a, b in (("ization", "isation"), ("ize", "ise"), ("izing", "ising"), ("ized", "ised")):
        if term.endswith(a):
            out.append(term[: -len(a)] + b)
        elif term.endswith(b) and len(term) > 6:
            out.append(term[: -len(b)] + a)
    if len(term) > 4 and term.endswith("s") and not term.endswith(("ss", "us", "is")):
        out.append(term[:-1])
    elif len(term) > 3 and term[-1].isalpha():
        out.append(term + "s")
    if "-" in term:
        out.append(term.replace("-", " "))
    return list(dict.fromkeys(out))


def _casing(term: str, text: str) -> str:
    """``term`` spelt as ``text`` spells it, if it does."""
    match = _pattern(term).search(text)
    return match.group(0) if match else term


def _keyword_enhancement(cv: Obj, analysis: Obj, options: Obj, target: Obj) -> visuals.Built:
    limit = options["maxKeywords"]
    keywords, job_text = _job(analysis, target)
    skills = _haystack(cv.get("skills", []))
    added: list[dict[str, Any]] = []
    suggestions: list[dict[str, str]] = []
    for keyword in (k for k in keywords if not _contains(skills, k) and not _is_role(k)):
        found = next(((v, e) for v in _variants(keyword) if (e := _evidence(cv, v))), None)
        if found is None or len(added) >= limit:
            reason = (f"shown in your CV; over the limit of {limit}" if found else
                      "not shown in your CV: add it only if you have this experience")  # fmt: skip
            suggestions.append({"keyword": _casing(keyword, job_text), "reason": reason})
            continue
        via, (path, text) = found
        term = text if via == keyword else _casing(keyword, job_text)
        added.append({"keyword": term, "evidence": {"path": path, "text": text}})
    before = _score(cv, keywords)
    add = options["addToSkills"]
    changes = (
        _add_to_skills(cv, options["skillsGroup"], [a["keyword"] for a in added]) if add else []
    )
    return {}, {
        "score": {"before": before, "after": _score(cv, keywords)},
        "keywords": {"total": len(keywords), "added": added if add else [],
                     "supported": added, "suggestions": suggestions},
        "changes": changes,
    }  # fmt: skip


# --- achievement-highlighting -------------------------------------------------------------------
_METRIC = re.compile(
    r"(?P<currency>[$£€¥₹]\s?\d[\d,.]*(?:\s?(?:k|m|bn|b|million|billion|thousand)\b)?"
    r"|\b\d[\d,.]*\s?(?:k|m|bn|million|billion|thousand)?\s?(?:usd|eur|gbp|dollars|euros"
    r"|pounds)\b)"
    r"|(?P<percent>\d[\d,.]*\s?(?:%|percent\b|per cent\b|percentage points\b))"
    r"|(?P<multiplier>\b\d+(?:\.\d+)?\s?[x\u00d7](?!\w)|\b(?:doubled|tripled|quadrupled|halved)\b)"
    r"|(?P<number>(?<![\w./-])(?!(?:19|20)\d{2}\b)\d[\d,.]*\+?"
    r"(?:\s?(?:k|m|bn|million|billion|thousand|tb|gb|pb)\b)?(?![\w%]))",
    re.IGNORECASE,
)
_IMPACT = re.compile(
    r"\b(?:increas|reduc|decreas|cut|grew|grow|improv|boost|sav|generat|accelerat|rais|exceed"
    r"|deliver|launch|won|achiev|lower|expand|drove|driv|scal|eliminat|optimi[sz]|streamlin"
    r"|led|lead|doubl|tripl|halv|shipp|built|creat)\w*",
    re.IGNORECASE,
)
_WEIGHTS = {"currency": 3, "percent": 3, "multiplier": 3, "number": 1}


def _achievement(text: object) -> dict[str, Any] | None:
    """Metrics and impact verbs in ``text`` with a strength score; None if unquantified."""
    if not isinstance(text, str):
        return None
    metrics = [(m.lastgroup or "number", m.group(0).rstrip(".,+ ")) for m in _METRIC.finditer(text)]
    if not metrics:
        return None
    verbs = list(dict.fromkeys(m.group(0).casefold() for m in _IMPACT.finditer(text)))
    kinds = {kind for kind, _ in metrics}
    score = sum(_WEIGHTS[k] for k in kinds) + (1 if verbs else 0)
    return {"metrics": [value for _, value in metrics], "kinds": sorted(kinds), "verbs": verbs,
            "score": score}  # fmt: skip


def _sentences(path: str, text: str) -> list[dict[str, Any]]:
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        marks = _achievement(sentence)
        if marks:
            found.append({"path": path, "text": sentence, **marks})
    return found


def _achievement_highlighting(cv: Obj, analysis: Obj, options: Obj, target: Obj) -> visuals.Built:
    found = _sentences("/basics/summary", _str(cv.get("basics"), "summary"))
    changes: list[dict[str, Any]] = []
    unquantified: list[str] = []
    for section in options["sections"]:
        for i, entry in _entries(cv, section):
            for key in ("summary", "description"):
                found += _sentences(f"/{section}/{i}/{key}", _str(entry, key))
            highlights = entry.get("highlights")
            if not isinstance(highlights, list) or not highlights:
                continue
            marks = [_achievement(h) for h in highlights]
            order = list(range(len(highlights)))
            if options["reorder"]:  # quantified first, strongest first; stable otherwise
                order.sort(key=lambda j: (marks[j] is None, -(marks[j] or {"score": 0})["score"]))
            if order != sorted(order):
                entry["highlights"] = [highlights[j] for j in order]
                changes.append({"path": f"/{section}/{i}/highlights", "action": "reorder",
                                "from": order})  # fmt: skip
            for new, old in enumerate(order):
                if mark := marks[old]:
                    path = f"/{section}/{i}/highlights/{new}"
                    found.append({"path": path, "text": highlights[old], **mark})
            if not any(marks):
                unquantified.append(f"/{section}/{i}/highlights")
    strongest = sorted(range(len(found)), key=lambda k: -found[k]["score"])[:3]
    return {"achievements": {"mediaType": "application/json", "content": found}}, {
        "found": len(found), "top": [found[k]["text"] for k in strongest],
        "unquantified": unquantified, "changes": changes,
    }  # fmt: skip


# --- privacy-mode -------------------------------------------------------------------------------
_MASKS = {"email": "maskEmail", "phone": "maskPhone", "address": "maskAddress",
          "postcode": "maskAddress", "date_of_birth": "maskDateOfBirth",
          "profile_url": "maskProfiles", "username": "maskProfiles"}  # fmt: skip
# Fields that hold nothing but a personal detail: (mask, path, kind, scrub the value elsewhere).
# The city is not scrubbed from work entries: there it is where a job was, not a home.
_FIELDS = (
    ("maskEmail", r"/basics/email", "email", True), ("maskPhone", r"/basics/phone", "phone", True),
    ("maskAddress", r"/basics/location/(?:address|postalCode)", "address", True),
    ("maskLocation", r"/basics/location/\w+", "location", False),
    ("maskProfiles", r"/basics/profiles/\d+/(?:url|username)", "profile", True),
    ("maskPhoto", r"/basics/image", "photo", False),
)  # fmt: skip
_WHOLE_FIELD = re.compile(r"/(?:email|phone|url|image|username|postalCode|address)$")
_MIN_SCRUB = 3  # shorter values would blank out ordinary words


def _remove(cv: Obj, path: str) -> bool:
    """Delete the object member at JSON pointer ``path``; False if there is none."""
    *parents, last = path.strip("/").split("/")
    node: Any = cv
    for key in parents:
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    return False


def _labels(secrets: dict[str, str]) -> dict[str, str]:
    """Kind → replacement text, never one that contains a secret (a username "hidden")."""
    out = {kind: f"[{kind.replace('_', ' ')} hidden]" for kind in sorted(set(secrets.values()))}
    clash = any(s.casefold() in label.casefold() for s in secrets for label in out.values())
    return {kind: "[\u2022\u2022\u2022]" for kind in out} if clash else out


def _scrub(cv: Obj, secrets: dict[str, str], changes: list[dict[str, Any]]) -> None:
    """Replace each secret, in any letter case, in every string of ``cv`` by its kind's label."""
    ordered = sorted(secrets, key=lambda v: (-len(v), v))  # longest first: no partial leftovers
    finder = re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)
    kinds = {v.casefold(): k for v, k in secrets.items()}
    labels = _labels(secrets)
    fallback = labels[min(labels)]

    def redact(path: str, text: str) -> str:
        if not finder.search(text):
            return text
        changes.append({"path": path, "action": "redact"})
        return finder.sub(
            lambda m: labels.get(kinds.get(m.group(0).casefold(), ""), fallback), text
        )

    _replace_all(cv, redact)


def _privacy(cv: Obj, analysis: Obj, options: Obj, target: Obj) -> visuals.Built:
    secrets: dict[str, str] = {}  # value → kind; each is scrubbed from every string of the CV
    changes: list[dict[str, Any]] = []
    for mask, pattern, kind, scrub in _FIELDS:
        for path, text in [
            (p, t) for p, t in _strings(cv) if options[mask] and re.fullmatch(pattern, p)
        ]:
            if scrub and len(text.strip()) >= _MIN_SCRUB:
                secrets.setdefault(text.strip(), kind)
            if _remove(cv, path):
                changes.append({"path": path, "action": "remove", "kind": kind})
    basics = cv.get("basics")
    if isinstance(basics, dict) and basics.get("location") == {}:
        del basics["location"]
    stated = analysis.get("pii")
    findings = [f for f in (stated if isinstance(stated, list) else []) if isinstance(f, dict)]
    # Detectors may see a detail only once its neighbours are gone, so look again after each
    # pass; the passes are the same on a re-run.
    for attempt in range(3):
        fresh = 0
        for f in [*findings, *pii(cv)]:
            kind, path, value = (str(f.get(k, "")).strip() for k in ("kind", "path", "value"))
            if options.get(_MASKS.get(kind, ""), False) and len(value) >= _MIN_SCRUB:
                fresh += value not in secrets
                secrets.setdefault(value, kind)
                if _WHOLE_FIELD.search(path) and _remove(cv, path):
                    changes.append({"path": path, "action": "remove", "kind": kind})
        findings = []
        if (attempt and not fresh) or not secrets:
            break
        _scrub(cv, secrets, changes)
    removed = Counter(c["kind"] for c in changes if c["action"] == "remove")
    return {}, {
        "removed": dict(sorted(removed.items())),
        "redacted": sorted({c["path"] for c in changes if c["action"] == "redact"}),
        "changes": changes,
    }


_GENERATORS: dict[str, _Generator] = {
    "ats-optimization": _ats_optimization,
    "keyword-enhancement": _keyword_enhancement,
    "achievement-highlighting": _achievement_highlighting,
    "skills-visualization": lambda cv, _a, o, _t: visuals.skills_chart(cv, o, name="skillsChart"),
    "skills-chart": lambda cv, _a, o, _t: visuals.skills_chart(cv, o, name="skillsRadar"),
    "embed-qr-code": lambda cv, _a, o, _t: visuals.qr_code(cv, o),
    "interactive-timeline": lambda cv, _a, o, _t: visuals.timeline(cv, o),
    "language-proficiency": lambda cv, _a, o, _t: visuals.languages(cv, o),
    "privacy-mode": _privacy,
}
SUPPORTED_FEATURES: tuple[str, ...] = tuple(_GENERATORS)
