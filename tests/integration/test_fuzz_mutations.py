"""Random arguments for every named mutation: refused cleanly or applied, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvsession.core import catalogue, handlers
from tests.integration.conftest import User

NAMES = [n for n in handlers.handler_names() if not n.startswith(handlers.SERVER_ONLY_PREFIX)]
KEYS = [
    "step",
    "substep",
    "feature",
    "enabled",
    "configuration",
    "template",
    "colors",
    "fonts",
    "sectionOrder",
    "hiddenSections",
    "form",
    "field",
    "fields",
    "value",
    "touched",
    "dirty",
    "valid",
    "errors",
    "warnings",
    "metadata",
    "key",
    "values",
    "role",
    "jobDescription",
    "cv",
    "path",
    "ops",
    "root",
    "data",
    "title",
    "id",
    "when",
    "action",
    "target",
    "reason",
    "conflictId",
    "choice",
    "ms",
    "interactions",
]
PLAUSIBLE = [
    *catalogue.STEP_IDS,
    *catalogue.FEATURES,
    *catalogue.TEMPLATES,
    "file-select",
    "template-customize",
    "/data/x",
    "",
    "mine",
    "enable",
    "f",
    "x",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(PLAUSIBLE),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=12,
)
args = st.one_of(json_values, st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6))


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(NAMES), arguments=args, base=st.none() | st.integers(0, 3))
def test_random_arguments_never_crash(
    alice: User, name: str, arguments: Any, base: int | None
) -> None:
    """Each push is answered 200 with an applied or error result; the session stays readable."""
    sid = alice.new_session()["id"]
    response = alice.post(
        f"/api/sessions/{sid}/mutations",
        json={
            "clientID": f"fuzz-{uuid.uuid4().hex}",
            "mutations": [{"id": 1, "name": name, "args": arguments, "baseVersion": base}],
        },
    )
    assert 200 == response.status_code, response.text
    result = response.json()["results"][0]
    assert result["status"] in ("applied", "error")
    if result["status"] == "error":
        assert result["error"]["message"]
    assert 200 == alice.get(f"/api/sessions/{sid}").status_code
