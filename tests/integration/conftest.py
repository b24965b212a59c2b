"""Fixtures for driving the HTTP API in-process (TestClient runs the app's lifespan)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cvsession.api.app import create_app
from cvsession.config import Settings

BASE = "http://127.0.0.1:8000"
TESTDATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata").resolve()


@dataclass
class User:
    """A bearer-token identity bound to a client."""

    client: TestClient
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, url: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, **kw: Any) -> Any:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.request("DELETE", url, **kw)

    def new_session(self, **body: Any) -> dict[str, Any]:
        response = self.post("/api/sessions", json=body)
        assert response.status_code == 201, response.text
        doc: dict[str, Any] = response.json()
        return doc


def make_client(tmp_path: Path, database_url: str = "", *, jobs: bool = False) -> TestClient:
    # The job engine (DBOS) is global to a process: only the tests that need it start it.
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        identity_rate_per_minute=10_000,
        jobs_mode="1" if jobs else "0",
    )
    return TestClient(create_app(settings), base_url=BASE)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The app on a fresh embedded SQLite store."""
    with make_client(tmp_path) as c:
        yield c


def new_user(client: TestClient) -> User:
    response = client.post("/api/identity", json={})
    assert response.status_code == 201, response.text
    body = response.json()
    return User(client, body["userId"], body["token"])


@pytest.fixture
def alice(client: TestClient) -> User:
    return new_user(client)


@pytest.fixture
def bob(client: TestClient) -> User:
    return new_user(client)
