"""Value codecs shared by the SQL backends: epoch-millisecond timestamps and orjson text.

See store/sql.py for the encodings and why they are the same on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

# Refuse datetimes and dataclasses inside JSON instead of letting orjson stringify them:
# they would come back as a different type.
_DUMPS_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch, floored."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware datetimes")
    return (value - _EPOCH) // _MS


def from_ms(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value)


def opt_to_ms(value: datetime | None) -> int | None:
    return None if value is None else to_ms(value)


def opt_from_ms(value: int | None) -> datetime | None:
    return None if value is None else from_ms(value)


def dump_json(value: Any) -> str:
    return orjson.dumps(value, option=_DUMPS_OPTS).decode()


def encoded_size(value: Any) -> int:
    """Bytes of `value` as the store writes it (UTF-8 orjson)."""
    return len(orjson.dumps(value, option=_DUMPS_OPTS))


def dump_json_sized(value: Any) -> tuple[str, int]:
    """`dump_json(value)` and its size in bytes (`encoded_size`), encoding once."""
    raw = orjson.dumps(value, option=_DUMPS_OPTS)
    return raw.decode(), len(raw)


def load_json(text: str) -> Any:
    return orjson.loads(text)
