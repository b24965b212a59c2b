"""Feature generators: result shape, schema validity, determinism and each feature's behaviour."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest
import segno

from cvsession.core.errors import DomainError, InvalidInput
from cvsession.processing.analyse import analyse
from cvsession.processing.features import SUPPORTED_FEATURES, UnknownFeature, generate_feature
from cvsession.processing.visuals import cefr, is_safe_svg
from tests.unit.processing.cv_samples import JOB, NAMES, sample, schema_errors

SVG = "{http://www.w3.org/2000/svg}"
MEDIA_TYPES = {"image/svg+xml", "text/html", "application/json"}
REQUIRED = {
    "ats-optimization",
    "keyword-enhancement",
    "achievement-highlighting",
    "skills-visualization",
    "embed-qr-code",
    "interactive-timeline",
    "language-proficiency",
    "privacy-mode",
}


def run(
    feature: str,
    cv: dict[str, Any],
    config: dict[str, Any] | None = None,
    job: str = JOB,
    analysis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The feature on ``cv`` with the pipeline's own analysis of it against ``job``."""
    target = {"role": "", "jobDescription": job}
    facts = analysis if analysis is not None else analyse(cv, job_description=job)
    return generate_feature(feature, cv, facts, config or {}, target=target)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def tags(fragment: str) -> list[str]:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser.tags


def test_required_features_are_supported() -> None:
    """Every feature of the brief has a generator."""
    assert set() == REQUIRED - set(SUPPORTED_FEATURES)


@pytest.mark.parametrize("name", NAMES)
def test_samples_are_json_resume(name: str) -> None:
    """The sample CVs (and the converted ground truths) validate against the schema."""
    assert [] == schema_errors(sample(name))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("feature", SUPPORTED_FEATURES)
def test_result_is_valid_json_deterministic_and_pure(feature: str, name: str) -> None:
    """Any feature on any sample: JSON, a schema-valid cv, equal twice, input left unchanged."""
    cv = sample(name)
    first = run(feature, cv)
    assert sample(name) == cv
    assert first == run(feature, sample(name))
    assert first == json.loads(json.dumps(first, allow_nan=False))
    assert (feature, ["artifacts", "cv", "featureId", "summary"]) == (
        first["featureId"],
        sorted(first),
    )
    assert [] == schema_errors(first["cv"])
    assert isinstance(first["summary"]["changes"], list)
    for artifact in first["artifacts"].values():
        assert artifact["mediaType"] in MEDIA_TYPES
        if artifact["mediaType"] == "image/svg+xml":
            assert f"{SVG}svg" == ET.fromstring(artifact["content"]).tag
            assert is_safe_svg(artifact["content"])
        elif artifact["mediaType"] == "text/html":
            assert tags(artifact["content"]) and "script" not in tags(artifact["content"])


def test_unknown_feature_is_a_domain_error() -> None:
    """An id outside the catalogue, or one without a generator, is refused with a stable code."""
    with pytest.raises(UnknownFeature) as unknown:
        generate_feature("teleport", sample("sample"), {}, {})
    with pytest.raises(UnknownFeature) as premium:
        generate_feature("generate-podcast", sample("sample"), {}, {})
    assert isinstance(unknown.value, DomainError)
    assert ("unknown_feature", "unknown_feature") == (unknown.value.code, premium.value.code)
    assert "not in the catalogue" in unknown.value.message
    assert "has no generator" in premium.value.message


@pytest.mark.parametrize(
    ("feature", "config"),
    [
        ("keyword-enhancement", {"maxKeywords": "ten"}),
        ("keyword-enhancement", {"maxKeywords": 0}),
        ("skills-visualization", {"chart": "pie"}),
        ("embed-qr-code", {"url": "javascript:alert(1)"}),
        ("privacy-mode", {"maskEmail": "yes"}),
        ("interactive-timeline", {"sections": ["work", "hobbies"]}),
        ("ats-optimization", {"targetScore": True}),
    ],
)
def test_bad_configuration_is_invalid_input(feature: str, config: dict[str, Any]) -> None:
    """A configuration value of the wrong type or range is refused, naming the field."""
    with pytest.raises(InvalidInput) as caught:
        run(feature, sample("sample"), config)
    assert next(iter(config)) == caught.value.detail["field"]


# --- ats-optimization ---------------------------------------------------------------------------
def test_ats_moves_keywords_the_text_shows_into_skills() -> None:
    """Job keywords found in work text but not in skills join the skills; absent ones do not."""
    cv = sample("reactiveresume-azurill")
    result = run("ats-optimization", cv)
    keywords = result["summary"]["keywords"]
    assert ["Node.js", "Stripe"] == keywords["movedToSkills"]
    assert {"typescript", "kubernetes", "machine learning"} <= set(keywords["missing"])
    assert {"name": "Key skills", "keywords": ["Node.js", "Stripe"]} == result["cv"]["skills"][-1]
    assert "typescript" not in json.dumps(result["cv"]).casefold()


def test_ats_score_is_the_analysis_score_before_and_after() -> None:
    """The before/after scores are what `analyse` reports for the input and the output."""
    cv = sample("johnny-trouble")
    result = run("ats-optimization", cv, job="Security director, phone-screen, GT, summary")
    score = result["summary"]["score"]
    assert (
        analyse(cv, job_description="Security director, phone-screen, GT, summary")["ats"]["score"]
        == score["before"]
    )
    after = analyse(result["cv"], job_description="Security director, phone-screen, GT, summary")
    assert (after["ats"]["score"], 80) == (score["after"], score["target"])


def test_ats_replaces_and_removes_hostile_characters() -> None:
    """Dashes and quotes become ASCII, icons, emoji and zero-width characters go, bullets too."""
    cv = sample("johnny-trouble")
    cv["work"][0]["highlights"] += [
        "\u2022 Cut costs \u201cfast\u201d \U0001f680\u200b",
        "\ue0b0 Led",
    ]
    result = run("ats-optimization", cv)
    out = result["cv"]
    assert "1-999-888-7777" == out["basics"]["phone"]
    assert ['Cut costs "fast"', "Led"] == out["work"][0]["highlights"][-2:]
    found = {c["char"]: c["action"] for c in result["summary"]["hostileCharacters"]}
    assert {
        "U+2014": "replaced",
        "U+1F680": "removed",
        "U+200B": "removed",
        "U+E0B0": "removed",
        "U+2022": "replaced",
    } == {
        k: v for k, v in found.items() if k in {"U+2014", "U+1F680", "U+200B", "U+E0B0", "U+2022"}
    }
    assert {"path": "/basics/phone", "action": "clean-text"} in result["summary"]["changes"]


def test_ats_only_flags_when_removal_is_off() -> None:
    """With removeHostileCharacters off the text is kept and the characters are reported."""
    result = run("ats-optimization", sample("johnny-trouble"), {"removeHostileCharacters": False})
    assert "1\u2014999\u2014888\u20137777" != result["cv"]["basics"]["phone"]
    assert "1\u2014999\u2014888\u20147777" == result["cv"]["basics"]["phone"]
    assert {"flagged"} == {c["action"] for c in result["summary"]["hostileCharacters"]}


def test_ats_normalises_sections_fields_and_dates() -> None:
    """Sections under other names, pre-1.0 field names and free-text dates become JSON Resume."""
    cv = sample("jane-fullstacker")
    cv["experience"] = [
        {"company": "Acme", "position": "Dev", "startDate": "Jan 2020", "endDate": "Present"}
    ]
    cv["work"][1]["endDate"] = "sometime"
    cv["education"][0]["startDate"] = "2001 - 2005"
    cv["education"][0].pop("endDate", None)
    assert schema_errors(cv)
    result = run("ats-optimization", cv)
    out = result["cv"]
    assert [] == schema_errors(out)
    assert "experience" not in out
    assert {"name": "Acme", "position": "Dev", "startDate": "2020-01"} == out["work"][-1]
    assert "Area 52" == out["work"][0]["name"] and "company" not in out["work"][0]
    assert "endDate" not in out["work"][1]
    assert ("2001", "2005") == (out["education"][0]["startDate"], out["education"][0]["endDate"])
    actions = {(c["path"], c["action"]) for c in result["summary"]["changes"]}
    assert {
        ("/experience", "rename-section"),
        ("/work/0/company", "rename-field"),
        ("/work/1/endDate", "remove-date"),
    } <= actions


def test_ats_keywords_come_from_the_analysis_without_a_target() -> None:
    """Without a target the analysis' keywords are used, so a stored analysis suffices."""
    cv = sample("reactiveresume-azurill")
    facts = analyse(cv, job_description="Stripe and Twilio")
    result = generate_feature("ats-optimization", cv, facts, {})
    assert ["Stripe", "Twilio"] == result["summary"]["keywords"]["movedToSkills"]


# --- keyword-enhancement ------------------------------------------------------------------------
def test_keywords_added_only_with_evidence_including_synonyms() -> None:
    """A synonym in the text ("k8s") supports the job's term; an absent skill is a suggestion."""
    cv = sample("reactiveresume-pikachu")
    cv["work"][0]["highlights"].append("Moved 12 services to k8s.")
    result = run("keyword-enhancement", cv, job="Kubernetes, Terraform and Twilio")
    keywords = result["summary"]["keywords"]
    assert [
        ("Kubernetes", "/work/0/highlights/3", "k8s"),
        ("Twilio", "/work/1/highlights/1", "Twilio"),
    ] == [(a["keyword"], a["evidence"]["path"], a["evidence"]["text"]) for a in keywords["added"]]
    assert ["Terraform"] == [s["keyword"] for s in keywords["suggestions"]]
    assert "terraform" not in json.dumps(result["cv"]).casefold()
    assert ["Kubernetes", "Twilio"] == result["cv"]["skills"][-1]["keywords"]
    assert result["summary"]["score"]["after"] > result["summary"]["score"]["before"]


def test_keyword_limit_and_suggestions_only_mode() -> None:
    """maxKeywords caps additions; addToSkills off leaves the CV as it was."""
    cv = sample("reactiveresume-azurill")
    capped = run("keyword-enhancement", cv, {"maxKeywords": 1}, job="Node.js, Stripe")
    assert ["Node.js"] == [a["keyword"] for a in capped["summary"]["keywords"]["added"]]
    assert ["Stripe"] == [s["keyword"] for s in capped["summary"]["keywords"]["suggestions"]]
    only = run("keyword-enhancement", cv, {"addToSkills": False}, job="Node.js, Stripe")
    assert (cv, 2) == (only["cv"], len(only["summary"]["keywords"]["supported"]))


# --- achievement-highlighting -------------------------------------------------------------------
def test_quantified_highlights_move_first() -> None:
    """Highlights with metrics lead, strongest first; the rest keep their order."""
    cv = sample("reactiveresume-azurill")
    result = run("achievement-highlighting", cv)
    assert [
        "Optimized application performance, achieving a 30% reduction in load times.",
        "Collaborated in a team of 10 to develop high-quality web applications using React.js "
        "and Node.js.",
        "Managed the integration of third-party services such as Stripe for payments and Twilio "
        "for SMS services.",
    ] == result["cv"]["work"][1]["highlights"]
    assert cv["work"][0]["highlights"] == result["cv"]["work"][0]["highlights"]
    assert {"path": "/work/1/highlights", "action": "reorder", "from": [2, 0, 1]} in result[
        "summary"
    ]["changes"]


def test_achievement_artifact_points_at_the_reordered_text() -> None:
    """Each achievement's path names the highlight in the returned CV, with its metrics."""
    result = run("achievement-highlighting", sample("reactiveresume-azurill"))
    found = result["artifacts"]["achievements"]["content"]
    for item in found:
        value: Any = result["cv"]
        for key in item["path"].strip("/").split("/"):
            value = value[int(key)] if isinstance(value, list) else value[key]
        assert item["text"] in value
        assert all(m in item["text"] for m in item["metrics"])
    first = next(item for item in found if item["path"] == "/work/0/highlights/0")
    assert (["40%"], ["percent"]) == (first["metrics"], first["kinds"])


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Raised $1.2M in seed funding", ["currency"]),
        ("Cut build time 3x with caching", ["multiplier"]),
        ("Doubled weekly active users", ["multiplier"]),
        ("Grew revenue by 25 percent across 12 markets", ["number", "percent"]),
        ("Joined the company in 2019 as an intern", None),
        ("Worked on the payments team", None),
    ],
)
def test_metric_kinds(text: str, kinds: list[str] | None) -> None:
    """Currency, multipliers (also words), percentages and counts are metrics; years are not."""
    cv = {"work": [{"name": "Acme", "highlights": [text]}]}
    found = run("achievement-highlighting", cv)["artifacts"]["achievements"]["content"]
    assert kinds == (found[0]["kinds"] if found else None)


def test_reorder_off_keeps_order() -> None:
    """With reorder off the CV is unchanged and achievements are still reported."""
    cv = sample("reactiveresume-azurill")
    result = run("achievement-highlighting", cv, {"reorder": False})
    assert (cv, []) == (result["cv"], result["summary"]["changes"])
    assert result["summary"]["found"] >= 3


# --- skills-visualization -----------------------------------------------------------------------
def test_bar_chart_uses_stated_levels_and_is_well_formed() -> None:
    """Skill levels come from skills[].level words; the SVG has one bar per skill."""
    result = run("skills-visualization", sample("jane-fullstacker"))
    items = result["summary"]["items"]
    assert [("JavaScript", 100), ("Web", 80), ("Database", 60), ("Cloud", 60), ("Project", 25)] == [
        (i["name"], i["level"]) for i in items
    ]
    root = ET.fromstring(result["artifacts"]["skillsChart"]["content"])
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "#1f6feb"]
    assert [250 * i["level"] / 100 for i in items] == [float(b.get("width", "")) for b in bars]


def test_chart_text_is_escaped_and_radar_needs_three_axes() -> None:
    """Markup in skill names is text in the SVG; a radar of two skills falls back to bars."""
    cv = {"skills": [{"name": "C++ & <Rust>", "level": "4/5"}, {"name": "Go", "level": "60%"}]}
    radar = run("skills-chart", cv)
    assert ("bar", "a radar chart needs at least three skills") == (
        radar["summary"]["chart"],
        radar["summary"]["fallback"],
    )
    root = ET.fromstring(radar["artifacts"]["skillsRadar"]["content"])
    assert "C++ & <Rust>" in [t.text for t in root.iter(f"{SVG}text")]
    cv["skills"].append({"name": "SQL", "level": "Expert"})
    svg = run("skills-chart", cv)["artifacts"]["skillsRadar"]["content"]
    assert 5 == len(list(ET.fromstring(svg).iter(f"{SVG}polygon")))  # 4 rings + the data


def test_levels_from_mentions_without_stated_levels() -> None:
    """Without levels, a skill mentioned more often in the CV charts higher."""
    cv = sample("reactiveresume-azurill")
    for skill in cv["skills"]:
        skill.pop("level")
    items = run("skills-visualization", cv, {"by": "keyword"})["summary"]["items"]
    levels = {i["name"]: (i["level"], i["source"]) for i in items}
    assert levels["React.js"][0] > levels["Laravel"][0]
    assert {"mentions"} == {source for _, source in levels.values()}


def test_no_skills_is_skipped() -> None:
    """A CV without skills gives no chart and says why."""
    result = run("skills-visualization", {"basics": {"name": "A"}})
    assert ({}, "the CV lists no skills") == (result["artifacts"], result["summary"]["skipped"])


# --- embed-qr-code ------------------------------------------------------------------------------
def segno_svg(data: str, error: str = "m", dark: str = "#000000") -> str:
    out = io.BytesIO()
    segno.make(data, error=error, micro=False).save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        scale=4,
        border=4,
        dark=dark,
        light="#ffffff",
        nl=False,
        omitsize=True,
        svgclass=None,
        lineclass=None,
    )
    return out.getvalue().decode()


def test_qr_encodes_the_cv_website_by_default() -> None:
    """The QR code is segno's SVG of the CV's own URL, with a viewBox to scale."""
    result = run("embed-qr-code", sample("reactiveresume-azurill"))
    summary, svg = result["summary"], result["artifacts"]["qrCode"]["content"]
    assert ("https://johndoe.me/", "/basics/url") == (summary["data"], summary["source"])
    # segno raises the error correction level when that costs no extra size.
    assert segno.make("https://johndoe.me/", error="m").error == summary["errorCorrection"]
    assert segno_svg("https://johndoe.me/") == svg
    root = ET.fromstring(svg)
    side = (summary["modules"] + 2 * 4) * 4  # a 4-module quiet zone, 4 units a module
    assert (None, f"0 0 {side} {side}") == (root.get("width"), root.get("viewBox"))


def test_qr_configured_url_and_profile_target() -> None:
    """A configured share link wins; target=profile with a network picks that profile."""
    cv = sample("reactiveresume-azurill")
    url = "https://cv.example.com/s/abc?x=1&y=2"
    shared = run("embed-qr-code", cv, {"url": url, "errorCorrection": "H", "color": "#123456"})
    assert (url, "configuration") == (shared["summary"]["data"], shared["summary"]["source"])
    assert segno_svg(url, "h", "#123456") == shared["artifacts"]["qrCode"]["content"]
    profile = run("embed-qr-code", cv, {"target": "profile", "network": "GitHub"})
    assert "https://github.com/johndoe" == profile["summary"]["data"]


def test_qr_without_any_url_is_skipped() -> None:
    """No configured URL and none in the CV: no artefact, a reason."""
    result = run("embed-qr-code", sample("jane-incomplete"))
    assert ({}, None) == (result["artifacts"], result["summary"]["data"])
    assert result["summary"]["skipped"].startswith("no URL to encode")


# --- interactive-timeline -----------------------------------------------------------------------
def test_timeline_sorted_with_overlaps_in_separate_lanes() -> None:
    """Entries are in date order; overlapping ones get different lanes and name each other."""
    result = run("interactive-timeline", sample("jane-fullstacker"))
    entries = result["artifacts"]["timeline"]["content"]
    starts = [e["start"] for e in entries]
    assert sorted(starts) == starts
    by_id = {e["id"]: e for e in entries}
    assert [] == [e["id"] for e in entries if e["lane"] and not e["overlaps"]]
    for entry in entries:
        for other in entry["overlaps"]:
            assert entry["id"] in by_id[other]["overlaps"]
            assert entry["lane"] != by_id[other]["lane"] or entry["ongoing"]
    assert by_id["work-0"]["ongoing"] and by_id["work-0"]["end"] is None


def test_timeline_lanes_reuse_and_order() -> None:
    """A lane is reused once free; descending order reverses; undated entries are listed."""
    cv = {
        "work": [
            {"name": "A", "position": "Dev", "startDate": "2010-01", "endDate": "2012-06"},
            {"name": "B", "position": "Lead", "startDate": "2011-03", "endDate": "2013-01"},
            {"name": "C", "position": "CTO", "startDate": "2013-02"},
            {"name": "D", "position": "Undated"},
        ],
        "education": [{"institution": "U", "area": "CS", "startDate": "2005", "endDate": "2009"}],
    }
    result = run("interactive-timeline", cv)
    entries = result["artifacts"]["timeline"]["content"]
    assert [
        ("education-0", 0, []),
        ("work-0", 0, ["work-1"]),
        ("work-1", 1, ["work-0"]),
        ("work-2", 0, []),
    ] == [(e["id"], e["lane"], e["overlaps"]) for e in entries]
    assert ["/work/3"] == result["summary"]["undated"]
    descending = run("interactive-timeline", cv, {"order": "desc"})
    assert entries[::-1] == descending["artifacts"]["timeline"]["content"]


def test_timeline_html_is_escaped_and_scriptless() -> None:
    """The fragment has one expandable item per entry and escapes markup from the CV."""
    config = {"sections": ["work", "education", "volunteer"]}
    result = run("interactive-timeline", sample("johnny-trouble"), config)
    fragment = result["artifacts"]["timelineHtml"]["content"]
    assert "&lt;Tagged&gt;" in fragment and "<Tagged>" not in fragment
    found = tags(fragment)
    assert (3, 3, 0) == (found.count("details"), found.count("summary"), found.count("script"))


# --- language-proficiency -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("Native Speaker", "native"),
        ("mother tongue", "native"),
        ("C1", "C1"),
        ("b2 (upper intermediate)", "B2"),
        ("Full professional proficiency", "C1"),
        ("Limited working proficiency", "B1"),
        ("Fluent", "C1"),
        ("Upper-intermediate", "B2"),
        ("Intermediate", "B1"),
        ("Basic", "A2"),
        ("Beginner", "A1"),
        ("Klingon-ish", None),
    ],
)
def test_cefr_levels(text: str, level: str | None) -> None:
    """Fluency texts map to CEFR levels, most specific phrase first, never overstated."""
    assert level == cefr(text)


def test_languages_from_the_ground_truth() -> None:
    """The Pikachu CV's languages get levels, a meter each, and the CV is unchanged."""
    cv = sample("reactiveresume-pikachu")
    result = run("language-proficiency", cv)
    assert [("English", "native", 7), ("Spanish", "B1", 3)] == [
        (x["language"], x["level"], x["rank"]) for x in result["artifacts"]["languages"]["content"]
    ]
    assert ["li", "span", "meter", "span"] * 2 == tags(
        result["artifacts"]["languagesHtml"]["content"]
    )[1:]
    assert cv == result["cv"]


def test_languages_rewrite_and_old_field_names() -> None:
    """rewriteFluency writes the CEFR label; JSON Resume's old "level" key is read too."""
    result = run("language-proficiency", sample("jane-fullstacker"), {"rewriteFluency": True})
    levels = result["summary"]["languages"]
    assert [("English", "native"), ("Spanish", "B1")] == [
        (x["language"], x["level"]) for x in levels
    ]
    assert ["Native", "Intermediate (B1)"] == [x["fluency"] for x in result["cv"]["languages"]]


# --- privacy-mode -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_privacy_removes_every_detected_detail(name: str) -> None:
    """E-mail, phone, address and birth date found by the analysis appear nowhere in the result."""
    cv = sample(name)
    found = analyse(cv)["pii"]
    result = run("privacy-mode", cv)
    dumped = json.dumps(result, ensure_ascii=False).casefold()
    masked = {"email", "phone", "address", "postcode", "date_of_birth"}
    leaked = [f["value"] for f in found if f["kind"] in masked and f["value"].casefold() in dumped]
    assert [] == leaked
    basics = result["cv"].get("basics", {})
    assert [] == [k for k in ("email", "phone") if k in basics]
    assert [] == [k for k in ("address", "postalCode") if k in basics.get("location", {})]


def test_privacy_scrubs_details_inside_free_text() -> None:
    """A detail repeated in prose is replaced with a label, in any letter case."""
    cv = sample("reactiveresume-azurill")
    cv["basics"]["summary"] += " Mail JOHN.DOE@GMAIL.COM or call (555) 123-4567. DOB: 01/02/1990."
    cv["references"] = [{"name": "Ann", "reference": "Reach John at john.doe@gmail.com."}]
    result = run("privacy-mode", cv)
    dumped = json.dumps(result).casefold()
    assert [] == [v for v in ("john.doe@gmail.com", "123-4567", "01/02/1990") if v in dumped]
    assert "Reach John at [email hidden]." == result["cv"]["references"][0]["reference"]
    assert "/basics/summary" in result["summary"]["redacted"]


def test_privacy_follows_configuration() -> None:
    """Profiles are kept unless maskProfiles; maskEmail off keeps the e-mail."""
    cv = sample("reactiveresume-azurill")
    default = run("privacy-mode", cv)["cv"]["basics"]
    assert cv["basics"]["profiles"] == default["profiles"]
    hidden = run("privacy-mode", cv, {"maskProfiles": True, "maskEmail": False})
    dumped = json.dumps(hidden["cv"])
    assert [] == [v for v in ("johndoe", "linkedin.com/in") if v in dumped]
    assert [{"network": "LinkedIn"}, {"network": "GitHub"}] == hidden["cv"]["basics"]["profiles"]
    assert "john.doe@gmail.com" == hidden["cv"]["basics"]["email"]
    located = run("privacy-mode", cv, {"maskLocation": True, "maskPhoto": True})
    assert "location" not in json.dumps(located["cv"]["basics"])
    assert "San Francisco, CA" == located["cv"]["work"][0]["location"]


def test_privacy_tolerates_a_stale_analysis() -> None:
    """PII listed for another version of the CV is still scrubbed and never crashes."""
    cv = sample("sample")
    stale = {
        "pii": [
            {"kind": "email", "path": "/nowhere/0", "value": "richard.hendriks@mail.com"},
            {"kind": "phone"},
            "junk",
        ]
    }
    result = generate_feature("privacy-mode", cv, stale, {})
    assert "richard.hendriks@mail.com" not in json.dumps(result)


def test_privacy_label_never_contains_a_secret() -> None:
    """A secret that spells a label word ("email") gets a neutral label, so it cannot survive."""
    cv = {
        "basics": {"name": "A", "profiles": [{"network": "X", "username": "profile hidden"}]},
        "work": [{"name": "Acme", "summary": "Find me as profile hidden online."}],
    }
    result = run("privacy-mode", cv, {"maskProfiles": True})
    assert "profile hidden" not in json.dumps(result)
    assert "Find me as [\u2022\u2022\u2022] online." == result["cv"]["work"][0]["summary"]
