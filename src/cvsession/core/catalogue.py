"""The workflow catalogue: steps, substeps, features, templates and built-in rules, as data.

Everything the workflow knows about its own shape lives here; handlers and the UI read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class StepDef:
    id: str
    title: str
    substeps: tuple[str, ...]
    requires: tuple[str, ...]
    estimated_minutes: float
    skippable: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class FeatureDef:
    id: str
    title: str
    description: str
    # Other features that must be enabled first.
    dependencies: tuple[str, ...] = ()
    # Steps that must be completed before the feature can be enabled (e.g. the CV analysis).
    requires_steps: tuple[str, ...] = ()
    premium: bool = False
    estimated_minutes: float = 1.0
    default_configuration: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TemplateDef:
    id: str
    title: str
    description: str
    colors: dict[str, str]
    fonts: dict[str, str]
    sections: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleDef:
    """A built-in conditional rule: when `when` holds, apply `action` to feature `target`."""

    id: str
    when: Any  # JSON Logic style AST, see cvsession.core.rules
    action: str  # enable | disable | require | recommend
    target: str
    reason: str


STEPS: tuple[StepDef, ...] = (
    StepDef(
        "upload",
        "Upload your CV",
        ("file-select", "file-validate", "file-upload"),
        (),
        2,
        description="Choose a PDF or DOCX file, or paste your CV as text.",
    ),
    StepDef(
        "processing",
        "Processing",
        ("text-extract", "ai-analysis", "structure-parse"),
        ("upload",),
        3,
        description="We extract the text and parse it into sections.",
    ),
    StepDef(
        "analysis",
        "Analysis",
        ("content-analyze", "improvements-identify", "keywords-extract"),
        ("upload", "processing"),
        5,
        description="Review the parsed CV and suggestions.",
    ),
    StepDef(
        "features",
        "Features",
        ("features-select", "features-configure", "features-validate"),
        ("analysis",),
        4,
        description="Choose what your enhanced CV should include.",
    ),
    StepDef(
        "templates",
        "Templates",
        ("template-select", "template-customize", "template-preview"),
        ("analysis",),
        3,
        description="Pick a template and make it yours.",
    ),
    StepDef(
        "preview",
        "Preview",
        ("cv-generate", "cv-review", "cv-approve"),
        ("analysis", "features", "templates"),
        5,
        description="Check the generated CV.",
    ),
    StepDef(
        "results",
        "Results",
        ("results-display", "results-download", "results-share"),
        ("preview",),
        2,
        description="Download or share your CV.",
    ),
    StepDef(
        "keywords",
        "Keywords",
        ("keywords-review", "keywords-optimize", "keywords-apply"),
        ("analysis",),
        4,
        skippable=True,
        description="Match your CV to a job description (optional).",
    ),
    StepDef(
        "completed", "Completed", ("completion-confirm",), ("results",), 1, description="All done."
    ),
)

STEP_IDS: tuple[str, ...] = tuple(s.id for s in STEPS)

# Short titles for substeps, for breadcrumbs and resume hints.
SUBSTEP_TITLES = MappingProxyType(
    {
        "file-select": "Choose a file",
        "file-validate": "Check the file",
        "file-upload": "Upload",
        "text-extract": "Text extraction",
        "ai-analysis": "AI analysis",
        "structure-parse": "Structure parsing",
        "content-analyze": "Content analysis",
        "improvements-identify": "Suggested improvements",
        "keywords-extract": "Keyword extraction",
        "features-select": "Choose features",
        "features-configure": "Configure features",
        "features-validate": "Check features",
        "template-select": "Choose a template",
        "template-customize": "Customise the template",
        "template-preview": "Template preview",
        "cv-generate": "Generate your CV",
        "cv-review": "Review your CV",
        "cv-approve": "Approve your CV",
        "results-display": "Your results",
        "results-download": "Download",
        "results-share": "Share",
        "keywords-review": "Review keywords",
        "keywords-optimize": "Optimise keywords",
        "keywords-apply": "Apply keywords",
        "completion-confirm": "Confirm completion",
    }
)
_STEPS_BY_ID = MappingProxyType({s.id: s for s in STEPS})


def _feature(fid: str, title: str, description: str, **kw: Any) -> FeatureDef:
    return FeatureDef(fid, title, description, **kw)


_FEATURE_LIST: tuple[FeatureDef, ...] = (
    _feature(
        "ats-optimization",
        "ATS optimisation",
        "Tune wording and structure so applicant tracking systems read your CV well.",
        requires_steps=("analysis",),
        estimated_minutes=2,
        default_configuration={"targetScore": 80},
    ),
    _feature(
        "keyword-enhancement",
        "Keyword enhancement",
        "Weave the keywords of your target role into your CV.",
        dependencies=("ats-optimization",),
        requires_steps=("analysis",),
        estimated_minutes=2,
        default_configuration={"maxKeywords": 15},
    ),
    _feature(
        "achievement-highlighting",
        "Achievement highlighting",
        "Find and emphasise measurable achievements.",
        requires_steps=("analysis",),
        estimated_minutes=2,
    ),
    _feature(
        "skills-visualization",
        "Skills visualisation",
        "A chart of your skills by level.",
        requires_steps=("analysis",),
        estimated_minutes=1,
        default_configuration={"chart": "bar"},
    ),
    _feature(
        "generate-podcast",
        "Career podcast",
        "An audio summary of your career.",
        requires_steps=("analysis",),
        premium=True,
        estimated_minutes=5,
    ),
    _feature(
        "privacy-mode",
        "Privacy mode",
        "Hide personal details (phone, address, e-mail) in shared versions.",
        estimated_minutes=1,
        default_configuration={"maskEmail": True, "maskPhone": True, "maskAddress": True},
    ),
    _feature(
        "embed-qr-code",
        "QR code",
        "A QR code linking to your online CV.",
        estimated_minutes=1,
        default_configuration={"target": "share-link"},
    ),
    _feature(
        "interactive-timeline",
        "Interactive timeline",
        "Your experience and education on a timeline.",
        requires_steps=("analysis",),
        estimated_minutes=1,
    ),
    _feature(
        "skills-chart",
        "Skills chart",
        "A radar chart of skill categories.",
        dependencies=("skills-visualization",),
        requires_steps=("analysis",),
        estimated_minutes=1,
    ),
    _feature(
        "video-introduction",
        "Video introduction",
        "A short video about you.",
        premium=True,
        estimated_minutes=5,
    ),
    _feature(
        "portfolio-gallery",
        "Portfolio gallery",
        "Showcase your projects.",
        premium=True,
        estimated_minutes=3,
    ),
    _feature(
        "testimonials-carousel",
        "Testimonials",
        "Quotes from references.",
        premium=True,
        estimated_minutes=2,
    ),
    _feature("contact-form", "Contact form", "Let readers contact you.", estimated_minutes=1),
    _feature(
        "social-media-links", "Social media links", "Links to your profiles.", estimated_minutes=1
    ),
    _feature(
        "availability-calendar",
        "Availability calendar",
        "When you can start or meet.",
        dependencies=("contact-form",),
        premium=True,
        estimated_minutes=2,
    ),
    _feature(
        "language-proficiency",
        "Language proficiency",
        "Your languages with levels.",
        requires_steps=("analysis",),
        estimated_minutes=1,
    ),
    _feature(
        "certification-badges",
        "Certification badges",
        "Badges for your certificates.",
        requires_steps=("analysis",),
        estimated_minutes=1,
    ),
    _feature(
        "achievements-showcase",
        "Achievements showcase",
        "A section for awards.",
        dependencies=("achievement-highlighting",),
        requires_steps=("analysis",),
        estimated_minutes=1,
    ),
)

FEATURES = MappingProxyType({f.id: f for f in _FEATURE_LIST})
FEATURE_IDS: tuple[str, ...] = tuple(f.id for f in _FEATURE_LIST)

DEFAULT_SECTIONS = (
    "basics",
    "work",
    "education",
    "skills",
    "projects",
    "awards",
    "certificates",
    "languages",
    "interests",
    "references",
    "volunteer",
    "publications",
)

TEMPLATES = MappingProxyType(
    {
        t.id: t
        for t in (
            TemplateDef(
                "modern",
                "Modern",
                "Clean single column with an accent colour.",
                {"primary": "#1f6feb", "text": "#1b1f24", "background": "#ffffff"},
                {"heading": "Inter", "body": "Inter"},
                DEFAULT_SECTIONS,
            ),
            TemplateDef(
                "classic",
                "Classic",
                "Traditional serif layout.",
                {"primary": "#222222", "text": "#222222", "background": "#ffffff"},
                {"heading": "Georgia", "body": "Georgia"},
                DEFAULT_SECTIONS,
            ),
            TemplateDef(
                "creative",
                "Creative",
                "Two columns with a coloured sidebar.",
                {"primary": "#b4388c", "text": "#202020", "background": "#fffaf5"},
                {"heading": "Poppins", "body": "Source Sans 3"},
                DEFAULT_SECTIONS,
            ),
        )
    }
)

# Built-in conditional rules. Conditions read fields exposed by cvsession.core.rules.
RULES: tuple[RuleDef, ...] = (
    RuleDef(
        "skills-chart-needs-skills",
        {"<": [{"var": "cv.skillCount"}, 1]},
        "disable",
        "skills-visualization",
        "Your CV lists no skills to chart.",
    ),
    RuleDef(
        "languages-recommended",
        {">": [{"var": "cv.languageCount"}, 0]},
        "recommend",
        "language-proficiency",
        "Your CV lists languages.",
    ),
    RuleDef(
        "keywords-with-job-description",
        {"!=": [{"var": "target.jobDescription"}, ""]},
        "recommend",
        "keyword-enhancement",
        "You gave a job description to match.",
    ),
    RuleDef(
        "certificates-recommended",
        {">": [{"var": "cv.certificateCount"}, 0]},
        "recommend",
        "certification-badges",
        "Your CV lists certificates.",
    ),
    RuleDef(
        "privacy-for-public-share",
        {"==": [{"var": "ui.sharePublic"}, True]},
        "require",
        "privacy-mode",
        "A public share link hides personal details.",
    ),
)


def step(step_id: str) -> StepDef:
    """Return the step definition; KeyError if unknown."""
    return _STEPS_BY_ID[step_id]


def is_step(step_id: str) -> bool:
    return step_id in _STEPS_BY_ID


def substep_ids(step_id: str) -> tuple[str, ...]:
    return _STEPS_BY_ID[step_id].substeps


def step_index(step_id: str) -> int:
    return STEP_IDS.index(step_id)


def next_step(step_id: str) -> str | None:
    """Return the step after `step_id` in catalogue order, None after the last."""
    i = STEP_IDS.index(step_id)
    return STEP_IDS[i + 1] if i + 1 < len(STEP_IDS) else None


def total_estimated_minutes() -> float:
    return sum(s.estimated_minutes for s in STEPS)


def substep_title(substep_id: str) -> str:
    """Return the short title of a substep (its id if it has none)."""
    return SUBSTEP_TITLES.get(substep_id, substep_id)


# Background jobs: the phases each type runs, and the run time assumed until enough real runs
# of the type have been recorded (then the median of those is used).
JOB_PHASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "cv-processing": ("extract", "parse", "analyse", "generate"),
        "feature-generation": ("generate",),
        "template-application": ("generate",),
    }
)
JOB_ESTIMATED_MS: Mapping[str, int] = MappingProxyType(
    {"cv-processing": 20_000, "feature-generation": 3_000, "template-application": 2_000}
)
# Features the generate phase produces output for; others are configuration for the front end.
GENERATED_FEATURES = (
    "ats-optimization",
    "keyword-enhancement",
    "achievement-highlighting",
    "skills-visualization",
    "skills-chart",
    "embed-qr-code",
    "interactive-timeline",
    "language-proficiency",
    "privacy-mode",
)
