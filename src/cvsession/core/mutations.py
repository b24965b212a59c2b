"""Mutation application and conflict detection.

A mutation `{clientID, id, name, args, baseVersion}` is applied by a named handler that reads the
current document and emits writes through a `MutationContext`. Every write is applied
copy-on-write, produces an RFC 6902 op (with the previous value under "old" for history), and
stamps the written JSON Pointer with the new session version in `field_versions`.

A *checked* write (a user's edit of content) made against a stale `baseVersion` — the path, an
ancestor or a descendant changed after `baseVersion` — is not applied when its value differs from
the current one: it becomes a `Conflict` holding both values. Other writes of the same mutation
still apply (edits to different fields always merge). Trivial paths are last-writer-wins.

The per-client ordering rules (replays ignored, gaps rejected) live in `check_order`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cvsession.core.document import Document, is_trivial, iso, pointer, split_pointer
from cvsession.core.errors import DomainError, InvalidInput, MutationGap

MAX_NAME_LENGTH = 64
MAX_CLIENT_ID_LENGTH = 64

MISSING: Any = object()  # "no value here": a removal when written, absence when read
_MISSING = MISSING


@dataclass(frozen=True, slots=True)
class Mutation:
    client_id: str
    id: int
    name: str
    args: Any
    base_version: int | None = None
    hlc: str = ""


@dataclass(frozen=True, slots=True)
class Conflict:
    """A stale edit that was not applied: both values, for the user to choose from."""

    path: str
    yours: Any
    theirs: Any
    version: int  # the session version when the conflict was recorded
    base_version: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "yours": self.yours,
            "theirs": self.theirs,
            "version": self.version,
            "baseVersion": self.base_version,
        }


@dataclass(slots=True)
class MutationResult:
    document: Document
    field_versions: dict[str, int]
    version: int
    ops: list[dict[str, Any]]
    conflicts: list[Conflict]
    effects: list[dict[str, Any]]


def copy_json(value: Any) -> Any:
    """Deep-copy a JSON value (dicts, lists, scalars) faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def check_order(last_mutation_id: int, mutation_id: int) -> bool:
    """Return True to apply, False for an already-applied replay; raise MutationGap on a gap."""
    if mutation_id <= last_mutation_id:
        return False
    if mutation_id != last_mutation_id + 1:
        raise MutationGap(
            f"mutation {mutation_id} arrived but {last_mutation_id + 1} was expected",
            expected=last_mutation_id + 1,
            received=mutation_id,
        )
    return True


class MutationContext:
    """What a handler sees: the current document and a way to write to it."""

    def __init__(
        self,
        document: Document,
        field_versions: dict[str, int],
        *,
        version: int,
        base_version: int | None,
        now: datetime,
        extra: dict[str, Any] | None = None,
        own_versions: frozenset[int] = frozenset(),
    ) -> None:
        self.doc = document
        self.field_versions = field_versions
        self.version = version  # the version this mutation will produce
        self.base_version = base_version
        # Versions after base_version written by this mutation's own client: it made those
        # changes itself (its earlier mutations), so they cannot make this one stale.
        self.own_versions = own_versions
        self.now = now
        self.extra = extra or {}
        self.ops: list[dict[str, Any]] = []
        self._fresh: dict[int, Any] = {}  # containers copied by this mutation, by id
        self.conflicts: list[Conflict] = []
        self.effects: list[dict[str, Any]] = []

    # reading -----------------------------------------------------------------------------------
    def get(self, *tokens: str | int, default: Any = None) -> Any:
        """Return the value at the path given as raw tokens (read-only: never mutate it)."""
        node: Any = self.doc
        for token in tokens:
            if isinstance(node, dict):
                if token not in node:
                    return default
                node = node[token]
            elif isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node):
                node = node[token]
            else:
                return default
        return node

    def get_pointer(self, ptr: str, default: Any = _MISSING) -> Any:
        return self._get_tokens(split_pointer(ptr), default)

    def _get_tokens(self, tokens: list[str], default: Any = _MISSING) -> Any:
        return resolve(self.doc, tokens, default)

    # writing -----------------------------------------------------------------------------------
    def set(self, *tokens: str | int, value: Any, checked: bool = False) -> bool:
        """Write `value` at the path; missing parent objects are created.

        Return whether the write took effect (False for a no-op or a conflict).
        """
        raw = [t if isinstance(t, str) else str(t) for t in tokens]
        current = resolve(self.doc, raw)
        if json_equal(current, value):
            return False  # the common case for flags and metadata: no pointer to build
        return self._write(pointer(*raw), raw, current, value, checked)

    def remove(self, *tokens: str | int, checked: bool = False) -> bool:
        raw = [t if isinstance(t, str) else str(t) for t in tokens]
        current = resolve(self.doc, raw)
        if current is _MISSING:
            return False
        return self._write(pointer(*raw), raw, current, _MISSING, checked)

    def effect(self, kind: str, **data: Any) -> None:
        """Ask the service to persist a side effect in the same transaction."""
        self.effects.append({"kind": kind, **data})

    def stale(self, ptr: str) -> bool:
        """Return whether another client changed `ptr`, an ancestor or a descendant after the
        base version (this client's own earlier mutations do not count, nor do this mutation's
        own earlier writes: creating /cv, or writing a path twice, is not a conflict)."""
        if self.base_version is None:
            return False
        base = self.base_version
        own = self.own_versions
        mine = self.version

        def newer(v: int) -> bool:
            return v > base and v != mine and v not in own

        fv = self.field_versions
        if newer(fv.get("", -1)) or newer(fv.get(ptr, -1)):
            return True
        end = 0
        while (end := ptr.find("/", end + 1)) != -1:
            if newer(fv.get(ptr[:end], -1)):
                return True
        if not isinstance(self.get_pointer(ptr, None), dict | list):
            return False  # a scalar has no descendants that could have changed
        prefix = ptr + "/"
        return any(newer(v) and k.startswith(prefix) for k, v in fv.items())

    def write(
        self, ptr: str, value: Any, *, checked: bool = False, tokens: list[str] | None = None
    ) -> bool:
        """Write `value` (or remove, with the _MISSING sentinel) at JSON Pointer `ptr`;
        `tokens` are its unescaped parts when the caller has them already."""
        if tokens is None:
            tokens = split_pointer(ptr)
        current = self._get_tokens(tokens)
        if json_equal(current, value):
            return False
        return self._write(ptr, tokens, current, value, checked)

    def _write(self, ptr: str, tokens: list[str], current: Any, value: Any, checked: bool) -> bool:
        if checked and not is_trivial(ptr) and self.stale(ptr):
            self.conflicts.append(
                Conflict(
                    path=ptr,
                    yours=None if value is _MISSING else copy_json(value),
                    theirs=None if current is _MISSING else current,
                    version=self.version,
                    base_version=self.base_version,
                )
            )
            return False
        self.doc, op = _apply_write(self.doc, tokens, value, self._fresh, ptr)
        self.ops.append(op)
        # Stamp the written location, not the parents this write created: creating a form by
        # writing its first field must not make a concurrent edit of another field stale.
        self._stamp(ptr, nested=isinstance(current, dict | list))
        return True

    def apply_patch_ops(self, ops: list[dict[str, Any]], new_doc: Document) -> None:
        """Record an already-applied RFC 6902 patch (raw PATCH) and adopt its result."""
        self.doc = new_doc
        for op in ops:
            self.ops.append(op)
            self._stamp(op["path"])
            if op["op"] == "move":
                self._stamp(op["from"])

    def _stamp(self, ptr: str, *, nested: bool = True) -> None:
        """Record that `ptr` changed at this version; entries below it are subsumed."""
        if is_trivial(ptr):
            return
        if ptr.endswith("/-"):
            ptr = ptr[:-2]
        if nested:  # only a replaced container can have stamped descendants
            prefix = ptr + "/"
            for key in [k for k in self.field_versions if k.startswith(prefix)]:
                del self.field_versions[key]
        self.field_versions[ptr] = self.version


Handler = Callable[[MutationContext, Any], None]

_HANDLERS: dict[str, Handler] = {}


def resolve(doc: Any, tokens: list[str], default: Any = MISSING) -> Any:
    """The value at the unescaped pointer `tokens` in `doc`, or `default` (MISSING) if absent."""
    node = doc
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return default
    return node


def mutation(name: str) -> Callable[[Handler], Handler]:
    """Register a named mutation handler."""

    def register(fn: Handler) -> Handler:
        if name in _HANDLERS:
            raise RuntimeError(f"mutation {name!r} registered twice")
        _HANDLERS[name] = fn
        return fn

    return register


def handler(name: str) -> Handler:
    """The registered handler of mutation `name`; InvalidInput if there is none."""
    found = _HANDLERS.get(name)
    if found is None:
        raise InvalidInput(f"unknown mutation {name!r}", known=handler_names())
    return found


def handler_names() -> list[str]:
    return sorted(_HANDLERS)


def apply_mutation(
    document: Document,
    field_versions: dict[str, int],
    version: int,
    mut: Mutation,
    now: datetime,
    *,
    extra: dict[str, Any] | None = None,
    own_versions: frozenset[int] = frozenset(),
) -> MutationResult:
    """Apply one mutation to a session at `version`; the result is at version + 1.

    The inputs are not modified. A `DomainError` means the mutation is refused as a whole
    (a permanent error: the caller still advances the client's lastMutationID).
    """
    run = handler(mut.name)
    if mut.base_version is not None and mut.base_version > version:
        raise InvalidInput(
            f"baseVersion {mut.base_version} is ahead of the session's version {version}"
        )
    ctx = MutationContext(
        document,
        dict(field_versions),
        version=version + 1,
        base_version=mut.base_version,
        now=now,
        extra=extra,
        own_versions=own_versions,
    )
    run(ctx, mut.args)
    changed = bool(ctx.ops or ctx.conflicts or ctx.effects)
    if changed:
        ctx.write("/lastActiveAt", iso(now))
        # The version travels beside every patch (the cookie), so it is not an op of its own.
        ctx.doc = {**ctx.doc, "version": version + 1}
    return MutationResult(
        document=ctx.doc,
        field_versions=ctx.field_versions,
        version=version + 1 if changed else version,
        ops=ctx.ops,
        conflicts=ctx.conflicts,
        effects=ctx.effects,
    )


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1 and key order does not matter.

    MISSING equals only itself.
    """
    if a is _MISSING or b is _MISSING:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _apply_write(
    doc: Document, tokens: list[str], value: Any, fresh: dict[int, Any], ptr: str
) -> tuple[Document, dict[str, Any]]:
    """Copy-on-write `value` (or removal) at `tokens`; return the new root and the RFC 6902 op.

    `fresh` holds the containers this mutation already copied (by id, keeping them alive so ids
    are not reused): they are written in place, so N writes under one form copy it once.
    """
    if not tokens:
        raise InvalidInput("cannot replace the whole document")
    root: Document = doc if id(doc) in fresh else _fresh(dict(doc), fresh)
    node: Any = root
    built_from: int | None = None  # index of the first token whose container we created
    for i, token in enumerate(tokens[:-1]):
        child = _child(node, token)
        if child is _MISSING:
            if value is _MISSING:
                return doc, {}  # unreachable in practice: removal of a missing path is a no-op
            child = _fresh({}, fresh)
            if built_from is None:
                built_from = i
        elif id(child) in fresh:
            pass
        elif isinstance(child, dict):
            child = _fresh(dict(child), fresh)
        elif isinstance(child, list):
            child = _fresh(list(child), fresh)
        else:
            raise InvalidInput(f"cannot write below a scalar at {pointer(*tokens[: i + 1])}")
        _put(node, token, child)
        node = child
    last = tokens[-1]
    old = _child(node, last)
    if value is _MISSING:
        if isinstance(node, list):
            del node[int(last)]
        else:
            del node[last]
        return root, {"op": "remove", "path": ptr, "old": old}
    value = copy_json(value)
    _put(node, last, value)
    if built_from is not None:
        top = tokens[: built_from + 1]
        return root, {"op": "add", "path": pointer(*top), "value": copy_json(_get(root, top))}
    if old is _MISSING:
        return root, {"op": "add", "path": ptr, "value": value}
    return root, {"op": "replace", "path": ptr, "value": value, "old": old}


def _fresh(container: Any, fresh: dict[int, Any]) -> Any:
    fresh[id(container)] = container
    return container


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list):
        if token.isdigit() and int(token) < len(node):
            return node[int(token)]
        return _MISSING
    raise InvalidInput("cannot address into a scalar")


def _put(node: Any, token: str, value: Any) -> None:
    if isinstance(node, dict):
        node[token] = value
    elif isinstance(node, list):
        try:
            index = len(node) if token == "-" else int(token)
        except ValueError:
            raise InvalidInput(f"{token!r} is not an array index") from None
        if index == len(node):
            node.append(value)
        elif 0 <= index < len(node):
            node[index] = value
        else:
            raise InvalidInput(f"array index {token} out of range")


def _get(root: Any, tokens: Iterable[str]) -> Any:
    node = root
    for token in tokens:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


__all__ = [
    "Conflict",
    "DomainError",
    "Handler",
    "Mutation",
    "MutationContext",
    "MutationResult",
    "apply_mutation",
    "check_order",
    "copy_json",
    "handler_names",
    "json_equal",
    "mutation",
    "resolve",
]
