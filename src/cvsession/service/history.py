"""History and recovery: a session's document at any retained version, restores, compaction.

The mutation log holds every applied change as RFC 6902 ops. Snapshots of the document are taken
when a session is created (version 0) and every `snapshot_every` versions; the document at
version N is the newest snapshot at or before N with the logged ops after it replayed up to N.

Compaction bounds the log: it finds the newest snapshot at or below (current - keep_versions),
deletes the log up to and including that snapshot's version and every older snapshot. So at
least `keep_versions` versions of log stay, and every version from that snapshot (the horizon)
on can still be rebuilt; older versions answer `HistoryUnavailable` (410). Compaction runs
whenever a periodic snapshot is taken, in the same transaction, and `HistoryService.compact_all`
sweeps every session (after the policy was tightened, say).

A restore is the named mutation `history.restore` (cvsession.core.mutations_history); this
module pre-loads the document it restores from (`restore_extra_txn`).
"""

from __future__ import annotations

import functools
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonpatch
import jsonpointer

from cvsession.config import Settings
from cvsession.core import mutations_history
from cvsession.core.errors import HistoryUnavailable, InvalidInput, NotFound
from cvsession.store.base import LogEntry, SessionRow, Txn

if TYPE_CHECKING:
    from cvsession.service.sessions import Outcome, SessionService

RESTORE = mutations_history.RESTORE
COMPACT_PAGE = 500


@dataclass(frozen=True, slots=True)
class HistoryPolicy:
    """How often to snapshot and how much log to keep (both counted in session versions)."""

    snapshot_every: int = 100
    keep_versions: int = 1000

    def __post_init__(self) -> None:
        if self.snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        if self.keep_versions < 0:
            raise ValueError("keep_versions must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> HistoryPolicy:
        return cls(settings.snapshot_every, settings.log_keep_versions)


_POLICIES: weakref.WeakKeyDictionary[SessionService, HistoryPolicy] = weakref.WeakKeyDictionary()


@functools.cache
def _default_policy() -> HistoryPolicy:
    return HistoryPolicy.from_settings(Settings())


def configure(service: SessionService, policy: HistoryPolicy) -> None:
    """Use `policy` for the sessions of `service` (else the environment's, CVSESSION_*)."""
    _POLICIES[service] = policy


def policy_for(service: SessionService) -> HistoryPolicy:
    return _POLICIES.get(service) or _default_policy()


# inside the caller's transaction ---------------------------------------------------------------
def snapshot_txn(txn: Txn, row: SessionRow) -> None:
    """Snapshot the session as `row` holds it (idempotent per version)."""
    txn.insert_snapshot(row.id, row.version, row.document, row.field_versions, row.updated_at)


def after_update_txn(txn: Txn, row: SessionRow, policy: HistoryPolicy) -> None:
    """After a version was written: every `snapshot_every` versions, snapshot and compact."""
    if row.version % policy.snapshot_every == 0:
        snapshot_txn(txn, row)
        compact_txn(txn, row.id, policy.keep_versions, current_version=row.version)


def compact_txn(
    txn: Txn, session_id: str, keep_versions: int, *, current_version: int | None = None
) -> int:
    """Drop log entries and snapshots older than the horizon; return how many entries went.

    The horizon is the newest snapshot at or below `current_version - keep_versions`; it and
    every later version stay reconstructible. `current_version` defaults to the stored one.
    """
    if current_version is None:
        row = txn.get_session(session_id)
        if row is None:
            return 0
        current_version = row.version
    eligible = [
        v for v in txn.snapshot_versions(session_id) if v <= current_version - keep_versions
    ]
    if not eligible:
        return 0
    horizon = eligible[-1]
    removed = txn.truncate_log(session_id, horizon + 1)
    txn.delete_snapshots_before(session_id, horizon)
    return removed


def oldest_version_txn(txn: Txn, session_id: str, current_version: int) -> int:
    """The oldest version that can still be rebuilt (the current one if there is no snapshot)."""
    versions = txn.snapshot_versions(session_id)
    return versions[0] if versions and versions[0] <= current_version else current_version


def document_at_txn(txn: Txn, session_id: str, version: int) -> dict[str, Any]:
    """The session's document as it was at `version`.

    Raises NotFound for an unknown session, InvalidInput for a version the session has not
    reached, HistoryUnavailable for one older than the retained history.
    """
    row = txn.get_session(session_id)
    if row is None:
        raise NotFound("no such session", session_id=session_id)
    if not 0 <= version <= row.version:
        raise InvalidInput(
            f"version {version} does not exist: the session is at version {row.version}",
            version=version,
            current=row.version,
        )
    if version == row.version:
        return row.document
    snapshot = txn.snapshot_at_or_before(session_id, version)
    if snapshot is None:
        raise _unavailable(txn, session_id, version, row.version)
    base, document, _ = snapshot
    if base == version:
        return document
    entries = txn.log_since(session_id, base, version - base)
    if [e.version for e in entries] != list(range(base + 1, version + 1)):
        raise _unavailable(txn, session_id, version, row.version)
    return replay(document, entries, version)


def _unavailable(txn: Txn, session_id: str, version: int, current: int) -> HistoryUnavailable:
    oldest = oldest_version_txn(txn, session_id, current)
    return HistoryUnavailable(
        f"version {version} is no longer kept: history goes back to version {oldest}",
        version=version,
        oldest=oldest,
        current=current,
    )


def replay(document: dict[str, Any], entries: list[LogEntry], version: int) -> dict[str, Any]:
    """Apply the logged ops of `entries` to `document` in place; stamp it with `version`."""
    for entry in entries:
        for op in entry.ops:
            if op["op"] == "test":
                continue
            if op["path"] == "" and op["op"] in ("add", "replace"):
                document = op["value"]
                continue
            change = {k: v for k, v in op.items() if k != "old"}
            try:
                document = jsonpatch.JsonPatch([change]).apply(document, in_place=True)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                raise HistoryUnavailable(
                    f"version {version} cannot be rebuilt: the log entry of version "
                    f"{entry.version} does not apply ({exc})",
                    version=version,
                ) from exc
    document["version"] = version
    return document


def restore_extra_txn(txn: Txn, session_id: str, args: Any) -> dict[str, Any]:
    """What `history.restore` needs: {"restore": {"version": N, "document": ...}}.

    Malformed arguments load nothing (the handler then names what is wrong).
    """
    if not isinstance(args, dict):
        return {}
    version = args.get("version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 0 <= version <= mutations_history.MAX_VERSION
    ):
        return {}
    return {"restore": {"version": version, "document": document_at_txn(txn, session_id, version)}}


# the service -----------------------------------------------------------------------------------
class HistoryService:
    """Owner-scoped history reads, restores and compaction over a `SessionService`."""

    def __init__(self, sessions: SessionService, policy: HistoryPolicy | None = None) -> None:
        self.sessions = sessions
        self.policy = policy or policy_for(sessions)

    def document_at(self, user_id: str, session_id: str, version: int) -> dict[str, Any]:
        """The document at `version` (NotFound if the session is not the caller's)."""
        with self.sessions.store.read() as txn:
            self.sessions.owned(txn, user_id, session_id)
            return document_at_txn(txn, session_id, version)

    def retained(self, user_id: str, session_id: str) -> tuple[int, int]:
        """(oldest reconstructible version, current version)."""
        with self.sessions.store.read() as txn:
            row = self.sessions.owned(txn, user_id, session_id)
            return oldest_version_txn(txn, session_id, row.version), row.version

    def restore(
        self,
        user_id: str,
        session_id: str,
        version: int,
        path: str | None = None,
        scope: str | None = None,
    ) -> Outcome:
        """Restore `path` (a field or a form) or the whole session to `version`, as a mutation."""
        args: dict[str, Any] = {"version": version}
        if path is not None:
            args["path"] = path
        if scope is not None:
            args["scope"] = scope
        return self.sessions.command(user_id, session_id, RESTORE, args)

    def compact_all(self, keep_versions: int | None = None) -> int:
        """Compact every session's history; return how many log entries were deleted."""
        keep = self.policy.keep_versions if keep_versions is None else keep_versions
        if keep < 0:
            raise ValueError("keep_versions must not be negative")
        writer = self.sessions.writer
        removed = 0
        after = ""
        while True:
            with self.sessions.store.read() as txn:
                page = txn.session_version_page(after, COMPACT_PAGE)
            if not page:
                return removed
            after = page[-1][0]
            # Submitted together, so the writer commits them in a few group commits.
            futures: list[Future[int]] = [
                writer.submit(
                    functools.partial(compact_txn, session_id=sid, keep_versions=keep), (sid,)
                )
                for sid, version in page
                if version >= keep
            ]
            removed += sum(f.result() for f in futures)
