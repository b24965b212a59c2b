"""Progress formulas: per-step completion, overall progress and time spent.

All percentages are integers rounded down, so 100 means truly finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cvsession.core import catalogue
from cvsession.core.document import Document
from cvsession.core.errors import InvalidInput

DONE_STEP = frozenset({"completed", "skipped"})
DONE_SUBSTEP = frozenset({"completed", "skipped"})


@dataclass(frozen=True, slots=True)
class SubstepCounts:
    """How many of a step's substeps are in each status."""

    total: int
    pending: int = 0
    in_progress: int = 0
    completed: int = 0
    skipped: int = 0
    error: int = 0

    @property
    def done(self) -> int:
        """Substeps completed or skipped."""
        return self.completed + self.skipped

    def to_json(self) -> dict[str, int]:
        return {
            "total": self.total,
            "pending": self.pending,
            "inProgress": self.in_progress,
            "completed": self.completed,
            "skipped": self.skipped,
            "error": self.error,
            "done": self.done,
        }


def _require_step(step_id: str) -> None:
    if not isinstance(step_id, str) or not catalogue.is_step(step_id):
        raise InvalidInput(f"unknown step {step_id!r}", step=step_id)


def _step_record(doc: Document, step_id: str) -> dict[str, Any]:
    steps = doc.get("steps")
    rec = steps.get(step_id) if isinstance(steps, dict) else None
    return rec if isinstance(rec, dict) else {}


def _substep_status(rec: dict[str, Any], sub: str) -> Any:
    subs = rec.get("substeps")
    srec = subs.get(sub) if isinstance(subs, dict) else None
    return srec.get("status", "pending") if isinstance(srec, dict) else "pending"


def substep_counts(doc: Document, step_id: str) -> SubstepCounts:
    """Count the catalogue substeps of `step_id` by status (missing records count as pending).

    Raises InvalidInput for an unknown step id.
    """
    _require_step(step_id)
    rec = _step_record(doc, step_id)
    tally = {"pending": 0, "in_progress": 0, "completed": 0, "skipped": 0, "error": 0}
    for sub in catalogue.substep_ids(step_id):
        status = _substep_status(rec, sub)
        tally[status if status in tally else "pending"] += 1
    return SubstepCounts(total=len(catalogue.substep_ids(step_id)), **tally)


def step_completion(doc: Document, step_id: str) -> int:
    """Return 0-100: substeps completed or skipped, rounded down; 100 if the step is done.

    Raises InvalidInput for an unknown step id.
    """
    _require_step(step_id)
    rec = _step_record(doc, step_id)
    if rec.get("status") in DONE_STEP:
        return 100
    subs = catalogue.substep_ids(step_id)
    done = sum(1 for sub in subs if _substep_status(rec, sub) in DONE_SUBSTEP)
    return 100 * done // len(subs)


def overall_progress(doc: Document) -> int:
    """Return 0-100: the mean completion of all nine steps (keywords included), rounded down."""
    total = sum(step_completion(doc, sid) for sid in catalogue.STEP_IDS)
    return total // len(catalogue.STEP_IDS)


def time_spent_ms(doc: Document) -> int:
    """Return the time recorded on all steps, in milliseconds (bad values count as 0)."""
    total = 0
    for sid in catalogue.STEP_IDS:
        ms = _step_record(doc, sid).get("timeSpentMs")
        if isinstance(ms, int) and not isinstance(ms, bool) and ms > 0:
            total += ms
    return total
