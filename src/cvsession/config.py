"""Settings, read from the environment (CVSESSION_*) with defaults for the embedded set-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CVSESSION_{name}", default)


def _retention(text: str) -> dict[str, timedelta]:
    """Parse "draft=30,in_progress=60,paused=60,completed=90" (days) into a mapping.

    0 days means kept forever (never expired).
    """
    out: dict[str, timedelta] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        status, _, days = part.partition("=")
        out[status.strip()] = timedelta(days=float(days))
    return out


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", "data")))
    database_url: str = ""
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "8000")))
    # Origins allowed to make cookie-authenticated writes (besides the server's own origin).
    allowed_origins: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            o.strip() for o in _env("ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
    )
    # User ids allowed to use the admin API (feature flags) with a bearer token.
    admin_users: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            u.strip() for u in _env("ADMIN_USERS", "").split(",") if u.strip()
        )
    )
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", "1048576")))
    max_json_depth: int = 64
    # Retention (docs/decisions/0022): a session idle (since last_active_at) longer than its
    # status's period is marked expired; an expired one is deleted, with everything it owns,
    # once it has been expired for the grace period. 0 days: never.
    retention: dict[str, timedelta] = field(
        default_factory=lambda: _retention(
            _env("RETENTION_DAYS", "draft=30,in_progress=60,paused=60,failed=30,completed=90")
        )
    )
    retention_grace: timedelta = field(
        default_factory=lambda: timedelta(days=float(_env("RETENTION_GRACE_DAYS", "14")))
    )
    # How often the server runs the retention pass (0: never; run `cvsession retention run`).
    retention_interval_minutes: float = field(
        default_factory=lambda: float(_env("RETENTION_INTERVAL_MINUTES", "60"))
    )
    # A mutation that would make a session's document larger than this (orjson bytes) is
    # refused with `document_too_large`.
    max_document_bytes: int = field(
        default_factory=lambda: int(_env("MAX_DOCUMENT_BYTES", str(1024 * 1024)))
    )
    identity_rate_per_minute: int = field(
        default_factory=lambda: int(_env("IDENTITY_RATE_PER_MINUTE", "60"))
    )
    # Views of public share links (/s/{token}) per client address per minute.
    share_view_rate_per_minute: int = field(
        default_factory=lambda: int(_env("SHARE_VIEW_RATE_PER_MINUTE", "120"))
    )
    # A connection whose sent data stays unacknowledged this long (a client that stopped reading
    # and keeps its window shut, or a dead network) is dropped by the kernel (TCP_USER_TIMEOUT
    # on the listening socket, inherited by every connection). 0: the system's default, which
    # never gives up on a peer that answers window probes.
    stalled_connection_seconds: float = field(
        default_factory=lambda: float(_env("STALLED_CONNECTION_SECONDS", "60"))
    )
    # "" or "local": one process; "redis://127.0.0.1:6379/0": pokes between server processes.
    pubsub_url: str = field(default_factory=lambda: _env("PUBSUB_URL", ""))
    sync_sweep_seconds: float = field(
        default_factory=lambda: float(_env("SYNC_SWEEP_SECONDS", "2"))
    )
    # History: a snapshot of the document every N versions, and at least the last M versions
    # of mutation log kept (older ones are compacted into the snapshot they lead to).
    snapshot_every: int = field(default_factory=lambda: int(_env("SNAPSHOT_EVERY", "100")))
    log_keep_versions: int = field(default_factory=lambda: int(_env("LOG_KEEP_VERSIONS", "1000")))
    # The durable job engine (DBOS) in this process: "1" runs jobs here, "submit" only queues
    # and controls them (separate `cvsession worker` processes run them), "0" turns it off.
    # `executor_id` must be stable per process so that a restarted one recovers its jobs.
    jobs_mode: str = field(default_factory=lambda: _env("JOBS", "1"))
    executor_id: str = field(default_factory=lambda: _env("EXECUTOR_ID", "local"))
    jobs_concurrency: int = field(default_factory=lambda: int(_env("JOBS_CONCURRENCY", "2")))

    @property
    def jobs_enabled(self) -> bool:
        return self.jobs_mode != "0"

    writer_max_batch: int = 256
    # SQLite takes one writer thread; PostgreSQL commits concurrent transactions.
    writer_threads_postgres: int = field(
        default_factory=lambda: int(_env("WRITER_THREADS_POSTGRES", "4"))
    )
    # SQLite: small pushes are written on the event loop itself, batched per loop turn
    # (service/writer.py, decision 0026); "0" sends every write through the writer thread.
    writer_inline: bool = field(default_factory=lambda: _env("WRITER_INLINE", "1") != "0")

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under the data directory."""
        url = self.database_url or _env("DATABASE_URL", "")
        if url:
            return url
        return f"sqlite:///{(self.data_dir / 'cvsession.db').resolve()}"
