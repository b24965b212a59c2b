"""Fixtures of the store contract suite (the parametrised `store` is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from cvsession.store import Store

from .factories import Rows


@pytest.fixture
def rows() -> Rows:
    """Row builders."""
    return Rows()


@pytest.fixture
def seeded(store: Store, rows: Rows) -> Store:
    """The migrated store holding user u1 and its session s1."""
    with store.transaction() as txn:
        txn.insert_user(rows.user())
        txn.insert_session(rows.session())
    return store
