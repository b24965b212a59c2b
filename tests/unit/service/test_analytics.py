"""Analytics helpers: what a mutation records, push tallies, resume pairing, durations."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from cvsession.core import resume
from cvsession.core.document import new_session_document
from cvsession.core.mutations import Mutation
from cvsession.service import analytics
from cvsession.service.metrics import percentile
from cvsession.store import EventRow

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def cp(state: str, at: datetime, retry: int = 0, **kw: object) -> dict[str, object]:
    return {"phase": "parse", "state": state, "retryCount": retry,
            "updatedAt": at.isoformat(), **kw}  # fmt: skip


def test_checkpoint_transitions_record_phase_durations_failures_and_resumes() -> None:
    """running→completed records its duration, →failed its error class, a re-begun phase with
    one more attempt a checkpoint resume; other changes record nothing."""
    mut = Mutation("", 0, "server.checkpoint", {})
    running = {"processing": {"checkpoints": {"parse": cp("running", NOW)}}}

    def after(checkpoint: dict[str, object]) -> dict[str, object]:
        return {"processing": {"checkpoints": {"parse": checkpoint}}}

    done = analytics.mutation_events(
        "u", "s", mut, running, after(cp("completed", NOW + timedelta(seconds=2))), NOW
    )
    assert [("job.phase", 2000.0, "completed", None)] == [
        (e.kind, e.value, e.data["state"], e.data["code"]) for e in done
    ]
    failed = analytics.mutation_events(
        "u", "s", mut, running,
        after(cp("failed", NOW + timedelta(seconds=1), lastError={"code": "llm_timeout"})), NOW,
    )  # fmt: skip
    assert [("job.phase", "llm_timeout")] == [(e.kind, e.data["code"]) for e in failed]
    again = analytics.mutation_events("u", "s", mut, running, after(cp("running", NOW, 1)), NOW)
    assert [("job.resumed", 1)] == [(e.kind, e.data["attempt"]) for e in again]
    assert [] == analytics.mutation_events("u", "s", mut, running, after(cp("running", NOW)), NOW)
    other = Mutation("", 0, "form.setField", {})
    assert [] == analytics.mutation_events(
        "u", "s", other, running, after(cp("completed", NOW)), NOW
    )


def test_status_and_skip_changes_are_recorded() -> None:
    """Completion, a resume mutation and a skipped step each record one event."""
    before = new_session_document("s_1", "u", NOW)
    after = copy.deepcopy(before)
    after["status"] = "completed"
    after["steps"]["keywords"]["status"] = "skipped"
    events = analytics.mutation_events("u", "s_1", Mutation("", 0, "x", {}), before, after, NOW)
    assert [("session.completed", {}), ("step.skipped", {"step": "keywords"})] == [
        (e.kind, e.data) for e in events
    ]
    paused, back = copy.deepcopy(before), copy.deepcopy(before)
    paused["status"], back["status"] = "paused", "in_progress"
    resumed = analytics.mutation_events(
        "u", "s_1", Mutation("", 0, "session.resume", {}), paused, back, NOW
    )
    assert ["session.resumed"] == [e.kind for e in resumed]


def test_push_tally_counts_outcomes_and_offline_replays() -> None:
    """Duplicates are not attempts; applied mutations stamped a minute or more ago are replays."""
    now_ms = int(NOW.timestamp() * 1000)
    muts = [
        Mutation("c", 1, "x", {}, None, f"{now_ms - 120_000}-0-c"),
        Mutation("c", 2, "x", {}, None, f"{now_ms - 1000}-3-c"),
        Mutation("c", 3, "x", {}, None, f"{now_ms - 600_000}-0-c"),
        Mutation("c", 4, "x", {}, None, "garbage"),
        Mutation("c", 9, "x", {}, None, ""),
    ]
    outcomes = [
        SimpleNamespace(status="applied", conflicts=[{"id": "c1"}]),
        SimpleNamespace(status="applied", conflicts=[]),
        SimpleNamespace(status="duplicate", conflicts=[]),
        SimpleNamespace(status="error", conflicts=[]),
    ]
    tally = analytics.push_tally(muts, outcomes, gap=object(), now=NOW)  # type: ignore[arg-type]
    assert {
        "received": 5, "attempts": 4, "applied": 2, "duplicates": 1, "rejected": 1,
        "conflicts": 1, "gap": 1, "unprocessed": 1, "replayed": 1, "offlineMs": 120_000,
    } == tally  # fmt: skip
    events = analytics.push_events("u", "s", tally, NOW)
    assert [("sync.push", 4), ("sync.replayed", 120_000)] == [(e.kind, e.value) for e in events]
    assert (None, 12) == (analytics.hlc_ms("x-1-c"), analytics.hlc_ms("12-0-c"))


def test_offline_ages_are_corrected_by_the_clients_clock_offset() -> None:
    """A device whose clock runs 31 minutes slow, edits made 5 minutes before the push: 5
    minutes offline, not 36; and its fresh edits are not replays at all."""
    offset = analytics.clock_offset(NOW, int(NOW.timestamp() * 1000) - 31 * 60_000)
    assert 31 * 60_000 == offset
    client_now = int(NOW.timestamp() * 1000) - offset
    muts = [
        Mutation("c", 1, "x", {}, None, f"{client_now - 300_000}-0-c"),
        Mutation("c", 2, "x", {}, None, f"{client_now - 500}-0-c"),
    ]
    outcomes = [SimpleNamespace(status="applied", conflicts=[])] * 2
    fixed = analytics.push_tally(muts, outcomes, None, NOW, offset)
    assert (1, 300_000) == (fixed["replayed"], fixed["offlineMs"])
    skewed = analytics.push_tally(muts, outcomes, None, NOW)  # what the server saw before
    assert (2, 36 * 60_000) == (skewed["replayed"], skewed["offlineMs"])
    assert 0 == analytics.clock_offset(NOW, None)


def offer(minutes: float, step: str = "upload") -> EventRow:
    return EventRow("resume.offered", "u", NOW + timedelta(minutes=minutes), "s", 0.5,
                    {"recommendedStep": step})  # fmt: skip


def seen(kind: str, minutes: float, step: str, intact: bool = True) -> EventRow:
    return EventRow(kind, "u", NOW + timedelta(minutes=minutes), "s", None,
                    {"step": step, "intact": intact})  # fmt: skip


def test_resume_attempts_need_an_intact_restore_and_the_recommended_step() -> None:
    """An offer succeeds with an intact restore near it and the recommended step reached."""
    events = [
        seen("resume.restored", -1, "analysis"),
        offer(0),
        seen("resume.taken", 1, "upload"),  # first offer: restored intact, upload reached
        offer(60),
        seen("resume.restored", 59.5, "upload", intact=False),  # lost state: failure
        offer(120),
        seen("resume.restored", 200, "upload"),  # too late for the offer: failure
        offer(300, "features"),
        seen("resume.restored", 301, "features"),
    ]
    assert [True, False, False, True] == [ok for _, ok in analytics.resume_attempts(events)]


def test_offers_close_together_each_keep_their_own_restore() -> None:
    """Two resumes 10 s apart, each restored intact at its step, are two successes (a
    response belongs to the latest offer made before it)."""
    events = [
        offer(0),
        seen("resume.restored", 0.05, "upload"),
        offer(10 / 60),
        seen("resume.restored", 10.05 / 60, "upload"),
    ]
    assert [True, True] == [ok for _, ok in analytics.resume_attempts(events)]


def test_durations_prefer_the_most_specific_segment_with_enough_samples() -> None:
    """Same template and mode first, then same mode, then same template, then every sample."""
    doc = new_session_document("s_1", "u", NOW, quick_create=True)
    doc["template"]["selected"] = "modern"
    segments = {
        ("upload", "modern", True): [1] * 5,
        ("upload", None, False): [9] * 50,
        ("analysis", "modern", True): [2] * 4,
        ("analysis", None, True): [3] * 2,
        ("analysis", "classic", True): [4] * 2,
        ("preview", "modern", False): [5] * 3,
        ("preview", None, False): [6] * 3,
    }
    chosen = analytics.durations_for(doc, segments)
    assert [1] * 5 == chosen["upload"]
    assert [2] * 4 + [3] * 2 + [4] * 2 == chosen["analysis"]  # same mode, 8 samples
    assert [5] * 3 + [6] * 3 == chosen["preview"]  # everything: no segment has 5
    # Few samples give a low confidence; more samples a higher one.
    few = resume.recommend(doc, analytics.durations_for(doc, {}), NOW)
    many = resume.recommend(doc, {s: [60_000] * 40 for s in ("upload", "processing")}, NOW)
    assert ("low", True) == (few.confidence_label, many.confidence > few.confidence)


def test_percentile_is_nearest_rank() -> None:
    """p50 of 1..4 is 2, p95 is 4, empty is None."""
    assert (2, 4, None) == (percentile([1, 2, 3, 4], 0.5), percentile([1, 2, 3, 4], 0.95),
                            percentile([], 0.5))  # fmt: skip


def test_catch_up_after_joining_is_not_counted_as_propagation() -> None:
    """A patch to a client that joined after the changes were committed carries no
    propagation sample; changes committed while it was connected do."""
    import asyncio

    from cvsession.service.sync import Room

    async def check() -> None:
        room = Room("s1")
        room.committed(1, 100.0)
        room.committed(2, 105.0)
        assert 100.0 == room.first_commit(0, 2)
        assert None is room.first_commit(0, 2, since=107.0)  # joined after both
        room.committed(3, 108.0)
        assert 108.0 == room.first_commit(0, 3, since=107.0)

    asyncio.run(check())  # Room holds an asyncio.Condition: build it inside a loop
