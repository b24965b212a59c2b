"""Benchmark: a soak of simulated users against one server, judged by the product's metrics.

One server (`cvsession serve`, jobs off) and --users simulated users in this process, each with an
API identity and cvsession.client devices (a SQLite outbox each). Every ~--think s a user edits
form fields (remembered as the truth), completes the next step (starting a new session after the
last), goes offline for 3 to --offline-max s while editing, leaves and returns on a new device as
the resume dialog does (recommendation, resume.offered/taken, open and time until every value is
there, resume.restored), times edits between two devices, or once edits on a "plane" device whose
clock stands --skew minutes back while it edits offline and is right again when it connects (a
flight: the server then sees HLC stamps that old, on a clock that agrees with its own). At the end
every device is drained, every session is compared with the truth over HTTP, and the
administrator's GET /metrics/summary is printed beside the plan's bars, with our own figures where
the product has none, the errors seen and the server's RSS. bench/README.md has the details.

Usage: .venv/bin/python bench/soak.py [--seconds 600] [--users 50] [--seed 1] [--think 2]
       [--offline-max 120] [--resume-gap 150] [--skew 31]
Bars (the plan): resume success > 95%, time to resume < 2 s, 100% form data preserved, sync
reliability > 99.5%, > 30 min offline, < 5% overhead, cross-device sync < 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import Server  # noqa: E402

from cvsession.client import Client, SessionHandle  # noqa: E402
from cvsession.core import catalogue  # noqa: E402

FORM = "soak"
FIELDS = [f"f{i:02d}" for i in range(40)]
WEIGHTS = {"edit": 62, "step": 6, "offline": 10, "return": 10, "pair": 10, "plane": 2}


class Run:
    """What the users share: the server, the options and the tallies."""

    def __init__(self, args: Any, url: str, tmp: Path) -> None:
        self.args, self.url, self.tmp = args, url, tmp
        self.http = httpx2.AsyncClient(base_url=url, timeout=60)
        self.errors: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.resumes: list[tuple[float, bool]] = []  # (ms, intact)
        self.propagation: list[float] = []  # ms, an edit on one device visible on the other
        self.offline: list[tuple[float, float, bool]] = []  # (offline s, replay s, synced)
        self.skewed: list[bool] = []  # plane replays synced
        self.fields = self.matched = self.unsent = 0


def value_of(state: Any, field: str) -> Any:
    fields = ((state or {}).get("forms") or {}).get(FORM, {}).get("fields", {})
    return (fields.get(field) or {}).get("value")


class User:
    def __init__(self, run: Run, n: int) -> None:
        self.run, self.n, self.args = run, n, run.args
        self.rng = random.Random(run.args.seed * 100_003 + n)
        self.sessions: list[tuple[str, dict[str, str]]] = []  # (session id, truth)
        self.devices = self.edits = self.step_i = 0
        self.last_resume, self.flown = -1e9, False

    @property
    def sid(self) -> str:
        return self.sessions[-1][0]

    @property
    def truth(self) -> dict[str, str]:
        return self.sessions[-1][1]

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        r = await self.run.http.request(method, path, json=body, headers=self.headers)
        if r.status_code >= 400:
            self.run.errors[f"HTTP {r.status_code} {method} {path.split('/')[-1]}"] += 1
            return None
        return r.json()

    async def event(self, kind: str, data: dict[str, Any]) -> None:
        await self.call("POST", "/api/events", {"kind": kind, "sessionId": self.sid, "data": data})

    def device(self, skew: list[float] | None = None) -> Client:
        """A new device; with `skew`, its clock stands skew[0] s back (changeable later)."""
        self.devices += 1
        wall = (lambda: time.time() - skew[0]) if skew else time.time
        path = self.run.tmp / f"u{self.n}-d{self.devices}.db"
        return Client(self.run.url, path=path, token=self.token, device=f"soak{self.n}", wall=wall)

    def watch(self, h: SessionHandle) -> SessionHandle:
        h.on_error(lambda e: self.run.errors.update([f"client error {e.code}"]))
        h.on_conflict(lambda c: self.run.errors.update(["conflict"]))
        return h

    async def open(self, client: Client) -> SessionHandle:
        await client.start()
        return self.watch(client.session(self.sid))

    def intact(self, state: Any) -> bool:
        return state is not None and all(value_of(state, f) == v for f, v in self.truth.items())

    async def edit(self, h: SessionHandle, k: int) -> tuple[str, str]:
        for _ in range(k):
            self.edits += 1
            field, value = self.rng.choice(FIELDS), f"u{self.n}e{self.edits}"
            await h.mutate("form.setField", {"form": FORM, "field": field, "value": value})
            self.truth[field] = value
            self.run.counts["edits"] += 1
        return field, value

    async def new_session(self) -> None:
        created = await self.call("POST", "/api/sessions", {"title": f"Soak {self.n}"})
        self.sessions.append((created["id"], {}))
        self.step_i = 0
        self.run.counts["sessions"] += 1

    async def synced(self, h: SessionHandle, what: str, timeout: float = 60) -> bool:
        try:
            await h.wait_synced(timeout)
            return True
        except TimeoutError:
            self.run.errors[f"not synced within {timeout:g} s ({what})"] += 1
            return False

    async def main(self, start: float, deadline: float) -> None:
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        self.token = (await self.run.http.post("/api/identity", json={})).json()["token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        await self.new_session()
        self.a = self.device()
        self.h = await self.open(self.a)
        while time.monotonic() < deadline:
            await asyncio.sleep(self.rng.uniform(0.25, 1.75) * self.args.think)
            action = self.rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
            if action == "plane" and self.flown:
                action = "edit"
            if action == "return" and time.monotonic() - self.last_resume < self.args.resume_gap:
                action = "edit"
            self.run.counts[action] += 1
            try:
                await getattr(self, f"act_{action}")()
            except Exception as exc:  # a user that dies silently would look like a clean run
                self.run.errors[f"{action}: {type(exc).__name__}: {exc}"[:90]] += 1
        self.a.online()
        await self.synced(self.h, "drain", 120)
        self.run.unsent += self.h.pending
        await self.a.stop()

    async def act_edit(self) -> None:
        await self.edit(self.h, self.rng.randint(1, 5))

    async def act_step(self) -> None:
        step = catalogue.STEP_IDS[self.step_i]
        await self.h.mutate("step.complete", {"step": step})
        self.step_i += 1
        if step == "completed":  # the session is read-only now: start the next CV
            await self.synced(self.h, "completion")
            self.h.disconnect()
            await self.new_session()
            self.h = await self.open(self.a)

    async def act_offline(self) -> None:
        began, count = time.monotonic(), 0
        until = began + self.rng.uniform(3, self.args.offline_max)
        self.a.offline()
        while (left := until - time.monotonic()) > 0:
            await asyncio.sleep(min(left, self.rng.uniform(0.5, 2) * self.args.think))
            count += (k := self.rng.randint(1, 3))
            await self.edit(self.h, k)
        offline_s, back = time.monotonic() - began, time.monotonic()
        self.a.online()
        ok = await self.synced(self.h, "offline replay")
        self.run.offline.append((offline_s, time.monotonic() - back, ok))
        if ok:
            await self.event("offline.replayed", {"count": count, "offlineMs": offline_s * 1000})

    async def act_return(self) -> None:
        if not await self.synced(self.h, "before leaving"):
            return
        if self.rng.random() < 0.5:
            await self.h.mutate("session.pause")
            await self.synced(self.h, "pause")
        await self.a.stop()
        await asyncio.sleep(self.rng.uniform(1, 4) * self.args.think)
        rec = await self.call("GET", f"/api/sessions/{self.sid}/recommendation")
        step, sub = rec["step"], rec["substep"]
        offer = {"recommendedStep": step, "recommendedSubstep": sub}
        offer.update(confidence=rec["confidence"], estimatedMinutes=rec["estimatedMinutes"])
        await self.event("resume.offered", offer)
        await self.event("resume.taken", {"step": step, "substep": sub, "fromRecommendation": True})
        t0 = time.monotonic()
        self.a = self.device()
        self.h = await self.open(self.a)
        try:
            await self.h.wait_for(lambda h: self.intact(h.state), timeout=30)
            intact = True
        except TimeoutError:
            intact = False
        ms = (time.monotonic() - t0) * 1000
        self.last_resume = time.monotonic()
        if (self.h.state or {}).get("status") == "paused":
            await self.h.mutate("session.resume")
        await self.h.mutate("step.enter", {"step": step, "substep": sub} if sub else {"step": step})
        await self.event("resume.restored", {"ms": ms, "step": step, "intact": intact})
        self.run.resumes.append((ms, intact))

    async def act_pair(self) -> None:
        b = self.device()
        try:
            hb = await self.open(b)
            if not await self.synced(hb, "second device"):
                return
            for src, dst in [(self.h, hb)] * 5 + [(hb, self.h)]:
                field, value = await self.edit(src, 1)
                t0 = time.monotonic()
                try:
                    seen = lambda h, f=field, v=value: value_of(h.state, f) == v  # noqa: E731
                    await dst.wait_for(seen, timeout=10)
                    self.run.propagation.append((time.monotonic() - t0) * 1000)
                except TimeoutError:
                    self.run.errors["edit not seen by the other device within 10 s"] += 1
                await asyncio.sleep(self.rng.uniform(0.2, 1))
            await self.synced(hb, "second device")
        finally:
            await b.stop()

    async def act_plane(self) -> None:
        self.flown = True
        if not await self.synced(self.h, "before the plane"):
            return
        # The edits are made "--skew minutes ago": the device's clock stands that far back while
        # it is offline, then is right again when it lands and connects (its hello says so), as
        # after a real flight. A device whose clock is simply wrong is corrected by the server.
        skew = [self.args.skew * 60]
        c = self.device(skew=skew)
        try:
            hc = self.watch(c.session(self.sid))  # not started: offline from the start
            k = self.rng.randint(3, 8)
            await self.edit(hc, k)
            await asyncio.sleep(self.rng.uniform(1, 3))
            skew[0] = 0.0  # landed
            await c.start()
            self.run.skewed.append(ok := await self.synced(hc, "plane replay"))
            if ok:
                replayed = {"count": k, "offlineMs": self.args.skew * 60_000}
                await self.event("offline.replayed", replayed)
                await self.h.wait_for(lambda h: self.intact(h.state), timeout=30)
        finally:
            await c.stop()

    async def verify(self) -> None:
        for sid, truth in self.sessions:
            doc = await self.call("GET", f"/api/sessions/{sid}")
            for field, value in truth.items():
                self.run.fields += 1
                self.run.matched += value_of(doc, field) == value


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    status = dict(x.split(":", 1) for x in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


async def soak(args: Any, url: str, tmp: Path, pid: int, admin: str) -> tuple[Run, Any, Any]:
    run = Run(args, url, tmp)
    samples: list[float] = []

    async def sample() -> None:
        while True:
            samples.append(rss_mib(pid)[0])
            await asyncio.sleep(args.seconds / 10)

    sampler = asyncio.create_task(sample())
    start, cpu = time.monotonic(), time.process_time()
    deadline, ramp = start + args.seconds, min(10.0, args.seconds / 10)
    users = [User(run, n) for n in range(args.users)]
    await asyncio.gather(*(u.main(start + ramp * u.n / args.users, deadline) for u in users))
    run.counts["drain s"] = round(time.monotonic() - deadline)
    wall = time.monotonic() - start
    run.counts["client CPU %"] = round(100 * (time.process_time() - cpu) / wall)
    await asyncio.gather(*(u.verify() for u in users))
    bearer = {"Authorization": f"Bearer {admin}"}
    summary = (await run.http.get("/metrics/summary", headers=bearer)).json()
    sampler.cancel()
    samples.append(rss_mib(pid)[0])
    await run.http.aclose()
    return run, summary, samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(run: Run, s: dict[str, Any], rss: tuple[float, ...], log_errors: list[str]) -> None:
    rs, sy, se, srv = s["resume"], s["sync"], s["sessions"], s["offline"]["server"]
    t, p, offline = rs["timeToResumeMs"], s["propagation"], run.offline
    real = [o for o, _, ok in offline if ok]
    mine = run.propagation
    created = se["created"] or 1
    rows = [  # (metric, figure, bar, met: True/False/None when not judged)
        ("resume success", f"{100 * (rs['successRate'] or 0):.1f}% ({rs['succeeded']}/"
         f"{rs['offered']} offers; ours: {sum(ok for _, ok in run.resumes)}/{len(run.resumes)} "
         "intact)", "> 95%", rs["successRate"] is not None and rs["successRate"] > 0.95),
        ("time to resume", f"p50 {t['p50'] or 0:.0f} / p95 {t['p95'] or 0:.0f} / max "
         f"{t['max'] or 0:.0f} ms ({t['count']} restores, {rs['restoredIntact']} intact)",
         "< 2 s", t["p95"] is not None and t["p95"] < 2000),
        ("form data preserved", f"ours: {100 * run.matched / max(1, run.fields):.2f}% "
         f"({run.matched}/{run.fields} fields, {run.counts['sessions']} sessions; "
         f"{run.unsent} never sent)", "100%", run.matched == run.fields and not run.unsent),
        ("state sync reliability", f"{100 * (sy['reliability'] or 0):.3f}% (applied "
         f"{sy['successes']} / attempts {sy['attempts']}; rejected {sy['rejected']}, conflicts "
         f"{sy['conflicts']}, gaps {sy['gaps']})", "> 99.5%", (sy["reliability"] or 0) > 0.995),
        ("offline, real outages", f"ours: longest {max(real, default=0):.0f} s, {len(offline)} "
         f"outages ({len(offline) - len(real)} not synced), replay p95 "
         f"{pct([r for _, r, _ in offline], 0.95):.2f} s", "> 30 min", None),
        ("offline, server-counted", f"{srv['replays']} replays of {srv['mutations']} mutations, "
         f"longest {(srv['offlineMs']['max'] or 0) / 60000:.1f} min (plane devices: "
         f"{sum(run.skewed)}/{len(run.skewed)} synced)", "> 30 min",
         (srv["offlineMs"]["max"] or 0) > 1_800_000 and all(run.skewed)),
        ("overhead", "not measured here: see bench/checkpoint_overhead.py", "< 5%", None),
        ("cross-device sync", f"ours: p50 {pct(mine, 0.5):.0f} / p99 {pct(mine, 0.99):.0f} / "
         f"max {max(mine, default=0):.0f} ms ({len(mine)}); server p50 {p['p50Ms'] or 0:.1f} / p99 "
         f"{p['p99Ms'] or 0:.0f} ms", "< 3 s", bool(mine) and pct(mine, 0.99) < 3000),
        ("session completion", f"{se['completed']}/{se['created']} sessions = "
         f"{100 * se['completed'] / created:.0f}% (abandoned {se['abandoned']})", "up", None),
        ("returning users", f"{se['resumed']}/{se['created']} sessions resumed = "
         f"{100 * se['resumed'] / created:.0f}%", "up", None),
    ]  # fmt: skip
    print(f"\nactivity  {dict(run.counts)}\n")
    print(f"{'metric':<24}{'figure (the product summary unless marked ours)':<80}{'bar':<10}")
    for name, figure, bar, met in rows:
        verdict = "" if met is None else "meets" if met else "misses"
        print(f"{name:<24}{figure:<80}{bar:<10}{verdict}")
    print(f"\nerrors    {sum(run.errors.values())} seen by the clients: {dict(run.errors)}")
    print(f"server    {len(log_errors)} ERROR/Traceback lines in its log")
    for line in log_errors[:5]:
        print(f"  {line[:160]}")
    trail = " ".join(f"{x:.0f}" for x in rss[4:])
    print(f"server    RSS start {rss[0]:.0f} MiB, end {rss[1]:.0f}, peak {rss[2]:.0f}, every "
          f"{run.args.seconds / 10:g} s: {trail}; database {rss[3]:.1f} MiB")  # fmt: skip
    print(f"load      average {os.getloadavg()[0]:.1f} (1 min) at the end: above ~1, CPUs shared")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--think", type=float, default=2.0, help="mean s between actions")
    parser.add_argument("--offline-max", type=float, help="s; default seconds/5, 5 to 120")
    parser.add_argument("--resume-gap", type=float, default=150, help="s between resumes")
    parser.add_argument("--skew", type=float, default=31, help="min the plane's edits are old")
    args = parser.parse_args()
    args.offline_max = args.offline_max or max(5.0, min(120.0, args.seconds / 5))
    head = ["git", "rev-parse", "--short", "HEAD"]
    rev = subprocess.run(head, cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"soak      cvsession {rev}, {args.users} users for {args.seconds:g} s, seed {args.seed},"
          f" think {args.think:g} s, outages 3-{args.offline_max:g} s, resume gap "
          f"{args.resume_gap:g} s, plane edits {args.skew:g} min old; {os.cpu_count()} CPUs,"
          f" load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cmd = [sys.executable, "-m", "cvsession", "token", "--data-dir", str(tmp / "srv")]
        env = {k: v for k, v in os.environ.items() if k != "CVSESSION_DATABASE_URL"}
        made = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        admin = json.loads(made.stdout)  # {userId, token}: the administrator reading the summary
        server_env = {"CVSESSION_JOBS": "0", "CVSESSION_ADMIN_USERS": admin["userId"]}
        server = Server(tmp / "srv", env=server_env)
        server.start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            rss_start = rss_mib(pid)[0]
            run, summary, samples = asyncio.run(soak(args, server.url, tmp, pid, admin["token"]))
            rss_end, rss_peak = rss_mib(pid)
        finally:
            server.stop()
        log = server.log.read_text(errors="replace").splitlines()
        db_mib = sum(f.stat().st_size for f in (tmp / "srv").glob("cvsession.db*")) / 2**20
    errors = [x for x in log if "ERROR" in x or "Traceback" in x]
    report(run, summary, (rss_start, rss_end, rss_peak, db_mib, *samples), errors)


if __name__ == "__main__":
    main()
