"""Benchmark: device-to-device propagation over the sync WebSocket, beside pycrdt-websocket.

K sessions x 2 clients on loopback, for each K in --ks and each rate in --rates: client A of each
session sets one field every 1/rate seconds (the value carries its send time), client B records
receive - send. Clients are spread over --procs worker processes, each with its own event loop.

Each run starts with --warmup seconds of the same editing that are not counted: right after the
start every session sends its first edit within one period, and a session's first mutation is
the expensive one (cold caches, its client rows created), so the first seconds measure a one-off
backlog, not the steady state. Only edits SENT at or after start + warmup count, on both servers:
B filters by the send time in the value, A counts only those mutation ids as sent and acked; the
rates and the server and client CPU are taken over the --seconds after the warm-up. Printed per
server, K and rate:

- the rate (edits/s per A client) and the offered load (K x rate edits/s);
- propagation p50/p99/max (A's send to the value being visible at B), delivered updates/s;
- acknowledged mutations/s (acks received by the A clients) and the push -> ack latency;
- server RSS at start (idle), at the end of the measured window and its peak; server and client
  CPU %;
- errors (error messages, unexpected closes, warm-up included) and lost updates (measured edits
  sent, not seen within --drain s).

Rates: the web client sends a field's edit only after a 400 ms typing pause (trailing debounce,
`debounceMs` in src/cvsession/web/lib/cvsession.js, applied in src/cvsession/web/lib/session.js),
so one edit per second per session, all 1,000 sessions at once, is already a heavy realistic load
(rate 1). Rate 5 (5,000 edits/s offered at K = 1,000) is a saturation test where both servers
fall behind.

The peer is pycrdt-websocket (the Python CRDT sync server used by Jupyter) behind the same uvicorn
(websockets-sansio, no compression, uvloop), measured in the same run with the same workload and
a pycrdt Doc per client. Its y-protocol has no acknowledgement and it keeps documents in memory
only, whereas cvsession commits each mutation to SQLite (synchronous=FULL) before it acknowledges
or broadcasts it. Each (server, K, rate) gets a fresh server and fresh clients.

Usage: .venv/bin/python bench/sync.py [--ks 100,1000] [--rates 1,5 | --rate R] [--seconds 20]
       [--warmup 3] [--procs 2] [--drain 5] [--skip-peer]
Needs pycrdt-websocket==0.16.5 and pycrdt==0.14.13 for the peer (not a cvsession dependency).
Goals on the 2-core machine at K = 1,000, per rate: propagation p50 < 20 ms, p99 < 100 ms, ahead
of the peer (lower p50 and p99, delivered/s >= 0.99x the peer's).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import queue
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx2
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import Server, free_port  # noqa: E402

TARGET = "/forms/bench/fields/t/value"
CONNECT_CONCURRENCY = 32
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_RATES = "1,5"  # edits/s per A client when neither --rates nor --rate is given


@dataclass
class Plan:
    """One worker's share of the rooms."""

    kind: str  # "cvsession" or "peer"
    ws_base: str
    token: str
    rooms: list[str]
    period: float
    warmup: float  # s of editing before the measured window, not counted
    seconds: float  # the measured window
    drain: float


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # ms, send -> visible at B
    ack_latencies: list[float] = field(default_factory=list)  # ms, push -> ack at A
    sent: int = 0  # measured edits: sent at or after the end of the warm-up
    acked: int = 0  # measured mutation ids acknowledged
    delivered: int = 0  # measured edits seen at B
    errors: Counter[str] = field(default_factory=Counter)  # over the whole run, warm-up included
    cpu: float = 0.0  # client process CPU seconds over the measured window
    window_delivered: int = 0  # delivered and acked by the end of the measured window: the rates
    window_acked: int = 0
    seen: int = 0  # any edit seen at B, warm-up ones included
    window_seen: int = 0  # of which during the measured window: the server's delivery rate
    counting: bool = True  # off while closing: a closing server may still drain its backlog

    def merge(self, other: Tally) -> None:
        for f in fields(self):
            if f.name != "counting":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads."""
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


# cvsession clients ------------------------------------------------------------------------------
def find_values(ops: list[dict[str, Any]]) -> list[str]:
    """Values of /forms/bench/fields/t/value set by a patch, whether set directly or inside an
    added parent object (the first edit adds /forms/bench; a reset replaces the whole document)."""
    found = []
    for op in ops:
        if op.get("op") not in ("add", "replace"):
            continue
        path = op.get("path", "")
        if path == TARGET:
            found.append(op["value"])
        elif path == "" or TARGET.startswith(path + "/"):
            node = op.get("value")
            for part in TARGET[len(path) :].strip("/").split("/"):
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, str):
                found.append(node)
    return found


class CvsessionPair:
    """Clients A and B of one session, speaking docs/protocol.md."""

    def __init__(self, plan: Plan, room: str, tally: Tally) -> None:
        self.plan, self.room, self.tally = plan, room, tally
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.sent_at: dict[int, int] = {}  # measured mutation ids -> send time (ns)
        self.acked = 0
        self.closing = False
        self.measure_ns = 2**63  # edits sent from then on count; set by run()

    async def connect(self) -> None:
        for role in ("a", "b"):
            ws = await connect(
                f"{self.plan.ws_base}/api/sessions/{self.room}/ws",
                additional_headers={"Authorization": f"Bearer {self.plan.token}"},
                compression=None,
                ping_interval=None,
                open_timeout=60,
            )
            self.sockets.append(ws)
            hello = {
                "type": "hello",
                "clientID": f"bench-{self.room[-8:]}-{role}-{secrets.token_hex(4)}",
                "cookie": None,
                "lastMutationID": 0,
                "schemaVersion": 1,
            }
            await ws.send(orjson.dumps(hello).decode())
            ready = asyncio.Event()
            self.readers.append(asyncio.create_task(self._read(ws, role, ready)))
            await asyncio.wait_for(ready.wait(), 60)

    async def _read(self, ws: ClientConnection, role: str, ready: asyncio.Event) -> None:
        seen: set[str] = set()
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                now = time.monotonic_ns()
                kind = message.get("type")
                if not self.tally.counting:
                    continue
                if kind == "patch" and role == "b":
                    for value in find_values(message.get("ops", [])):
                        self.tally.seen += 1
                        if int(value) >= self.measure_ns:  # sent during the warm-up otherwise
                            self.tally.latencies.append((now - int(value)) / 1e6)
                            self.tally.delivered += 1
                elif kind == "ack" and role == "a":
                    last = message["lastMutationID"]
                    for n in range(self.acked + 1, last + 1):
                        sent = self.sent_at.pop(n, None)
                        if sent is not None:  # a measured id (warm-up ones are not in sent_at)
                            self.tally.ack_latencies.append((now - sent) / 1e6)
                            self.tally.acked += 1
                    self.acked = max(self.acked, last)
                elif kind == "error":
                    self.tally.errors[f"error {message.get('code')}"] += 1
                seen.add(kind)
                if not ready.is_set() and {"patch", "ack"} <= seen:
                    ready.set()
        except ConnectionClosed:
            pass
        except Exception as exc:  # a reader that dies silently would look like lost updates
            self.tally.errors[f"reader {type(exc).__name__}: {exc}"[:80]] += 1
            raise
        if not self.closing:
            self.tally.errors[f"closed {ws.close_code}"] += 1

    async def run(self, start: float, measure_ns: int, end: float) -> None:
        """Edit from `start` to `end`; edits sent at or after `measure_ns` count."""
        self.measure_ns = measure_ns
        a = self.sockets[0]
        due = start + random.uniform(0, self.plan.period)
        n = 0
        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            n += 1
            now = time.monotonic_ns()
            measured = now >= measure_ns
            if measured:
                self.sent_at[n] = now
            mutation = {
                "id": n,
                "name": "form.setField",
                "args": {"form": "bench", "field": "t", "value": str(now)},
            }
            try:
                await a.send(orjson.dumps({"type": "push", "mutations": [mutation]}).decode())
            except ConnectionClosed:
                self.sent_at.pop(n, None)
                return
            if measured:
                self.tally.sent += 1
            due += self.plan.period

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


# peer clients -----------------------------------------------------------------------------------
class PeerPair:
    """Clients A and B of one pycrdt-websocket room: a pycrdt Doc each, synced over the y-protocol
    as pycrdt's Provider does (sync step 1/2, then updates), minus its task group and streams.

    With Provider the clients needed ~1 core at K = 1,000 and the peer's figures became
    client-bound on 2 cores (p50 3.1 s instead of ~0.5 s)."""

    def __init__(self, plan: Plan, room: str, tally: Tally) -> None:
        self.plan, self.room, self.tally = plan, room, tally
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.maps: list[Any] = []
        self.updates: list[bytes] = []
        self.editing = self.closing = False
        self.measure_ns = 2**63  # edits sent from then on count; set by run()

    async def connect(self) -> None:
        from pycrdt import Doc, Map, create_sync_message

        for role in ("a", "b"):
            ws = await connect(
                f"{self.plan.ws_base}/{self.room}",
                compression=None,
                ping_interval=None,
                open_timeout=60,
                max_size=None,
            )
            self.sockets.append(ws)
            doc: Any = Doc()
            ymap = doc.get("map", type=Map)
            self.maps.append(ymap)
            if role == "a":
                doc.observe(self._local_update)
            else:
                ymap.observe(self._observed)
            synced = asyncio.Event()
            self.readers.append(asyncio.create_task(self._read(ws, doc, synced)))
            await ws.send(create_sync_message(doc))
            await asyncio.wait_for(synced.wait(), 60)

    async def _read(self, ws: ClientConnection, doc: Any, synced: asyncio.Event) -> None:
        from pycrdt import YMessageType, YSyncMessageType, handle_sync_message

        try:
            async for message in ws:
                assert isinstance(message, bytes)
                if message[0] != YMessageType.SYNC:
                    continue  # awareness
                reply = handle_sync_message(message[1:], doc)
                if message[1] == YSyncMessageType.SYNC_STEP2:
                    synced.set()
                if reply is not None:
                    await ws.send(reply)
        except ConnectionClosed:
            pass
        except Exception as exc:
            self.tally.errors[f"reader {type(exc).__name__}: {exc}"[:80]] += 1
            raise
        if not self.closing:
            self.tally.errors[f"closed {ws.close_code}"] += 1

    def _local_update(self, event: Any) -> None:
        if self.editing:  # not the echo of our own update applied by the reader
            self.updates.append(event.update)

    def _observed(self, event: Any) -> None:
        change = event.keys.get("t")
        if change and self.tally.counting and "newValue" in change:
            now, sent = time.monotonic_ns(), int(change["newValue"])
            self.tally.seen += 1
            if sent >= self.measure_ns:  # sent during the warm-up otherwise
                self.tally.latencies.append((now - sent) / 1e6)
                self.tally.delivered += 1

    async def run(self, start: float, measure_ns: int, end: float) -> None:
        """Edit from `start` to `end`; edits sent at or after `measure_ns` count."""
        from pycrdt import create_update_message

        self.measure_ns = measure_ns
        due = start + random.uniform(0, self.plan.period)
        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = time.monotonic_ns()
            self.editing = True
            self.maps[0]["t"] = str(now)  # observed: appends the update
            self.editing = False
            try:
                while self.updates:
                    await self.sockets[0].send(create_update_message(self.updates.pop(0)))
            except ConnectionClosed:
                return
            if now >= measure_ns:
                self.tally.sent += 1
            due += self.plan.period

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


# worker processes -------------------------------------------------------------------------------
async def drive(plan: Plan, ready: Any, go: Any, start_at: Any) -> Tally:
    tally = Tally()
    kind = CvsessionPair if plan.kind == "cvsession" else PeerPair
    pairs = [kind(plan, room, tally) for room in plan.rooms]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(pair: CvsessionPair | PeerPair) -> bool:
        async with gate:
            try:
                await pair.connect()
                return True
            except Exception as exc:
                tally.errors[f"connect {type(exc).__name__}"] += 1
                return False

    live = [
        p for p, ok in zip(pairs, await asyncio.gather(*map(connect, pairs)), strict=True) if ok
    ]
    ready.put(len(live))
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    start = start_at.value  # editing starts; the measured window starts after the warm-up
    measure_from = start + plan.warmup
    measure_ns = round(measure_from * 1e9)  # time.monotonic_ns(): the clock of the send times
    end = measure_from + plan.seconds

    async def at_measure_start() -> tuple[float, int]:
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        return time.process_time(), tally.seen

    mark = asyncio.create_task(at_measure_start())
    await asyncio.gather(*(p.run(start, measure_ns, end) for p in live))
    await asyncio.sleep(max(0.0, end - time.monotonic()))  # the last sends precede the end
    cpu0, seen0 = await mark
    tally.cpu = time.process_time() - cpu0
    tally.window_delivered, tally.window_acked = tally.delivered, tally.acked
    tally.window_seen = tally.seen - seen0
    deadline = time.monotonic() + plan.drain
    while time.monotonic() < deadline:  # late deliveries still count; lost ones do not
        acked = tally.acked >= tally.sent or plan.kind != "cvsession"
        if tally.delivered >= tally.sent and acked:
            break
        await asyncio.sleep(0.05)
    tally.counting = False
    await asyncio.gather(*(p.close() for p in pairs), return_exceptions=True)
    return tally


def worker(plan: Plan, ready: Any, go: Any, start_at: Any, out: Any) -> None:
    try:
        import uvloop

        tally = uvloop.run(drive(plan, ready, go, start_at))
    except ImportError:
        tally = asyncio.run(drive(plan, ready, go, start_at))
    out.put(tally)


@dataclass
class Result:
    server: str
    k: int
    rate: float  # edits/s per A client
    seconds: float  # the measured window, after the warm-up
    tally: Tally
    rss_start: float
    rss_end: float
    rss_peak: float
    server_cpu: float  # % of one core over the measured window


def collect(q: Any, procs: list[Any], timeout: float) -> list[Any]:
    """One item from each worker; fail fast when a worker died instead of answering."""
    items: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(items) < len(procs):
        try:
            items.append(q.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs) or time.monotonic() > deadline:
                raise RuntimeError("a client worker failed or timed out") from None
    return items


def run_load(
    kind: str, pid: int, ws_base: str, token: str, rooms: list[str], rate: float, args: Any
) -> Result:
    """Drive `rooms` from worker processes at `rate` edits/s per A client; measure the server
    process `pid` over the measured window (after the warm-up)."""
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    procs = []
    rss_start, _ = rss_mib(pid)
    try:
        for i in range(args.procs):
            plan = Plan(
                kind,
                ws_base,
                token,
                rooms[i :: args.procs],
                1 / rate,
                args.warmup,
                args.seconds,
                args.drain,
            )
            proc = ctx.Process(target=worker, args=(plan, ready, go, start_at, out), daemon=True)
            proc.start()
            procs.append(proc)
        connected = sum(collect(ready, procs, 600))
        print(
            f"  {kind} K={len(rooms)} rate {rate:g}/s: {connected}/{len(rooms)} pairs connected",
            flush=True,
        )
        time.sleep(1)  # let joins and presence settle
        start_at.value = time.monotonic() + 0.2
        go.set()
        time.sleep(max(0.0, start_at.value + args.warmup - time.monotonic()))  # past the warm-up
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.seconds)
        cpu1, wall1 = cpu_seconds(pid), time.monotonic()
        rss_end, rss_peak = rss_mib(pid)
        tally = Tally()
        for part in collect(out, procs, args.drain + 120):
            tally.merge(part)
        for proc in procs:
            proc.join(timeout=30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
    cpu = 100 * (cpu1 - cpu0) / (wall1 - wall0)
    return Result(kind, len(rooms), rate, args.seconds, tally, rss_start, rss_end, rss_peak, cpu)


# servers ----------------------------------------------------------------------------------------
async def create_sessions(url: str, k: int) -> tuple[str, list[str]]:
    async with httpx2.AsyncClient(base_url=url, timeout=60) as http:
        response = await http.post("/api/identity", json={})
        response.raise_for_status()
        token = response.json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def create() -> str:
            async with gate:
                created = await http.post("/api/sessions", json={})
                created.raise_for_status()
                sid: str = created.json()["id"]
                return sid

        return token, list(await asyncio.gather(*(create() for _ in range(k))))


def bench_cvsession(k: int, rate: float, args: Any) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), env={"CVSESSION_IDENTITY_RATE_PER_MINUTE": "1000000"})
        try:
            server.start()
            assert server.proc is not None
            token, rooms = asyncio.run(create_sessions(server.url, k))
            return run_load("cvsession", server.proc.pid, server.ws_url, token, rooms, rate, args)
        finally:
            server.stop()


def bench_peer(k: int, rate: float, args: Any) -> Result:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve-peer", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("pycrdt-websocket server did not start") from None
                time.sleep(0.1)
        rooms = [f"room-{i:05d}" for i in range(k)]
        return run_load("peer", proc.pid, f"ws://127.0.0.1:{port}", "", rooms, rate, args)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve_peer(port: int) -> None:
    """Run pycrdt-websocket under uvicorn with the settings `cvsession serve` uses."""
    import uvicorn
    import uvloop
    from pycrdt.websocket import ASGIServer, WebsocketServer

    async def main() -> None:
        websocket_server = WebsocketServer(exception_handler=lambda exc, log: True)
        app = ASGIServer(websocket_server)
        async with websocket_server:
            config = uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                ws="websockets-sansio",
                ws_per_message_deflate=False,
                ws_max_size=1024 * 1024,
                ws_ping_interval=20.0,
                ws_ping_timeout=20.0,
                access_log=False,
                lifespan="off",
            )
            await uvicorn.Server(config).serve()

    try:
        uvloop.run(main())
    except BaseExceptionGroup as group:  # rooms whose clients left with a backlog unsent
        print(f"peer server stopped with {len(group.exceptions)} room errors", file=sys.stderr)


# report -----------------------------------------------------------------------------------------
def row(r: Result) -> str:
    t = r.tally
    acked = f"{t.window_acked / r.seconds:,.0f}" if r.server == "cvsession" else "n/a"
    ack_p99 = f"{pct(t.ack_latencies, 0.99):.1f}" if r.server == "cvsession" else "n/a"
    lost = t.sent - t.delivered
    errors = sum(t.errors.values())
    return (
        f"{r.server:<10}{r.k:>6}{r.rate:>6g}{r.k * r.rate:>9,.0f}"
        f"{pct(t.latencies, 0.5):>9.2f}{pct(t.latencies, 0.99):>9.2f}"
        f"{max(t.latencies, default=float('nan')):>9.1f}{t.window_delivered / r.seconds:>11,.0f}"
        f"{acked:>9}{ack_p99:>9}   {r.rss_start:>5.0f} /{r.rss_end:>5.0f} /{r.rss_peak:>5.0f}"
        f"{r.server_cpu:>8.0f}%{100 * t.cpu / r.seconds:>8.0f}%{errors:>7}{lost:>7}"
    )


def report(results: list[Result]) -> None:
    print()
    print(
        f"{'server':<10}{'K':>6}{'rate':>6}{'offered':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'deliv/s':>11}{'acked/s':>9}{'ack p99':>9}   {'RSS MiB start/end/peak':<22}"
        f"{'srv CPU':>8}{'cli CPU':>9}{'errors':>7}{'lost':>7}"
    )
    for r in results:
        print(row(r))
    print("  rate: edits/s per A client; offered: K x rate edits/s")
    for r in results:  # behind: measured edits wait behind the warm-up's backlog
        if r.tally.window_delivered < 0.99 * r.k * r.rate * r.seconds:
            print(
                f"  {r.server} K={r.k} rate {r.rate:g}/s behind: delivered "
                f"{r.tally.window_seen / r.seconds:,.0f} edits/s of any send time (warm-up "
                f"included) during the window, {r.tally.window_delivered / r.seconds:,.0f} "
                "measured ones"
            )
    for r in results:
        if r.tally.errors:
            print(f"  {r.server} K={r.k} rate {r.rate:g}/s errors: {dict(r.tally.errors)}")
    by = {(r.server, r.k, r.rate): r for r in results}
    configs = sorted({(r.k, r.rate) for r in results})
    if any(("peer", k, rate) in by for k, rate in configs):
        print("\nratios cvsession / peer (latency and resources: below 1 is better)")
    for k, rate in configs:
        ours, peer = by.get(("cvsession", k, rate)), by.get(("peer", k, rate))
        if ours is None or peer is None:
            continue
        a, b = ours.tally, peer.tally
        print(
            f"  K={k:<5} rate {rate:<4g} p50 {pct(a.latencies, 0.5) / pct(b.latencies, 0.5):.3g}x"
            f"  p99 {pct(a.latencies, 0.99) / pct(b.latencies, 0.99):.3g}x"
            f"  delivered/s {a.window_delivered / max(1, b.window_delivered):.3g}x"
            f"  RSS end {ours.rss_end / peer.rss_end:.3g}x"
            f"  server CPU {ours.server_cpu / max(0.1, peer.server_cpu):.3g}x"
        )
    goal_k = 1000  # the goal is set at K = 1,000; a run without it is judged at its largest K
    if not any(s == "cvsession" and k == goal_k for s, k, _ in by):
        goal_k = max((k for s, k, _ in by if s == "cvsession"), default=0)
    for rate in sorted({rate for s, k, rate in by if s == "cvsession" and k == goal_k}):
        goals(by["cvsession", goal_k, rate], by.get(("peer", goal_k, rate)))


def goals(ours: Result, peer: Result | None) -> None:
    """The goal verdicts for one rate at the goal's K."""
    at = f"K={ours.k} rate {ours.rate:g}/s"
    p50, p99 = pct(ours.tally.latencies, 0.5), pct(ours.tally.latencies, 0.99)
    print(f"\ngoal      propagation p50 < 20 ms at {at}: {verdict(p50 < 20)} ({p50:.2f} ms)")
    print(f"goal      propagation p99 < 100 ms at {at}: {verdict(p99 < 100)} ({p99:.2f} ms)")
    if peer is None:
        print(f"goal      ahead of the peer at {at}: not measured (--skip-peer)")
        return
    q50, q99 = pct(peer.tally.latencies, 0.5), pct(peer.tally.latencies, 0.99)
    ours_rate, peer_rate = ours.tally.window_delivered, peer.tally.window_delivered
    ahead = p50 < q50 and p99 < q99 and ours_rate >= 0.99 * peer_rate
    print(
        f"goal      ahead of the peer at {at} (p50, p99 and delivered/s): {verdict(ahead)}"
        f" (peer p50 {q50:.2f} ms, p99 {q99:.2f} ms, delivered/s {peer_rate / peer.seconds:,.0f}"
        f" vs {ours_rate / ours.seconds:,.0f})"
    )


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def git(*cmd: str) -> str:
        run = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return run.stdout.strip()

    dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    parts = [f"cvsession {git('rev-parse', '--short', 'HEAD')}{dirty}"]
    for name in ("pycrdt-websocket", "pycrdt", "uvicorn", "websockets", "uvloop"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} missing")
    return ", ".join(parts) + f", Python {sys.version.split()[0]}"


def verdict(ok: bool) -> str:
    return "meets" if ok else "misses"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="100,1000", help="sessions per configuration")
    parser.add_argument("--seconds", type=float, default=20, help="measured s, after the warm-up")
    parser.add_argument("--warmup", type=float, default=3, help="s of editing not counted")
    parser.add_argument("--rate", type=float, help="edits/s per A client (one rate)")
    parser.add_argument(
        "--rates", help=f"edits/s per A client, comma list; overrides --rate ({DEFAULT_RATES})"
    )
    parser.add_argument("--procs", type=int, default=2, help="client worker processes")
    parser.add_argument("--drain", type=float, default=5, help="s to wait for late deliveries")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--serve-peer", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_peer:
        serve_peer(args.serve_peer)
        return
    rates_arg = args.rates or (f"{args.rate:g}" if args.rate else DEFAULT_RATES)
    rates = [float(rate) for rate in rates_arg.split(",")]
    if any(rate <= 0 for rate in rates) or args.warmup < 0 or args.seconds <= 0:
        parser.error("rates and --seconds must be positive, --warmup not negative")

    began = time.monotonic()
    print(f"versions  {versions()}")
    print(
        f"workload  K sessions x 2 clients, A edits every 1/rate s at rate "
        f"{', '.join(f'{rate:g}' for rate in rates)} edits/s, {args.warmup:g} s warm-up (not "
        f"counted) then {args.seconds:g} s measured, {args.procs} client processes, "
        f"{os.cpu_count()} CPUs"
    )
    results = []
    for k in (int(k) for k in args.ks.split(",")):
        for rate in rates:
            results.append(bench_cvsession(k, rate, args))
            if not args.skip_peer:
                results.append(bench_peer(k, rate, args))
    report(results)
    print(f"\nelapsed   {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
