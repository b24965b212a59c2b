"""Named mutations for content: templates, forms, validation, UI, target, CV, free data, patches,
and conflict resolution."""

from __future__ import annotations

from typing import Any

from cvsession.core import args as a
from cvsession.core import schema
from cvsession.core.document import PATCHABLE_ROOTS, iso, split_pointer
from cvsession.core.errors import InvalidInput, VersionConflict
from cvsession.core.mutations import MISSING, MutationContext, json_equal, mutation
from cvsession.core.mutations_workflow import _require_active
from cvsession.core.patching import apply_patch, prefix_ops, validate_patch

MAX_FIELD_MESSAGES = 20


# templates ---------------------------------------------------------------------------------------
@mutation("template.select")
def select_template(ctx: MutationContext, args: Any) -> None:
    template = a.template_id(a.obj(args).get("template"))
    _require_active(ctx)
    ctx.set("template", "selected", value=template, checked=True)


@mutation("template.customize")
def customize_template(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    _require_active(ctx)
    template = a.template_id(args.get("template", ctx.get("template", "selected")))
    base = ("template", "customizations", template)
    for group in ("colors", "fonts"):
        for key, value in a.obj(args.get(group, {}), group).items():
            a.key_name(key, f"a {group} key")
            if value is None:
                ctx.remove(*base, group, key, checked=True)
            elif isinstance(value, str) and 0 < len(value) <= 100:
                ctx.set(*base, group, key, value=value, checked=True)
            else:
                raise InvalidInput(f"{group}.{key} must be a string of 1 to 100 characters")
    for key, entry in a.obj(args.get("sectionOrder", {}), "sectionOrder").items():
        a.key_name(key, "a sectionOrder key")
        if entry is None:
            ctx.remove(*base, "sectionOrder", key, checked=True)
            continue
        entry = a.obj(entry, f"sectionOrder.{key}")
        section = a.req_text(entry, "section")
        sort_key = a.req_text(entry, "sortKey")
        ctx.set(
            *base,
            "sectionOrder",
            key,
            value={"section": section, "sortKey": sort_key},
            checked=True,
        )
    for section, hidden in a.obj(args.get("hiddenSections", {}), "hiddenSections").items():
        a.key_name(section, "a section name")
        if not isinstance(hidden, bool):
            raise InvalidInput(f"hiddenSections.{section} must be true or false")
        if hidden:
            ctx.set(*base, "hiddenSections", section, value=True, checked=True)
        else:
            ctx.remove(*base, "hiddenSections", section, checked=True)


@mutation("template.reset")
def reset_template(ctx: MutationContext, args: Any) -> None:
    template = a.template_id(a.obj(args).get("template"))
    _require_active(ctx)
    ctx.remove("template", "customizations", template)


# forms and validation --------------------------------------------------------------------------
def _messages(entry: dict[str, Any], key: str) -> list[str]:
    return a.str_list(entry, key, max_items=MAX_FIELD_MESSAGES, max_len=1000, default=[])


def _write_field(ctx: MutationContext, form: str, name: str, entry: dict[str, Any]) -> None:
    a.key_name(name, "a field name")
    base = ("forms", form, "fields", name)
    # The field as it was: writing one of its keys changes none of the others, so each key is
    # compared with this and only a change pays for a write (most of a field's flags and
    # messages stay the same from one keystroke to the next).
    before = ctx.get(*base)
    field = before if isinstance(before, dict) else None
    if "value" in entry:
        ctx.set(*base, "value", value=entry["value"], checked=True)
    elif before is None:
        ctx.set(*base, "value", value=None)
    defaults = {"dirty": "value" in entry, "touched": False, "valid": True}
    for key, default in defaults.items():
        current = field.get(key) if field is not None else ctx.get(*base, key)
        value = a.flag(entry, key, default if current is None else current)
        _set_key(ctx, field, base, key, value)
    for key in ("errors", "warnings"):
        current = field.get(key) if field is not None else ctx.get(*base, key)
        if key in entry or current is None:
            _set_key(ctx, field, base, key, _messages(entry, key))


def _set_key(
    ctx: MutationContext,
    before: dict[str, Any] | None,
    base: tuple[str, ...],
    key: str,
    value: Any,
) -> None:
    """`ctx.set(*base, key, value=value)`, skipped when `before` (the object at `base` before
    this mutation wrote `key`) already holds an equal value: exactly what `set` would do."""
    if before is None or not json_equal(before.get(key, MISSING), value):
        ctx.set(*base, key, value=value)


def _touch_form(ctx: MutationContext, form: str, args: dict[str, Any]) -> None:
    meta = a.obj(args.get("metadata", {}), "metadata")
    base = ("forms", form, "metadata")
    before = ctx.get(*base)
    stored = before if isinstance(before, dict) else None
    version = stored.get("version") if stored is not None else ctx.get(*base, "version")
    _set_key(ctx, stored, base, "version", (version or 0) + 1)
    _set_key(ctx, stored, base, "lastModified", iso(ctx.now))
    for key in ("userAgent", "formSchema"):
        if key in meta:
            _set_key(ctx, stored, base, key, a.text(meta, key, max_len=500, optional=True))
        elif (stored.get(key, 0) if stored is not None else ctx.get(*base, key, default=0)) == 0:
            _set_key(ctx, stored, base, key, None)


@mutation("form.setField")
def set_field(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    form = a.key_name(args.get("form"), "the form id")
    name = a.key_name(args.get("field"), "the field name")
    _require_active(ctx)
    _write_field(ctx, form, name, args)
    _touch_form(ctx, form, args)


@mutation("form.save")
def save_form(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    form = a.key_name(args.get("form"), "the form id")
    fields = a.obj(args.get("fields", {}), "fields")
    if len(fields) > 500:
        raise InvalidInput("a form may hold at most 500 fields")
    _require_active(ctx)
    for name, entry in fields.items():
        _write_field(ctx, form, name, a.obj(entry, f"fields.{name}"))
    _touch_form(ctx, form, args)


@mutation("form.reset")
def reset_form(ctx: MutationContext, args: Any) -> None:
    form = a.key_name(a.obj(args).get("form"), "the form id")
    _require_active(ctx)
    ctx.remove("forms", form)


@mutation("validation.set")
def set_validation(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    key = a.key_name(args.get("key"), "the validation key")
    ctx.set(
        "validation",
        key,
        value={
            "valid": a.flag(args, "valid"),
            "errors": _messages(args, "errors"),
            "warnings": _messages(args, "warnings"),
            "validatedAt": iso(ctx.now),
        },
    )


# ui, target, cv, data --------------------------------------------------------------------------
@mutation("ui.set")
def set_ui(ctx: MutationContext, args: Any) -> None:
    values = a.obj(a.obj(args).get("values"), "values")
    for key, value in values.items():
        a.key_name(key, "a UI key")
        if value is None:
            ctx.remove("ui", key)
        else:
            ctx.set("ui", key, value=value)


@mutation("target.set")
def set_target(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    _require_active(ctx)
    limits = {"role": 200, "jobDescription": 20_000, "instructions": 5_000}
    unknown = set(args) - set(limits)
    if unknown:
        raise InvalidInput(f"unknown target fields: {', '.join(sorted(unknown))}")
    for key, limit in limits.items():
        if key in args:
            ctx.set("target", key, value=a.text(args, key, max_len=limit), checked=True)


@mutation("cv.set")
def set_cv(ctx: MutationContext, args: Any) -> None:
    cv = a.obj(args).get("cv")
    if cv is not None:
        a.obj(cv, "cv")
    _require_active(ctx)
    ctx.set("cv", value=cv, checked=True)


MAX_CV_FIELDS = 200  # entries of one cv.setFields


def _cv_field(args: dict[str, Any]) -> tuple[list[str], Any]:
    """The JSON Pointer tokens (below /cv) and value of one `{path, value}` CV edit; a null value
    removes the field. InvalidInput names the bad member in `field` ("path" or "value")."""
    path = a.req_text(args, "path", max_len=1000)
    if "value" not in args:
        raise InvalidInput("'value' is required (null removes the field)", field="value")
    try:
        tokens = split_pointer(path)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="path") from exc
    if not tokens:
        raise InvalidInput(
            "'path' must point inside the CV; use cv.set for the whole CV", field="path"
        )
    return tokens, args["value"]


def _write_cv_field(ctx: MutationContext, tokens: list[str], value: Any) -> None:
    """Write (or, for None, remove) one CV field as a user's edit: a checked write."""
    if value is None:
        ctx.remove("cv", *tokens, checked=True)
    else:
        ctx.set("cv", *tokens, value=value, checked=True)


def _start_cv(ctx: MutationContext) -> None:
    _require_active(ctx)
    if ctx.get("cv") is None:
        ctx.set("cv", value={})


@mutation("cv.setField")
def set_cv_field(ctx: MutationContext, args: Any) -> None:
    tokens, value = _cv_field(a.obj(args))
    _start_cv(ctx)
    _write_cv_field(ctx, tokens, value)


@mutation("cv.setFields")
def set_cv_fields(ctx: MutationContext, args: Any) -> None:
    """Several cv.setField edits as one mutation: one version, one log entry, refused whole.

    `fields` is a list of 1 to 200 `{path, value}` entries, each validated as cv.setField's
    arguments and applied in order, exactly as that many cv.setField would be: a path given
    twice is not an error, the later entry wins. If any entry is invalid or cannot be written
    (below a scalar, an array index out of range), nothing is applied and InvalidInput names
    the entry in `field`, e.g. "fields/3/path". An entry whose path another client changed
    since `baseVersion` becomes a conflict, as a cv.setField would, and the others apply.
    """
    fields = a.obj(args).get("fields")
    if not isinstance(fields, list):
        raise InvalidInput("'fields' must be a list of {path, value} entries", field="fields")
    if not 1 <= len(fields) <= MAX_CV_FIELDS:
        raise InvalidInput(
            f"'fields' must hold 1 to {MAX_CV_FIELDS} entries, not {len(fields)}", field="fields"
        )
    edits: list[tuple[list[str], Any]] = []
    for i, entry in enumerate(fields):
        try:
            edits.append(_cv_field(a.obj(entry, "entry")))
        except InvalidInput as exc:
            raise _entry_error(i, exc) from exc
    _start_cv(ctx)
    for i, (tokens, value) in enumerate(edits):
        try:
            _write_cv_field(ctx, tokens, value)
        except InvalidInput as exc:
            raise _entry_error(i, exc, "path") from exc


def _entry_error(index: int, exc: InvalidInput, member: str | None = None) -> InvalidInput:
    """`exc`, about entry `index` of cv.setFields, with `field` naming that entry."""
    member = member or exc.detail.get("field", "")
    where = f"fields/{index}" + (f"/{member}" if member in ("path", "value") else "")
    return InvalidInput(f"fields/{index}: {exc.message}", **{**exc.detail, "field": where})


@mutation("data.put")
def put_data(ctx: MutationContext, args: Any) -> None:
    args = a.obj(args)
    if "value" not in args:
        raise InvalidInput("'value' is required")
    ctx.set("data", value=args["value"], checked=True)


@mutation("patch")
def patch(ctx: MutationContext, args: Any) -> None:
    """Apply an RFC 6902 patch at `root` ("" for the whole document), all or nothing."""
    args = a.obj(args)
    root = args.get("root", "")
    if not isinstance(root, str):
        raise InvalidInput("'root' must be a JSON Pointer")
    ops = prefix_ops(root, validate_patch(args.get("ops")))
    for op in ops:
        for member in ("path", "from"):
            if member in op:
                tokens = split_pointer(op[member])
                if not tokens or tokens[0] not in PATCHABLE_ROOTS:
                    raise InvalidInput(
                        f"{op[member]!r} cannot be patched; patchable roots are "
                        + ", ".join(sorted(PATCHABLE_ROOTS)),
                        path=op[member],
                    )
    _require_active(ctx)
    stale = [op for op in ops if op["op"] != "test" and ctx.stale(op["path"])]
    if stale:
        conflicts = [
            {
                "path": op["path"],
                "yours": op.get("value"),
                "theirs": ctx.get_pointer(op["path"], None),
            }
            for op in stale
        ]
        raise VersionConflict(
            "the patch was made against an old version and touches fields changed since",
            conflicts=conflicts,
            version=ctx.version - 1,
        )
    new_doc, applied = apply_patch(ctx.doc, ops)
    schema.validate_document(new_doc)
    ctx.apply_patch_ops(applied, new_doc)


# conflicts ---------------------------------------------------------------------------------------
@mutation("conflict.resolve")
def resolve_conflict(ctx: MutationContext, args: Any) -> None:
    """Settle a recorded conflict: keep mine, keep theirs, or write a new value."""
    args = a.obj(args)
    conflict = ctx.extra.get("conflict")
    if conflict is None:
        raise InvalidInput("unknown conflict", conflict_id=args.get("conflictId"))
    if conflict["status"] != "open":
        raise InvalidInput("this conflict is already resolved", conflict_id=conflict["id"])
    choice = args.get("choice")
    if choice == "mine":
        value = conflict["yours"]
    elif choice == "theirs":
        value = ctx.get_pointer(conflict["path"], None)
    elif choice == "value":
        if "value" not in args:
            raise InvalidInput("'value' is required when choice is 'value'")
        value = args["value"]
    else:
        raise InvalidInput("'choice' must be mine, theirs or value")
    if choice != "theirs":
        ctx.write(conflict["path"], value)
    ctx.effect("conflict_resolved", conflict_id=conflict["id"], choice=choice, value=value)
