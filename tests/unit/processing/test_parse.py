"""Rule-based CV parser: schema validity, ground truth fields, dates, sections, robustness."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvsession.processing.jsonresume import normalise_date
from cvsession.processing.parse import heading_kind, parse_resume

TESTDATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "testdata"
RESUMES = TESTDATA / "resumes"
CVS = sorted(p.name for p in RESUMES.iterdir() if p.suffix in {".pdf", ".docx"})


@cache
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((TESTDATA / "jsonresume" / "schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def errors(resume: dict[str, Any]) -> list[str]:
    return [e.message for e in validator().iter_errors(resume)]


@cache
def cv_text(name: str) -> str:
    """The CV's text: the project's extractor, as the pipeline does."""
    from cvsession.processing.extract import extract_text

    return extract_text((RESUMES / name).read_bytes()).text


@pytest.mark.parametrize("name", CVS)
def test_every_cv_parses_to_valid_json_resume(name: str) -> None:
    """Every sample CV parses to an object that validates against the JSON Resume schema."""
    resume = parse_resume(cv_text(name))
    assert [] == errors(resume)
    assert resume.get("work") or resume.get("education")


@pytest.mark.parametrize(
    ("name", "person", "email"),
    [
        ("rendercv-classic.pdf", "John Doe", "john.doe@email.com"),
        ("reactiveresume-azurill.pdf", "John Doe", "john.doe@gmail.com"),
        ("reactiveresume-pikachu.pdf", "John Doe", "john.doe@gmail.com"),
    ],
)
def test_ground_truth_name_and_email(name: str, person: str, email: str) -> None:
    """Name and e-mail match the ground truth exactly, including the sidebar-first layout."""
    basics = parse_resume(cv_text(name))["basics"]
    assert (person, email) == (basics.get("name"), basics.get("email"))


@pytest.mark.parametrize("name", ["reactiveresume-azurill.pdf", "reactiveresume-pikachu.pdf"])
def test_reactive_resume_work_education_and_skills(name: str) -> None:
    """Companies, positions, dates, institution and skill keywords match the source JSON."""
    resume = parse_resume(cv_text(name))
    work = [
        (w.get("name"), w.get("position"), w.get("startDate"), w.get("endDate"))
        for w in resume["work"]
    ]
    assert [
        ("Creative Solutions Inc.", "Senior Web Developer", "2019-01", None),
        ("TechAdvancers", "Web Developer", "2016-06", "2018-12"),
    ] == work
    edu = resume["education"][0]
    assert ("University of California", "2012-08", "2016-05") == (
        edu["institution"],
        edu["startDate"],
        edu["endDate"],
    )
    assert "(555) 123-4567" == resume["basics"]["phone"]
    keywords = {k for s in resume["skills"] for k in s["keywords"]}
    assert {"HTML5", "React.js", "Docker", "JIRA"} <= keywords


def test_rendercv_experience_and_education() -> None:
    """The one-column rendercv CV yields its five jobs and two degrees with dates."""
    resume = parse_resume(cv_text("rendercv-classic.pdf"))
    assert [
        "Nexus AI",
        "NVIDIA Research",
        "Google DeepMind",
        "Apple ML Research",
        "Microsoft Research",
    ] == [w["name"] for w in resume["work"]]
    assert [
        ("Princeton University", "PhD", "2018-09", "2023-05"),
        ("Boğaziçi University", "BS", "2014-09", "2018-06"),
    ] == [
        (e["institution"], e["studyType"], e["startDate"], e["endDate"])
        for e in resume["education"]
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jan 2020", "2020-01"),
        ("Sept. 2018", "2018-09"),
        ("January 2019", "2019-01"),
        ("2019-03", "2019-03"),
        ("2019/3", "2019-03"),
        ("09/2018", "2018-09"),
        ("2017", "2017"),
        ("Present", None),
        ("current", None),
        ("Now", None),
        ("13/2018", None),
        ("2019-13", None),
        ("", None),
        ("spring", None),
    ],
)
def test_normalise_date(text: str, expected: str | None) -> None:
    """Dates normalise to the schema's YYYY-MM / YYYY; Present and nonsense give None."""
    assert expected == normalise_date(text)


@pytest.mark.parametrize(
    ("line", "start", "end"),
    [
        ("Acme Corp, Engineer\nJan 2020 \u2013 Present", "2020-01", None),
        ("Acme Corp, Engineer\n2019-03 to 2021-06", "2019-03", "2021-06"),
        ("Acme Corp, Engineer\n09/2018 - 06/2020", "2018-09", "2020-06"),
        ("Acme Corp, Engineer\n2017 \u2013 2019", "2017", "2019"),
    ],
)
def test_work_date_ranges(line: str, start: str, end: str | None) -> None:
    """Date ranges in the common forms become startDate/endDate; Present leaves no endDate."""
    work = parse_resume(f"Experience\n{line}")["work"][0]
    assert (start, end) == (work.get("startDate"), work.get("endDate"))


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("EXPERIENCE", "work"),
        ("Work Experience", "work"),
        ("Employment History:", "work"),
        ("Education", "education"),
        ("Technical Skills", "skills"),
        ("Projects", "projects"),
        ("Languages", "languages"),
        ("Certi cations", "certificates"),
        ("Certifications", "certificates"),
        ("Pro les", "profiles"),
        ("Honors & Awards", "awards"),
        ("Summary", "summary"),
        ("About Me", "summary"),
        ("Profile", "summary"),
        ("I worked at Acme", None),
        ("Languages: Python, C++", None),
    ],
)
def test_heading_kind(line: str, kind: str | None) -> None:
    """Section headings are recognised case-insensitively, with ligature-damaged variants."""
    assert kind == heading_kind(line)


def test_company_position_separators() -> None:
    """'Position at Company', 'Company | Position' and 'Company, Position' split correctly."""
    text = (
        "Experience\nSoftware Engineer at Globex\n2018 \u2013 2019\n"
        "INITECH | DATA ANALYST\nMar 2016 - Feb 2018\nUmbrella Corp, Lead Chemist\n2014 \u2013 2016"
    )
    work = parse_resume(text)["work"]
    assert [
        ("Globex", "Software Engineer"),
        ("INITECH", "DATA ANALYST"),
        ("Umbrella Corp", "Lead Chemist"),
    ] == [(w["name"], w["position"]) for w in work]


def test_contacts_profiles_and_sections() -> None:
    """Contacts, profiles, skills, languages and certificates are read from a plain CV."""
    text = (
        "Jane Q Smith\nData Scientist\nBerlin | jane@example.org | +49 30 1234 5678 | "
        "github.com/janeqs\nSkills\nLanguages: Python, SQL\nLanguages\nEnglish - Native, "
        "German - Fluent\nCertifications\nAWS Certified ML Specialty\nAmazon\n2021"
    )
    resume = parse_resume(text)
    assert [] == errors(resume)
    basics = resume["basics"]
    assert ("Jane Q Smith", "Data Scientist", "jane@example.org", "+49 30 1234 5678") == (
        basics["name"],
        basics["label"],
        basics["email"],
        basics["phone"],
    )
    assert [{"network": "GitHub", "username": "janeqs", "url": "https://github.com/janeqs"}] == (
        basics["profiles"]
    )
    assert [{"name": "Languages", "keywords": ["Python", "SQL"]}] == resume["skills"]
    assert [
        {"language": "English", "fluency": "Native"},
        {"language": "German", "fluency": "Fluent"},
    ] == resume["languages"]
    assert [{"name": "AWS Certified ML Specialty", "issuer": "Amazon", "date": "2021"}] == (
        resume["certificates"]
    )


def test_blns_strings_give_valid_objects() -> None:
    """Every naughty string, alone and as a whole document, parses to a valid object."""
    strings = json.loads((TESTDATA / "blns.json").read_text(encoding="utf-8"))
    for s in strings:
        assert [] == errors(parse_resume(s))
    assert [] == errors(parse_resume("\n".join(strings)))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_text_gives_valid_object(text: str) -> None:
    """Any unicode text parses without raising to an object valid against the schema."""
    assert [] == errors(parse_resume(text))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Experience",
                "Education",
                "Skills",
                "John Smith",
                "Jan 2020 \u2013 Present",
                "2019-03 to 2021-06",
                "Acme, Engineer",
                "• Did 5 things",
                "University of Life",
                "Python, Go, Rust",
                "x@y.io",
                "English",
                "Native",
                "2017",
                "https://example.com",
                "Certifications",
                "Pro les",
                "",
            ]
        ),
        max_size=40,
    ).map("\n".join)
)
def test_cv_shaped_text_gives_valid_object(text: str) -> None:
    """Random arrangements of CV-like lines parse to an object valid against the schema."""
    assert [] == errors(parse_resume(text))


def test_a_wrapped_line_starting_with_a_figure_continues_its_bullet() -> None:
    """A bullet wrapped before '40% increase…' stays one highlight; a short line ending a
    sentence followed by a figure-led line stays two."""
    text = "\n".join([
        "Jane Roe",
        "EXPERIENCE",
        "Acme Corp",
        "Senior Web Developer",
        "January 2019 to Present",
        "Spearheaded the redesign of the main product website, resulting in a",
        "40% increase in user engagement.",
        "Shipped the new checkout.",
        "3 patents filed on payment routing.",
    ])  # fmt: skip
    highlights = parse_resume(text)["work"][0]["highlights"]
    assert [
        "Spearheaded the redesign of the main product website, resulting in a 40% increase in "
        "user engagement.",
        "Shipped the new checkout.",
        "3 patents filed on payment routing.",
    ] == highlights
