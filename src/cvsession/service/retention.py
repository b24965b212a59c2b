"""Retention: idle sessions expire, expired ones are deleted with everything they own.

Two steps (docs/decisions/0022), both measured from `last_active_at`, which every applied
mutation moves (the expiry itself included):

1. a session idle longer than its status's retention period (`Settings.retention`; zero or
   absent: kept forever) becomes `expired` through the `server.expire` mutation, so it is
   logged and every connected client sees it;
2. a session expired for longer than the grace period is deleted with its rows (log,
   snapshots, conflicts, durations, uploads, jobs, artifacts, job cache), its files and its
   jobs' workflows.

A pass reads candidates in pages, then acts on each in its own transaction after re-reading the
locked row: a session changed since it was read (any new version) is left for the next pass.
So a stale decision never expires or deletes a session someone is using, and passes running
at once in several processes act on each session at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cvsession.config import Settings
from cvsession.core.mutations import Mutation
from cvsession.service.sessions import Purged, SessionService
from cvsession.service.uploads import UploadService
from cvsession.store.base import SessionQuery, SessionRow, Txn

log = logging.getLogger(__name__)
PAGE = 500
FILES_BATCH = 100  # deleted sessions whose files and workflows are removed together


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Idle time per status before expiry, and time spent expired before deletion."""

    keep: Mapping[str, timedelta] = field(default_factory=dict)
    grace: timedelta = timedelta(days=14)  # zero: expired sessions are never deleted

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(dict(settings.retention), settings.retention_grace)


@dataclass(frozen=True, slots=True)
class Candidate:
    session_id: str
    owner_id: str
    status: str
    version: int


@dataclass(slots=True)
class RetentionReport:
    """What a pass did (or, dry, would do): session ids expired and deleted."""

    expired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"expired": self.expired, "deleted": self.deleted, "dryRun": self.dry_run}


class RetentionService:
    def __init__(
        self,
        sessions: SessionService,
        uploads: UploadService,
        policy: RetentionPolicy,
        *,
        limit: int = 10_000,
    ) -> None:
        self.sessions = sessions
        self.uploads = uploads
        self.policy = policy
        self.limit = limit  # sessions acted on per step and pass; the next pass does the rest

    def run(
        self, now: datetime | None = None, *, dry_run: bool = False, delete: bool = True
    ) -> RetentionReport:
        """One pass at `now` (default: the clock). `delete=False` only expires."""
        now = now or self.sessions.clock()
        report = RetentionReport(dry_run=dry_run)
        for status, keep in self.policy.keep.items():
            if keep <= timedelta(0) or status == "expired":
                continue
            for c in self.candidates(status, now - keep):
                if len(report.expired) >= self.limit:
                    break
                if dry_run or self._expire(c):
                    report.expired.append(c.session_id)
        if delete and self.policy.grace > timedelta(0):
            # Judged at `now`: a session expired in this very pass is not deleted in it.
            purged: list[Purged] = []
            for c in self.candidates("expired", now - self.policy.grace):
                if len(report.deleted) >= self.limit:
                    break
                gone = None if dry_run else self._delete(c)
                if dry_run or gone is not None:
                    report.deleted.append(c.session_id)
                if gone is not None:
                    purged.append(gone)
                if len(purged) >= FILES_BATCH:
                    self.uploads.remove_files(*purged)
                    purged.clear()
            self.uploads.remove_files(*purged)
        if report.expired or report.deleted:
            log.info("retention%s: %d expired, %d deleted", " (dry run)" if dry_run else "",
                     len(report.expired), len(report.deleted))  # fmt: skip
        return report

    def candidates(self, status: str, idle_before: datetime) -> list[Candidate]:
        """Sessions in `status` last active before `idle_before`, least recently active first."""
        out: list[Candidate] = []
        offset = 0
        while len(out) < self.limit:
            query = SessionQuery(
                statuses=(status,),
                active_to=idle_before,
                order_by="last_active_at",
                descending=False,
                limit=PAGE,
                offset=offset,
            )
            with self.sessions.store.read() as txn:
                rows = txn.list_sessions(query)
            out += [Candidate(r.id, r.owner_id, r.status, r.version) for r in rows]
            if len(rows) < PAGE:
                break
            offset += PAGE  # stable: acting on a page happens after all pages are read
        return out[: self.limit]

    def _expire(self, c: Candidate) -> bool:
        def unit(txn: Txn) -> tuple[bool, list[Mutation]]:
            row = txn.get_session(c.session_id, for_update=True)
            if not _unchanged(row, c):
                return False, []
            return True, [Mutation("", 0, "server.expire", {})]

        try:
            return self.sessions.transact(c.owner_id, c.session_id, unit)
        except Exception:  # one session must not stop the pass; it is retried next time
            log.exception("retention: could not expire %s", c.session_id)
            return False

    def _delete(self, c: Candidate) -> Purged | None:
        try:
            return self.sessions.purge_if(c.session_id, lambda row: _unchanged(row, c))
        except Exception:
            log.exception("retention: could not delete %s", c.session_id)
            return None


def _unchanged(row: SessionRow | None, c: Candidate) -> bool:
    return row is not None and row.version == c.version and row.status == c.status
