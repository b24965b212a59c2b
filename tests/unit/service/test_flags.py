"""FlagService: defaults overlaid by stored flags, a short cache, and no restart for changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cvsession.api.app import Services
from cvsession.config import Settings
from cvsession.core import flags
from cvsession.core.errors import InvalidInput, NotFound
from cvsession.service.flags import FlagService
from cvsession.store.flags import FlagRow

NOW = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


class Ticker:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    services = Services.open(Settings(data_dir=tmp_path), clock=lambda: NOW)
    yield services
    services.close()


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


def other_process(svc: Services, ticker: Ticker) -> FlagService:
    """A second FlagService on the same database, as another server process would hold."""
    return FlagService(svc.store, svc.writer, lambda: NOW, ttl=2.0, monotonic=ticker)


def test_defaults_apply_until_a_flag_is_stored(svc: Services) -> None:
    """With nothing stored, the definitions are the built-in defaults, all on."""
    assert dict(flags.DEFAULTS) == svc.flags.definitions()
    assert dict.fromkeys(flags.DEFAULTS, True) == svc.flags.evaluate("u_1")


def test_set_overlays_the_default_and_keeps_its_description(svc: Services) -> None:
    """Setting some fields keeps the others of the default; the time is stored to the ms."""
    flag = svc.flags.set("offline", {"rollout": 0, "allow": ["u_a"]})
    expected = flags.Flag(
        "offline",
        flags.DEFAULTS["offline"].description,
        True,
        0,
        frozenset({"u_a"}),
        frozenset(),
        NOW.replace(microsecond=890000),
    )
    assert expected == flag
    assert expected == svc.flags.get("offline")
    assert True is svc.flags.evaluate("u_a")["offline"]
    assert False is svc.flags.evaluate("u_b")["offline"]


def test_a_new_flag_starts_enabled_at_zero_percent(svc: Services) -> None:
    """A flag that is not built in is created on at 0%: only its allow list gets it."""
    svc.flags.set("new-editor", {"allow": ["u_a"]})
    assert (True, False) == (
        svc.flags.is_on("new-editor", "u_a"),
        svc.flags.is_on("new-editor", "u_b"),
    )
    assert False is svc.flags.is_on("never-defined", "u_a")


def test_reset_returns_to_the_default_or_removes(svc: Services) -> None:
    """reset puts a built-in flag back to its default and deletes a custom one."""
    svc.flags.set("offline", {"enabled": False})
    svc.flags.set("new-editor", {"rollout": 10})
    assert flags.DEFAULTS["offline"] == svc.flags.reset("offline")
    assert svc.flags.reset("new-editor") is None
    assert dict(flags.DEFAULTS) == svc.flags.definitions()
    with pytest.raises(NotFound):
        svc.flags.reset("new-editor")


def test_invalid_changes_are_refused_and_store_nothing(svc: Services) -> None:
    """A bad value raises InvalidInput and leaves the stored flags unchanged."""
    with pytest.raises(InvalidInput):
        svc.flags.set("offline", {"rollout": 500})
    with pytest.raises(InvalidInput):
        svc.flags.set("Not-A-Name", {"rollout": 5})
    with svc.store.read() as txn:
        assert [] == txn.list_flags()


def test_another_process_sees_a_change_within_the_ttl(svc: Services, ticker: Ticker) -> None:
    """A change written elsewhere shows after the cache expires, with no restart."""
    remote = other_process(svc, ticker)
    assert True is remote.is_on("offline", "u_1")
    svc.flags.set("offline", {"enabled": False})
    assert True is remote.is_on("offline", "u_1")  # cached for up to 2 s
    ticker.now += 2.0
    assert False is remote.is_on("offline", "u_1")


def test_own_writes_invalidate_the_cache_at_once(svc: Services, ticker: Ticker) -> None:
    """A change made through a service is visible to that service immediately."""
    local = other_process(svc, ticker)
    assert True is local.is_on("offline", "u_1")
    local.set("offline", {"enabled": False})
    assert False is local.is_on("offline", "u_1")
    local.reset("offline")
    assert True is local.is_on("offline", "u_1")


def test_a_malformed_stored_flag_falls_back_to_its_default(svc: Services) -> None:
    """A stored definition that does not validate is ignored (the default applies)."""
    svc.writer.run(lambda txn: txn.put_flag(FlagRow("offline", {"rollout": "lots"}, NOW)))
    assert flags.DEFAULTS["offline"] == svc.flags.definitions()["offline"]


def test_require_raises_feature_disabled_with_the_flag_named(svc: Services) -> None:
    """require passes when the flag is on and raises FeatureDisabled (403) when it is off."""
    svc.flags.require("offline", "u_1", "nope")
    svc.flags.set("offline", {"deny": ["u_1"]})
    with pytest.raises(flags.FeatureDisabled) as info:
        svc.flags.require("offline", "u_1", "offline is off")
    assert (403, "feature_disabled", "offline") == (
        info.value.status,
        info.value.code,
        info.value.detail["feature"],
    )
