"""Structural validation of the session document (the shape in cvsession.core.document).

Called after every raw JSON Patch and on import, so it is precise (the error names the JSON
Pointer of the first bad node) and fast (a few hundred microseconds for a typical document).
"""

from __future__ import annotations

from typing import Any

from cvsession.core import catalogue, rules
from cvsession.core.document import SCHEMA_VERSION, escape_token
from cvsession.core.model import (
    FeatureProgress,
    Job,
    ProcessingCheckpoint,
    SessionStatus,
    StepStatus,
    SubstepStatus,
    _bool,
    _enum,
    _fail,
    _int,
    _keys,
    _obj,
    _opt_str,
    _str,
    _str_list,
    _str_map,
    _ts,
    require_json,
)

# Document validation -----------------------------------------------------------------------------

_SESSION_STATUSES = frozenset(SessionStatus)
_STEP_STATUSES = frozenset(StepStatus)
_SUBSTEP_STATUSES = frozenset(SubstepStatus)
_FEATURE_PROGRESS = frozenset(FeatureProgress)

_TOP_KEYS = frozenset({
    "id", "owner", "title", "status", "currentStep", "currentSubstep", "completedSteps",
    "createdAt", "lastActiveAt", "completedAt", "pausedAt", "schemaVersion", "version",
    "quickCreate", "jobId", "steps", "features", "rules", "template", "forms", "validation", "ui",
    "navigation", "processing", "cv", "target", "data",
})  # fmt: skip
_STEP_KEYS = frozenset({
    "status", "completion", "timeSpentMs", "interactions", "startedAt", "completedAt",
    "lastModified", "enteredAt", "substeps",
})  # fmt: skip
_SUBSTEP_KEYS = frozenset({"status", "data", "validationErrors", "startedAt", "completedAt"})
_FEATURE_KEYS = frozenset({"enabled", "configuration", "progress", "dependencies", "error"})
_CUSTOM_KEYS = frozenset({"colors", "fonts", "sectionOrder", "hiddenSections"})
_FIELD_KEYS = frozenset({"value", "dirty", "touched", "valid", "errors", "warnings"})
_FORM_META_KEYS = frozenset({"version", "lastModified", "userAgent", "formSchema"})
_VALIDATION_KEYS = frozenset({"valid", "errors", "warnings", "validatedAt"})
_TARGET_KEYS = frozenset({"role", "jobDescription", "instructions"})
_STEP_ORDER = {s: i for i, s in enumerate(catalogue.STEP_IDS)}
_SUBSTEP_SETS = {s.id: frozenset(s.substeps) for s in catalogue.STEPS}
_STEP_ID_SET = frozenset(catalogue.STEP_IDS)


def validate_document(doc: Any) -> None:
    """Check the whole structure of a session document (see `cvsession.core.document`).

    Every key of the shape must be present with the right type; unknown keys are refused except
    inside free-form JSON (`ui`, `data`, `cv`, substep `data`, feature `configuration`, field
    `value`, form `metadata.formSchema`). Also checks cross-references: `completedSteps` are
    unique step ids in catalogue order, `currentSubstep` belongs to `currentStep`, feature and
    template ids are in the catalogue, rules pass `rules.validate_rule`.

    Raises InvalidInput with `path`, the JSON Pointer of the first bad node.
    """
    d = _obj(doc, "")
    _keys(d, "", _TOP_KEYS)
    _str(d["id"], "/id")
    _str(d["owner"], "/owner")
    _str(d["title"], "/title")
    if len(d["title"]) > 200 or "\x00" in d["title"]:
        # The title is also an indexed text column: bounded, and free of U+0000.
        _fail("/title", "must be at most 200 characters without U+0000")
    _enum(d["status"], "/status", _SESSION_STATUSES)
    _validate_position(d)
    _ts(d["createdAt"], "/createdAt", optional=False)
    _ts(d["lastActiveAt"], "/lastActiveAt", optional=False)
    _ts(d["completedAt"], "/completedAt")
    _ts(d["pausedAt"], "/pausedAt")
    _int(d["schemaVersion"], "/schemaVersion", low=1, high=SCHEMA_VERSION)
    _int(d["version"], "/version")
    _bool(d["quickCreate"], "/quickCreate")
    _opt_str(d["jobId"], "/jobId")
    _validate_steps(d["steps"])
    _validate_features(d["features"])
    for rid, rule in _obj(d["rules"], "/rules").items():
        rules.validate_rule(rule, path="/rules/" + escape_token(rid))
    _validate_template(d["template"])
    _validate_forms(d["forms"])
    _validate_validation(d["validation"])
    ui = _obj(d["ui"], "/ui")
    require_json(ui, "/ui")
    if "sharePublic" in ui:
        _bool(ui["sharePublic"], "/ui/sharePublic")
    _validate_navigation(d["navigation"])
    _validate_processing(d["processing"])
    if d["cv"] is not None:
        require_json(_obj(d["cv"], "/cv"), "/cv")
    target = _obj(d["target"], "/target")
    _keys(target, "/target", _TARGET_KEYS)
    for key in _TARGET_KEYS:
        _str(target[key], f"/target/{key}")
    require_json(d["data"], "/data")


def _validate_position(d: dict[str, Any]) -> None:
    current = d["currentStep"]
    if not isinstance(current, str) or current not in _SUBSTEP_SETS:
        _fail("/currentStep", "must be a catalogue step id")
    sub = d["currentSubstep"]
    if sub is not None and (not isinstance(sub, str) or sub not in _SUBSTEP_SETS[current]):
        _fail("/currentSubstep", f"must be null or a substep of {current!r}")
    done = d["completedSteps"]
    if not isinstance(done, list):
        _fail("/completedSteps", "must be a list of step ids")
    last = -1
    for i, sid in enumerate(done):
        if not isinstance(sid, str) or sid not in _STEP_ORDER:
            _fail(f"/completedSteps/{i}", "must be a catalogue step id")
        if _STEP_ORDER[sid] <= last:
            _fail(f"/completedSteps/{i}", "must be unique and in catalogue order")
        last = _STEP_ORDER[sid]


def _validate_steps(steps: Any) -> None:
    steps = _obj(steps, "/steps")
    _keys(steps, "/steps", _STEP_ID_SET)
    for sid, rec in steps.items():
        p = f"/steps/{sid}"
        rec = _obj(rec, p)
        _keys(rec, p, _STEP_KEYS)
        _enum(rec["status"], p + "/status", _STEP_STATUSES)
        _int(rec["completion"], p + "/completion", high=100)
        _int(rec["timeSpentMs"], p + "/timeSpentMs")
        _int(rec["interactions"], p + "/interactions")
        for key in ("startedAt", "completedAt", "lastModified", "enteredAt"):
            _ts(rec[key], f"{p}/{key}")
        subs = _obj(rec["substeps"], p + "/substeps")
        _keys(subs, p + "/substeps", _SUBSTEP_SETS[sid])
        for sub, srec in subs.items():
            sp = f"{p}/substeps/{sub}"
            srec = _obj(srec, sp)
            _keys(srec, sp, _SUBSTEP_KEYS)
            _enum(srec["status"], sp + "/status", _SUBSTEP_STATUSES)
            require_json(_obj(srec["data"], sp + "/data"), sp + "/data")
            _str_list(srec["validationErrors"], sp + "/validationErrors")
            _ts(srec["startedAt"], sp + "/startedAt")
            _ts(srec["completedAt"], sp + "/completedAt")


def _validate_features(features: Any) -> None:
    for fid, rec in _obj(features, "/features").items():
        p = "/features/" + escape_token(fid)
        if fid not in catalogue.FEATURES:
            _fail(p, "is not a catalogue feature")
        rec = _obj(rec, p)
        _keys(rec, p, _FEATURE_KEYS)
        _bool(rec["enabled"], p + "/enabled")
        require_json(_obj(rec["configuration"], p + "/configuration"), p + "/configuration")
        if rec["progress"] is not None:
            _enum(rec["progress"], p + "/progress", _FEATURE_PROGRESS)
        deps = rec["dependencies"]
        _str_list(deps, p + "/dependencies")
        for i, dep in enumerate(deps):
            if dep not in catalogue.FEATURES:
                _fail(f"{p}/dependencies/{i}", "is not a catalogue feature")
        err = rec["error"]
        if err is not None and not isinstance(err, str):
            _obj(err, p + "/error")
            require_json(err, p + "/error")


def _validate_template(template: Any) -> None:
    t = _obj(template, "/template")
    _keys(t, "/template", frozenset({"selected", "customizations"}))
    sel = t["selected"]
    if sel is not None and (not isinstance(sel, str) or sel not in catalogue.TEMPLATES):
        _fail("/template/selected", "must be null or a catalogue template id")
    for tid, custom in _obj(t["customizations"], "/template/customizations").items():
        p = "/template/customizations/" + escape_token(tid)
        if tid not in catalogue.TEMPLATES:
            _fail(p, "is not a catalogue template")
        custom = _obj(custom, p)
        _keys(custom, p, frozenset(), _CUSTOM_KEYS)
        if "colors" in custom:
            _str_map(custom["colors"], p + "/colors")
        if "fonts" in custom:
            _str_map(custom["fonts"], p + "/fonts")
        if "sectionOrder" in custom:
            sp = p + "/sectionOrder"
            for key, entry in _obj(custom["sectionOrder"], sp).items():
                ep = f"{sp}/{escape_token(key)}"
                entry = _obj(entry, ep)
                _keys(entry, ep, frozenset({"section", "sortKey"}))
                _str(entry["section"], ep + "/section")
                _str(entry["sortKey"], ep + "/sortKey")
        if "hiddenSections" in custom:
            hp = p + "/hiddenSections"
            for section, flag in _obj(custom["hiddenSections"], hp).items():
                if flag is not True:
                    _fail(f"{hp}/{escape_token(section)}", "must be true (remove the key to show)")


def _validate_forms(forms: Any) -> None:
    for fid, form in _obj(forms, "/forms").items():
        p = "/forms/" + escape_token(fid)
        form = _obj(form, p)
        _keys(form, p, frozenset({"fields"}), frozenset({"metadata"}))
        for name, field in _obj(form["fields"], p + "/fields").items():
            fp = f"{p}/fields/{escape_token(name)}"
            field = _obj(field, fp)
            _keys(field, fp, _FIELD_KEYS)
            require_json(field["value"], fp + "/value")
            _bool(field["dirty"], fp + "/dirty")
            _bool(field["touched"], fp + "/touched")
            _bool(field["valid"], fp + "/valid")
            _str_list(field["errors"], fp + "/errors")
            _str_list(field["warnings"], fp + "/warnings")
        if "metadata" in form:
            mp = p + "/metadata"
            meta = _obj(form["metadata"], mp)
            _keys(meta, mp, frozenset(), _FORM_META_KEYS)
            if "version" in meta:
                _int(meta["version"], mp + "/version")
            if "lastModified" in meta:
                _ts(meta["lastModified"], mp + "/lastModified")
            if "userAgent" in meta:
                _opt_str(meta["userAgent"], mp + "/userAgent")
            if "formSchema" in meta:
                require_json(meta["formSchema"], mp + "/formSchema")


def _validate_validation(validation: Any) -> None:
    for key, rec in _obj(validation, "/validation").items():
        p = "/validation/" + escape_token(key)
        rec = _obj(rec, p)
        _keys(rec, p, _VALIDATION_KEYS)
        _bool(rec["valid"], p + "/valid")
        _str_list(rec["errors"], p + "/errors")
        _str_list(rec["warnings"], p + "/warnings")
        _ts(rec["validatedAt"], p + "/validatedAt")


def _validate_navigation(navigation: Any) -> None:
    nav = _obj(navigation, "/navigation")
    _keys(nav, "/navigation", frozenset({"history", "lastDeepLink"}))
    history = nav["history"]
    if not isinstance(history, list):
        _fail("/navigation/history", "must be a list")
    for i, entry in enumerate(history):
        p = f"/navigation/history/{i}"
        entry = _obj(entry, p)
        _keys(entry, p, frozenset({"step", "substep", "at"}))
        step = entry["step"]
        if not isinstance(step, str) or step not in _SUBSTEP_SETS:
            _fail(p + "/step", "must be a catalogue step id")
        sub = entry["substep"]
        if sub is not None and (not isinstance(sub, str) or sub not in _SUBSTEP_SETS[step]):
            _fail(p + "/substep", f"must be null or a substep of {step!r}")
        _ts(entry["at"], p + "/at", optional=False)
    _opt_str(nav["lastDeepLink"], "/navigation/lastDeepLink")


def _validate_processing(processing: Any) -> None:
    proc = _obj(processing, "/processing")
    _keys(proc, "/processing", frozenset({"checkpoints", "jobs"}))
    for phase, cp in _obj(proc["checkpoints"], "/processing/checkpoints").items():
        p = "/processing/checkpoints/" + escape_token(phase)
        if ProcessingCheckpoint.from_json(cp, path=p).phase != phase:
            _fail(p + "/phase", "must equal its key")
    for jid, job in _obj(proc["jobs"], "/processing/jobs").items():
        p = "/processing/jobs/" + escape_token(jid)
        if Job.from_json(job, path=p).id != jid:
            _fail(p + "/id", "must equal its key")
