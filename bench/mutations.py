"""Benchmark: acknowledged mutations/s and latency through the HTTP API, beside raw SQLite.

Starts a real server process (uvicorn) per backend, drives it over loopback with concurrent
keep-alive clients, and prints:

- baseline: a raw SQLite insert loop, WAL + synchronous=FULL, one commit per 200-byte row
  (the same durability the server uses), measured in the same run;
- API: acknowledged mutations/s with p50/p99 latency, one mutation per request, on SQLite and
  PostgreSQL, and the ratio to the baseline;
- GET /api/sessions/{id} p50/p99 with N sessions stored (100,000 by default).

Usage: .venv/bin/python bench/mutations.py [--seconds 10] [--clients 32] [--sessions 100000]
       [--backends sqlite,postgres] [--batch 10]
Goals on the 2-core machine: >= 2,000 acknowledged mutations/s on SQLite; GET p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.servers import Server  # noqa: E402

PG = "postgresql://127.0.0.1:5432/cvsession_test"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def raw_sqlite_baseline(seconds: float) -> float:
    """Commits/s of a raw insert loop with the server's durability settings."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        row = "x" * 200
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t (body) VALUES (?)", (row,))
            conn.execute("COMMIT")
            n += 1
        elapsed = time.perf_counter() - start
        conn.close()
    return n / elapsed


async def mutation_load(
    url: str, clients: int, seconds: float, per_request: int = 1
) -> tuple[int, list[float]]:
    """Each client owns a session and pushes `per_request` mutations per request, back to back.

    Latency is per request: a mutation is acknowledged when its request is answered.
    """
    latencies: list[float] = []
    acked = 0
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        token = (await http.post("/api/identity", json={})).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        sids = [(await http.post("/api/sessions", json={})).json()["id"] for _ in range(clients)]
        stop_at = time.perf_counter() + seconds

        async def client(index: int) -> None:
            nonlocal acked
            cid = f"bench-{index}-{secrets.token_hex(4)}"
            n = 0
            while time.perf_counter() < stop_at:
                batch = []
                for _ in range(per_request):
                    n += 1
                    args = {"form": "bench", "field": f"f{n % 50}", "value": f"v{n}"}
                    batch.append({"id": n, "name": "form.setField", "args": args})
                t0 = time.perf_counter()
                response = await http.post(
                    f"/api/sessions/{sids[index]}/mutations",
                    json={"clientID": cid, "mutations": batch},
                )
                latencies.append(time.perf_counter() - t0)
                results = response.json().get("results", [])
                if response.status_code != 200 or any(r["status"] != "applied" for r in results):
                    raise RuntimeError(f"mutation failed: {response.text[:200]}")
                acked += len(results)

        start = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - start
    return int(acked / elapsed), latencies


def seed_sessions(database_url: str, count: int) -> tuple[str, list[str]]:
    """Insert `count` sessions straight through the store; return one owner's token and ids."""
    from cvsession.core.document import new_session_document
    from cvsession.service.identity import hash_secret
    from cvsession.service.sessions import row_from_document
    from cvsession.store import open_store
    from cvsession.store.base import TokenRow, UserRow

    store = open_store(database_url)
    store.migrate()
    now = datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    owners = [f"u_bench{i}" for i in range(100)]
    ids: list[str] = []
    with store.transaction() as txn:
        for owner in owners:
            txn.insert_user(UserRow(owner, now))
        txn.insert_token(TokenRow(hash_secret(token), owners[0], "bearer", now))
    batch = 2000
    for start in range(0, count, batch):
        with store.transaction() as txn:
            for i in range(start, min(count, start + batch)):
                sid = f"s_bench{i:07d}"
                owner = owners[i % len(owners)]
                doc = new_session_document(sid, owner, now, title=f"CV {i}")
                txn.insert_session(row_from_document(doc, {}, now))
                if owner == owners[0]:
                    ids.append(sid)
    store.close()
    return token, ids


async def get_load(url: str, token: str, ids: list[str], requests: int) -> list[float]:
    latencies: list[float] = []
    async with httpx2.AsyncClient(
        base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        for i in range(requests):
            sid = ids[secrets.randbelow(len(ids))]
            t0 = time.perf_counter()
            response = await http.get(f"/api/sessions/{sid}")
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise RuntimeError(response.text)
            if i == 0:
                latencies.clear()  # the first request warms caches
    return latencies


def pg_url(schema: str) -> str:
    import psycopg

    with psycopg.connect("postgresql://127.0.0.1:5432/postgres", autocommit=True) as admin:
        if (
            admin.execute("SELECT 1 FROM pg_database WHERE datname='cvsession_test'").fetchone()
            is None
        ):
            admin.execute("CREATE DATABASE cvsession_test")
    return f"{PG}?schema={schema}"


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--batch", type=int, default=10, help="mutations per request, 2nd run")
    args = parser.parse_args()

    baseline = raw_sqlite_baseline(min(args.seconds, 5))
    print(f"baseline  raw SQLite insert+commit (WAL, synchronous=FULL): {baseline:,.0f}/s")
    results: dict[str, Any] = {}
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            schema = f"bench_{secrets.token_hex(4)}"
            url = f"sqlite:///{Path(tmp) / 'bench.db'}" if backend == "sqlite" else pg_url(schema)
            token, ids = seed_sessions(url, args.sessions)
            server = Server(Path(tmp) / "server", url)
            server.start()
            try:
                rate, lat = asyncio.run(mutation_load(server.url, args.clients, args.seconds))
                batched, blat = asyncio.run(
                    mutation_load(server.url, args.clients, args.seconds, args.batch)
                )
                gets = asyncio.run(get_load(server.url, token, ids, args.gets))
            finally:
                server.stop()
                if backend != "sqlite":
                    drop_schema(schema)
        results[backend] = (rate, batched)
        for label, r, lt in (
            ("1 mutation/request", rate, lat),
            (f"{args.batch} mutations/request", batched, blat),
        ):
            print(
                f"{backend:<9} acknowledged mutations: {r:,}/s (request p50 "
                f"{pct(lt, 0.5) * 1000:.1f} ms, p99 {pct(lt, 0.99) * 1000:.1f} ms, "
                f"{args.clients} clients, {label})  ratio to baseline {r / baseline:.2f}"
            )
        print(
            f"{backend:<9} GET session with {args.sessions:,} stored: "
            f"p50 {pct(gets, 0.5) * 1000:.2f} ms, p99 {pct(gets, 0.99) * 1000:.2f} ms, "
            f"mean {statistics.fmean(gets) * 1000:.2f} ms over {len(gets)} requests"
        )
    if "sqlite" in results:
        single, batched = results["sqlite"]
        for label, r in (("1/request", single), (f"{args.batch}/request", batched)):
            verdict = "meets" if r >= 2000 else "misses"
            print(f"goal      >= 2,000 acknowledged mutations/s on SQLite ({label}): {verdict}")


if __name__ == "__main__":
    main()
