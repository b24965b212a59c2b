"""Hybrid logical clock stamps `<ms>-<counter>-<clientID>` (docs/protocol.md, "Terms").

A stamp orders a client's mutations even when the wall clock steps back: its (ms, counter) pair
only ever grows. The last stamp is persisted with each mutation, so the order also holds across
process restarts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple


class Stamp(NamedTuple):
    ms: int
    counter: int
    client_id: str

    def __str__(self) -> str:
        return f"{self.ms}-{self.counter}-{self.client_id}"


def parse_hlc(text: str) -> Stamp:
    """Parse a stamp; raise ValueError if it is not `<ms>-<counter>-<clientID>`."""
    ms, sep1, rest = text.partition("-")
    counter, sep2, client_id = rest.partition("-")
    if not (sep1 and sep2 and ms.isdigit() and counter.isdigit() and client_id):
        raise ValueError(f"not an HLC stamp: {text!r}")
    return Stamp(int(ms), int(counter), client_id)


class HybridClock:
    """Issue strictly increasing stamps for one client."""

    def __init__(
        self,
        client_id: str,
        last: str | None = None,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._wall = wall
        self._ms, self._counter = 0, 0
        if last:
            stamp = parse_hlc(last)
            self._ms, self._counter = stamp.ms, stamp.counter

    def wall_ms(self) -> int:
        """The wall clock the stamps are made from, in ms (sent in hello: the server corrects
        the ages of offline mutations by its difference from the server's clock)."""
        return int(self._wall() * 1000)

    def now(self) -> str:
        """Return a stamp greater than every stamp issued or observed before."""
        wall_ms = int(self._wall() * 1000)
        if wall_ms > self._ms:
            self._ms, self._counter = wall_ms, 0
        else:
            self._counter += 1
        return str(Stamp(self._ms, self._counter, self.client_id))

    def observe(self, remote_ms: int) -> None:
        """Move past a remote physical time (e.g. the server's), so later stamps sort after it."""
        if remote_ms > self._ms:
            self._ms, self._counter = remote_ms, 0

    @property
    def last(self) -> str:
        return str(Stamp(self._ms, self._counter, self.client_id))
