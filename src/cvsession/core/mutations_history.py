"""The `history.restore` mutation: bring a field, a form or the whole session back to version N.

The service loads the document as it was at N (snapshot + log replay) into
`ctx.extra["restore"] = {"version": N, "document": ...}`; the handler writes the differences as
ordinary unchecked writes, so a restore is itself a logged, synced mutation that can be undone
by another restore. Only the locations that differ are written (a restore of an unchanged
session is a no-op, and a concurrent edit elsewhere does not become stale).

- With a `path` (a JSON Pointer inside one of `RESTORABLE_ROOTS`, e.g. a form field or a whole
  form `/forms/{id}`): the value there at N, or its removal if it did not exist at N. These are
  the roots a client may patch anyway, so a path restore cannot bypass the workflow's rules; it
  is refused, like other content edits, on completed and expired sessions.
- Without a path: every top-level key except identity and bookkeeping (`KEPT_KEYS`), the
  workflow state included, taken from one consistent version. The status is restored too, but
  never to or from `expired` (expiry is terminal, a retention decision).

The result must pass `schema.validate_document`, or the restore is refused as a whole.
"""

from __future__ import annotations

from typing import Any

from cvsession.core import args as a
from cvsession.core import schema
from cvsession.core.document import PATCHABLE_ROOTS, Document, pointer, split_pointer
from cvsession.core.errors import IllegalTransition, InvalidInput
from cvsession.core.mutations import MISSING, MutationContext, mutation, resolve
from cvsession.core.mutations_workflow import _require_active

RESTORE = "history.restore"
SCOPES = ("field", "form", "session")
# Top-level keys a path restore may address.
RESTORABLE_ROOTS = PATCHABLE_ROOTS
# Top-level keys a whole-session restore leaves as they are.
KEPT_KEYS = frozenset({"id", "owner", "createdAt", "version", "schemaVersion", "lastActiveAt"})
MAX_VERSION = 2**62

_MISSING = MISSING


@mutation(RESTORE)
def restore(ctx: MutationContext, args: Any) -> None:
    """Restore `path` (or the whole session) to its value at `version`."""
    args = a.obj(args)
    version = a.integer(args, "version", low=0, high=MAX_VERSION)
    scope, tokens = _target(args)
    loaded = ctx.extra.get("restore")
    if not isinstance(loaded, dict) or loaded.get("version") != version:
        raise InvalidInput(f"version {version} of this session could not be loaded")
    old: Document = loaded["document"]
    if ctx.get("status") == "expired":
        raise IllegalTransition("the session has expired", session_status="expired")
    if scope == "session":
        _restore_session(ctx, old)
    else:
        _require_active(ctx)
        _sync(ctx, tokens, resolve(ctx.doc, tokens), resolve(old, tokens))
    if ctx.ops:
        try:
            schema.validate_document(ctx.doc)
        except InvalidInput as exc:
            raise InvalidInput(
                f"restoring this would leave an invalid session ({exc.message}); "
                "restore an enclosing form or the whole session instead",
                **exc.detail,
            ) from exc


def _target(args: dict[str, Any]) -> tuple[str, list[str]]:
    """The scope and the path's tokens ([] for the whole session), checked against each other."""
    scope = args.get("scope")
    if scope is not None and scope not in SCOPES:
        raise InvalidInput(f"'scope' must be one of {', '.join(SCOPES)}", field="scope")
    path = args.get("path")
    if path is None:
        if scope not in (None, "session"):
            raise InvalidInput(f"'path' is required to restore a {scope}", field="path")
        return "session", []
    if scope == "session":
        raise InvalidInput("a whole-session restore takes no 'path'", field="path")
    if not isinstance(path, str) or len(path) > 1000:
        raise InvalidInput("'path' must be a JSON Pointer", field="path")
    try:
        tokens = split_pointer(path)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="path") from exc
    if not tokens or tokens[0] not in RESTORABLE_ROOTS:
        raise InvalidInput(
            f"{path!r} cannot be restored on its own; restorable roots are "
            + ", ".join(sorted(RESTORABLE_ROOTS))
            + " (omit 'path' to restore the whole session)",
            field="path",
            path=path,
        )
    is_form = len(tokens) == 2 and tokens[0] == "forms"
    if scope == "form" and not is_form:
        raise InvalidInput("a form restore takes a form's path, /forms/{formId}", field="path")
    return scope or ("form" if is_form else "field"), tokens


def _restore_session(ctx: MutationContext, old: Document) -> None:
    current = ctx.doc
    for key in [*current, *(k for k in old if k not in current)]:
        if key in KEPT_KEYS:
            continue
        if key == "status" and old.get(key) == "expired":
            continue
        _sync(ctx, [key], current.get(key, _MISSING), old.get(key, _MISSING))


def _sync(ctx: MutationContext, tokens: list[str], current: Any, old: Any) -> None:
    """Write what differs between `current` and `old` at `tokens`, as deep as objects nest.

    `current` is read from the document as it was before this mutation wrote anything, which
    copy-on-write keeps unchanged; lists are compared and written whole.
    """
    if old is _MISSING:
        if current is not _MISSING:
            ctx.remove(*tokens)
        return
    if isinstance(current, dict) and isinstance(old, dict):
        for key in current:
            if key not in old:
                ctx.remove(*tokens, key)
        for key, value in old.items():
            _sync(ctx, [*tokens, key], current.get(key, _MISSING), value)
        return
    ctx.write(pointer(*tokens), old)  # a no-op when equal
