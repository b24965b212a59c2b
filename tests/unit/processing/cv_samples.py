"""Realistic CVs for the generate-phase tests, as JSON Resume objects.

The JSON Resume samples are used as they are; the Reactive Resume ground truths (the JSON the
sample PDFs were rendered from) and the FRESH "Johnny Trouble" resume (markup and odd
characters on purpose) are converted, so the tests see the same people the parser sees.
"""

from __future__ import annotations

import copy
import html
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from cvsession.processing.jsonresume import clean, find_date_range, normalise_date

TESTDATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "testdata"
_JSON_RESUMES = {
    "sample": "sample.resume.json",
    "john-doe": "fresh-test-resumes/jrs/john-doe.json",
    "jane-fullstacker": "fresh-test-resumes/jrs/jane-fullstacker.json",
    "jane-incomplete": "fresh-test-resumes/jrs/jane-incomplete.json",
    "richard-hendriks": "fresh-test-resumes/jrs/richard-hendriks.json",
}
_REACTIVE = ("reactiveresume-azurill", "reactiveresume-pikachu")
NAMES = (*_JSON_RESUMES, *_REACTIVE, "johnny-trouble")
JOB = (
    "Senior Web Developer. We need React, Node.js, TypeScript, Kubernetes, Stripe integrations, "
    "PHP and Python; machine learning a plus."
)


@cache
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((TESTDATA / "jsonresume" / "schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def schema_errors(resume: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(resume)]


def _text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _dates(text: str) -> dict[str, str]:
    found = find_date_range(text or "")
    if not found:
        return {}
    return {k: v for k, v in (("startDate", found[0]), ("endDate", found[1])) if v}


def _reactive(data: dict[str, Any]) -> dict[str, Any]:
    """A Reactive Resume document as JSON Resume."""
    b, sec = data["basics"], data["sections"]
    place = re.fullmatch(r"(.+?),\s*([A-Z]{2})\s+(\d{5})", b["location"])
    location = (
        {"city": place[1], "region": place[2], "postalCode": place[3]}
        if place
        else {"address": b["location"]}
    )

    def items(name: str) -> list[dict[str, Any]]:
        return [i for i in sec[name]["items"] if i.get("visible", True)]

    def bullets(markup: str) -> list[str]:
        return [_text(li) for li in re.findall(r"<li>(.*?)</li>", markup, re.S)]

    resume = {
        "basics": {
            "name": b["name"],
            "label": b["headline"],
            "email": b["email"],
            "phone": b["phone"],
            "url": b["url"]["href"],
            "summary": _text(sec["summary"]["content"]),
            "location": location,
            "profiles": [
                {"network": p["network"], "username": p["username"], "url": p["url"]["href"]}
                for p in items("profiles")
            ],
        },
        "work": [
            {
                "name": w["company"],
                "position": w["position"],
                "location": w["location"],
                "url": w["url"]["href"],
                **_dates(w["date"]),
                "highlights": bullets(w["summary"]),
            }
            for w in items("experience")
        ],
        "education": [
            {
                "institution": e["institution"],
                "studyType": e["studyType"],
                "area": e["area"],
                "score": e["score"],
                **_dates(e["date"]),
            }
            for e in items("education")
        ],
        "skills": [
            {"name": s["name"], "level": s["description"], "keywords": s["keywords"]}
            for s in items("skills")
        ],
        "languages": [
            {"language": lang["name"], "fluency": lang["description"]}
            for lang in items("languages")
        ],
        "certificates": [
            {"name": c["name"], "issuer": c["issuer"], "date": normalise_date(c["date"]) or ""}
            for c in items("certifications")
        ],
        "projects": [
            {"name": p["name"], "description": _text(p["summary"]), "roles": [p["description"]]}
            for p in items("projects")
        ],
        "references": [
            {"name": r["name"], "reference": _text(r["summary"])} for r in items("references")
        ],
    }
    result: dict[str, Any] = clean(resume)
    return result


def _fresh(data: dict[str, Any]) -> dict[str, Any]:
    """A FRESH resume as JSON Resume."""
    contact, loc, info = data["contact"], data["location"], data["info"]
    resume = {
        "basics": {
            "name": data["name"],
            "label": info["label"],
            "summary": info["brief"],
            "email": contact["email"],
            "phone": contact["phone"],
            "url": contact["website"],
            "location": {
                "address": loc["address"],
                "city": loc["city"],
                "region": loc["region"],
                "postalCode": loc["code"],
                "countryCode": loc["country"],
            },
            "profiles": [
                {"network": s["network"], "username": s["user"], "url": s["url"]}
                for s in data["social"]
            ],
        },
        "work": [
            {
                "name": j["employer"],
                "position": j["position"],
                "url": j["url"],
                "startDate": j["start"],
                "summary": j["summary"],
                "highlights": j["highlights"],
            }
            for j in data["employment"]["history"]
        ],
        "education": [
            {
                "institution": e["institution"],
                "studyType": e["title"],
                "startDate": e["start"],
                "endDate": e["end"],
                "score": e["grade"],
                "courses": e["curriculum"],
                "url": e["url"],
            }
            for e in data["education"]["history"]
        ],
        "volunteer": [
            {
                "organization": v["organization"],
                "position": v["position"],
                "startDate": v["start"],
                "endDate": v["end"],
                "summary": v["summary"],
                "highlights": v["highlights"],
            }
            for v in data["service"]["history"]
        ],
        "skills": [
            {"name": s["name"], "level": s["level"], "keywords": s["skills"]}
            for s in data["skills"]["sets"]
        ],
    }
    result: dict[str, Any] = clean(resume)
    return result


@cache
def _load(name: str) -> str:
    if name in _JSON_RESUMES:
        return (TESTDATA / "jsonresume" / _JSON_RESUMES[name]).read_text(encoding="utf-8")
    if name in _REACTIVE:
        path = TESTDATA / "resumes" / "ground_truth" / f"{name}.json"
        return json.dumps(_reactive(json.loads(path.read_text(encoding="utf-8"))))
    path = TESTDATA / "jsonresume" / "fresh-test-resumes" / "fresh" / f"{name}.json"
    return json.dumps(_fresh(json.loads(path.read_text(encoding="utf-8"))))


def sample(name: str) -> dict[str, Any]:
    """A fresh copy of the named sample CV (tests may change it)."""
    resume: dict[str, Any] = json.loads(_load(name))
    return copy.deepcopy(resume)
