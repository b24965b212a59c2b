"""Feature flags: definitions, validation and per-user evaluation, as data and pure functions.

A flag is on for a user when, in this order of precedence:

1. the kill switch is on (`enabled`): off means off for everyone, allow list included;
2. the user is not on the deny list;
3. the user is on the allow list, or
4. the user's bucket falls under the rollout percentage.

The bucket is the first 8 bytes of SHA-256("<flag name>:<user id>") modulo 10,000, so it is the
same in every process and on every machine (Python's `hash` is salted per process), it does not
correlate between flags, and raising the percentage only ever adds users. Names cannot hold ":",
so the hashed text is unambiguous. See docs/decisions/0021-feature-flags.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from cvsession.core.errors import DomainError, InvalidInput

BUCKETS = 10_000
NAME = re.compile(r"[a-z0-9-]{1,64}")
MAX_LIST = 10_000
MAX_USER_ID = 200
MAX_DESCRIPTION = 500

CROSS_DEVICE_SYNC = "cross-device-sync"
OFFLINE = "offline"
RESUME_DIALOG = "resume-dialog"
CHECKPOINTED_PROCESSING = "checkpointed-processing"


class FeatureDisabled(DomainError):
    """The capability is switched off for the caller by its flag."""

    code = "feature_disabled"
    status = 403


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    description: str = ""
    enabled: bool = True  # the kill switch: False turns the flag off for everyone
    rollout: int = 0  # percent of users, 0..100
    allow: frozenset[str] = field(default_factory=frozenset)
    deny: frozenset[str] = field(default_factory=frozenset)
    updated_at: datetime | None = None  # None: the built-in default, never stored


# The enhanced capabilities, each behind a flag, all on for everyone by default.
BUILT_IN: tuple[Flag, ...] = (
    Flag(
        CROSS_DEVICE_SYNC,
        "Continue on another device: pairing codes for a second device (the server refuses "
        "new ones when off; the save channel is untouched).",
        rollout=100,
    ),
    Flag(
        OFFLINE,
        "Browser: keep working offline (service worker, IndexedDB outbox replayed later).",
        rollout=100,
    ),
    Flag(
        RESUME_DIALOG,
        "Browser: the resume dialog with the recommended step when a person comes back.",
        rollout=100,
    ),
    Flag(
        CHECKPOINTED_PROCESSING,
        "The durable CV pipeline (extract, parse, analyse, generate) with per-phase "
        "checkpoints; when off, new processing jobs are refused.",
        rollout=100,
    ),
)
DEFAULTS: Mapping[str, Flag] = MappingProxyType({f.name: f for f in BUILT_IN})


def bucket(name: str, user_id: str) -> int:
    """The user's stable bucket for this flag, 0..9,999."""
    digest = hashlib.sha256(f"{name}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def explain(flag: Flag, user_id: str) -> tuple[bool, str]:
    """Whether the flag is on for the user, and why."""
    if not flag.enabled:
        return False, "kill switch: the flag is disabled for everyone"
    if user_id in flag.deny:
        return False, "on the deny list"
    if user_id in flag.allow:
        return True, "on the allow list"
    b, cut = bucket(flag.name, user_id), flag.rollout * (BUCKETS // 100)
    return b < cut, f"bucket {b} {'<' if b < cut else '>='} {cut}: rollout {flag.rollout}%"


def is_on(flag: Flag, user_id: str) -> bool:
    return explain(flag, user_id)[0]


def evaluate(flags: Iterable[Flag], user_id: str) -> dict[str, bool]:
    """Every flag's value for the user, by name."""
    return {f.name: is_on(f, user_id) for f in flags}


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInput(
            f"a flag name is 1 to 64 characters of a-z, 0-9 and '-', not {name!r:.80}",
            path="/name",
        )
    return name


def _user_ids(value: Any, which: str) -> frozenset[str]:
    if not isinstance(value, list | tuple | set | frozenset):
        raise InvalidInput(f"{which} must be a list of user ids", path=f"/{which}")
    if len(value) > MAX_LIST:
        raise InvalidInput(
            f"{which} holds {len(value)} user ids; at most {MAX_LIST} are allowed",
            path=f"/{which}",
        )
    for user_id in value:
        if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID:
            raise InvalidInput(
                f"{which}: a user id is a non-empty string of at most {MAX_USER_ID} "
                f"characters, not {user_id!r:.80}",
                path=f"/{which}",
            )
        if "\x00" in user_id:
            raise InvalidInput(f"{which}: a user id cannot hold U+0000", path=f"/{which}")
    return frozenset(value)


def validate(flag: Flag) -> Flag:
    """Return the flag if it is well formed; raise `InvalidInput` naming the bad field."""
    check_name(flag.name)
    if not isinstance(flag.description, str) or len(flag.description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description must be a string of at most {MAX_DESCRIPTION} characters",
            path="/description",
        )
    if not isinstance(flag.enabled, bool):
        raise InvalidInput("enabled must be true or false", path="/enabled")
    rollout = flag.rollout
    if isinstance(rollout, bool) or not isinstance(rollout, int) or not 0 <= rollout <= 100:
        raise InvalidInput(
            f"rollout is a whole percentage from 0 to 100, not {rollout!r}", path="/rollout"
        )
    allow = _user_ids(flag.allow, "allow")
    deny = _user_ids(flag.deny, "deny")
    both = sorted(allow & deny)
    if both:
        raise InvalidInput(
            f"{len(both)} user id(s) are on both the allow and the deny list, e.g. {both[0]!r}",
            path="/allow",
        )
    return replace(flag, allow=allow, deny=deny)


_FIELDS = frozenset({"description", "enabled", "rollout", "allow", "deny"})


def changed(flag: Flag, changes: Mapping[str, Any]) -> Flag:
    """The flag with some of description, enabled, rollout, allow, deny replaced, validated."""
    unknown = sorted(set(changes) - _FIELDS)
    if unknown:
        raise InvalidInput(f"unknown flag field(s): {', '.join(unknown)}", path=f"/{unknown[0]}")
    fields = dict(changes)
    for which in ("allow", "deny"):
        if which in fields:
            fields[which] = _user_ids(fields[which], which)
    return validate(replace(flag, **fields))


def to_json(flag: Flag) -> dict[str, Any]:
    """The flag's definition as JSON (lists sorted), as the admin API and the store hold it."""
    return {
        "name": flag.name,
        "description": flag.description,
        "enabled": flag.enabled,
        "rollout": flag.rollout,
        "allow": sorted(flag.allow),
        "deny": sorted(flag.deny),
        "updatedAt": None if flag.updated_at is None else flag.updated_at.isoformat(),
    }


def definition_json(flag: Flag) -> dict[str, Any]:
    """What is stored for a flag: its definition without the name and time (both columns)."""
    body = to_json(flag)
    del body["name"], body["updatedAt"]
    return body


def from_definition(name: str, data: Mapping[str, Any], updated_at: datetime) -> Flag:
    """Rebuild a stored flag; a malformed definition raises `InvalidInput`.

    Fields this version does not know are ignored, so a newer process may add some during a
    rolling upgrade.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"flag {name!r}: the stored definition is not an object")
    base = Flag(check_name(name), updated_at=updated_at)
    return changed(base, {k: v for k, v in data.items() if k in _FIELDS})
