"""The job engine and the CV pipeline, in process, on a real SQLite store and DBOS."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cvsession.api.app import Services
from cvsession.core.errors import DomainError, InvalidInput, NotFound
from cvsession.core.mutations import Mutation
from cvsession.jobs import JobEngine
from cvsession.jobs.records import DependencyFailed, JobFinished
from cvsession.processing import analyse, features, llm
from cvsession.store import UploadRow
from tests.hostile import busy_pdf, xxe_docx, zip_bomb_docx
from tests.jobs.harness import (
    CLASSIC_PDF,
    RESUMES,
    counting_file,
    enable_features,
    engine_for,
    fake_model,
    lines,
    new_upload,
    open_services,
)

pytestmark = pytest.mark.slow
SCHEMA = json.loads((RESUMES.parent / "jsonresume" / "schema.json").read_text())
CVS = sorted(p for p in RESUMES.iterdir() if p.suffix in (".pdf", ".docx"))
PHASES = ("extract", "parse", "analyse", "generate")


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    services = open_services(tmp_path)
    yield services
    services.close()


@pytest.fixture
def engine(svc: Services, tmp_path: Path) -> Iterator[JobEngine]:
    with engine_for(svc, tmp_path, "test-inprocess", extract_timeout=3) as eng:
        yield eng


def _doc(svc: Services, user_id: str, session_id: str) -> dict[str, Any]:
    document: dict[str, Any] = svc.sessions.get(user_id, session_id).document
    return document


def _states(svc: Services, user_id: str, session_id: str) -> dict[str, str]:
    checkpoints = _doc(svc, user_id, session_id)["processing"]["checkpoints"]
    return {phase: cp["state"] for phase, cp in checkpoints.items()}


def _raw_upload(svc: Services, user_id: str, session_id: str, data: bytes, kind: str) -> str:
    """Store bytes as an upload without the upload checks (a file that slipped past them)."""
    name = secrets.token_hex(16)
    svc.uploads.root.mkdir(parents=True, exist_ok=True)
    (svc.uploads.root / name).write_bytes(data)
    row = UploadRow("up_" + secrets.token_hex(16), session_id, user_id, "x", kind, len(data),
                    "0" * 64, name, datetime.now(UTC))  # fmt: skip
    svc.writer.run(lambda txn: txn.insert_upload(row))
    return row.id


@pytest.mark.parametrize("path", CVS, ids=lambda p: p.name)
def test_every_sample_cv_goes_through_the_whole_pipeline(
    svc: Services, engine: JobEngine, path: Path
) -> None:
    """Each real CV ends completed: a schema-valid JSON Resume, four completed phases, HTML for
    every template, the JSON Resume download and the chosen features' output."""
    user_id, session_id, upload_id = new_upload(svc, path.name, path.read_bytes())
    enable_features(svc, user_id, session_id, "ats-optimization", "privacy-mode")
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    job = engine.wait(job_id, timeout=60)
    assert ("completed", None, 100) == (job.status, job.error, job.progress)
    doc = _doc(svc, user_id, session_id)
    jsonschema.validate(doc["cv"], SCHEMA)
    assert dict.fromkeys(PHASES, "completed") == _states(svc, user_id, session_id)
    names = {a.name for a in engine.records.artifacts(user_id, session_id)}
    assert {"cv-classic.html", "cv-creative.html", "cv-modern.html", "resume.json"} <= names
    resume = json.loads(
        next(
            engine.records.artifact(user_id, session_id, a.id).content
            for a in engine.records.artifacts(user_id, session_id)
            if a.name == "resume.json"
        )
    )
    jsonschema.validate(resume, SCHEMA)
    assert "completed" == doc["features"]["privacy-mode"]["progress"]
    assert "completed" == doc["processing"]["jobs"][job_id]["status"]


def test_template_application_renders_the_enabled_features(
    svc: Services, engine: JobEngine
) -> None:
    """The preview's template application applies the enabled features to what it renders
    (privacy-mode removes the e-mail, as in the CV job's render) without touching their
    progress, which belongs to the jobs that generate them."""
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    cv_job = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert "completed" == engine.wait(cv_job, timeout=60).status
    email = _doc(svc, user_id, session_id)["cv"]["basics"]["email"]

    def render() -> str:
        job = engine.submit(user_id, session_id, "template-application", {"template": "modern"})
        assert "completed" == engine.wait(job.id).status
        return next(
            engine.records.artifact(user_id, session_id, a.id).content
            for a in engine.records.artifacts(user_id, session_id)
            if a.job_id == job.id and a.name == "cv-modern.html"
        )

    assert "@" in email and email in render()
    enable_features(svc, user_id, session_id, "privacy-mode")
    before = _doc(svc, user_id, session_id)["features"]["privacy-mode"]
    assert email not in render()
    assert before == _doc(svc, user_id, session_id)["features"]["privacy-mode"]


def test_a_completed_cv_job_completes_the_processing_step(svc: Services, engine: JobEngine) -> None:
    """The transaction that completes a CV job completes the processing step (no open page
    needed); where the step cannot be completed (its prerequisite, upload, is not done) the
    job still completes and the step is left alone."""
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job = engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id), timeout=60)
    assert "completed" == job.status
    assert "completed" != _doc(svc, user_id, session_id)["steps"]["processing"]["status"]

    svc.sessions.command(user_id, session_id, "step.complete", {"step": "upload"})
    job = engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id), timeout=60)
    assert "completed" == job.status
    doc = _doc(svc, user_id, session_id)
    processing = doc["steps"]["processing"]
    assert "completed" == processing["status"]
    assert {"completed"} == {sub["status"] for sub in processing["substeps"].values()}
    assert ["upload", "processing"] == doc["completedSteps"]
    assert "analysis" == doc["currentStep"]


def test_truncated_pdf_fails_with_reason(svc: Services, engine: JobEngine) -> None:
    """A truncated PDF ends the job failed; job and checkpoint show the classified error."""
    data = CLASSIC_PDF.read_bytes()
    user_id, session_id, upload_id = new_upload(svc, "broken.pdf", data[: len(data) * 6 // 10])
    job = engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id))
    assert "failed" == job.status
    assert job.error is not None
    assert ("extract", "extraction_failed", 1) == (
        job.error["phase"],
        job.error["code"],
        job.error["attempts"],
    )
    extract = _doc(svc, user_id, session_id)["processing"]["checkpoints"]["extract"]
    assert ("failed", "extraction_failed") == (extract["state"], extract["lastError"]["code"])
    assert None is _doc(svc, user_id, session_id)["cv"]


def test_pdf_without_a_text_layer_is_reported_not_parsed(svc: Services, engine: JobEngine) -> None:
    """A scan-like PDF fails as low_quality_text with advice; nothing is parsed from it."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    user_id, session_id, upload_id = new_upload(svc, "scan.pdf", buffer.getvalue())
    job = engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id))
    assert ("failed", "low_quality_text") == (job.status, (job.error or {}).get("code"))
    assert "text layer" in (job.error or {}).get("message", "")
    assert None is _doc(svc, user_id, session_id)["cv"]


HOSTILE = {
    "zip-bomb": (zip_bomb_docx, "docx", "hostile_file"),
    "external-entity": (xxe_docx, "docx", "hostile_file"),
    "truncated-pdf": (lambda: CLASSIC_PDF.read_bytes()[:20_000], "pdf", "extraction_failed"),
    "busy-pdf": (busy_pdf, "pdf", "extraction_failed"),
    "renamed-executable": (lambda: Path("/bin/true").read_bytes(), "pdf", "unsupported_file"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_fails_cleanly_and_the_worker_keeps_serving(
    svc: Services, engine: JobEngine, name: str
) -> None:
    """A hostile file that slipped past the upload checks fails its job with a clear error;
    the next job on the same engine completes."""
    make, kind, code = HOSTILE[name]
    user_id = svc.identity.create_user().user_id
    session_id = svc.sessions.create(user_id).id
    upload_id = _raw_upload(svc, user_id, session_id, make(), kind)
    job = engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id), timeout=30)
    assert ("failed", code) == (job.status, (job.error or {}).get("code"))
    assert (job.error or {}).get("message")
    user2, sid2, good = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    assert "completed" == engine.wait(engine.submit_cv_processing(user2, sid2, good)).status


def test_model_parses_when_configured_and_is_called_once(svc: Services, tmp_path: Path) -> None:
    """With a model configured, the parse phase uses it (fake transport), once per job."""
    calls = tmp_path / "calls"
    with engine_for(svc, tmp_path, "model", model_parser=fake_model(counting_file(calls))) as eng:
        user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
        job = eng.wait(eng.submit_cv_processing(user_id, session_id, upload_id))
    assert "completed" == job.status
    assert "Model Parsed" == _doc(svc, user_id, session_id)["cv"]["basics"]["name"]
    parse = _doc(svc, user_id, session_id)["processing"]["checkpoints"]["parse"]
    assert ("model", False) == (parse["partialResult"]["parser"], parse["fallbackUsed"])
    assert 1 == len(lines(calls))


def test_failing_model_is_retried_then_the_rule_parser_takes_over(
    svc: Services, tmp_path: Path
) -> None:
    """A model answering 529 is retried maxRetries times, then the rule-based parser is used
    and the checkpoint says so, with the classified error."""
    calls = tmp_path / "calls"
    model = fake_model(counting_file(calls), status=529)
    with engine_for(svc, tmp_path, "model", model_parser=model) as eng:
        user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
        job_id = eng.submit(user_id, session_id, "cv-processing", {"uploadId": upload_id},
                            max_retries=2).id  # fmt: skip
        job = eng.wait(job_id)
    assert ("completed", 2) == (job.status, job.retry_count)
    parse = _doc(svc, user_id, session_id)["processing"]["checkpoints"]["parse"]
    assert (True, "service_unavailable") == (parse["fallbackUsed"], parse["lastError"]["code"])
    assert "John Doe" == _doc(svc, user_id, session_id)["cv"]["basics"]["name"]
    assert 3 == len(lines(calls))


def test_retries_exhausted_fail_the_job_with_the_classified_error(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phase failing with a retryable error is retried with backoff, then the job fails
    with that error, its phase and the number of attempts, visible in the document."""
    attempts = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        raise llm.ModelError("upstream overloaded", kind="service_unavailable")

    monkeypatch.setattr(analyse, "analyse", flaky)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job_id = engine.submit(
        user_id, session_id, "cv-processing", {"uploadId": upload_id}, max_retries=2
    ).id
    job = engine.wait(job_id)
    assert "failed" == job.status
    assert job.error is not None
    assert ("analyse", "model_error", 3, 2) == (
        job.error["phase"],
        job.error["code"],
        job.error["attempts"],
        job.retry_count,
    )
    assert 3 == len(attempts)
    mirrored = _doc(svc, user_id, session_id)["processing"]["jobs"][job_id]
    assert ("failed", "model_error") == (mirrored["status"], mirrored["error"]["code"])


def _until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _held(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make the parse phase wait: returns (started, release)."""
    from cvsession.processing import parse

    started, release = threading.Event(), threading.Event()
    real_parse = parse.parse_resume

    def held_parse(text: str) -> dict[str, Any]:
        started.set()
        release.wait(20)
        return real_parse(text)

    monkeypatch.setattr(parse, "parse_resume", held_parse)
    return started, release


def test_pause_stops_at_phase_boundary_and_resume_finishes(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paused during parse, the job finishes parse and stops before analyse; resumed, it
    continues from there and completes without redoing extract or parse."""
    started, release = _held(monkeypatch)
    runs: list[str] = []
    from cvsession.jobs import phases

    real_run = phases.run

    def counting(rt: Any, job: Any, phase: str, attempt: int, inputs: Any) -> Any:
        runs.append(phase)
        return real_run(rt, job, phase, attempt, inputs)

    monkeypatch.setattr(phases, "run", counting)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)
    assert "paused" == engine.pause(user_id, session_id, job_id).status
    release.set()
    assert "paused" == engine.wait(job_id).status
    _until(lambda: _states(svc, user_id, session_id)["parse"] == "completed")
    engine.sweep()  # housekeeping must not restart a paused job
    time.sleep(0.5)  # time enough for the queue to start analyse, were it going to
    states = _states(svc, user_id, session_id)
    assert ("completed", "pending") == (states["parse"], states["analyse"])

    assert "queued" == engine.resume(user_id, session_id, job_id).status
    assert "completed" == engine.wait(job_id).status
    assert list(PHASES) == runs


def test_cancel_mid_pipeline_stops_for_good(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled during parse, no later phase runs, and a cancelled job cannot be resumed."""
    started, release = _held(monkeypatch)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)
    assert "cancelled" == engine.cancel(user_id, session_id, job_id).status
    release.set()
    engine.wait(job_id)
    with pytest.raises(JobFinished):
        engine.resume(user_id, session_id, job_id)
    assert "pending" == _states(svc, user_id, session_id)["analyse"]
    assert "cancelled" == engine.records.load(job_id).status


def test_session_pause_holds_every_job_and_resume_releases_them(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pausing the session pauses its running and queued jobs; resuming completes them all."""
    started, release = _held(monkeypatch)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    first = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)
    second = engine.submit(user_id, session_id, "template-application", {"template": "modern"},
                           dependencies=[first]).id  # fmt: skip
    paused = engine.control_session(user_id, session_id, "pause")
    assert {first, second} == {j.id for j in paused if j.status == "paused"}
    release.set()
    assert "paused" == engine.wait(first).status
    engine.control_session(user_id, session_id, "resume")
    assert "completed" == engine.wait(first).status
    assert "completed" == engine.wait(second).status


def test_priority_orders_a_sessions_queue(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs queued behind a running one start in priority order (lower first)."""
    started, release = _held(monkeypatch)
    order: list[str] = []
    real = features.generate_feature
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    first = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)

    def recording(fid: str, *args: Any, **kwargs: Any) -> Any:
        order.append(fid)
        return real(fid, *args, **kwargs)

    monkeypatch.setattr(features, "generate_feature", recording)
    submitted = {}
    for fid, priority in (
        ("privacy-mode", 30),
        ("embed-qr-code", 10),
        ("skills-visualization", 20),
    ):
        job = engine.submit(user_id, session_id, "feature-generation", {"feature": fid},
                            priority=priority)  # fmt: skip
        submitted[fid] = job.id
    release.set()
    for job_id in [first, *submitted.values()]:
        assert "completed" == engine.wait(job_id).status
    assert ["embed-qr-code", "skills-visualization", "privacy-mode"] == order


def test_dependencies_run_in_order_and_failures_cascade(svc: Services, engine: JobEngine) -> None:
    """A job waits for its dependencies; when one fails, its dependants are cancelled with
    dependency_failed and a new job cannot depend on it."""
    data = CLASSIC_PDF.read_bytes()
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", data)
    cv_job = engine.submit_cv_processing(user_id, session_id, upload_id)
    template = engine.submit(user_id, session_id, "template-application",
                             {"template": "classic"}, dependencies=[cv_job]).id  # fmt: skip
    assert "completed" == engine.wait(template).status
    cv_done = engine.records.load(cv_job)
    template_done = engine.records.load(template)
    assert cv_done.completed_at is not None and template_done.started_at is not None
    assert cv_done.completed_at <= template_done.started_at

    bad = _raw_upload(svc, user_id, session_id, data[:20_000], "pdf")
    failing = engine.submit_cv_processing(user_id, session_id, bad)
    child = engine.submit(user_id, session_id, "template-application", {"template": "modern"},
                          dependencies=[failing]).id  # fmt: skip
    grandchild = engine.submit(user_id, session_id, "feature-generation",
                               {"feature": "embed-qr-code"}, dependencies=[child]).id  # fmt: skip
    assert "failed" == engine.wait(failing).status
    for job_id in (child, grandchild):
        job = engine.wait(job_id)
        assert ("cancelled", "dependency_failed") == (job.status, (job.error or {}).get("code"))
    with pytest.raises(DependencyFailed):
        engine.submit(user_id, session_id, "template-application", {"template": "modern"},
                      dependencies=[failing])  # fmt: skip


def test_jobs_are_scoped_to_their_owner(svc: Services, engine: JobEngine) -> None:
    """Another user cannot read, control or depend on someone's job."""
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    other = svc.identity.create_user().user_id
    other_session = svc.sessions.create(other).id
    for call in (engine.get, engine.pause, engine.resume, engine.cancel):
        with pytest.raises(NotFound):
            call(other, session_id, job_id)
    with pytest.raises(NotFound):
        engine.submit(other, other_session, "template-application", {"template": "modern"},
                      dependencies=[job_id])  # fmt: skip
    engine.wait(job_id)


def test_estimates_come_from_recorded_run_times(svc: Services, engine: JobEngine) -> None:
    """Before five runs of a type the catalogue's estimate is used, after them their median."""
    from cvsession.core import catalogue

    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    first = engine.submit(user_id, session_id, "template-application", {"template": "modern"})
    assert catalogue.JOB_ESTIMATED_MS["template-application"] == first.estimated_duration_ms
    engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id))
    runs = [engine.submit(user_id, session_id, "template-application", {"template": "modern"})
            for _ in range(5)]  # fmt: skip
    durations = []
    for job in runs:
        done = engine.wait(job.id)
        assert done.started_at is not None and done.completed_at is not None
        durations.append(int((done.completed_at - done.started_at).total_seconds() * 1000))
    estimate = engine.submit(user_id, session_id, "template-application", {"template": "modern"})
    assert estimate.estimated_duration_ms != catalogue.JOB_ESTIMATED_MS["template-application"]
    assert min(durations) <= (estimate.estimated_duration_ms or 0) <= max(durations) + 1


def test_feature_job_without_a_parsed_cv_fails_clearly(svc: Services, engine: JobEngine) -> None:
    """Generating before any CV was parsed fails with a message that says what to do."""
    user_id = svc.identity.create_user().user_id
    session_id = svc.sessions.create(user_id).id
    job = engine.wait(
        engine.submit(user_id, session_id, "feature-generation", {"feature": "embed-qr-code"}).id
    )
    assert ("failed", "invalid_input") == (job.status, (job.error or {}).get("code"))
    assert "process an upload first" in (job.error or {}).get("message", "")


def test_checkpoint_mutation_rejects_an_unknown_state(svc: Services) -> None:
    """server.checkpoint validates its arguments as a ProcessingCheckpoint."""
    user_id = svc.identity.create_user().user_id
    session_id = svc.sessions.create(user_id).id
    bad = Mutation("", 0, "server.checkpoint", {"phase": "parse", "state": "exploded"})
    outcome = svc.sessions.mutate(user_id, session_id, bad, internal=True)
    assert "error" == outcome.status
    assert isinstance(outcome.error, InvalidInput)
    assert "/state" == outcome.error.detail.get("path")


def test_clients_cannot_send_server_mutations(svc: Services) -> None:
    """A client-sent server.job or server.checkpoint is refused like an unknown mutation."""
    user_id = svc.identity.create_user().user_id
    session_id = svc.sessions.create(user_id).id
    for name in ("server.checkpoint", "server.job", "server.cvParsed"):
        with pytest.raises(DomainError):
            svc.sessions.mutate(user_id, session_id, Mutation("", 0, name, {}))


def test_a_session_cannot_pile_up_jobs(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 20 unfinished jobs a session's new job is refused with too_many_jobs (429)."""
    from cvsession.jobs.records import MAX_UNFINISHED_PER_SESSION, TooManyJobs

    started, release = _held(monkeypatch)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)
    for _ in range(MAX_UNFINISHED_PER_SESSION - 1):
        engine.submit(user_id, session_id, "template-application", {"template": "modern"})
    with pytest.raises(TooManyJobs) as refused:
        engine.submit(user_id, session_id, "template-application", {"template": "modern"})
    assert 429 == refused.value.status
    cancelled = engine.control_session(user_id, session_id, "cancel")
    release.set()
    assert MAX_UNFINISHED_PER_SESSION == len(cancelled)
    # The cancelled job's parse still ends (and writes the CV a template needs) before it stops.
    _until(lambda: _states(svc, user_id, session_id)["parse"] == "completed")
    again = engine.submit(user_id, session_id, "template-application", {"template": "modern"})
    done = engine.wait(again.id)
    assert "completed" == done.status, done.error


def test_server_batch_applies_its_parts_as_one_version(svc: Services) -> None:
    """server.batch applies server mutations in order as one version and one log entry; a
    client mutation or a nested batch inside it is refused and nothing is applied."""
    user_id = svc.identity.create_user().user_id
    session_id = svc.sessions.create(user_id).id
    before = svc.sessions.get(user_id, session_id).version
    parts = [
        {"name": "server.checkpoint", "args": {"phase": "extract", "state": "running"}},
        {"name": "server.checkpoint", "args": {"phase": "extract", "state": "completed",
                                               "progress": 100}},
        {"name": "server.cvParsed", "args": {"cv": {"basics": {"name": "B"}}}},
    ]  # fmt: skip
    batch = Mutation("", 0, "server.batch", {"mutations": parts})
    assert "applied" == svc.sessions.mutate(user_id, session_id, batch, internal=True).status
    row = svc.sessions.get(user_id, session_id)
    assert before + 1 == row.version
    assert "completed" == row.document["processing"]["checkpoints"]["extract"]["state"]
    assert {"basics": {"name": "B"}} == row.document["cv"]
    for bad in ("form.setField", "server.batch"):
        refused = Mutation("", 0, "server.batch", {"mutations": [{"name": bad, "args": {}}]})
        outcome = svc.sessions.mutate(user_id, session_id, refused, internal=True)
        assert ("error", before + 1) == (
            outcome.status,
            svc.sessions.get(user_id, session_id).version,
        )


def test_reconcile_repairs_a_row_and_workflow_that_disagree(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job whose workflow was left cancelled behind its row's back (a crash between the
    resume's two writes) is resumed by reconcile and completes; one whose workflow is gone is
    handed over again."""
    from dbos import DBOS

    started, release = _held(monkeypatch)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)
    engine.pause(user_id, session_id, job_id)
    release.set()
    _until(lambda: str(DBOS.get_workflow_status(job_id).status) == "CANCELLED")  # type: ignore[union-attr]

    def requeue(j: Any) -> Any:  # what resume writes before it resumes the workflow
        j.status, j.control = "queued", ""
        return j

    engine.records.change(job_id, requeue)
    time.sleep(0.3)
    assert "queued" == engine.records.load(job_id).status
    engine.reconcile(settle_seconds=0)
    assert "completed" == engine.wait(job_id).status

    lost = engine.submit(user_id, session_id, "template-application", {"template": "modern"},
                         dependencies=[job_id])  # fmt: skip
    assert "completed" == engine.wait(lost.id).status
    orphan = dataclasses.replace(lost, id="job_" + secrets.token_hex(16), status="queued",
                                 dispatched=True, completed_at=None, result=None)  # fmt: skip
    svc.writer.run(lambda txn: txn.insert_job(orphan))  # handed over, then the process died
    engine.reconcile(settle_seconds=0)
    assert "completed" == engine.wait(orphan.id).status


def test_the_session_is_processing_while_a_job_runs(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running job makes the session `processing`; when it ends the session is back in
    progress; a session the user paused stays paused."""
    started, release = _held(monkeypatch)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    assert "draft" == _doc(svc, user_id, session_id)["status"]
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)
    assert "processing" == _doc(svc, user_id, session_id)["status"]
    release.set()
    assert "completed" == engine.wait(job_id).status
    assert "in_progress" == _doc(svc, user_id, session_id)["status"]

    svc.sessions.command(user_id, session_id, "session.pause")
    again = engine.submit(user_id, session_id, "template-application", {"template": "modern"})
    done = engine.wait(again.id)
    assert "completed" == done.status, done.error
    assert "paused" == _doc(svc, user_id, session_id)["status"]


def test_the_skills_chart_takes_the_templates_accent_colour(
    svc: Services, engine: JobEngine
) -> None:
    """A skills chart generated for a session whose modern template is customised uses that
    template's primary colour."""
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id))
    for name, args in (
        ("template.select", {"template": "modern"}),
        ("template.customize", {"template": "modern", "colors": {"primary": "#0a7d55"}}),
    ):
        svc.sessions.command(user_id, session_id, name, args)
    job = engine.wait(
        engine.submit(
            user_id, session_id, "feature-generation", {"feature": "skills-visualization"}
        ).id
    )
    assert "completed" == job.status, job.error
    chart = next(
        engine.records.artifact(user_id, session_id, a.id).content
        for a in engine.records.artifacts(user_id, session_id)
        if a.job_id == job.id and a.media_type == "image/svg+xml"
    )
    assert "#0a7d55" in chart


def _parts(args: Any, name: str) -> list[dict[str, Any]]:
    """The parts of a logged server mutation (a batch's, or the mutation itself)."""
    if name == "server.batch":
        parts: list[dict[str, Any]] = args["mutations"]
        return parts
    return [{"name": name, "args": args}]


def test_each_phase_boundary_is_one_transaction(svc: Services, engine: JobEngine) -> None:
    """Ending a phase and beginning the next (with the features it will generate marked
    processing) is one version of the session: a CV job writes six in all, and DBOS records
    one step for the run of its four phases."""
    from dbos import DBOS

    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    enable_features(svc, user_id, session_id, "ats-optimization", "privacy-mode")
    before = svc.sessions.get(user_id, session_id).version
    job = engine.wait(engine.submit_cv_processing(user_id, session_id, upload_id))
    assert "completed" == job.status, job.error
    # Our row completes inside the last phase, before DBOS records the step's output: wait for
    # the workflow itself to finish before reading its steps (CI once read none).
    DBOS.retrieve_workflow(job.id).get_result()
    steps = DBOS.list_workflow_steps(job.id, load_output=False)
    assert ["cvsession.phases"] == [step["function_name"] for step in steps]
    _, entries, _ = svc.sessions.log_since(user_id, session_id, before)
    # created (handing over changes nothing clients see), extract begun, three boundaries,
    # generate ended with the job's outcome
    assert 6 == len(entries)
    written = [_parts(e.args, e.name) for e in entries]
    checkpoints = [
        [(p["args"]["phase"], p["args"]["state"]) for p in ps if p["name"] == "server.checkpoint"]
        for ps in written
    ]
    for ended, begun in itertools.pairwise(PHASES):
        assert [(ended, "completed"), (begun, "running")] in checkpoints
    generate_begun = written[checkpoints.index([("analyse", "completed"), ("generate", "running")])]
    assert "server.featuresProcessing" in [p["name"] for p in generate_begun]


def test_features_processing_marks_the_generated_features_turned_on(svc: Services) -> None:
    """server.featuresProcessing sets every generated feature turned on to processing (and
    clears its error), and leaves the others alone."""
    user_id, session_id, _ = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    enable_features(svc, user_id, session_id, "ats-optimization", "privacy-mode")
    mark = Mutation("", 0, "server.featuresProcessing", {})
    assert "applied" == svc.sessions.mutate(user_id, session_id, mark, internal=True).status
    features = _doc(svc, user_id, session_id)["features"]
    assert {"ats-optimization", "privacy-mode"} == {
        fid for fid, rec in features.items() if rec.get("progress") == "processing"
    }
    assert all(features[fid].get("error") is None for fid in ("ats-optimization", "privacy-mode"))


def test_a_phase_never_starts_for_a_job_paused_behind_dbos_back(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workflow that outlived its job's pause (DBOS lost the cancellation) does not start
    the next phase: it waits, `reconcile` cancels it, and resume finishes the job."""
    from dbos import DBOS

    started, release = _held(monkeypatch)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)

    def pause(j: Any) -> Any:
        j.status, j.control = "paused", "pause"
        return j

    engine.records.change(job_id, pause)  # the row only: DBOS still runs the workflow
    release.set()
    _until(lambda: _states(svc, user_id, session_id)["parse"] == "completed")
    time.sleep(0.3)
    assert "PENDING" == str(DBOS.get_workflow_status(job_id).status)  # type: ignore[union-attr]
    engine.reconcile(settle_seconds=0)  # a paused row whose workflow still runs
    _until(lambda: str(DBOS.get_workflow_status(job_id).status) == "CANCELLED")  # type: ignore[union-attr]
    states = _states(svc, user_id, session_id)
    assert ("completed", "pending") == (states["parse"], states["analyse"])
    assert "queued" == engine.resume(user_id, session_id, job_id).status
    assert "completed" == engine.wait(job_id).status


def test_a_phase_never_starts_for_a_job_cancelled_behind_dbos_back(
    svc: Services, engine: JobEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workflow that outlived its job's cancellation (DBOS lost it) ends without starting
    another phase, and the job stays cancelled."""
    from dbos import DBOS

    started, release = _held(monkeypatch)
    user_id, session_id, upload_id = new_upload(svc, "cv.pdf", CLASSIC_PDF.read_bytes())
    job_id = engine.submit_cv_processing(user_id, session_id, upload_id)
    assert started.wait(30)

    def cancel(j: Any) -> Any:
        j.status, j.control, j.completed_at = "cancelled", "cancel", datetime.now(UTC)
        return j

    engine.records.change(job_id, cancel)  # the row only: DBOS still runs the workflow
    release.set()
    _until(lambda: str(DBOS.get_workflow_status(job_id).status) == "SUCCESS")  # type: ignore[union-attr]
    assert "pending" == _states(svc, user_id, session_id)["analyse"]
    assert "cancelled" == engine.records.load(job_id).status
