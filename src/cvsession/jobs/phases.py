"""What each phase of a job does: extract, parse, analyse, generate.

`run(rt, job, phase, attempt, inputs)` returns a `PhaseResult` and raises a classified
`DomainError` on failure. Inputs come from the upload and the session document; the result's
mutations (the parsed CV, feature progress) and artifacts (HTML, SVG, JSON Resume) are written
by the pipeline in the transaction that marks the phase completed, so a phase's effects and its
checkpoint are never seen apart. `starting(job, phase)` is what the transaction that begins a
phase records besides its checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cvsession.core import catalogue
from cvsession.core.errors import DomainError, InvalidInput
from cvsession.core.mutations import Mutation
from cvsession.core.mutations_processing import generated_features
from cvsession.processing import analyse, extract, features, llm, parse, render, visuals
from cvsession.store import ArtifactRow, JobRow

if TYPE_CHECKING:
    from cvsession.jobs.pipeline import Runtime


@dataclass(slots=True)
class PhaseResult:
    output: Any  # what the next phase gets
    summary: Any  # shown to the user as the checkpoint's partial result
    fallback: dict[str, Any] | None = None  # the error a fallback covered, if one was used
    mutations: list[Mutation] = field(default_factory=list)
    artifacts: list[ArtifactRow] = field(default_factory=list)


class LowQualityText(DomainError):
    """The file has no usable text layer (a scan or an image-only PDF)."""

    code = "low_quality_text"
    status = 422


def run(rt: Runtime, job: JobRow, phase: str, attempt: int, inputs: dict[str, Any]) -> PhaseResult:
    if phase == "extract":
        return _extract(rt, job)
    if phase == "parse":
        return _parse(rt, job, attempt, inputs["extract"]["text"])
    if phase == "analyse":
        return _analyse(rt, job, inputs["parse"]["cv"])
    if phase == "generate":
        return _generate(rt, job, inputs)
    raise InvalidInput(f"unknown phase {phase!r}")


def _document(rt: Runtime, job: JobRow) -> dict[str, Any]:
    doc: dict[str, Any] = rt.sessions.get(job.owner_id, job.session_id).document
    return doc


def _mutate(rt: Runtime, job: JobRow, name: str, args: dict[str, Any]) -> None:
    outcome = rt.sessions.mutate(
        job.owner_id, job.session_id, Mutation("", 0, name, args), internal=True
    )
    if outcome.error is not None:
        raise outcome.error


def _extract(rt: Runtime, job: JobRow) -> PhaseResult:
    _, data = rt.uploads.read(job.owner_id, job.session_id, str(job.params["uploadId"]))
    extracted = extract.extract_text(data, timeout=rt.extract_timeout)
    if extracted.quality == "low":
        raise LowQualityText(
            "the file has no usable text layer (a scan or an image-only PDF?): upload a PDF "
            "with selectable text or a DOCX, or paste the text",
            pages=extracted.pages,
        )
    output = dataclasses.asdict(extracted)
    summary = {k: v for k, v in output.items() if k != "text"} | {"chars": len(extracted.text)}
    return PhaseResult(output, summary)


def _parse(rt: Runtime, job: JobRow, attempt: int, text: str) -> PhaseResult:
    parser = rt.model_parser()
    fallback: dict[str, Any] | None = None
    cv: dict[str, Any] | None = None
    if parser is not None:
        try:
            # Cached per job: a re-run step or a resumed job never pays for the model twice.
            cv = rt.records.cache(job.id, "parse.model", lambda: parser.parse(text))
        except llm.ModelError as err:
            if err.retryable and attempt < job.max_retries:
                raise
            fallback = {"code": err.kind, "message": err.message[:500], "retryable": False}
    if cv is None:
        cv = parse.parse_resume(text)
    basics = cv.get("basics") or {}
    summary = {
        "name": basics.get("name"),
        "sections": sorted(k for k, v in cv.items() if v),
        "parser": "rules" if parser is None or fallback is not None else "model",
    }
    mutation = Mutation("", 0, "server.cvParsed", {"cv": cv})
    return PhaseResult({"cv": cv}, summary, fallback, [mutation])


def _target(doc: dict[str, Any]) -> dict[str, Any]:
    target = doc.get("target") or {}
    return target if isinstance(target, dict) else {}


def _analysis(cv: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """ATS keywords, suggestions and PII of `cv` against the session's target."""
    return analyse.analyse(
        cv,
        target_role=str(target.get("role") or ""),
        job_description=str(target.get("jobDescription") or ""),
    )


def _analyse(rt: Runtime, job: JobRow, cv: dict[str, Any]) -> PhaseResult:
    result = _analysis(cv, _target(_document(rt, job)))
    return PhaseResult({"analysis": result}, result)


def _current_cv(doc: dict[str, Any], inputs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The CV and analysis to generate from: this job's earlier phases, or the session's."""
    if "parse" in inputs:
        return inputs["parse"]["cv"], inputs["analyse"]["analysis"]
    cv = doc.get("cv")
    if not isinstance(cv, dict):
        raise InvalidInput("the session has no parsed CV yet: process an upload first")
    analysis = (doc["processing"]["checkpoints"].get("analyse") or {}).get("partialResult")
    if not isinstance(analysis, dict):
        analysis = _analysis(cv, _target(doc))
    return cv, analysis


def _wanted_features(doc: dict[str, Any], job: JobRow) -> list[tuple[str, dict[str, Any]]]:
    if job.type == "feature-generation":
        fid = str(job.params["feature"])
        rec = (doc.get("features") or {}).get(fid) or {}
        return [(fid, dict(rec.get("configuration") or {}))]
    chosen = doc.get("features") or {}
    return [(f, dict(chosen[f].get("configuration") or {})) for f in generated_features(chosen)]


def _reports_features(job: JobRow) -> bool:
    """Whether the job's generate phase reports feature progress. A template application
    applies the enabled features to what it renders (so the preview shows what the results
    will) but leaves their progress to the jobs that generate them."""
    return job.type != "template-application"


def starting(job: JobRow, phase: str) -> list[Mutation]:
    """What the document records when `phase` begins, in the transaction that begins it: the
    features about to be generated are `processing` (the same ones `_wanted_features` picks)."""
    if phase != "generate" or not _reports_features(job):
        return []
    if job.type == "feature-generation":
        return [_feature_progress(str(job.params["feature"]), "processing")]
    return [Mutation("", 0, "server.featuresProcessing", {})]


def completed(job: JobRow) -> list[Mutation]:
    """What the document records in the transaction where `job` completes: a CV job done is
    the processing step done (`server.stepDone` changes nothing when the step cannot be
    completed, e.g. the session was paused or the step reopened)."""
    if job.type != "cv-processing" or job.status != "completed":
        return []
    return [Mutation("", 0, "server.stepDone", {"step": "processing"})]


_CHARTS = ("skills-visualization", "skills-chart")


def _primary_colour(doc: dict[str, Any], job: JobRow) -> str:
    """The primary colour of the template being rendered (customised or the default)."""
    template = doc.get("template") or {}
    tid = str(job.params.get("template") or template.get("selected") or "modern")
    tdef = catalogue.TEMPLATES.get(tid) or catalogue.TEMPLATES["modern"]
    custom = ((template.get("customizations") or {}).get(tid) or {}).get("colors") or {}
    colour = custom.get("primary") if isinstance(custom, dict) else None
    return visuals.safe_color(colour, tdef.colors["primary"])


def _generate(rt: Runtime, job: JobRow, inputs: dict[str, Any]) -> PhaseResult:
    doc = _document(rt, job)
    cv, analysis = _current_cv(doc, inputs)
    target = _target(doc)
    artifacts: dict[str, dict[str, Any]] = {}
    summaries: dict[str, Any] = {}
    wanted = _wanted_features(doc, job)  # marked processing when the phase began (`starting`)
    primary = _primary_colour(doc, job)
    for fid, config in wanted:
        if fid in _CHARTS and not config.get("color"):
            config["color"] = primary  # charts take the chosen template's accent colour
        try:
            out = features.generate_feature(fid, cv, analysis, config, target=target)
        except DomainError as err:
            if _reports_features(job):
                error = {"feature": fid, "progress": "error", "error": err.message[:500]}
                _mutate(rt, job, "server.featureProgress", error)
            raise
        cv = out["cv"]
        artifacts.update(out.get("artifacts") or {})
        summaries[fid] = out.get("summary")
    template = str(job.params.get("template") or (doc.get("template") or {}).get("selected") or "")
    templates = [template] if template in catalogue.TEMPLATES else list(catalogue.TEMPLATES)
    custom = (doc.get("template") or {}).get("customizations") or {}
    for tid in templates:
        html = render.render_html(cv, tid, custom.get(tid), artifacts=artifacts)
        artifacts[f"cv-{tid}.html"] = {"mediaType": "text/html", "content": html}
    artifacts["resume.json"] = {
        "mediaType": "application/json",
        "content": render.export_json_resume(cv),
    }
    rows = _artifact_rows(rt, job, artifacts)
    names = [row.name for row in rows]
    summary = {"features": summaries, "templates": templates, "artifacts": names}
    done = [_feature_progress(fid, "completed") for fid, _ in wanted if _reports_features(job)]
    return PhaseResult({"artifacts": names}, summary, mutations=done, artifacts=rows)


def _feature_progress(fid: str, progress: str) -> Mutation:
    return Mutation("", 0, "server.featureProgress", {"feature": fid, "progress": progress})


def _artifact_rows(
    rt: Runtime, job: JobRow, artifacts: dict[str, dict[str, Any]]
) -> list[ArtifactRow]:
    now = rt.records.clock()
    rows = []
    for i, (name, art) in enumerate(sorted(artifacts.items())):
        content, media_type = art["content"], str(art["mediaType"])
        if not isinstance(content, str):  # structured artifacts (e.g. achievement paths)
            content, media_type = json.dumps(content, ensure_ascii=False), "application/json"
        rows.append(ArtifactRow(f"{job.id}.{i}", job.id, job.session_id, name, media_type,
                                content, now))  # fmt: skip
    return rows


def result_summary(job_type: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """What the finished job returns (kept in its row; artifacts are listed by name)."""
    generated = outputs.get("generate") or {}
    return {"type": job_type, "artifacts": generated.get("artifacts", [])}
