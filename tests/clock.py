"""A clock that tests move by hand, for services and servers built with `clock=`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Returns `now` when called; `advance(days=…, minutes=…)` moves it."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def ms(self) -> int:
        return int(self.now.timestamp() * 1000)
