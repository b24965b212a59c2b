"""Jittered exponential backoff for reconnects and resends."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of `initial` doubling up to `maximum`, each scaled by a random factor 1 ± `jitter`.

    The jitter spreads the reconnects of many clients after a server restart.
    """

    initial: float = 0.25
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    random: Callable[[], float] = field(default=random.random, repr=False)
    _base: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum and self.factor >= 1 and 0 <= self.jitter < 1):
            raise ValueError("need 0 < initial <= maximum, factor >= 1 and 0 <= jitter < 1")

    def next(self) -> float:
        """Return the next delay in seconds and grow the base for the one after."""
        self._base = (
            self.initial if self._base == 0 else min(self._base * self.factor, self.maximum)
        )
        return self._base * (1 + self.jitter * (2 * self.random() - 1))

    def reset(self) -> None:
        """Start again from `initial` (after a connection succeeded)."""
        self._base = 0.0
