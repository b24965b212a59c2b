"""Sync under chaos: random edits, offline periods, duplicates and server kills (hypothesis)."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cvsession.client import Backoff, SyncClient, SyncSession
from tests.servers import Server

pytestmark = pytest.mark.slow
CLIENTS = 3


def fast() -> Backoff:
    return Backoff(initial=0.05, maximum=0.3)


class SyncChaos(RuleBasedStateMachine):
    """Three clients on one session against a real server process that gets killed."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="cvsession-chaos-"))
        self.server = Server(self.tmp / "server")
        self.server.start()
        self.token = httpx2.post(self.server.url + "/api/identity", json={}).json()["token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.sid = httpx2.post(
            self.server.url + "/api/sessions", json={}, headers=self.headers
        ).json()["id"]
        self.clients: list[SyncClient] = []
        self.handles: list[SyncSession] = []
        self.issued: dict[str, dict[int, tuple[str, Any]]] = {}
        self.online = [True] * CLIENTS
        self.counter = itertools.count(1)

    @initialize()
    def connect_clients(self) -> None:
        for i in range(CLIENTS):
            client = SyncClient(
                self.server.url,
                path=self.tmp / f"client{i}.db",
                token=self.token,
                backoff=fast,
                device=f"device-{i}",
            )
            self.clients.append(client)
            self.handles.append(client.session(self.sid))
            self.issued[client.client_id] = {}

    def _mutate(self, i: int, name: str, args: dict[str, Any]) -> None:
        mid = self.handles[i].mutate(name, args)
        self.issued[self.clients[i].client_id][mid] = (name, args)

    @rule(i=st.integers(0, CLIENTS - 1), field=st.sampled_from(["name", "email", "city"]))
    def edit_field(self, i: int, field: str) -> None:
        """A content edit with a value unique to this mutation."""
        self._mutate(
            i,
            "form.setField",
            {"form": "profile", "field": field, "value": f"c{i}-{next(self.counter)}"},
        )

    @rule(i=st.integers(0, CLIENTS - 1))
    def add_time(self, i: int) -> None:
        """An additive edit: applying it twice or never would show in the total."""
        self._mutate(i, "step.recordTime", {"step": "upload", "ms": 1})

    @rule(i=st.integers(0, CLIENTS - 1))
    def go_offline(self, i: int) -> None:
        self.clients[i].offline()
        self.online[i] = False

    @rule(i=st.integers(0, CLIENTS - 1))
    def go_online(self, i: int) -> None:
        self.clients[i].online()
        self.online[i] = True

    @rule(i=st.integers(0, CLIENTS - 1), data=st.data())
    def resend_duplicate(self, i: int, data: st.DataObject) -> None:
        """Push one of the client's own mutations again over HTTP, content unchanged."""
        client_id = self.clients[i].client_id
        if not self.issued[client_id]:
            return
        mid = data.draw(st.sampled_from(sorted(self.issued[client_id])))
        name, args = self.issued[client_id][mid]
        response = httpx2.post(
            f"{self.server.url}/api/sessions/{self.sid}/mutations",
            headers=self.headers,
            json={"clientID": client_id, "mutations": [{"id": mid, "name": name, "args": args}]},
        )
        assert response.status_code in (200, 409), response.text

    @rule()
    def kill_server(self) -> None:
        """kill -9 the server and start it again on the same port and data."""
        self.server.kill9()
        self.server.start()

    @invariant()
    def displayed_state_is_a_document(self) -> None:
        for handle in self.handles:
            state = handle.state
            assert state is None or state["id"] == self.sid

    def teardown(self) -> None:
        try:
            if self.clients:
                self._check_convergence()
        finally:
            for client in self.clients:
                client.close()
            self.server.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _check_convergence(self) -> None:
        for i, client in enumerate(self.clients):
            if not self.online[i]:
                client.online()
        for handle in self.handles:
            handle.wait_synced(timeout=60)
        doc = httpx2.get(f"{self.server.url}/api/sessions/{self.sid}", headers=self.headers).json()
        export = httpx2.get(
            f"{self.server.url}/api/sessions/{self.sid}/export", headers=self.headers, timeout=30
        ).json()
        applied = Counter((e["clientID"], e["mutationID"]) for e in export["log"])
        issued = Counter((cid, mid) for cid, ids in self.issued.items() for mid in ids)
        # Every mutation is in the log exactly once (value conflicts are surfaced on top).
        assert issued == applied
        adds = sum(
            1
            for ids in self.issued.values()
            for name, _ in ids.values()
            if name == "step.recordTime"
        )
        assert adds == doc["steps"]["upload"]["timeSpentMs"]
        for conflict in export["conflicts"]:
            assert (conflict["clientID"], conflict["mutationID"]) in issued
            assert conflict["yours"] != conflict["theirs"]
        for handle in self.handles:
            handle.wait_for(lambda h: h.cookie == doc["version"], timeout=30)
            assert doc == handle.state


TestSyncChaos = SyncChaos.TestCase
TestSyncChaos.settings = settings(
    max_examples=4, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
)
