"""The JSON Resume (v1.2.1) shape: date normalisation and a structural clean-up.

The third-party schema is not shipped with the package; tests validate against
``../shared/testdata/jsonresume/schema.json``. This module makes sure what we emit follows it:
only known value types, dates matching its ``iso8601`` pattern, URLs that are absolute URLs.
"""

from __future__ import annotations

import re
from typing import Any

# The schema's definitions/iso8601 pattern, verbatim.
ISO8601 = re.compile(
    r"^([1-2][0-9]{3}-[0-1][0-9]-[0-3][0-9]|[1-2][0-9]{3}-[0-1][0-9]|[1-2][0-9]{3})$"
)
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?" \
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"  # fmt: skip
_YEAR = r"(?:19|20)\d{2}"
# One date: "Jan 2020", "Sept. 2018", "2019-03", "2019/03", "09/2018", "2017".
DATE = (
    rf"(?:{_MONTH}\.?,?\s*{_YEAR}|{_YEAR}[-/](?:0?[1-9]|1[0-2])(?![\d])"
    rf"|(?:0?[1-9]|1[0-2])[/.]{_YEAR}|{_YEAR})"
)
PRESENT = r"(?:present|current|now|today|ongoing|to date)"
DATE_RANGE = re.compile(
    rf"(?<![\w/])(?P<start>{DATE})\s*(?:[-\u2010-\u2015\u2212~]|\bto\b|\buntil\b|\btill\b)\s*"
    rf"(?P<end>{DATE}|{PRESENT})(?![\w/])",
    re.IGNORECASE,
)
SINGLE_DATE = re.compile(rf"(?<![\w/])(?P<date>{DATE})(?![\w/])", re.IGNORECASE)
_PRESENT_RE = re.compile(rf"^{PRESENT}$", re.IGNORECASE)


def normalise_date(text: str) -> str | None:
    """Return ``text`` as ``YYYY-MM`` or ``YYYY``; None for Present/Current/Now or no date."""
    value = text.strip().strip(".,").strip()
    if not value or _PRESENT_RE.match(value):
        return None
    lowered = value.casefold()
    match = re.fullmatch(rf"({_MONTH})\.?,?\s*({_YEAR})", lowered)
    if match:
        return f"{match.group(2)}-{MONTHS[match.group(1)]:02d}"
    match = re.fullmatch(rf"({_YEAR})[-/](\d{{1,2}})", lowered)
    if match and 1 <= int(match.group(2)) <= 12:
        return f"{match.group(1)}-{int(match.group(2)):02d}"
    match = re.fullmatch(rf"(\d{{1,2}})[/.]({_YEAR})", lowered)
    if match and 1 <= int(match.group(1)) <= 12:
        return f"{match.group(2)}-{int(match.group(1)):02d}"
    match = re.fullmatch(_YEAR, lowered)
    return match.group(0) if match else None


def find_date_range(text: str) -> tuple[str | None, str | None, bool] | None:
    """Return (start, end, found) for the first date range or single date in ``text``."""
    match = DATE_RANGE.search(text)
    if match:
        return normalise_date(match.group("start")), normalise_date(match.group("end")), True
    single = SINGLE_DATE.search(text)
    if single:
        return normalise_date(single.group("date")), None, False
    return None


def strip_dates(text: str) -> str:
    """Remove date ranges and single dates from ``text`` and tidy the separators left."""
    text = DATE_RANGE.sub(" ", text)
    text = re.sub(rf"(?:expected|grad\.?)?\s*{SINGLE_DATE.pattern}", " ", text, flags=re.I)
    text = re.sub(r"\(\s*\)|\[\s*\]", " ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \t-\u2013\u2014|,;:·•")


_DATE_KEYS = {"startDate", "endDate", "date", "releaseDate", "lastModified"}
_URL_KEYS = {"url", "image", "canonical"}


def clean(value: Any, key: str = "") -> Any:
    """Drop empty values, dates not matching the schema and URLs that are not URLs."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            cleaned = clean(v, str(k))
            if cleaned not in (None, "", [], {}):
                out[str(k)] = cleaned
        return out
    if isinstance(value, list):
        items = [clean(v, key) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    if isinstance(value, str):
        value = value.strip()
        if key in _DATE_KEYS and not ISO8601.match(value):
            return None
        if key in _URL_KEYS and not URL.match(value):
            return None
        return value
    if isinstance(value, bool | int | float):
        return value
    return None
