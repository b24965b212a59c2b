"""Named mutations for the workflow: session status, steps, substeps, time, features, rules."""

from __future__ import annotations

from typing import Any

from cvsession.core import args as a
from cvsession.core import catalogue, model, navigation, progress, rules
from cvsession.core.document import iso, parse_iso
from cvsession.core.errors import (
    DependencyMissing,
    IllegalTransition,
    InvalidInput,
    PrerequisiteMissing,
    RuleViolation,
)
from cvsession.core.mutations import MutationContext, mutation

HISTORY_LIMIT = 50
# Time between entering a step and leaving it counts as time spent up to this cap, so a tab left
# open overnight does not count as eight hours of work.
MAX_OPEN_INTERVAL_MS = 30 * 60 * 1000
MAX_REPORTED_MS = 60 * 60 * 1000


# helpers -----------------------------------------------------------------------------------------
def set_status(ctx: MutationContext, target: str) -> None:
    """Move the session to `target`, enforcing the transition table; same status is a no-op."""
    current = ctx.get("status")
    if current == target:
        return
    model.check_session_transition(model.SessionStatus(current), model.SessionStatus(target))
    ctx.set("status", value=target)
    now = iso(ctx.now)
    if target == "paused":
        ctx.set("pausedAt", value=now)
    elif current == "paused":
        ctx.set("pausedAt", value=None)
    if target == "completed":
        ctx.set("completedAt", value=now)


def _require_active(ctx: MutationContext) -> None:
    status = ctx.get("status")
    if status in ("expired", "completed"):
        raise IllegalTransition(
            f"the session is {status}; it can no longer be changed", session_status=status
        )


def _activate(ctx: MutationContext) -> None:
    """Working on a step makes a draft, paused or failed session in progress."""
    _require_active(ctx)
    if ctx.get("status") in ("draft", "paused", "failed"):
        set_status(ctx, "in_progress")


def _require_prerequisites(ctx: MutationContext, step: str) -> None:
    missing = navigation.missing_prerequisites(ctx.doc, step)
    if missing:
        raise PrerequisiteMissing(
            navigation.prerequisite_reason(step, missing), step=step, missing=missing
        )


def _set_step_status(ctx: MutationContext, step: str, target: str) -> None:
    current = ctx.get("steps", step, "status")
    if current == target:
        return
    model.check_step_transition(model.StepStatus(current), model.StepStatus(target))
    ctx.set("steps", step, "status", value=target)
    if target == "in_progress" and ctx.get("steps", step, "startedAt") is None:
        ctx.set("steps", step, "startedAt", value=iso(ctx.now))


def _set_substep_status(ctx: MutationContext, step: str, sub: str, target: str) -> None:
    current = ctx.get("steps", step, "substeps", sub, "status")
    if current == target:
        return
    model.check_substep_transition(model.SubstepStatus(current), model.SubstepStatus(target))
    ctx.set("steps", step, "substeps", sub, "status", value=target)
    now = iso(ctx.now)
    if target == "in_progress" and ctx.get("steps", step, "substeps", sub, "startedAt") is None:
        ctx.set("steps", step, "substeps", sub, "startedAt", value=now)
    if target in ("completed", "skipped"):
        ctx.set("steps", step, "substeps", sub, "completedAt", value=now)
    if target != "error":
        ctx.set("steps", step, "substeps", sub, "validationErrors", value=[])


def _touch_step(ctx: MutationContext, step: str) -> None:
    ctx.set("steps", step, "completion", value=progress.step_completion(ctx.doc, step))
    ctx.set("steps", step, "lastModified", value=iso(ctx.now))


def _close_open_interval(ctx: MutationContext, step: str) -> int:
    """Add the time since the step was entered to its time spent; return the interval in ms."""
    entered = ctx.get("steps", step, "enteredAt")
    if not entered:
        return 0
    elapsed = int((ctx.now - parse_iso(entered)).total_seconds() * 1000)
    elapsed = max(0, min(elapsed, MAX_OPEN_INTERVAL_MS))
    ctx.set(
        "steps",
        step,
        "timeSpentMs",
        value=ctx.get("steps", step, "timeSpentMs", default=0) + elapsed,
    )
    ctx.set("steps", step, "enteredAt", value=None)
    return elapsed


def _go_to(ctx: MutationContext, step: str, sub: str | None) -> None:
    previous = ctx.get("currentStep")
    if previous != step and previous is not None:
        _close_open_interval(ctx, previous)
    ctx.set("currentStep", value=step)
    ctx.set("currentSubstep", value=sub)
    if ctx.get("steps", step, "enteredAt") is None:
        ctx.set("steps", step, "enteredAt", value=iso(ctx.now))
    history = ctx.get("navigation", "history", default=[])
    entry = {"step": step, "substep": sub, "at": iso(ctx.now)}
    ctx.set("navigation", "history", value=[*history[-(HISTORY_LIMIT - 1) :], entry])
    ctx.set("navigation", "lastDeepLink", value=navigation.deep_link(ctx.get("id"), step, sub))


def _complete_step(ctx: MutationContext, step: str) -> None:
    for sub in catalogue.substep_ids(step):
        status = ctx.get("steps", step, "substeps", sub, "status")
        if status == "error":
            raise IllegalTransition(
                f"{catalogue.step(step).title}: fix the errors in {sub} before completing the step",
                step=step,
                substep=sub,
            )
        if status in ("pending", "in_progress"):
            _set_substep_status(ctx, step, sub, "completed")
    if ctx.get("steps", step, "status") == "pending":
        _set_step_status(ctx, step, "in_progress")
    _set_step_status(ctx, step, "completed")
    ctx.set("steps", step, "completedAt", value=iso(ctx.now))
    _close_open_interval(ctx, step)
    _touch_step(ctx, step)
    done = set(ctx.get("completedSteps", default=[])) | {step}
    ctx.set("completedSteps", value=[s for s in catalogue.STEP_IDS if s in done])
    ctx.effect(
        "step_duration",
        step=step,
        duration_ms=ctx.get("steps", step, "timeSpentMs"),
        template=ctx.get("template", "selected"),
        quick_create=ctx.get("quickCreate"),
    )
    if step == "completed":
        set_status(ctx, "completed")
        return
    if ctx.get("currentStep") == step:
        nxt = navigation.next_step(ctx.doc)
        if nxt is not None:
            _go_to(ctx, nxt, navigation.first_open_substep(ctx.doc, nxt))


# session ---------------------------------------------------------------------------------------
@mutation("session.pause")
def pause(ctx: MutationContext, args: Any) -> None:
    a.obj(args)
    current = ctx.get("currentStep")
    if current:
        _close_open_interval(ctx, current)
    set_status(ctx, "paused")


@mutation("session.resume")
def resume(ctx: MutationContext, args: Any) -> None:
    a.obj(args)
    if ctx.get("status") != "paused":
        raise IllegalTransition(
            "only a paused session can be resumed", session_status=ctx.get("status")
        )
    set_status(ctx, "in_progress")
    current = ctx.get("currentStep")
    if current:
        ctx.set("steps", current, "enteredAt", value=iso(ctx.now))


@mutation("session.complete")
def complete(ctx: MutationContext, args: Any) -> None:
    a.obj(args)
    _require_active(ctx)
    _require_prerequisites(ctx, "completed")
    _activate(ctx)
    _complete_step(ctx, "completed")


@mutation("session.setTitle")
def set_title(ctx: MutationContext, args: Any) -> None:
    title = a.text(a.obj(args), "title", max_len=200)
    ctx.set("title", value=title, checked=True)


@mutation("server.expire")
def expire(ctx: MutationContext, args: Any) -> None:
    a.obj(args)
    set_status(ctx, "expired")


# steps and substeps ----------------------------------------------------------------------------
@mutation("step.enter")
def enter_step(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    step = a.step_id(args)
    sub = a.substep_id(args, step, optional=True)
    if ctx.get("status") == "expired":
        raise IllegalTransition("the session has expired", session_status="expired")
    _require_prerequisites(ctx, step)
    if ctx.get("status") != "completed":
        _activate(ctx)
        if ctx.get("steps", step, "status") == "pending":
            _set_step_status(ctx, step, "in_progress")
            _touch_step(ctx, step)
    _go_to(
        ctx,
        step,
        sub or navigation.first_open_substep(ctx.doc, step) or catalogue.substep_ids(step)[0],
    )


@mutation("step.complete")
def complete_step(ctx: MutationContext, args: Any) -> None:
    step = a.step_id(a.obj(args))
    _require_prerequisites(ctx, step)
    _activate(ctx)
    if ctx.get("steps", step, "status") == "completed":
        return
    _complete_step(ctx, step)


@mutation("server.stepDone")
def server_step_done(ctx: MutationContext, args: Any) -> None:
    """{step}: the work a step stands for finished on the server (a CV job completed: the
    processing step). Completes the step as `step.complete` would when the session is a
    draft or in progress and nothing stands in the way; otherwise changes nothing. It never
    fails, so it cannot undo the job outcome it is committed with."""
    step = a.step_id(a.obj(args))
    if ctx.get("status") not in ("draft", "in_progress"):
        return
    if ctx.get("steps", step, "status") in ("completed", "skipped"):
        return
    if navigation.missing_prerequisites(ctx.doc, step):
        return
    subs = catalogue.substep_ids(step)
    if any(ctx.get("steps", step, "substeps", sub, "status") == "error" for sub in subs):
        return
    _activate(ctx)
    _complete_step(ctx, step)


@mutation("step.skip")
def skip_step(ctx: MutationContext, args: Any) -> None:
    step = a.step_id(a.obj(args))
    if not catalogue.step(step).skippable:
        raise IllegalTransition(f"{catalogue.step(step).title} cannot be skipped", step=step)
    _require_prerequisites(ctx, step)
    _activate(ctx)
    if ctx.get("steps", step, "status") == "pending":
        _set_step_status(ctx, step, "in_progress")
    _set_step_status(ctx, step, "skipped")
    for sub in catalogue.substep_ids(step):
        if ctx.get("steps", step, "substeps", sub, "status") in ("pending", "in_progress"):
            _set_substep_status(ctx, step, sub, "skipped")
    _close_open_interval(ctx, step)
    _touch_step(ctx, step)
    if ctx.get("currentStep") == step:
        nxt = navigation.next_step(ctx.doc)
        if nxt is not None:
            _go_to(ctx, nxt, navigation.first_open_substep(ctx.doc, nxt))


def _substep_target(ctx: MutationContext, args: Any) -> tuple[str, str, dict[str, Any]]:
    args = a.obj(args)
    step = a.step_id(args)
    sub = a.substep_id(args, step)
    assert sub is not None
    _require_prerequisites(ctx, step)
    _activate(ctx)
    if ctx.get("steps", step, "status") == "pending":
        _set_step_status(ctx, step, "in_progress")
    return step, sub, args


def _merge_substep_data(ctx: MutationContext, step: str, sub: str, args: dict[str, Any]) -> None:
    data = args.get("data")
    if data is None:
        return
    for key, value in a.obj(data, "data").items():
        a.key_name(key, "a data key")
        if value is None:
            ctx.remove("steps", step, "substeps", sub, "data", key, checked=True)
        else:
            ctx.set("steps", step, "substeps", sub, "data", key, value=value, checked=True)


@mutation("substep.start")
def start_substep(ctx: MutationContext, args: Any) -> None:
    step, sub, _ = _substep_target(ctx, args)
    _set_substep_status(ctx, step, sub, "in_progress")
    if ctx.get("currentStep") == step:
        ctx.set("currentSubstep", value=sub)
    _touch_step(ctx, step)


@mutation("substep.complete")
def complete_substep(ctx: MutationContext, args: Any) -> None:
    step, sub, args = _substep_target(ctx, args)
    _merge_substep_data(ctx, step, sub, args)
    _set_substep_status(ctx, step, sub, "completed")
    _touch_step(ctx, step)
    if ctx.get("steps", step, "status") != "completed" and all(
        ctx.get("steps", step, "substeps", s, "status") in ("completed", "skipped")
        for s in catalogue.substep_ids(step)
    ):
        _complete_step(ctx, step)
    elif ctx.get("currentStep") == step:
        ctx.set("currentSubstep", value=navigation.first_open_substep(ctx.doc, step) or sub)


@mutation("substep.skip")
def skip_substep(ctx: MutationContext, args: Any) -> None:
    step, sub, _ = _substep_target(ctx, args)
    _set_substep_status(ctx, step, sub, "skipped")
    _touch_step(ctx, step)


@mutation("substep.fail")
def fail_substep(ctx: MutationContext, args: Any) -> None:
    step, sub, args = _substep_target(ctx, args)
    errors = a.str_list(args, "errors", max_items=50)
    _set_substep_status(ctx, step, sub, "error")
    ctx.set("steps", step, "substeps", sub, "validationErrors", value=errors)
    _touch_step(ctx, step)


@mutation("substep.setData")
def set_substep_data(ctx: MutationContext, args: Any) -> None:
    step, sub, args = _substep_target(ctx, args)
    _merge_substep_data(ctx, step, sub, args)
    if ctx.get("steps", step, "substeps", sub, "status") == "pending":
        _set_substep_status(ctx, step, sub, "in_progress")
    _touch_step(ctx, step)


@mutation("step.recordTime")
def record_time(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    step = a.step_id(args)
    ms = a.integer(args, "ms", low=0, high=MAX_REPORTED_MS, default=0)
    clicks = a.integer(args, "interactions", low=0, high=10_000, default=0)
    ctx.set("steps", step, "timeSpentMs", value=ctx.get("steps", step, "timeSpentMs") + ms)
    ctx.set("steps", step, "interactions", value=ctx.get("steps", step, "interactions") + clicks)


# features and rules ----------------------------------------------------------------------------
@mutation("feature.toggle")
def toggle_feature(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    fid = a.feature_id(args)
    enabled = a.flag(args, "enabled")
    _require_active(ctx)
    if enabled == ctx.get("features", fid, "enabled"):
        return
    if enabled:
        availability = rules.feature_availability(ctx.doc, fid)
        if not availability.can_enable:
            raise DependencyMissing(
                f"{catalogue.FEATURES[fid].title} cannot be enabled: "
                + "; ".join(availability.reasons),
                feature=fid,
                reasons=availability.reasons,
            )
        ctx.set("features", fid, "progress", value="configured")
    else:
        dependents = [
            other
            for other, f in catalogue.FEATURES.items()
            if fid in f.dependencies and ctx.get("features", other, "enabled")
        ]
        if dependents:
            titles = ", ".join(catalogue.FEATURES[d].title for d in dependents)
            raise DependencyMissing(
                f"{catalogue.FEATURES[fid].title} is needed by {titles}; turn those off first",
                feature=fid,
                dependents=dependents,
            )
        required = rules.evaluate_rules(ctx.doc).required.get(fid)
        if required:
            raise RuleViolation(
                f"{catalogue.FEATURES[fid].title} is required: {'; '.join(required)}",
                feature=fid,
                reasons=required,
            )
        ctx.set("features", fid, "progress", value=None)
    ctx.set("features", fid, "enabled", value=enabled, checked=True)


@mutation("feature.configure")
def configure_feature(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    fid = a.feature_id(args)
    _require_active(ctx)
    for key, value in a.obj(args.get("configuration"), "configuration").items():
        a.key_name(key, "a configuration key")
        if value is None:
            ctx.remove("features", fid, "configuration", key, checked=True)
        else:
            ctx.set("features", fid, "configuration", key, value=value, checked=True)


@mutation("rule.put")
def put_rule(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    rule_id = a.key_name(args.get("id"), "the rule id")
    rule = {k: args[k] for k in ("when", "action", "target", "reason", "sortKey") if k in args}
    rule.setdefault("reason", "")
    rule.setdefault("sortKey", rule_id)
    rules.validate_rule(rule)
    ctx.set("rules", rule_id, value=rule, checked=True)


@mutation("rule.delete")
def delete_rule(ctx: MutationContext, args: Any) -> None:
    rule_id = a.key_name(a.obj(args).get("id"), "the rule id")
    if ctx.get("rules", rule_id) is None:
        raise InvalidInput(f"no rule {rule_id!r}")
    ctx.remove("rules", rule_id)
