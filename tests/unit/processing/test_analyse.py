"""Resume analysis: ATS keywords, suggestions and PII with JSON pointers."""

from __future__ import annotations

from typing import Any

from cvsession.processing.analyse import analyse, job_keywords

RESUME: dict[str, Any] = {
    "basics": {
        "name": "Ann Lee",
        "email": "ann@example.com",
        "location": {"address": "12 Baker Street", "postalCode": "NW1 6XE", "city": "London"},
        "summary": "Engineer. Date of birth: 01/02/1990.",
        "profiles": [
            {"network": "GitHub", "username": "annlee", "url": "https://github.com/annlee"}
        ],
    },
    "work": [
        {
            "name": "Acme",
            "position": "ML Engineer",
            "startDate": "2020-01",
            "highlights": ["Built machine learning pipelines in Python", "word " * 45],
        },
        {"name": "Globex", "position": "Intern"},
    ],
    "skills": [{"name": "Tools", "keywords": ["Python", "Docker"]}],
}
JD = "We need Python, Kubernetes and machine learning experience; CI/CD and Docker a plus."


def test_job_keywords_keep_technical_phrases() -> None:
    """Multiword technical terms stay whole and stopwords are dropped."""
    assert ["machine learning", "ci/cd", "python", "kubernetes", "docker"] == job_keywords(JD)


def test_ats_matched_missing_and_score() -> None:
    """Job keywords are split into matched and missing with a percentage score."""
    result = analyse(RESUME, job_description=JD)["ats"]
    assert ["machine learning", "python", "docker"] == result["matched"]
    assert ["ci/cd", "kubernetes"] == result["missing"]
    assert 60 == result["score"]


def test_target_role_counts_as_keywords() -> None:
    """The target role contributes keywords when no job description is given."""
    result = analyse(RESUME, target_role="Python Engineer")["ats"]
    assert (["python", "engineer"], [], 100) == (
        result["matched"],
        result["missing"],
        result["score"],
    )


def test_suggestions_with_paths() -> None:
    """Missing contact details, dates, numbers and long bullets are suggested with pointers."""
    found = [(s["id"], s["path"]) for s in analyse(RESUME)["suggestions"]]
    assert [
        ("missing-phone", "/basics/phone"),
        ("unquantified-highlights", "/work/0/highlights"),
        ("long-bullet", "/work/0/highlights/1"),
        ("missing-dates", "/work/1"),
    ] == found


def test_empty_resume_suggestions() -> None:
    """An empty resume gets the high-severity basics suggestions and never raises."""
    ids = [s["id"] for s in analyse({})["suggestions"]]
    assert [
        "missing-name",
        "missing-email",
        "missing-phone",
        "missing-summary",
        "missing-work",
        "missing-skills",
    ] == ids


def test_pii_found_with_paths() -> None:
    """E-mail, address, postcode, date of birth, handle and profile URL are reported by path."""
    found = [(p["kind"], p["path"], p["value"]) for p in analyse(RESUME)["pii"]]
    assert [
        ("email", "/basics/email", "ann@example.com"),
        ("address", "/basics/location/address", "12 Baker Street"),
        ("postcode", "/basics/location/postalCode", "NW1 6XE"),
        ("date_of_birth", "/basics/summary", "01/02/1990"),
        ("username", "/basics/profiles/0/username", "annlee"),
        ("profile_url", "/basics/profiles/0/url", "https://github.com/annlee"),
    ] == found


def test_analyse_is_deterministic() -> None:
    """The same input gives the same output."""
    assert analyse(RESUME, job_description=JD) == analyse(RESUME, job_description=JD)
