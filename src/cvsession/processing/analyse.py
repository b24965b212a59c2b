"""Analysis of a JSON Resume: ATS keywords against a job, improvement suggestions, PII."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cvsession.processing.parse import EMAIL, PHONE, _phone_ok

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "being",
        "below",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "during",
        "each",
        "etc",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "more",
        "most",
        "must",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "per",
        "plus",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "us",
        "very",
        "via",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "you",
        "your",
        "yours",
        "able",
        "ability",
        "across",
        "strong",
        "excellent",
        "good",
        "great",
        "work",
        "working",
        "role",
        "team",
        "teams",
        "join",
        "looking",
        "experience",
        "experienced",
        "years",
        "year",
        "candidate",
        "candidates",
        "responsibilities",
        "requirements",
        "required",
        "preferred",
        "including",
        "include",
        "includes",
        "using",
        "use",
        "used",
        "new",
        "knowledge",
        "skills",
        "skill",
        "understanding",
        "familiarity",
        "proficiency",
        "proficient",
        "company",
        "opportunity",
        "seeking",
        "ideal",
        "ideally",
        "based",
        "well",
        "etc",
        "e.g",
        "i.e",
        "part",
        "full",
        "time",
        "day",
        "days",
        "help",
        "helps",
        "make",
        "makes",
        "build",
        "building",
        "environment",
        "plus",
        "bonus",
        "nice",
        "need",
        "needs",
        "want",
        "wants",
        "seek",
    ]
)
# Multiword terms kept whole when they appear in the job description.
PHRASES = (
    "machine learning", "deep learning", "computer vision", "natural language processing",
    "data science", "data engineering", "data analysis", "distributed systems", "ci/cd",
    "continuous integration", "continuous delivery", "unit testing", "test driven development",
    "project management", "product management", "software engineering", "web development",
    "cloud computing", "site reliability", "infrastructure as code", "rest api", "rest apis",
    "large language models", "reinforcement learning", "system design", "micro services",
    "microservices", "version control", "agile", "scrum", "user experience", "a/b testing",
)  # fmt: skip
TOKEN = re.compile(r"[a-z0-9][a-z0-9+#./-]*[a-z0-9+#]|[a-z0-9]")
POSTCODE = re.compile(
    r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]{2}\s\d{5}(?:-\d{4})?|\d{5}-\d{4})\b"
)
STREET = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd"
    r"|Drive|Dr|Way|Court|Ct|Place|Pl|Square|Sq)\b\.?"
)
BIRTH = re.compile(
    r"(?i)\b(?:date of birth|d\.?o\.?b\.?|born(?: on)?|birth ?date)\s*:?\s*"
    r"([0-3]?\d[./-][01]?\d[./-](?:19|20)\d{2}|(?:19|20)\d{2}-[01]\d-[0-3]\d"
    r"|[0-3]?\d\s+[A-Za-z]+\s+(?:19|20)\d{2}|[A-Za-z]+\s+[0-3]?\d,?\s+(?:19|20)\d{2})"
)
HANDLE_URL = re.compile(
    r"(?i)(?:https?://)?(?:www\.)?(?:linkedin\.com/in|github\.com|gitlab\.com|twitter\.com|x\.com"
    r"|instagram\.com|facebook\.com|medium\.com/@?|stackoverflow\.com/users/\d+)/?[\w.-]+"
)
LONG_BULLET_WORDS = 40


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield (JSON pointer, text) for every string in ``value``, in document order."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}/{index}")
    elif isinstance(value, str):
        yield path, value


def job_keywords(job_description: str, target_role: str = "") -> list[str]:
    """Keywords of a job: known multiword terms first, then other non-stopword tokens, deduped."""
    text = f"{target_role}\n{job_description}".casefold()
    found: list[str] = []
    for phrase in PHRASES:
        if re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", text) and phrase not in found:
            found.append(phrase)
            text = re.sub(rf"(?<![\w]){re.escape(phrase)}(?![\w])", " ", text)
    for token in TOKEN.findall(text):
        token = token.strip(".-/")
        if len(token) < 2 or token in STOPWORDS or token.isdigit() or token in found:
            continue
        found.append(token)
    return found


def _contains(haystack: str, keyword: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(keyword)}(?![\w+#])", haystack) is not None


def ats(
    resume: dict[str, Any], *, target_role: str = "", job_description: str = ""
) -> dict[str, Any]:
    """Keywords of the job found and missing in the resume, and a 0-100 score."""
    haystack = "\n".join(text for _, text in _strings(resume)).casefold()
    keywords = job_keywords(job_description, target_role)
    matched = [k for k in keywords if _contains(haystack, k)]
    missing = [k for k in keywords if k not in matched]
    score = round(100 * len(matched) / len(keywords)) if keywords else 0
    return {"keywords": keywords, "matched": matched, "missing": missing, "score": score}


def suggestions(resume: dict[str, Any]) -> list[dict[str, str]]:
    """Improvements to the resume, each with a stable id, severity, message and JSON pointer."""
    out: list[dict[str, str]] = []

    def add(id_: str, severity: str, message: str, path: str) -> None:
        out.append({"id": id_, "severity": severity, "message": message, "path": path})

    basics = resume.get("basics") if isinstance(resume.get("basics"), dict) else {}
    assert isinstance(basics, dict)
    if not basics.get("name"):
        add("missing-name", "high", "Add your name.", "/basics/name")
    if not basics.get("email"):
        add("missing-email", "high", "Add an e-mail address so employers can reach you.",
            "/basics/email")  # fmt: skip
    if not basics.get("phone"):
        add("missing-phone", "medium", "Add a phone number.", "/basics/phone")
    if not basics.get("summary"):
        add("missing-summary", "medium", "Add a short summary of who you are and what you seek.",
            "/basics/summary")  # fmt: skip
    work = resume.get("work") if isinstance(resume.get("work"), list) else []
    assert isinstance(work, list)
    if not work:
        add("missing-work", "high", "Add your work experience.", "/work")
    if not resume.get("skills"):
        add("missing-skills", "medium", "List your skills.", "/skills")
    for section in ("work", "education", "projects"):
        entries = resume.get(section)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict):
                continue
            if section != "projects" and not entry.get("startDate") and not entry.get("endDate"):
                add("missing-dates", "medium", "Add start and end dates.", f"/{section}/{i}")
            highlights = entry.get("highlights")
            if not isinstance(highlights, list):
                continue
            if (
                section == "work"
                and highlights
                and not any(re.search(r"\d", str(h)) for h in highlights)
            ):
                add("unquantified-highlights", "low",
                    "Quantify at least one achievement (numbers, percentages, amounts).",
                    f"/{section}/{i}/highlights")  # fmt: skip
            for j, highlight in enumerate(highlights):
                if len(str(highlight).split()) > LONG_BULLET_WORDS:
                    add("long-bullet", "low",
                        f"Shorten this bullet to under {LONG_BULLET_WORDS} words.",
                        f"/{section}/{i}/highlights/{j}")  # fmt: skip
    return out


def pii(resume: dict[str, Any]) -> list[dict[str, str]]:
    """Personal data in the resume, for privacy mode: kind, JSON pointer and the value found."""
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str, str]] = set()

    def add(kind: str, path: str, value: str) -> None:
        if (kind, path, value) not in seen:
            seen.add((kind, path, value))
            out.append({"kind": kind, "path": path, "value": value})

    for path, text in _strings(resume):
        if path.endswith("/network"):
            continue
        for match in EMAIL.finditer(text):
            add("email", path, match.group(0))
        for match in PHONE.finditer(text):
            if _phone_ok(match.group(0)) and not path.endswith(("Date", "/date")):
                add("phone", path, match.group(0).strip())
        for match in STREET.finditer(text):
            add("address", path, match.group(0))
        for match in POSTCODE.finditer(text):
            add("postcode", path, match.group(0))
        for match in BIRTH.finditer(text):
            add("date_of_birth", path, match.group(1))
        for match in HANDLE_URL.finditer(text):
            add("profile_url", path, match.group(0))
        if re.fullmatch(r"/basics/profiles/\d+/username", path):
            add("username", path, text)
    return out


def analyse(
    resume: dict[str, Any], *, target_role: str = "", job_description: str = ""
) -> dict[str, Any]:
    """ATS keyword analysis, improvement suggestions and PII found in ``resume``; deterministic."""
    if not isinstance(resume, dict):
        resume = {}
    return {
        "ats": ats(resume, target_role=target_role, job_description=job_description),
        "suggestions": suggestions(resume),
        "pii": pii(resume),
    }
