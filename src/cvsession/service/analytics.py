"""Product metrics from real events: what is recorded, where, and the summary built from it.

Recorded at the source, in the transaction of the change itself (so counts are exact):
`session.created`, `session.completed`, `session.resumed` (the session.resume mutation),
`step.skipped`, `job.phase` (a pipeline phase ended: its duration and error class, from the
checkpoint moving out of `running`), `job.resumed` (a phase begun again after its process died:
its checkpoint goes from running to running with one more attempt), `sync.push` (one row per
push: what became of its mutations) and `sync.replayed` (applied mutations whose HLC is older
than OFFLINE_AFTER_MS: made offline). Browsers report `resume.offered`, `resume.taken`,
`resume.restored` and `offline.replayed` (POST /api/events).

Derived at query time: step completions (the step_durations table), abandoned sessions (not
completed or expired and idle for N days, from last_active_at), job run times and failure
classes (the jobs table), resume success (pairing offers with what followed, see
`resume_attempts`). docs/decisions/0023-metrics.md has the reasons.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cvsession.core import catalogue
from cvsession.core.errors import MutationGap
from cvsession.core.model import SessionStatus
from cvsession.core.mutations import Mutation
from cvsession.service.metrics import Metrics, percentile
from cvsession.store import EventRow, Store, Window

MAX_CLIENT_MS = 2**53 - 1  # a client's clock in ms: an exact JavaScript number
OFFLINE_AFTER_MS = 60_000  # a mutation stamped this much before it arrived was made offline
ABANDON_DAYS = 7.0
# A resume attempt (an offer) takes the restore reported just before it (the dialog shows once
# the page is restored) and what the user did up to the next offer, at most 30 minutes on.
PAIR_BEFORE = timedelta(minutes=2)
PAIR_AFTER = timedelta(minutes=30)
OPEN_STATUSES = ("draft", "in_progress", "processing", "paused", "failed")
SYNC_FIELDS = ("applied", "duplicates", "rejected", "conflicts", "gap", "unprocessed")
RESUME_KINDS = ("resume.offered", "resume.taken", "resume.restored")
BROWSER_KINDS = (*RESUME_KINDS, "offline.replayed")
COUNTED_KINDS = (
    "session.created", "session.completed", "session.resumed", "sync.push", "sync.replayed",
    "job.resumed", *BROWSER_KINDS,
)  # fmt: skip
STATUSES = tuple(s.value for s in SessionStatus)
_PHASE_MUTATIONS = frozenset({"server.checkpoint", "server.batch"})


# recording (inside the caller's transaction) ---------------------------------------------------
def mutation_events(
    user_id: str,
    session_id: str,
    mut: Mutation,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    now: datetime,
) -> list[EventRow]:
    """What an applied mutation that changed the session is worth recording."""
    out: list[EventRow] = []

    def add(kind: str, value: float | None = None, **data: Any) -> None:
        out.append(EventRow(kind, user_id, now, session_id, value, data))

    status = after.get("status")
    if status != before.get("status"):
        if status == "completed":
            add("session.completed")
        elif mut.name == "session.resume":
            add("session.resumed", source="mutation")
    steps_before, steps_after = before.get("steps") or {}, after.get("steps") or {}
    # Documents are copied on write: an untouched `steps` is the same object before and after.
    for step in () if steps_before is steps_after else catalogue.STEP_IDS:
        was = (steps_before.get(step) or {}).get("status")
        if was != "skipped" and (steps_after.get(step) or {}).get("status") == "skipped":
            add("step.skipped", step=step)
    if mut.name in _PHASE_MUTATIONS:
        _checkpoint_events(before, after, add)
    return out


def _checkpoint_events(
    before: Mapping[str, Any], after: Mapping[str, Any], add: Callable[..., None]
) -> None:
    old = (before.get("processing") or {}).get("checkpoints") or {}
    new = (after.get("processing") or {}).get("checkpoints") or {}
    for phase, cp in new.items():
        prev = old.get(phase)
        if not isinstance(prev, dict) or prev.get("state") != "running" or prev == cp:
            continue
        state = cp.get("state")
        if state in ("completed", "failed"):
            try:
                ms = _iso_ms(cp["updatedAt"]) - _iso_ms(prev["updatedAt"])
            except (KeyError, TypeError, ValueError):
                continue
            error = cp.get("lastError") if state == "failed" else None
            code = error.get("code") if isinstance(error, dict) else None
            add("job.phase", max(0, ms), phase=phase, state=state, code=code,
                fallback=bool(cp.get("fallbackUsed")))  # fmt: skip
        elif state == "running" and int(cp.get("retryCount") or 0) > int(
            prev.get("retryCount") or 0
        ):
            add("job.resumed", phase=phase, attempt=int(cp.get("retryCount") or 0))


def _iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def hlc_ms(hlc: str) -> int | None:
    """The physical part of an HLC stamp `<ms>-<counter>-<clientID>` (docs/protocol.md)."""
    ms, sep, _ = hlc.partition("-")
    return int(ms) if sep and ms.isdigit() and len(ms) <= 16 else None


def clock_offset(now: datetime, client_ms: int | None) -> int:
    """This server's clock minus a client's, in ms (0 when the client did not say)."""
    return 0 if client_ms is None else round(now.timestamp() * 1000) - client_ms


def push_tally(
    mutations: Sequence[Mutation],
    outcomes: Sequence[Any],
    gap: MutationGap | None,
    now: datetime,
    clock_offset_ms: int = 0,
) -> dict[str, int]:
    """What became of one push's mutations (outcomes are `sessions.Outcome`s, in order).

    A mutation's age is measured from its HLC stamp, which is the client's wall clock;
    `clock_offset_ms` (server minus client, from the client's `hello`) corrects that clock's
    error, so a device whose clock is off does not look offline (or not) by that much.
    """
    # Plain loops: this runs in the writer for every push (a Counter cost 2% of its time).
    applied = duplicates = rejected = conflicts = 0
    ages: list[int] = []
    now_ms = int(now.timestamp() * 1000) - clock_offset_ms  # on the client's clock
    for mut, o in zip(mutations, outcomes, strict=False):
        if o.status == "applied":
            applied += 1
            if mut.hlc and (ms := hlc_ms(mut.hlc)) is not None and now_ms - ms >= OFFLINE_AFTER_MS:
                ages.append(now_ms - ms)
        elif o.status == "duplicate":
            duplicates += 1
        elif o.status == "error":
            rejected += 1
        if o.conflicts:
            conflicts += len(o.conflicts)
    return {
        "received": len(mutations),
        "attempts": len(mutations) - duplicates,
        "applied": applied,
        "duplicates": duplicates,
        "rejected": rejected,
        "conflicts": conflicts,
        "gap": int(gap is not None),
        "unprocessed": len(mutations) - len(outcomes),
        "replayed": len(ages),
        "offlineMs": max(ages, default=0),
    }


def push_events(
    user_id: str, session_id: str, tally: Mapping[str, int], now: datetime
) -> list[EventRow]:
    data = {k: tally[k] for k in SYNC_FIELDS}
    out = [EventRow("sync.push", user_id, now, session_id, tally["attempts"], data)]
    if tally["replayed"]:
        out.append(
            EventRow("sync.replayed", user_id, now, session_id, tally["offlineMs"],
                     {"count": tally["replayed"]})
        )  # fmt: skip
    return out


# resume intelligence -------------------------------------------------------------------------
Segments = Mapping[tuple[str, str | None, bool], Sequence[int]]


def durations_for(
    doc: Mapping[str, Any], segments: Segments, min_samples: int = 5
) -> dict[str, list[int]]:
    """Recorded durations per step for this session: the most specific segment holding at
    least `min_samples` — same template and creation mode, same mode, same template — else
    every recording of the step (which `resume.recommend` then weighs by its size)."""
    template = (doc.get("template") or {}).get("selected")
    quick = bool(doc.get("quickCreate"))
    by_step: dict[str, list[int]] = {}
    by_mode: dict[tuple[str, bool], list[int]] = {}
    by_template: dict[tuple[str, str | None], list[int]] = {}
    for (step, tpl, q), values in segments.items():
        by_step.setdefault(step, []).extend(values)
        by_mode.setdefault((step, q), []).extend(values)
        by_template.setdefault((step, tpl), []).extend(values)
    out: dict[str, list[int]] = {}
    for step, everything in by_step.items():
        for candidate in (
            list(segments.get((step, template, quick), ())),
            by_mode.get((step, quick), []),
            by_template.get((step, template), []),
        ):
            if len(candidate) >= min_samples:
                out[step] = sorted(candidate)
                break
        else:
            out[step] = sorted(everything)
    return out


def resume_attempts(events: Sequence[EventRow]) -> list[tuple[EventRow, bool]]:
    """Each `resume.offered` with whether it succeeded: the session's state was restored intact
    and the user reached the recommended step (a restore or a taken resume at that step)."""
    by_session: dict[str | None, list[EventRow]] = {}
    for e in events:
        by_session.setdefault(e.session_id, []).append(e)
    out: list[tuple[EventRow, bool]] = []
    for rows in by_session.values():
        rows.sort(key=lambda e: (e.at, e.id or 0))
        offers = [e for e in rows if e.kind == "resume.offered"]
        for i, offer in enumerate(offers):
            # A response belongs to the latest offer made before it (the first offer also takes
            # what came up to PAIR_BEFORE earlier), within PAIR_AFTER.
            start = offer.at - PAIR_BEFORE if i == 0 else offer.at
            end = offer.at + PAIR_AFTER
            if i + 1 < len(offers):
                end = min(end, offers[i + 1].at)
            near = [e for e in rows if start <= e.at < end and e is not offer]
            target = offer.data.get("recommendedStep")
            intact = any(e.kind == "resume.restored" and e.data.get("intact") for e in near)
            reached = any(
                e.kind in ("resume.restored", "resume.taken") and e.data.get("step") == target
                for e in near
            )
            out.append((offer, intact and reached))
    out.sort(key=lambda pair: (pair[0].at, pair[0].id or 0))
    return out


# the summary ---------------------------------------------------------------------------------
def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _spread(values: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 0.50),
        "p95": percentile(ordered, 0.95),
        "max": ordered[-1] if ordered else None,
    }


@dataclasses.dataclass(slots=True)
class Analytics:
    store: Store
    metrics: Metrics
    clock: Callable[[], datetime]

    def summary(
        self,
        user_id: str | None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        abandon_days: float = ABANDON_DAYS,
    ) -> dict[str, Any]:
        """The dashboard's figures; `user_id` None: every user's (admins), else that user's."""
        now = self.clock()
        end = until or now
        window = Window(since, until, user_id)  # no `until`: everything up to now, inclusive
        idle_before = min(end, now - timedelta(days=abandon_days))
        with self.store.read() as txn:
            totals = txn.event_totals(COUNTED_KINDS, window)
            resumed = txn.event_distinct_sessions(("session.resumed", "resume.restored"), window)
            sync = txn.event_field_sums("sync.push", SYNC_FIELDS, window)
            detail = txn.event_rows(
                (*RESUME_KINDS, "sync.replayed", "offline.replayed", "job.phase", "step.skipped"),
                window,
            )
            by_status = txn.session_counts("status", user_id=user_id)
            exits = txn.session_counts(
                "current_step", user_id=user_id, statuses=OPEN_STATUSES,
                active_from=since, active_to=idle_before,
            )  # fmt: skip
            cohort, completions = txn.step_funnel(window)
            jobs = txn.job_outcomes(window)

        def count(kind: str) -> int:
            return totals.get(kind, (0, 0.0))[0]

        def of(kind: str) -> list[EventRow]:
            return [e for e in detail if e.kind == kind]

        skipped = Counter(str(e.data.get("step")) for e in of("step.skipped"))
        attempts = totals.get("sync.push", (0, 0.0))[1]
        return {
            "scope": "global" if user_id is None else "own",
            "since": None if since is None else since.isoformat(),
            "until": end.isoformat(),
            "generatedAt": now.isoformat(),
            "sessions": {
                "created": count("session.created"),
                "resumed": resumed,
                "completed": count("session.completed"),
                "abandoned": sum(exits.values()),
                "abandonAfterDays": abandon_days,
                "byStatus": {s: by_status.get(s, 0) for s in STATUSES},
            },
            "funnel": {
                "cohort": cohort,
                "steps": [
                    {
                        "step": step,
                        "completed": completions.get(step, 0),
                        "rate": _rate(completions.get(step, 0), cohort),
                        "skipped": skipped.get(step, 0),
                    }
                    for step in catalogue.STEP_IDS
                ],
            },
            "exitSteps": dict(sorted(exits.items(), key=lambda kv: (-kv[1], kv[0]))),
            "mostCommonExitStep": min(exits, key=lambda s: (-exits[s], s)) if exits else None,
            "resume": self._resume(detail),
            "sync": {
                "pushes": count("sync.push"),
                "attempts": int(attempts),
                "successes": int(sync["applied"]),
                "duplicates": int(sync["duplicates"]),
                "conflicts": int(sync["conflicts"]),
                "rejected": int(sync["rejected"]),
                "gaps": int(sync["gap"]),
                "reliability": _rate(sync["applied"], attempts),
            },
            "offline": {
                "server": _offline(of("sync.replayed")),
                "browser": _offline(of("offline.replayed")),
            },
            # Per process and not per user: only admins see them.
            "propagation": None if user_id else self.metrics.propagation.summary(),
            "pushToAck": None
            if user_id
            else {t: lat.summary() for t, lat in self.metrics.push_ack.items()},
            "jobs": _jobs(of("job.phase"), jobs, count("job.resumed")),
        }

    def _resume(self, detail: Sequence[EventRow]) -> dict[str, Any]:
        resume = [e for e in detail if e.kind in RESUME_KINDS]
        pairs = resume_attempts(resume)
        offered, succeeded = len(pairs), sum(ok for _, ok in pairs)
        restored = [e for e in resume if e.kind == "resume.restored"]
        taken = [e for e in resume if e.kind == "resume.taken"]
        accepted = sum(bool(e.data.get("fromRecommendation")) for e in taken)
        daily: dict[str, list[int]] = {}
        for offer, ok in pairs:
            day = daily.setdefault(offer.at.date().isoformat(), [0, 0])
            day[0] += 1
            day[1] += ok
        return {
            "offered": offered,
            "succeeded": succeeded,
            "successRate": _rate(succeeded, offered),
            "restored": len(restored),
            "restoredIntact": sum(bool(e.data.get("intact")) for e in restored),
            "timeToResumeMs": _spread([e.value for e in restored if e.value is not None]),
            "taken": len(taken),
            "takenFromRecommendation": accepted,
            "acceptanceRate": _rate(accepted, offered),
            "daily": [
                {"day": d, "offered": n, "succeeded": ok, "successRate": _rate(ok, n)}
                for d, (n, ok) in sorted(daily.items())
            ],
        }

    def scrape_gauges(self) -> list[tuple[str, str, str, dict[str, float]]]:
        """Database gauges for /metrics, computed at each scrape."""
        with self.store.read() as txn:
            statuses = txn.session_counts("status")
            kinds = txn.event_kind_counts()
        return [
            (
                "cvsession_sessions",
                "Sessions stored, by status.",
                "status",
                {s: float(statuses.get(s, 0)) for s in STATUSES},
            ),
            ("cvsession_events", "Analytics events stored, by kind.", "kind",
             {k: float(n) for k, n in kinds.items()}),
        ]  # fmt: skip


def _offline(rows: Sequence[EventRow]) -> dict[str, Any]:
    mutations = sum(int(e.data.get("count") or 0) for e in rows)
    return {
        "replays": len(rows),
        "mutations": mutations,
        "offlineMs": _spread([e.value for e in rows if e.value is not None]),
    }


def _jobs(
    phases: Sequence[EventRow], outcomes: Sequence[tuple[str, str, int | None, Any]], resumed: int
) -> dict[str, Any]:
    per_phase: dict[str, list[float]] = {}
    phase_failures: Counter[str] = Counter()
    for e in phases:
        phase = str(e.data.get("phase"))
        if e.data.get("state") == "completed" and e.value is not None:
            per_phase.setdefault(phase, []).append(e.value)
        elif e.data.get("state") == "failed":
            phase_failures[str(e.data.get("code") or "unknown")] += 1
    runs: dict[str, list[float]] = {}
    failures: Counter[str] = Counter()
    for job_type, status, ms, error in outcomes:
        if status == "completed" and ms is not None:
            runs.setdefault(job_type, []).append(float(ms))
        elif status == "failed":
            code = error.get("code") if isinstance(error, dict) else None
            failures[str(code or "unknown")] += 1
    return {
        "phaseDurationsMs": {p: _spread(v) for p, v in sorted(per_phase.items())},
        "phaseFailures": dict(sorted(phase_failures.items())),
        "runDurationsMs": {t: _spread(v) for t, v in sorted(runs.items())},
        "failures": dict(sorted(failures.items())),
        "checkpointResumes": resumed,
    }
