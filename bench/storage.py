"""Benchmark: what a session costs at rest, and what zlib would save and cost.

A scripted journey per session on the embedded SQLite store: a parsed CV (the JSON Resume
sample with its work entries repeated to `--work` entries) stored by `server.cvParsed`, the
first four steps completed, three features and a template customised, then `--edits`
form.setField / cv.setField edits with distinct values. Printed: the document's encoded size,
the log entries' size distribution, and for each zlib level the compressed sizes and the time
to compress and decompress the document and the log columns (args + ops), with the resulting
SQLite file size estimate. Used for docs/decisions/0022-retention.md.

Usage: .venv/bin/python bench/storage.py [--sessions 20] [--edits 300] [--work 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cvsession.api.app import Services  # noqa: E402
from cvsession.config import Settings  # noqa: E402
from cvsession.core.mutations import Mutation  # noqa: E402
from cvsession.store.codec import dump_json  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "testdata" / "jsonresume" / "sample.resume.json"


def journey(svc: Services, user: str, edits: int, work: int) -> str:
    cv = json.loads(SAMPLE.read_text())
    base = cv.get("work") or [{"name": "Acme", "position": "Engineer", "highlights": ["x"]}]
    cv["work"] = [{**base[i % len(base)], "name": f"Company {i}"} for i in range(work)]
    sid = svc.sessions.create(user, title="bench").id
    svc.sessions.mutate(user, sid, Mutation("", 0, "server.cvParsed", {"cv": cv}), internal=True)
    for step in ("upload", "processing", "analysis", "features"):
        svc.sessions.command(user, sid, "step.complete", {"step": step})
    for fid in ("ats-optimization", "privacy-mode", "embed-qr-code"):
        svc.sessions.command(user, sid, "feature.toggle", {"feature": fid, "enabled": True})
    svc.sessions.command(user, sid, "template.select", {"template": "modern"})
    for i in range(edits):
        if i % 3:
            args = {"form": "contact", "field": f"f{i % 40}", "value": f"value {i} " * 3}
            svc.sessions.command(user, sid, "form.setField", args)
        else:
            path = f"/work/{i % work}/summary"
            svc.sessions.command(user, sid, "cv.setField", {"path": path, "value": f"did {i}"})
    return sid


def timed(fn: Any, *args: Any, repeat: int = 20) -> float:
    fn(*args)  # warm up
    start = time.perf_counter()
    for _ in range(repeat):
        fn(*args)
    return (time.perf_counter() - start) / repeat * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--work", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), jobs_mode="0")
        svc = Services.open(settings)
        try:
            user = svc.identity.create_user().user_id
            ids = [journey(svc, user, args.edits, args.work) for _ in range(args.sessions)]
            with svc.store.read() as txn:
                rows = [txn.get_session(s) for s in ids]
                docs = [dump_json(r.document).encode() for r in rows if r is not None]
                entries = [e for s in ids for e in txn.log_since(s, 0, 100_000)]
        finally:
            svc.close()
        db_bytes = sum(p.stat().st_size for p in Path(tmp).glob("cvsession.db*"))
    logs = [dump_json(e.args).encode() + dump_json(e.ops).encode() for e in entries]
    doc = docs[0]
    mb = db_bytes / 1e6
    print(f"{args.sessions} sessions, {len(entries)} log entries, SQLite files {mb:.1f} MB")
    print(f"document: {len(doc):,} B encoded")
    sizes = sorted(len(x) for x in logs)
    print(
        f"log entry args+ops: median {statistics.median(sizes):.0f} B, p95 "
        f"{sizes[int(0.95 * len(sizes))]} B, max {sizes[-1]:,} B, total {sum(sizes) / 1e6:.2f} MB; "
        f"{sum(s > 1024 for s in sizes)} entries > 1 KiB"
    )
    for level in (1, 6):
        packed = zlib.compress(doc, level)
        c_ms = timed(zlib.compress, doc, level)
        d_ms = timed(zlib.decompress, packed)
        log_packed = [len(zlib.compress(x, level)) for x in logs]
        big = [(len(x), len(zlib.compress(x, level))) for x in logs if len(x) > 1024]
        big_ratio = sum(a for a, _ in big) / max(1, sum(b for _, b in big))
        print(
            f"zlib {level}: document {len(packed):,} B (x{len(doc) / len(packed):.1f}), "
            f"compress {c_ms:.3f} ms, decompress {d_ms:.3f} ms; log total "
            f"{sum(log_packed) / 1e6:.2f} MB (x{sum(sizes) / sum(log_packed):.1f}), "
            f"entries > 1 KiB x{big_ratio:.1f}"
        )
    encode_ms = timed(dump_json, json.loads(doc))
    print(f"orjson encode of the document: {encode_ms:.3f} ms (paid on every write already)")


if __name__ == "__main__":
    main()
