"""Identities: guest users, bearer tokens and one-time pairing codes.

Secrets are 256-bit random tokens (`secrets.token_urlsafe(32)`); only their SHA-256 is stored.
A pairing code lets a person continue on another device as the same owner: the first device
asks for a short code, the second redeems it once within its lifetime for its own token.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cvsession.core.errors import InvalidInput, NotFound
from cvsession.service.writer import Writer
from cvsession.store.base import Store, TokenRow, Txn, UserRow

PAIRING_TTL = timedelta(minutes=10)
AUTH_CACHE_SECONDS = 30.0
AUTH_CACHE_SIZE = 10_000
# Crockford-style alphabet without look-alikes; 12 characters ≈ 60 bits, single use, 10 minutes.
PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
PAIRING_LENGTH = 12


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Credential:
    user_id: str
    token: str  # the secret, shown once
    kind: Literal["guest", "bearer"]


class Identity:
    def __init__(self, store: Store, writer: Writer, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.writer = writer
        self.clock = clock
        # token hash -> (valid until (monotonic), user id); an expiring token is not cached
        # past its expiry because the TTL is short. A deleted user's tokens are dropped from
        # every process's cache at once (`forget_user`, told by the sync hub's pub/sub); a
        # lost pub/sub message leaves them there at most the TTL.
        self._cache: dict[str, tuple[float, str]] = {}

    def create_user(
        self, kind: Literal["guest", "bearer"] = "guest", display_name: str = ""
    ) -> Credential:
        """Create a user with one token of `kind`; return the secret (never stored)."""
        user_id = "u_" + uuid.uuid4().hex
        token = secrets.token_urlsafe(32)
        now = self.clock()

        def txn_fn(txn: Txn) -> None:
            txn.insert_user(UserRow(user_id, now, display_name))
            txn.insert_token(TokenRow(hash_secret(token), user_id, kind, now))

        self.writer.run(txn_fn)
        return Credential(user_id, token, kind)

    def issue_token(
        self, user_id: str, kind: Literal["guest", "bearer"] = "bearer", label: str = ""
    ) -> Credential:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.writer.run(
            lambda txn: txn.insert_token(
                TokenRow(hash_secret(token), user_id, kind, now, label=label)
            )
        )
        return Credential(user_id, token, kind)

    def authenticate(self, token: str | None) -> str | None:
        """Return the user id a guest or bearer token belongs to, or None."""
        if not token or len(token) > 200:
            return None
        digest = hash_secret(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.store.read() as txn:
            row = txn.get_token(digest)
        if row is None or row.kind == "pairing":
            return None
        if row.expires_at is not None and row.expires_at <= self.clock():
            return None
        if len(self._cache) >= AUTH_CACHE_SIZE:
            self._cache.clear()
        self._cache[digest] = (now + AUTH_CACHE_SECONDS, row.user_id)
        return row.user_id

    def forget_user(self, user_id: str) -> None:
        """Stop accepting the cached tokens of a user who was deleted."""
        for digest, (_, owner) in list(self._cache.items()):
            if owner == user_id:
                self._cache.pop(digest, None)

    def create_pairing_code(self, user_id: str) -> tuple[str, datetime]:
        """Return a one-time code another device can redeem for this owner, and its expiry."""
        code = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_LENGTH))
        now = self.clock()
        expires = now + PAIRING_TTL
        self.writer.run(
            lambda txn: txn.insert_token(
                TokenRow(hash_secret(code), user_id, "pairing", now, expires_at=expires)
            )
        )
        return code, expires

    def redeem_pairing_code(self, code: str, kind: Literal["guest", "bearer"]) -> Credential:
        """Exchange a pairing code (once) for a new token of the same owner."""
        normalised = code.strip().upper().replace("-", "").replace(" ", "")
        if not normalised or len(normalised) > 64:
            raise InvalidInput("invalid pairing code")
        digest = hash_secret(normalised)
        now = self.clock()
        token = secrets.token_urlsafe(32)

        def txn_fn(txn: Txn) -> str:
            row = txn.get_token(digest)
            if (
                row is None
                or row.kind != "pairing"
                or row.used_at is not None
                or (row.expires_at is not None and row.expires_at <= now)
                or not txn.mark_token_used(digest, now)
            ):
                raise NotFound("this pairing code is unknown, used or expired")
            txn.insert_token(
                TokenRow(hash_secret(token), row.user_id, kind, now, label="paired device")
            )
            return row.user_id

        user_id = self.writer.run(txn_fn)
        return Credential(user_id, token, kind)
