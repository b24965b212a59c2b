"""`cvsession flags` against a real embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvsession.cli import main
from cvsession.core import flags


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_set_check_reset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Flags are listed at their defaults, set, checked per user with the reason, and reset."""
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = run(capsys, "flags", "list", *data)
    assert 0 == code
    rows = [line.split()[:3] for line in out.splitlines()[1:]]
    assert [[name, "enabled", "100%"] for name in flags.DEFAULTS] == rows

    code, out, _ = run(
        capsys, "flags", "set", "offline", "--rollout", "30", "--allow", "u_a", "u_b",
        "--deny", "u_c", *data,
    )  # fmt: skip
    assert 0 == code
    shown = json.loads(out)
    assert (30, ["u_a", "u_b"], ["u_c"], True) == (
        shown["rollout"], shown["allow"], shown["deny"], shown["enabled"]
    )  # fmt: skip

    assert (0, "offline for u_a: on (on the allow list)\n", "") == run(
        capsys, "flags", "check", "offline", "u_a", *data
    )
    assert (
        "offline for u_c: off (on the deny list)"
        in run(capsys, "flags", "check", "offline", "u_c", *data)[1]
    )
    bucket = flags.bucket("offline", "u_z")
    expected = "on" if bucket < 3000 else "off"
    assert (
        f"offline for u_z: {expected} (bucket {bucket}"
        in run(capsys, "flags", "check", "offline", "u_z", *data)[1]
    )

    assert 0 == run(capsys, "flags", "set", "offline", "--disabled", "--allow", *data)[0]
    code, out, _ = run(capsys, "flags", "list", "--json", *data)
    offline = next(f for f in json.loads(out) if f["name"] == "offline")
    assert (False, 30, [], ["u_c"]) == (
        offline["enabled"], offline["rollout"], offline["allow"], offline["deny"]
    )  # fmt: skip
    assert "kill switch" in run(capsys, "flags", "check", "offline", "u_a", *data)[1]

    assert (0, "offline: back to its default\n", "") == run(
        capsys, "flags", "reset", "offline", *data
    )
    assert "offline for u_c: on" in run(capsys, "flags", "check", "offline", "u_c", *data)[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("set", "Offline", "--rollout", "5"), "1 to 64 characters"),
        (("set", "offline", "--rollout", "150"), "0 to 100"),
        (("set", "offline", "--allow", "u1", "--deny", "u1"), "both the allow and the deny"),
        (("check", "no-such-flag", "u1"), "no flag named 'no-such-flag'"),
        (("reset", "no-such-flag"), "no flag named 'no-such-flag'"),
    ],
)
def test_errors_exit_1_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    """Invalid input and unknown flags print the reason on stderr and exit 1."""
    code, _, err = run(capsys, "flags", *argv, "--data-dir", str(tmp_path / "data"))
    assert (1, True) == (code, message in err)
