"""Jittered exponential backoff."""

from __future__ import annotations

import pytest

from cvsession.client.backoff import Backoff


def test_delays_double_up_to_the_maximum_without_jitter() -> None:
    """0.25 s doubling, capped at 30 s."""
    backoff = Backoff(jitter=0.0)
    assert [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0] == [backoff.next() for _ in range(9)]


@pytest.mark.parametrize(("r", "factor"), [(0.0, 0.5), (0.5, 1.0), (0.999999, 1.5)])
def test_jitter_stays_within_half(r: float, factor: float) -> None:
    """Each delay is the base scaled by 1 ± 50 %."""
    backoff = Backoff(random=lambda: r)
    assert pytest.approx(0.25 * factor, rel=1e-5) == backoff.next()


def test_reset_starts_again() -> None:
    """After a success the next delay is the initial one."""
    backoff = Backoff(jitter=0.0)
    backoff.next()
    backoff.next()
    backoff.reset()
    assert 0.25 == backoff.next()


def test_invalid_settings_are_refused() -> None:
    """A zero initial delay or a jitter of 100 % makes no sense."""
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(jitter=1.0)
