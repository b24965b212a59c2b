"""Resume intelligence: where a returning user should pick up, why, and how long is left.

Order of precedence for the recommended place:

1. a terminal session: completed -> view the results; expired -> start again;
2. a substep in `error` in an open, reachable step ("fix this first");
3. the current step, when it is open (not completed or skipped) and reachable;
4. the first open, reachable, non-skippable step; then the first open, reachable step;
5. a non-skippable step that was skipped and blocks the rest; else confirm completion.

The time estimate sums, over open steps, the median of recorded durations for that step when
there are at least `min_samples` of them (else the catalogue estimate), scaled by the part of the
step still to do. A skippable step that has not been started (and is not the current step) is left
out of the total and listed in `excluded_steps`.

Confidence is the mean per-step estimate quality (catalogue estimate 0.25; recorded
0.5 + 0.5 * min(1, n / (4 * min_samples))), times an idleness factor: 1 up to a day since
`lastActiveAt`, then halving every 14 days. Labels: < 0.4 low, < 0.7 medium, else high.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cvsession.core import catalogue, navigation, progress
from cvsession.core.document import Document, parse_iso

MAX_ALTERNATIVES = 4
CATALOGUE_QUALITY = 0.25
IDLE_GRACE_DAYS = 1.0
IDLE_HALF_LIFE_DAYS = 14.0

# What the user does in a step, and the invitation to do it next.
_DOING = {
    "upload": "uploading your CV",
    "processing": "processing your CV",
    "analysis": "reviewing the analysis",
    "features": "choosing your features",
    "templates": "customising your template",
    "preview": "reviewing your CV preview",
    "results": "looking at your results",
    "keywords": "optimising keywords",
    "completed": "finishing up",
}
_NEXT = {
    "upload": "upload your CV",
    "processing": "let us process your CV",
    "analysis": "review the analysis of your CV",
    "features": "choose your features",
    "templates": "pick and customise a template",
    "preview": "review the preview of your CV",
    "results": "download or share your CV",
    "keywords": "match your CV to a job description",
    "completed": "confirm you are done",
}


@dataclass(frozen=True, slots=True)
class Alternative:
    """Another place the user could go instead."""

    step: str
    substep: str | None
    reason: str
    deep_link: str

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "substep": self.substep,
            "reason": self.reason,
            "deepLink": self.deep_link,
        }


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Where to resume and why.

    `action` is one of: continue, fix, retry, review, finish, view-results, start-again.
    `estimated_minutes` is the whole remaining workflow, rounded up.
    """

    action: str
    step: str
    substep: str | None
    reason: str
    deep_link: str
    estimated_minutes: int
    estimate_source: str
    confidence: float
    confidence_label: str
    alternatives: list[Alternative]
    skippable_steps: list[str]
    excluded_steps: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "step": self.step,
            "substep": self.substep,
            "reason": self.reason,
            "deepLink": self.deep_link,
            "estimatedMinutes": self.estimated_minutes,
            "estimateSource": self.estimate_source,
            "confidence": self.confidence,
            "confidenceLabel": self.confidence_label,
            "alternatives": [a.to_json() for a in self.alternatives],
            "skippableSteps": list(self.skippable_steps),
            "excludedSteps": list(self.excluded_steps),
        }


@dataclass(frozen=True, slots=True)
class _Estimate:
    minutes: int
    source: str
    quality: float
    excluded: list[str]


def _samples(durations: Mapping[str, Sequence[int]], step_id: str) -> list[float]:
    raw = durations.get(step_id) or ()
    return [
        float(v)
        for v in raw
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
    ]


def estimate_remaining(
    doc: Document, durations: Mapping[str, Sequence[int]] | None, *, min_samples: int = 5
) -> tuple[int, str, float, list[str]]:
    """Return (minutes rounded up, source, estimate quality 0..1, excluded steps); see module doc.

    Quality is 1.0 when nothing is left to estimate.
    """
    est = _estimate(doc, durations or {}, min_samples)
    return est.minutes, est.source, est.quality, est.excluded


def _estimate(doc: Document, durations: Mapping[str, Sequence[int]], min_samples: int) -> _Estimate:
    needed = max(1, min_samples)
    total = 0.0
    qualities: list[float] = []
    recorded = 0
    excluded: list[str] = []
    current = doc.get("currentStep")
    for s in catalogue.STEPS:
        if navigation.is_step_done(doc, s.id):
            continue
        completion = progress.step_completion(doc, s.id)
        if (
            s.skippable
            and navigation.step_status(doc, s.id) == "pending"
            and completion == 0
            and s.id != current
        ):
            excluded.append(s.id)
            continue
        samples = _samples(durations, s.id)
        if len(samples) >= needed:
            minutes = statistics.median(samples) / 60_000
            qualities.append(0.5 + 0.5 * min(1.0, len(samples) / (4 * needed)))
            recorded += 1
        else:
            minutes = float(s.estimated_minutes)
            qualities.append(CATALOGUE_QUALITY)
        total += minutes * (100 - completion) / 100
    if not qualities:
        source, quality = "catalogue", 1.0
    else:
        source = (
            "recorded" if recorded == len(qualities) else "catalogue" if recorded == 0 else "mixed"
        )
        quality = sum(qualities) / len(qualities)
    return _Estimate(math.ceil(round(total, 6)), source, quality, excluded)


def idle_factor(doc: Document, now: datetime) -> float:
    """Return 1.0 up to a day after `lastActiveAt`, then halve every IDLE_HALF_LIFE_DAYS days."""
    last = doc.get("lastActiveAt")
    try:
        then = parse_iso(last) if isinstance(last, str) else None
    except ValueError:
        then = None
    if then is None:
        return 0.5
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    idle_days = (now - then).total_seconds() / 86_400
    if idle_days <= IDLE_GRACE_DAYS:
        return 1.0
    return float(0.5 ** ((idle_days - IDLE_GRACE_DAYS) / IDLE_HALF_LIFE_DAYS))


def confidence_label(confidence: float) -> str:
    return "high" if confidence >= 0.7 else "medium" if confidence >= 0.4 else "low"


def _open_reachable(doc: Document) -> list[str]:
    return [
        s
        for s in catalogue.STEP_IDS
        if not navigation.is_step_done(doc, s) and not navigation.missing_prerequisites(doc, s)
    ]


def _error_substep(doc: Document, open_steps: list[str]) -> tuple[str, str] | None:
    for sid in open_steps:
        for sub in catalogue.substep_ids(sid):
            if navigation.substep_status(doc, sid, sub) == "error":
                return sid, sub
    return None


def _last_completed(doc: Document) -> str | None:
    done = [s for s in catalogue.STEP_IDS if navigation.step_status(doc, s) == "completed"]
    return done[-1] if done else None


def _parts(n: int) -> str:
    return f"{n} part{'s' if n != 1 else ''}"


def _continue_reason(doc: Document, step: str) -> str:
    counts = progress.substep_counts(doc, step)
    started = counts.done > 0 or navigation.step_status(doc, step) == "in_progress"
    if step == doc.get("currentStep") and started:
        if step == "processing" and doc.get("status") == "processing":
            return f"Your CV is being processed; {counts.done} of {_parts(counts.total)} done."
        return f"You were {_DOING[step]}; {counts.done} of {_parts(counts.total)} done."
    previous = _last_completed(doc)
    if previous is None:
        nxt = _NEXT[step]
        return f"Start here: {nxt}." if step != "upload" else "Start by uploading your CV."
    return f"{catalogue.step(previous).title} is done; {_NEXT[step]} next."


def _alternatives(doc: Document, chosen: str, open_steps: list[str]) -> list[Alternative]:
    sid = doc["id"]
    found: list[Alternative] = []
    for step in open_steps:
        if step == chosen:
            continue
        sub = navigation.first_open_substep(doc, step)
        reason = (
            f"Optional: {_NEXT[step]}."
            if catalogue.step(step).skippable
            else f"You can also {_NEXT[step]}."
        )
        found.append(Alternative(step, sub, reason, navigation.deep_link(sid, step, sub)))
    previous = _last_completed(doc)
    if previous is not None and previous != chosen:
        found.append(
            Alternative(
                previous,
                None,
                f"Go back and review {catalogue.step(previous).title}.",
                navigation.deep_link(sid, previous),
            )
        )
    return found[:MAX_ALTERNATIVES]


def recommend(
    doc: Document,
    durations: Mapping[str, Sequence[int]] | None,
    now: datetime,
    *,
    min_samples: int = 5,
) -> Recommendation:
    """Recommend where a returning user should resume `doc`.

    Args:
        doc: a valid session document.
        durations: recorded durations in milliseconds per step id, across users (may be None).
        now: the current time (timezone-aware; naive is taken as UTC).
        min_samples: samples needed before recorded durations replace the catalogue estimate.

    Returns a Recommendation whose step always has its prerequisites met (except for an expired
    session, which points at where it stopped) and is never a done step while the session is
    not completed, unless every step is done. Raises InvalidInput if the document id is not a
    valid session id.
    """
    sid = doc["id"]
    status = doc.get("status")
    idle = idle_factor(doc, now)
    if status in ("completed", "expired"):
        return _terminal(doc, str(status))
    est = _estimate(doc, durations or {}, min_samples)
    open_steps = _open_reachable(doc)
    current = doc.get("currentStep")
    sub: str | None
    error = _error_substep(doc, open_steps)
    if error is not None:
        step, sub = error
        title, sub_title = catalogue.step(step).title, catalogue.substep_title(sub)
        action = "fix"
        reason = (
            f"Processing failed at {sub_title}; retry it."
            if step == "processing"
            else f"{sub_title} in {title} has a problem; fix this first."
        )
    elif open_steps:
        non_optional = [s for s in open_steps if not catalogue.step(s).skippable]
        step = current if current in open_steps else (non_optional or open_steps)[0]
        cur_sub = doc.get("currentSubstep")
        sub = (
            cur_sub
            if step == current
            and isinstance(cur_sub, str)
            and navigation.substep_status(doc, step, cur_sub) not in progress.DONE_SUBSTEP
            else navigation.first_open_substep(doc, step)
        )
        action = "continue"
        reason = _continue_reason(doc, step)
        if status == "failed":
            action = "retry"
            reason = f"Something went wrong; retry {catalogue.step(step).title}. " + reason
    else:
        blocked = [
            s
            for s in catalogue.STEP_IDS
            if navigation.step_status(doc, s) == "skipped"
            and not catalogue.step(s).skippable
            and not navigation.missing_prerequisites(doc, s)
        ]
        if blocked:
            step, action = blocked[0], "review"
            sub = navigation.first_open_substep(doc, step)
            reason = f"{catalogue.step(step).title} was skipped but later steps need it; go back."
        else:
            step, sub, action = "completed", "completion-confirm", "finish"
            reason = "Everything is done; confirm to finish."
    confidence = round(max(0.0, min(1.0, est.quality * idle)), 3)
    return Recommendation(
        action=action,
        step=step,
        substep=sub,
        reason=reason,
        deep_link=navigation.deep_link(sid, step, sub),
        estimated_minutes=est.minutes,
        estimate_source=est.source,
        confidence=confidence,
        confidence_label=confidence_label(confidence),
        alternatives=_alternatives(doc, step, open_steps),
        skippable_steps=[s for s in open_steps if catalogue.step(s).skippable],
        excluded_steps=est.excluded,
    )


def _terminal(doc: Document, status: str) -> Recommendation:
    sid = doc["id"]
    if status == "completed":
        step, sub, action = "results", "results-display", "view-results"
        reason = "Your CV is finished; view, download or share it."
        alternatives = [
            Alternative(
                "preview", None, "Go back and review Preview.", navigation.deep_link(sid, "preview")
            )
        ]
    else:
        current = doc.get("currentStep")
        step = current if isinstance(current, str) and catalogue.is_step(current) else "upload"
        sub, action = None, "start-again"
        reason = "This session has expired and can no longer be changed; start a new CV."
        alternatives = []
        if navigation.step_status(doc, "results") == "completed":
            alternatives.append(
                Alternative(
                    "results",
                    None,
                    "View the results you made.",
                    navigation.deep_link(sid, "results"),
                )
            )
    return Recommendation(
        action=action,
        step=step,
        substep=sub,
        reason=reason,
        deep_link=navigation.deep_link(sid, step, sub),
        estimated_minutes=0,
        estimate_source="catalogue",
        confidence=1.0,
        confidence_label="high",
        alternatives=alternatives,
        skippable_steps=[],
        excluded_steps=[],
    )
