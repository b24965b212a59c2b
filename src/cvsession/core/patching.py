"""RFC 6902 JSON Patch on session documents, all-or-nothing, via the `jsonpatch` library.

`jsonpatch` is pure (no I/O); it is the one third-party import the core allows itself
(docs/decisions/0002-core-dependencies.md). We add what it lacks: structural validation of the
patch document with clear errors, whole-document `add`/`replace` on any JSON value, the previous
value of each changed location (for history), and limits.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from cvsession.core.errors import InvalidInput
from cvsession.core.mutations import copy_json

MAX_OPS = 1000
_REQUIRED = {
    "add": ("path", "value"),
    "remove": ("path",),
    "replace": ("path", "value"),
    "move": ("from", "path"),
    "copy": ("from", "path"),
    "test": ("path", "value"),
}


class PatchFailed(InvalidInput):
    """A well-formed patch could not be applied (missing path, failed test, ...)."""

    code = "patch_failed"
    status = 409


def validate_patch(ops: Any) -> list[dict[str, Any]]:
    """Check the shape of a JSON Patch document; return it, or raise InvalidInput."""
    if not isinstance(ops, list):
        raise InvalidInput("a JSON Patch document must be an array of operations")
    if len(ops) > MAX_OPS:
        raise InvalidInput(f"a JSON Patch may hold at most {MAX_OPS} operations")
    for index, op in enumerate(ops):
        if not isinstance(op, dict):
            raise InvalidInput(f"operation {index} is not an object", op_index=index)
        name = op.get("op")
        if name not in _REQUIRED:
            raise InvalidInput(f"operation {index} has an unknown op {name!r}", op_index=index)
        for member in _REQUIRED[name]:
            if member not in op:
                raise InvalidInput(f"operation {index} ({name}) lacks {member!r}", op_index=index)
        for member in ("path", "from"):
            if member in op and not _is_pointer(op[member]):
                raise InvalidInput(
                    f"operation {index} has an invalid JSON Pointer in {member!r}",
                    op_index=index,
                )
    return ops


def apply_patch(value: Any, ops: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """Apply `ops` to a copy of `value`; return the result and the ops annotated with "old".

    Raise PatchFailed (nothing applied) when any operation fails.
    """
    validate_patch(ops)
    doc = copy_json(value)
    applied: list[dict[str, Any]] = []
    for index, op in enumerate(ops):
        record = dict(op)
        path = op["path"]
        if op["op"] in ("replace", "remove"):
            record["old"] = _resolve(doc, path, index)
        elif op["op"] == "add" and path != "":
            parent_ptr, _, last = path.rpartition("/")
            parent = _resolve(doc, parent_ptr, index)
            key = jsonpointer.unescape(last)
            if isinstance(parent, dict) and key in parent:
                record["old"] = copy_json(parent[key])
        if path == "" and op["op"] in ("add", "replace"):
            # The library mishandles whole-document replacement of an array by an object.
            doc = copy_json(op["value"])
        elif path == "" and op["op"] == "remove":
            raise PatchFailed("cannot remove the whole document", op_index=index)
        else:
            try:
                doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                raise PatchFailed(
                    f"operation {index} ({op['op']} {path}) failed: {exc}", op_index=index
                ) from exc
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise PatchFailed(
                    f"operation {index} ({op['op']} {path}) failed", op_index=index
                ) from exc
        applied.append(record)
    return doc, applied


def _resolve(doc: Any, path: str, index: int) -> Any:
    try:
        return copy_json(jsonpointer.resolve_pointer(doc, path))
    except (jsonpointer.JsonPointerException, TypeError, ValueError, IndexError) as exc:
        raise PatchFailed(
            f"operation {index}: path {path!r} does not exist", op_index=index
        ) from exc


def _is_pointer(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    if not value.startswith("/"):
        return False
    # "~" must be followed by 0 or 1 (RFC 6901).
    i = value.find("~")
    while i != -1:
        if i + 1 >= len(value) or value[i + 1] not in "01":
            return False
        i = value.find("~", i + 2)
    return True


def prefix_ops(root: str, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rebase ops made against the value at `root` onto the whole document."""
    out = []
    for op in ops:
        moved = dict(op)
        for member in ("path", "from"):
            if member in moved:
                moved[member] = root + moved[member]
        out.append(moved)
    return out
