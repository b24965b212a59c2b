"""Hybrid logical clock stamps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cvsession.client.hlc import HybridClock, Stamp, parse_hlc


def test_stamp_format_round_trips() -> None:
    """A stamp is `<ms>-<counter>-<clientID>` and parses back (clientIDs may hold dashes)."""
    clock = HybridClock("py-a-b", wall=lambda: 1.5)
    assert "1500-0-py-a-b" == clock.now()
    assert Stamp(1500, 1, "py-a-b") == parse_hlc(clock.now())


@pytest.mark.parametrize("text", ["", "12", "12-3", "a-1-c", "1-b-c", "1-2-"])
def test_parse_rejects_malformed(text: str) -> None:
    """Anything but `<digits>-<digits>-<id>` is refused."""
    with pytest.raises(ValueError):
        parse_hlc(text)


@given(st.lists(st.floats(min_value=0, max_value=4e9), min_size=1, max_size=50))
def test_stamps_increase_whatever_the_wall_clock_does(walls: list[float]) -> None:
    """Stamps strictly increase even when the wall clock stalls or steps back."""
    times = iter(walls)
    clock = HybridClock("c", wall=lambda: next(times))
    stamps = [parse_hlc(clock.now())[:2] for _ in walls]
    assert stamps == sorted(set(stamps))


def test_clock_resumes_after_the_last_stamp() -> None:
    """A clock restored from its last stamp never issues a smaller one, even if the wall lags."""
    first = HybridClock("c", wall=lambda: 10.0)
    last = first.now()
    second = HybridClock("c", last, wall=lambda: 5.0)
    assert parse_hlc(second.now())[:2] > parse_hlc(last)[:2]


def test_observe_moves_past_remote_time() -> None:
    """After observing a later remote time, stamps sort after it."""
    clock = HybridClock("c", wall=lambda: 1.0)
    clock.observe(9_000)
    assert Stamp(9_000, 1, "c") == parse_hlc(clock.now())
