"""Feature flags in the core: validation, precedence, stable buckets and rollout accuracy."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from cvsession.core import flags
from cvsession.core.errors import InvalidInput
from cvsession.core.flags import Flag

USERS = 10_000
T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
# (flag, user id, bucket): SHA-256 based, so fixed forever; a change here reshuffles every
# rollout in production and must be a deliberate decision.
KNOWN_BUCKETS = (
    ("offline", "u_0", 4925),
    ("offline", "u_5f0c6b9d2a0e4b0f8f1a2c3d4e5f6a7b", 2686),
    ("checkpointed-processing", "alice", 3923),
    ("cross-device-sync", "alice", 70),
)


def user_ids(n: int = USERS, seed: int = 6) -> list[str]:
    """Ids shaped like the server's (u_ + a random UUID4), reproducible."""
    rng = random.Random(seed)
    return [f"u_{uuid.UUID(int=rng.getrandbits(128), version=4).hex}" for _ in range(n)]


def test_built_in_flags_are_all_on_for_everyone_by_default() -> None:
    """The four enhanced capabilities are built in, enabled, at 100%, with no lists."""
    expected = ["cross-device-sync", "offline", "resume-dialog", "checkpointed-processing"]
    assert expected == list(flags.DEFAULTS)
    assert [(True, 100, frozenset(), frozenset(), None)] * 4 == [
        (f.enabled, f.rollout, f.allow, f.deny, f.updated_at) for f in flags.BUILT_IN
    ]
    assert dict.fromkeys(expected, True) == flags.evaluate(flags.BUILT_IN, "u_anyone")


def test_kill_switch_turns_the_flag_off_for_everyone_even_the_allow_list() -> None:
    """enabled=False is off for every user, whatever the rollout and the allow list say."""
    flag = Flag("x", enabled=False, rollout=100, allow=frozenset({"a"}))
    assert (False, False) == (flags.is_on(flag, "a"), flags.is_on(flag, "b"))
    assert "kill switch" in flags.explain(flag, "a")[1]


def test_deny_beats_allow_and_rollout() -> None:
    """A denied user is off even at 100%; an allowed user is on even at 0%."""
    everyone = Flag("x", rollout=100, deny=frozenset({"d"}))
    nobody = Flag("x", rollout=0, allow=frozenset({"a"}))
    assert (False, True) == (flags.is_on(everyone, "d"), flags.is_on(everyone, "other"))
    assert (True, False) == (flags.is_on(nobody, "a"), flags.is_on(nobody, "other"))
    assert "deny list" in flags.explain(everyone, "d")[1]
    assert "allow list" in flags.explain(nobody, "a")[1]


def test_percentage_compares_the_bucket_with_the_rollout() -> None:
    """A user is on exactly when their bucket is below rollout x 100."""
    b = flags.bucket("x", "u1")
    assert (b < 100 * 37) == flags.is_on(Flag("x", rollout=37), "u1")
    assert (False, True) == (
        flags.is_on(Flag("x", rollout=b // 100), "u1"),
        flags.is_on(Flag("x", rollout=b // 100 + 1), "u1"),
    )


@pytest.mark.parametrize(("name", "user_id", "expected"), KNOWN_BUCKETS)
def test_buckets_are_fixed_values(name: str, user_id: str, expected: int) -> None:
    """A user's bucket is a pure function of flag name and user id (precomputed values)."""
    assert expected == flags.bucket(name, user_id)


def test_buckets_are_the_same_in_another_process() -> None:
    """A fresh interpreter with a different hash seed computes the same buckets."""
    code = (
        "import json, sys; from cvsession.core.flags import bucket; "
        "print(json.dumps([bucket(n, u) for n, u, _ in json.loads(sys.argv[1])]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(KNOWN_BUCKETS)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    ).stdout
    assert [b for _, _, b in KNOWN_BUCKETS] == json.loads(out)


@pytest.mark.parametrize("rollout", [0, 1, 25, 50, 99, 100])
@pytest.mark.parametrize(
    ("name", "ids"),
    [("offline", user_ids()), ("new-editor", [f"user-{i}" for i in range(USERS)])],
    ids=["uuid-ids", "sequential-ids"],
)
def test_rollout_share_is_within_tolerance_over_10000_users(
    rollout: int, name: str, ids: list[str]
) -> None:
    """Of 10,000 users, the rollout share (within 3 SD) get the flag, stably on re-evaluation."""
    # If buckets are uniform and independent, the count of users on is Binomial(n, p): its
    # share has standard deviation sqrt(p(1-p)/n), 0.5 points at 50% and 0.1 at 1% or 99% for
    # n = 10,000. 3 SD (1.5 points at 50%, 0.3 at 1%) is exceeded by chance 0.27% of the time;
    # the ids are fixed, so the test is deterministic, and a biased hash or an off-by-one in
    # the cut-off (1% of 10,000 buckets is 100 of them) fails it. 0% and 100% are exact.
    flag = Flag(name, rollout=rollout)
    first = [flags.is_on(flag, u) for u in ids]
    p = rollout / 100
    tolerance = 3 * math.sqrt(p * (1 - p) / len(ids))
    share = sum(first) / len(ids)
    assert abs(p - share) <= tolerance, f"{share:.4f} vs {p} ± {tolerance:.4f}"
    assert first == [flags.is_on(flag, u) for u in ids]


def test_raising_the_rollout_only_adds_users() -> None:
    """Every user on at some percentage stays on at every higher one (monotonic)."""
    ids = user_ids(2_000, seed=7)
    previous: set[str] = set()
    for rollout in range(101):
        on = {u for u in ids if flags.is_on(Flag("offline", rollout=rollout), u)}
        assert set() == previous - on
        previous = on
    assert set(ids) == previous


def test_flags_bucket_users_independently() -> None:
    """Two flags at 50% overlap on about a quarter of users, not the same half."""
    ids = user_ids()
    a = {u for u in ids if flags.is_on(Flag("offline", rollout=50), u)}
    b = {u for u in ids if flags.is_on(Flag("resume-dialog", rollout=50), u)}
    # Independent: |a & b| ~ Binomial(n, 1/4), SD = sqrt(n * 3/16) ~ 43 users; 3 SD allowed.
    assert abs(USERS / 4 - len(a & b)) <= 3 * math.sqrt(USERS * 3 / 16)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "1 to 64 characters"),
        ("Offline", "1 to 64 characters"),
        ("a_b", "1 to 64 characters"),
        ("a:b", "1 to 64 characters"),
        ("x" * 65, "1 to 64 characters"),
    ],
)
def test_bad_names_are_refused(name: str, fragment: str) -> None:
    """Names are 1-64 characters of a-z, 0-9 and '-'."""
    with pytest.raises(InvalidInput) as info:
        flags.check_name(name)
    assert fragment in info.value.message
    assert "/name" == info.value.detail["path"]


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"rollout": 101}, "/rollout", "0 to 100"),
        ({"rollout": -1}, "/rollout", "0 to 100"),
        ({"rollout": 50.5}, "/rollout", "whole percentage"),
        ({"rollout": True}, "/rollout", "whole percentage"),
        ({"enabled": "yes"}, "/enabled", "true or false"),
        ({"allow": "u1"}, "/allow", "list of user ids"),
        ({"deny": [""]}, "/deny", "non-empty string"),
        ({"deny": [7]}, "/deny", "non-empty string"),
        ({"allow": ["x" * 201]}, "/allow", "at most 200"),
        ({"allow": ["a\x00"]}, "/allow", "U+0000"),
        ({"allow": [f"u{i}" for i in range(10_001)]}, "/allow", "at most 10000"),
        ({"allow": ["a", "b"], "deny": ["b"]}, "/allow", "both the allow and the deny"),
        ({"description": "d" * 501}, "/description", "at most 500"),
        ({"colour": "red"}, "/colour", "unknown flag field"),
    ],
)
def test_bad_definitions_are_refused_with_the_field_named(
    changes: dict[str, object], path: str, fragment: str
) -> None:
    """Each invalid field raises InvalidInput naming the field and the rule it broke."""
    with pytest.raises(InvalidInput) as info:
        flags.changed(Flag("x"), changes)
    assert path == info.value.detail["path"]
    assert fragment in info.value.message


def test_lists_of_10000_ids_are_accepted() -> None:
    """The limit is inclusive: 10,000 allowed and 10,000 denied ids make a valid flag."""
    ids = [f"u{i}" for i in range(20_000)]
    flag = flags.changed(Flag("x"), {"allow": ids[:10_000], "deny": ids[10_000:]})
    assert (10_000, 10_000) == (len(flag.allow), len(flag.deny))


def test_changed_keeps_the_fields_not_given() -> None:
    """A partial change replaces only the fields it names."""
    base = Flag("x", "desc", True, 10, frozenset({"a"}), frozenset({"d"}))
    assert Flag("x", "desc", True, 60, frozenset({"a"}), frozenset({"d"})) == flags.changed(
        base, {"rollout": 60}
    )


def test_definition_round_trips_through_json() -> None:
    """A stored definition rebuilds the same flag; unknown stored fields are ignored."""
    flag = Flag("x", "d", False, 42, frozenset({"b", "a"}), frozenset({"c"}), T0)
    stored = json.loads(json.dumps(flags.definition_json(flag)))
    assert {"description", "enabled", "rollout", "allow", "deny"} == set(stored)
    assert ["a", "b"] == stored["allow"]
    assert flag == flags.from_definition("x", {**stored, "variants": [1]}, T0)
    assert "2026-01-02T03:04:05.678000+00:00" == flags.to_json(flag)["updatedAt"]
