"""Validation of mutation arguments: small readers that raise InvalidInput with the field name."""

from __future__ import annotations

from typing import Any

from cvsession.core import catalogue
from cvsession.core.errors import InvalidInput

MAX_KEY = 128
MAX_TEXT = 10_000


def obj(value: Any, name: str = "args") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be an object", field=name)
    return value


def text(
    args: dict[str, Any],
    key: str,
    *,
    max_len: int = MAX_TEXT,
    optional: bool = False,
    allow_empty: bool = True,
) -> str | None:
    value = args.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key!r} must be a string", field=key)
    if len(value) > max_len:
        raise InvalidInput(f"{key!r} is longer than {max_len} characters", field=key)
    if "\x00" in value:
        raise InvalidInput(f"{key!r} must not contain U+0000", field=key)
    if not allow_empty and not value:
        raise InvalidInput(f"{key!r} must not be empty", field=key)
    return value


def req_text(args: dict[str, Any], key: str, *, max_len: int = MAX_KEY) -> str:
    value = text(args, key, max_len=max_len, allow_empty=False)
    assert value is not None
    return value


def flag(args: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = args.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key!r} must be true or false", field=key)
    return value


def integer(
    args: dict[str, Any], key: str, *, low: int, high: int, default: int | None = None
) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key!r} must be an integer", field=key)
    if not low <= value <= high:
        raise InvalidInput(f"{key!r} must be between {low} and {high}", field=key)
    return value


def str_list(
    args: dict[str, Any],
    key: str,
    *,
    max_items: int = 100,
    max_len: int = 1000,
    default: list[str] | None = None,
) -> list[str]:
    value = args.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{key!r} must be a list of strings", field=key)
    if len(value) > max_items or any(len(v) > max_len for v in value):
        raise InvalidInput(f"{key!r} has too many or too long entries", field=key)
    return value


def step_id(args: dict[str, Any], key: str = "step") -> str:
    value = args.get(key)
    if not isinstance(value, str) or not catalogue.is_step(value):
        raise InvalidInput(f"{key!r} must be one of {', '.join(catalogue.STEP_IDS)}", field=key)
    return value


def substep_id(
    args: dict[str, Any], step: str, key: str = "substep", optional: bool = False
) -> str | None:
    value = args.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in catalogue.substep_ids(step):
        raise InvalidInput(
            f"{key!r} must be one of {', '.join(catalogue.substep_ids(step))} for step {step}",
            field=key,
        )
    return value


def feature_id(args: dict[str, Any], key: str = "feature") -> str:
    value = args.get(key)
    if not isinstance(value, str) or value not in catalogue.FEATURES:
        raise InvalidInput(f"{key!r} must be a catalogue feature id", field=key)
    return value


def template_id(value: Any, key: str = "template") -> str:
    if not isinstance(value, str) or value not in catalogue.TEMPLATES:
        raise InvalidInput(f"{key!r} must be one of {', '.join(catalogue.TEMPLATES)}", field=key)
    return value


def key_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_KEY:
        raise InvalidInput(f"{what} must be a non-empty string of at most {MAX_KEY} characters")
    return value
