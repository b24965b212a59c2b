"""The `cvsession` command: serve, worker, migrate, sessions, jobs, flags, retention, token,
import-legacy."""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from cvsession.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "data_dir", None):
        settings = replace(settings, data_dir=Path(args.data_dir))
    if getattr(args, "database_url", None):
        settings = replace(settings, database_url=args.database_url)
    return settings


@contextmanager
def _services(args: argparse.Namespace) -> Iterator[Any]:
    from cvsession.api.app import Services

    svc = Services.open(_settings(args))
    try:
        yield svc
    finally:
        svc.close()


def _print(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def _tune_gc() -> None:
    """Fewer, cheaper collections for a long-running server: the objects alive after start
    (modules, the app, caches) are frozen out of the collector's scans, and the youngest
    generation is collected after 50,000 allocations instead of 700 (a mutation allocates a
    few thousand short-lived objects; most are freed by reference counting anyway)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cvsession.api.app import create_app

    settings = _settings(args)
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    app = create_app(settings)
    _tune_gc()
    print(
        f"cvsession on http://{settings.host}:{settings.port}  "
        f"(store: {settings.resolved_database_url()})",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=1024 * 1024,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        access_log=False,
    )
    server = uvicorn.Server(config)
    sock = config.bind_socket()
    _drop_stalled_connections(sock, settings.stalled_connection_seconds)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after shutting down
        server.run(sockets=[sock])
    return 0 if server.started else 1


def _drop_stalled_connections(sock: socket.socket, seconds: float) -> None:
    """Let the kernel drop a connection whose data stays unacknowledged for `seconds`.

    A client that stops reading keeps its receive window shut. The sync hub then cuts it off
    (4008 "too slow"), but the close frame waits behind the unread data, and a closing socket
    keeps its buffer until sent: without this, such a client would hold its connection, and
    the memory behind it, for as long as it answers the kernel's window probes.
    """
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is None or seconds <= 0 or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, option, int(seconds * 1000))


def cmd_worker(args: argparse.Namespace) -> int:
    """Run background jobs until SIGTERM/SIGINT; a stable --executor-id lets a restart resume."""
    import signal
    import threading

    from cvsession import __version__
    from cvsession.jobs import JobEngine

    settings = _settings(args)
    executor_id = args.executor_id or settings.executor_id
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with _services(args) as svc:
        engine = JobEngine(
            settings.data_dir,
            svc.sessions,
            svc.uploads,
            executor_id=executor_id,
            app_version=__version__,
            concurrency=args.concurrency or settings.jobs_concurrency,
        )
        with engine:
            print(f"cvsession worker {executor_id} running (store: {svc.store.url})", flush=True)
            stop.wait()
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    """Inspect background work: a session's jobs, or the workers and their heartbeats."""
    with _services(args) as svc, svc.store.read() as txn:
        if args.action == "workers":
            for worker in txn.list_workers():
                info = " ".join(f"{k}={v}" for k, v in sorted(worker.info.items()))
                print(f"{worker.executor_id}  heartbeat {worker.heartbeat_at.isoformat()}  "
                      f"started {worker.started_at.isoformat()}  {info}")  # fmt: skip
            return 0
        if txn.get_session(args.session) is None:
            print(f"no session {args.session}", file=sys.stderr)
            return 1
        for job in txn.list_jobs(args.session):
            error = f"  {job.error['code']}: {job.error['message']}" if job.error else ""
            retries = f"retries {job.retry_count}/{job.max_retries}"
            print(f"{job.id}  {job.type:<20} {job.status:<9} {job.progress:>3}%  "
                  f"{job.phase or '-':<8} {retries}{error}")  # fmt: skip
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from cvsession.store import open_store

    settings = _settings(args)
    if not settings.database_url and not args.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.resolved_database_url())
    try:
        version = store.migrate()
    finally:
        store.close()
    print(f"schema at version {version}")
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    from cvsession.store.base import SessionQuery

    with _services(args) as svc:
        if args.action == "list":
            query = SessionQuery(
                owner_id=args.owner, statuses=tuple(args.status or ()), limit=args.limit
            )
            with svc.store.read() as txn:
                rows = txn.list_sessions(query)
            for row in rows:
                print(
                    f"{row.id}  {row.owner_id}  {row.status:<11} {row.current_step:<10} "
                    f"v{row.version:<5} {row.last_active_at.isoformat()}  {row.title}"
                )
            return 0
        if args.action == "expire":
            report = svc.retention.run(delete=False)
            print(f"expired {len(report.expired)} session(s)")
            return 0
        if args.action == "compact":
            from cvsession.service.history import HistoryPolicy, HistoryService

            history = HistoryService(svc.sessions, HistoryPolicy.from_settings(svc.settings))
            removed = history.compact_all(args.keep_versions)
            print(f"compacted history: {removed} log entries removed")
            return 0
        with svc.store.read() as txn:
            row = txn.get_session(args.id)
        if row is None:
            print(f"no session {args.id}", file=sys.stderr)
            return 1
        if args.action == "show":
            _print(row.document)
        elif args.action == "export":
            payload = svc.sessions.export(row.owner_id, row.id)
            if args.out:
                Path(args.out).write_text(json.dumps(payload, indent=2, ensure_ascii=False))
            else:
                _print(payload)
        elif args.action == "delete":
            svc.uploads.delete_session(row.owner_id, row.id)  # with its files
            print(f"deleted {row.id}")
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    """Inspect and set feature flags in the database; servers pick changes up within seconds."""
    from cvsession.core import flags
    from cvsession.core.errors import DomainError

    with _services(args) as svc:
        try:
            if args.action == "list":
                defs = list(svc.flags.definitions().values())
                if args.json:
                    _print([flags.to_json(f) for f in defs])
                    return 0
                print(f"{'NAME':<28} {'STATE':<8} {'ROLLOUT':>7} {'ALLOW':>6} {'DENY':>6}  "
                      f"{'UPDATED':<25} DESCRIPTION")  # fmt: skip
                for f in defs:
                    state = "enabled" if f.enabled else "KILLED"
                    updated = (
                        f.updated_at.isoformat(timespec="seconds") if f.updated_at else "(default)"
                    )
                    print(f"{f.name:<28} {state:<8} {f.rollout:>6}% {len(f.allow):>6} "
                          f"{len(f.deny):>6}  {updated:<25} {f.description}")  # fmt: skip
            elif args.action == "set":
                changes = {
                    k: v
                    for k, v in (
                        ("enabled", args.enabled),
                        ("rollout", args.rollout),
                        ("allow", args.allow),
                        ("deny", args.deny),
                        ("description", args.description),
                    )
                    if v is not None
                }
                _print(flags.to_json(svc.flags.set(args.name, changes)))
            elif args.action == "reset":
                default = svc.flags.reset(args.name)
                print(f"{args.name}: " + ("back to its default" if default else "removed"))
            else:
                on, why = flags.explain(svc.flags.get(args.name), args.user_id)
                print(f"{args.name} for {args.user_id}: {'on' if on else 'off'} ({why})")
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """One retention pass: expire idle sessions, delete those expired past the grace period."""
    with _services(args) as svc:
        report = svc.retention.run(dry_run=args.dry_run)
    verb = ("would expire", "would delete") if args.dry_run else ("expired", "deleted")
    for label, ids in zip(verb, (report.expired, report.deleted), strict=True):
        print(f"{label} {len(ids)} session(s)")
        for session_id in ids:
            print(f"  {session_id}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    with _services(args) as svc:
        cred = svc.identity.create_user("bearer", args.name or "")
    _print({"userId": cred.user_id, "token": cred.token})
    return 0


def cmd_import_legacy(args: argparse.Namespace) -> int:
    from cvsession.core import legacy
    from cvsession.core.errors import DomainError
    from cvsession.service.sessions import row_from_document

    with _services(args) as svc:
        owners: dict[str, str] = {}
        imported = failed = 0
        for name in args.files:
            try:
                data = json.loads(Path(name).read_text(encoding="utf-8"))
                entries = legacy.parse_legacy_export(data)
            except (OSError, ValueError, DomainError) as exc:
                print(f"{name}: cannot read: {exc}", file=sys.stderr)
                failed += 1
                continue
            for legacy_id, raw in entries:
                legacy_owner = str(raw.get("userId") or "anonymous")
                owner = args.owner or owners.get(legacy_owner)
                if owner is None:
                    cred = svc.identity.create_user("bearer", f"legacy {legacy_owner}")
                    owner = owners[legacy_owner] = cred.user_id
                    print(f"legacy user {legacy_owner} -> {owner}  token {cred.token}")
                try:
                    doc = legacy.convert_legacy(
                        raw, owner=owner, new_id="s_" + uuid.uuid4().hex, now=svc.sessions.clock()
                    )
                except DomainError as exc:
                    print(f"{name}: session {legacy_id}: {exc.message}", file=sys.stderr)
                    failed += 1
                    continue
                row = row_from_document(doc, {}, svc.sessions.clock())
                svc.writer.run(lambda txn, row=row: _insert_imported_txn(txn, row))
                print(f"imported {legacy_id} -> {row.id} ({row.status}, {row.current_step})")
                imported += 1
    print(f"{imported} imported, {failed} failed")
    return 0 if failed == 0 else 1


def _insert_imported_txn(txn: Any, row: Any) -> None:
    from cvsession.service import history

    txn.insert_session(row)
    history.snapshot_txn(txn, row)  # history starts at the imported state


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvsession", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url",
        help="sqlite:///path.db or postgresql://… "
        "(default: $CVSESSION_DATABASE_URL or data/cvsession.db)",
    )
    common.add_argument("--data-dir", help="data directory (default: $CVSESSION_DATA_DIR or data)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the HTTP server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(fn=cmd_serve)

    worker = sub.add_parser("worker", parents=[common], help="run background jobs")
    worker.add_argument(
        "--executor-id", help="stable id of this worker (default: $CVSESSION_EXECUTOR_ID)"
    )
    worker.add_argument("--concurrency", type=int, help="jobs run at once by this worker")
    worker.set_defaults(fn=cmd_worker)

    sub.add_parser("migrate", parents=[common], help="apply schema migrations").set_defaults(
        fn=cmd_migrate
    )

    sessions = sub.add_parser("sessions", help="inspect and manage sessions")
    actions = sessions.add_subparsers(dest="action", required=True)
    lst = actions.add_parser("list", parents=[common])
    lst.add_argument("--owner")
    lst.add_argument("--status", action="append")
    lst.add_argument("--limit", type=int, default=50)
    for action in ("show", "export", "delete"):
        p = actions.add_parser(action, parents=[common])
        p.add_argument("id")
        if action == "export":
            p.add_argument("--out", help="write to this file instead of standard output")
    actions.add_parser(
        "expire", parents=[common], help="mark sessions idle past their retention as expired"
    )
    compact = actions.add_parser(
        "compact", parents=[common], help="drop history older than the retained log window"
    )
    compact.add_argument(
        "--keep-versions",
        type=int,
        help="versions of log to keep per session (default: CVSESSION_LOG_KEEP_VERSIONS)",
    )
    sessions.set_defaults(fn=cmd_sessions)

    jobs = sub.add_parser("jobs", help="inspect background jobs and workers")
    job_actions = jobs.add_subparsers(dest="action", required=True)
    job_actions.add_parser("list", parents=[common], help="a session's jobs").add_argument(
        "session"
    )
    job_actions.add_parser("workers", parents=[common], help="workers and their heartbeats")
    jobs.set_defaults(fn=cmd_jobs)

    flag_cmd = sub.add_parser("flags", help="inspect and set feature flags")
    flag_actions = flag_cmd.add_subparsers(dest="action", required=True)
    flag_list = flag_actions.add_parser("list", parents=[common], help="every flag's definition")
    flag_list.add_argument("--json", action="store_true", help="full definitions as JSON")
    flag_set = flag_actions.add_parser(
        "set", parents=[common], help="change a flag (options left out keep their value)"
    )
    flag_set.add_argument("name")
    onoff = flag_set.add_mutually_exclusive_group()
    onoff.add_argument("--enabled", dest="enabled", action="store_const", const=True)
    onoff.add_argument(
        "--disabled",
        dest="enabled",
        action="store_const",
        const=False,
        help="the kill switch: off for everyone, allow list included",
    )
    flag_set.add_argument("--rollout", type=int, metavar="PERCENT", help="0 to 100")
    for which in ("allow", "deny"):
        flag_set.add_argument(
            f"--{which}",
            nargs="*",
            metavar="USER_ID",
            help=f"replace the {which} list (no ids: empty it)",
        )
    flag_set.add_argument("--description")
    flag_actions.add_parser(
        "reset", parents=[common], help="back to the built-in default"
    ).add_argument("name")
    flag_check = flag_actions.add_parser(
        "check", parents=[common], help="whether a flag is on for a user, and why"
    )
    flag_check.add_argument("name")
    flag_check.add_argument("user_id")
    flag_cmd.set_defaults(fn=cmd_flags)

    retention = sub.add_parser("retention", help="expire and delete sessions past retention")
    retention_actions = retention.add_subparsers(dest="action", required=True)
    retention_run = retention_actions.add_parser(
        "run", parents=[common], help="one pass (CVSESSION_RETENTION_DAYS, _GRACE_DAYS)"
    )
    retention_run.add_argument(
        "--dry-run", action="store_true", help="print what would be done, change nothing"
    )
    retention.set_defaults(fn=cmd_retention)

    token = sub.add_parser("token", parents=[common], help="create an API identity and token")
    token.add_argument("--name")
    token.set_defaults(fn=cmd_token)

    imp = sub.add_parser(
        "import-legacy",
        parents=[common],
        help="import sessions saved by the CVPlus front end (localStorage JSON)",
    )
    imp.add_argument("files", nargs="+")
    imp.add_argument(
        "--owner",
        help="import into this user id (default: one new user per "
        "legacy userId, whose token is printed)",
    )
    imp.set_defaults(fn=cmd_import_legacy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.fn(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
