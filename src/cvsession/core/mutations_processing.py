"""Server mutations of background jobs: phase checkpoints, job summaries, the parsed CV.

Only the job engine issues these (the `server.` prefix keeps clients out). A step may run more
than once (at-least-once), so every handler is idempotent: the same arguments write the same
values.
"""

from __future__ import annotations

from typing import Any

from cvsession.core import args as a
from cvsession.core import catalogue, model
from cvsession.core.document import iso
from cvsession.core.errors import InvalidInput
from cvsession.core.mutations import MutationContext, handler, mutation
from cvsession.core.mutations_workflow import set_status

_CHECKPOINT_KEYS = frozenset(
    {"phase", "state", "progress", "partialResult", "retryCount", "lastError", "fallbackUsed"}
)
# The document keeps the newest jobs only; the job table keeps them all.
MAX_JOBS_IN_DOCUMENT = 20


MAX_BATCH = 64


@mutation("server.batch")
def batch(ctx: MutationContext, args: Any) -> None:
    """Apply several server mutations as one (one version, one log entry): {mutations: [...]}.

    The engine changes a job, a checkpoint and the parsed CV together; every part is one of
    the server mutations, applied in order on the same document.
    """
    parts = a.obj(args).get("mutations")
    if not isinstance(parts, list) or len(parts) > MAX_BATCH:
        raise InvalidInput(f"mutations must be a list of at most {MAX_BATCH}", path="/mutations")
    for i, part in enumerate(parts):
        part = a.obj(part, f"mutations/{i}")
        name = part.get("name")
        if not isinstance(name, str) or not name.startswith("server.") or name == "server.batch":
            raise InvalidInput("a batch holds server mutations only", path=f"/mutations/{i}/name")
        handler(name)(ctx, part.get("args"))


@mutation("server.checkpoint")
def checkpoint(ctx: MutationContext, args: Any) -> None:
    """Write `/processing/checkpoints/{phase}` from {phase, state, progress, ...}."""
    args = a.obj(args)
    unknown = sorted(set(args) - _CHECKPOINT_KEYS)
    if unknown:
        raise InvalidInput(f"unknown checkpoint field {unknown[0]!r}", path="/" + unknown[0])
    cp = model.ProcessingCheckpoint.from_json({**args, "updatedAt": iso(ctx.now)})
    ctx.set("processing", "checkpoints", cp.phase.value, value=cp.to_json())


@mutation("server.checkpointsReset")
def checkpoints_reset(ctx: MutationContext, args: Any) -> None:
    """Set every phase of a job type to pending (a new run of the pipeline starts)."""
    job_type = a.obj(args).get("type")
    if not isinstance(job_type, str) or job_type not in catalogue.JOB_PHASES:
        raise InvalidInput(f"unknown job type {job_type!r}", path="/type")
    for phase in catalogue.JOB_PHASES[job_type]:
        cp = model.ProcessingCheckpoint(model.CheckpointPhase(phase), updated_at=iso(ctx.now))
        ctx.set("processing", "checkpoints", phase, value=cp.to_json())


@mutation("server.job")
def job(ctx: MutationContext, args: Any) -> None:
    """Write `/processing/jobs/{id}` (a Job's JSON form); drop the oldest finished beyond 20."""
    record = model.Job.from_json(a.obj(args).get("job"), path="/job")
    ctx.set("processing", "jobs", record.id, value=record.to_json())
    jobs = ctx.get("processing", "jobs") or {}
    if len(jobs) > MAX_JOBS_IN_DOCUMENT:
        finished = [
            (str(j.get("createdAt") or ""), jid)
            for jid, j in jobs.items()
            if j.get("status") in ("completed", "failed", "cancelled") and jid != record.id
        ]
        for _, jid in sorted(finished)[: len(jobs) - MAX_JOBS_IN_DOCUMENT]:
            ctx.remove("processing", "jobs", jid)


@mutation("server.featureProgress")
def feature_progress(ctx: MutationContext, args: Any) -> None:
    """Set `/features/{id}/progress` (and `error`) as the generate phase works on it."""
    args = a.obj(args)
    feature = args.get("feature")
    if feature not in catalogue.FEATURES:
        raise InvalidInput(f"unknown feature {feature!r}", path="/feature")
    progress = model.FeatureProgress(str(a.text(args, "progress", max_len=20)))
    if ctx.get("features", feature) is None:
        return  # the user removed the feature meanwhile; nothing to report on
    ctx.set("features", feature, "progress", value=progress.value)
    error = args.get("error")
    if error is not None and not isinstance(error, str):
        raise InvalidInput("error must be a string or null", path="/error")
    ctx.set("features", feature, "error", value=error)


def generated_features(features: Any) -> list[str]:
    """The generated features turned on in a document's `features`, in catalogue order."""
    chosen = features if isinstance(features, dict) else {}
    return [
        fid
        for fid in catalogue.GENERATED_FEATURES
        if isinstance(chosen.get(fid), dict) and chosen[fid].get("enabled")
    ]


@mutation("server.featuresProcessing")
def features_processing(ctx: MutationContext, args: Any) -> None:
    """{}: a CV job's generate phase begins; every generated feature turned on is `processing`.

    Decided on the document as it is when the phase begins, so the engine can write it in the
    transaction that begins the phase without reading the document first.
    """
    a.obj(args)
    for fid in generated_features(ctx.get("features")):
        ctx.set("features", fid, "progress", value=model.FeatureProgress.PROCESSING.value)
        ctx.set("features", fid, "error", value=None)


@mutation("server.processing")
def processing(ctx: MutationContext, args: Any) -> None:
    """{active}: a job of the session started running (draft or in progress → processing), or
    the last one ended (processing → in progress). Other statuses are the user's: left alone."""
    active = a.flag(a.obj(args), "active")
    status = ctx.get("status")
    if active and status in ("draft", "in_progress"):
        set_status(ctx, "processing")
    elif not active and status == "processing":
        set_status(ctx, "in_progress")


@mutation("server.cvParsed")
def cv_parsed(ctx: MutationContext, args: Any) -> None:
    """Replace `/cv` with the parser's JSON Resume object."""
    cv = a.obj(a.obj(args).get("cv"), "cv")
    ctx.set("cv", value=cv)
