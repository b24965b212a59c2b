"""Domain errors. Every error the core raises is a `DomainError` with a stable code.

The edges map codes to HTTP status (problem+json) and to WebSocket `error` messages.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal with a stable machine-readable `code` and a human `message`."""

    code = "domain_error"
    status = 400

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class IllegalTransition(DomainError):
    code = "illegal_transition"
    status = 409


class PrerequisiteMissing(DomainError):
    code = "prerequisite_missing"
    status = 409


class DependencyMissing(DomainError):
    code = "dependency_missing"
    status = 409


class RuleViolation(DomainError):
    code = "rule_violation"
    status = 409


class MutationGap(DomainError):
    """A mutation id skipped ahead of lastMutationID + 1; the client must resend in order."""

    code = "mutation_gap"
    status = 409


class VersionConflict(DomainError):
    """A raw patch was made against a stale version and touches fields changed since."""

    code = "version_conflict"
    status = 409


class LimitExceeded(DomainError):
    code = "limit_exceeded"
    status = 413


class DocumentTooLarge(DomainError):
    """The change would make the session's document larger than the configured limit."""

    code = "document_too_large"
    status = 413


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status = 415


class HistoryUnavailable(DomainError):
    """A version older than the retained history (compacted away): it cannot be rebuilt."""

    code = "history_unavailable"
    status = 410
