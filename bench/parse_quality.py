"""Field-level quality of the rule-based CV parser against ground truth (issue 4).

Runs `parse_resume` over every CV in ../shared/testdata/resumes/ that has ground truth and prints,
per file and overall, exact-match scores for single fields and set-F1 for lists. Goal: overall
F1 >= 0.85. Always exits 0.

    .venv/bin/python bench/parse_quality.py
"""

from __future__ import annotations

import json
import re
import string
import sys
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from cvsession.processing.parse import parse_resume

TESTDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata" / "resumes"
GOAL = 0.85
FIELDS = ("name", "email", "phone", "companies", "positions", "institutions", "dates", "skills")
MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def extract(path: Path) -> str:
    """Text of a CV: the project's extractor when present, pypdf/python-docx otherwise."""
    try:
        from cvsession.processing.extract import extract_text

        return extract_text(path.read_bytes()).text
    except ImportError:
        import pypdf

        reader = pypdf.PdfReader(str(path))
        return "\n".join(page.extract_text() or "" for page in reader.pages)


def norm(value: str) -> str:
    value = unicodedata.normalize("NFKC", str(value)).casefold()
    value = value.translate(str.maketrans("", "", string.punctuation))
    return " ".join(value.split())


def gt_date(value: Any) -> str | None:
    """'2018-09', 'January 2019', 'present' -> 'YYYY-MM' / 'YYYY' / None (own parser)."""
    text = str(value or "").strip().casefold()
    if m := re.fullmatch(r"(\d{4})-(\d{2})(?:-\d{2})?", text):
        return f"{m.group(1)}-{m.group(2)}"
    if m := re.fullmatch(r"([a-z]+)\.?\s+(\d{4})", text):
        month = MONTHS.get(m.group(1)[:3])
        return f"{m.group(2)}-{month:02d}" if month else m.group(2)
    if re.fullmatch(r"\d{4}", text):
        return text
    return None


def gt_range(text: str) -> list[str]:
    parts = re.split(r"\s+(?:to|\u2013|-)\s+", text or "")
    return [d for d in (gt_date(p) for p in parts) if d]


def truth_rendercv(path: Path) -> dict[str, Any]:
    cv = yaml.safe_load(path.read_text(encoding="utf-8"))["cv"]
    sections = cv.get("sections", {})
    work, edu = sections.get("experience", []), sections.get("education", [])
    dates = [gt_date(e.get(k)) for e in work + edu for k in ("start_date", "end_date")]
    skills = [k.strip() for s in sections.get("skills", []) for k in s["details"].split(",")]
    return {
        "name": cv.get("name"), "email": cv.get("email"), "phone": cv.get("phone"),
        "companies": [e["company"] for e in work], "positions": [e["position"] for e in work],
        "institutions": [e["institution"] for e in edu],
        "dates": [d for d in dates if d], "skills": skills,
    }  # fmt: skip


def truth_reactive(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    basics, sections = data["basics"], data["sections"]

    def items(key: str) -> list[dict[str, Any]]:
        return [i for i in sections[key]["items"] if i.get("visible", True)]

    work, edu = items("experience"), items("education")
    return {
        "name": basics.get("name"), "email": basics.get("email"), "phone": basics.get("phone"),
        "companies": [e["company"] for e in work], "positions": [e["position"] for e in work],
        "institutions": [e["institution"] for e in edu],
        "dates": [d for e in work + edu for d in gt_range(e.get("date", ""))],
        "skills": [k for s in items("skills") for k in s.get("keywords", [])],
    }  # fmt: skip


def predicted(resume: dict[str, Any]) -> dict[str, Any]:
    basics = resume.get("basics", {})
    work, edu = resume.get("work", []), resume.get("education", [])
    return {
        "name": basics.get("name"), "email": basics.get("email"), "phone": basics.get("phone"),
        "companies": [w.get("name", "") for w in work],
        "positions": [w.get("position", "") for w in work],
        "institutions": [e.get("institution", "") for e in edu],
        "dates": [e[k] for e in work + edu for k in ("startDate", "endDate") if e.get(k)],
        "skills": [k for s in resume.get("skills", []) for k in s.get("keywords", [])],
    }  # fmt: skip


def score(truth: Any, guess: Any) -> float | None:
    """Exact match (normalised) for single values, set-F1 for lists; None when truth is empty."""
    if isinstance(truth, list):
        t = {norm(v) for v in truth if norm(v)}
        g = {norm(v) for v in guess or [] if norm(v)}
        if not t:
            return None
        if not g:
            return 0.0
        hit = len(t & g)
        precision, recall = hit / len(g), hit / len(t)
        return 0.0 if hit == 0 else 2 * precision * recall / (precision + recall)
    if not truth:
        return None
    if (
        norm(truth)
        and re.sub(r"\D", "", str(truth)) == re.sub(r"\D", "", str(guess or ""))
        and (re.fullmatch(r"[\d\s()+.-]+", str(truth)))
    ):
        return 1.0  # phone numbers compare by digits
    return 1.0 if norm(truth) == norm(guess or "") else 0.0


CASES = [
    ("rendercv-classic.pdf", "rendercv-classic.yaml", truth_rendercv),
    ("reactiveresume-azurill.pdf", "reactiveresume-azurill.json", truth_reactive),
    ("reactiveresume-pikachu.pdf", "reactiveresume-pikachu.json", truth_reactive),
]


def main() -> int:
    per_field: dict[str, list[float]] = {f: [] for f in FIELDS}
    file_means: list[float] = []
    header = f"{'file':<30}" + "".join(f"{f[:9]:>10}" for f in FIELDS) + f"{'mean':>8}"
    print("Rule-based parser field scores (exact match for single fields, set-F1 for lists)")
    print(header)
    print("-" * len(header))
    for cv, gt, loader in CASES:
        truth = loader(TESTDATA / "ground_truth" / gt)
        guess = predicted(parse_resume(extract(TESTDATA / cv)))
        row, scores = f"{cv:<30}", []
        for field in FIELDS:
            value = score(truth[field], guess[field])
            if value is None:
                row += f"{'n/a':>10}"
                continue
            scores.append(value)
            per_field[field].append(value)
            row += f"{value:>10.2f}"
        mean = sum(scores) / len(scores) if scores else 0.0
        file_means.append(mean)
        print(row + f"{mean:>8.2f}")
    print("-" * len(header))
    row = f"{'per field':<30}"
    for field in FIELDS:
        values = per_field[field]
        row += f"{sum(values) / len(values):>10.2f}" if values else f"{'n/a':>10}"
    every = [v for values in per_field.values() for v in values]
    overall = sum(every) / len(every) if every else 0.0
    print(row + f"{overall:>8.2f}")
    verdict = "meets" if overall >= GOAL else "BELOW"
    print(f"\noverall F1 {overall:.3f} over {len(every)} field scores: {verdict} goal {GOAL:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
