"""Feature flags at run time: built-in defaults overlaid by stored rows, cached briefly.

Reads are served from a cache that lives `ttl` seconds (2 by default) and is dropped on every
write made through this service, so a change takes effect here at once and in every other
process (another server, the CLI) within the TTL, without a restart. A read that raced a write
does not put its older view back into the cache (generation check).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from cvsession.core import flags
from cvsession.core.errors import DomainError, NotFound
from cvsession.core.flags import Flag
from cvsession.service.writer import Writer
from cvsession.store.base import Store, Txn
from cvsession.store.codec import from_ms, to_ms
from cvsession.store.flags import FlagRow

CACHE_SECONDS = 2.0
log = logging.getLogger(__name__)


class FlagService:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        clock: Callable[[], datetime],
        *,
        ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.writer = writer
        self.clock = clock
        self.ttl = ttl
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Flag]] | None = None
        self._generation = 0

    def definitions(self) -> dict[str, Flag]:
        """Every flag by name: the built-in ones (stored or default), then the others."""
        with self._lock:
            cached, generation = self._cached, self._generation
        if cached is not None and self.monotonic() < cached[0]:
            return cached[1]
        with self.store.read() as txn:
            rows = txn.list_flags()
        merged = dict(flags.DEFAULTS)
        for row in rows:
            try:
                merged[row.name] = flags.from_definition(row.name, row.definition, row.updated_at)
            except DomainError as exc:  # keep serving: the default (or nothing) applies
                log.error("ignoring stored flag %r: %s", row.name, exc)
        with self._lock:
            if generation == self._generation:
                self._cached = (self.monotonic() + self.ttl, merged)
        return merged

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None
            self._generation += 1

    def get(self, name: str) -> Flag:
        flag = self.definitions().get(flags.check_name(name))
        if flag is None:
            raise NotFound(f"no flag named {name!r}")
        return flag

    def evaluate(self, user_id: str) -> dict[str, bool]:
        """Every flag's value for the user."""
        return flags.evaluate(self.definitions().values(), user_id)

    def is_on(self, name: str, user_id: str) -> bool:
        """Whether the flag is on for the user; a flag that does not exist is off."""
        flag = self.definitions().get(name)
        return flag is not None and flags.is_on(flag, user_id)

    def require(self, name: str, user_id: str, message: str) -> None:
        """Raise `FeatureDisabled` (403) with `message` unless the flag is on for the user."""
        if not self.is_on(name, user_id):
            raise flags.FeatureDisabled(message, feature=name)

    def set(self, name: str, changes: dict[str, Any]) -> Flag:
        """Change some fields of a flag (a new one starts enabled at 0%); return it as stored.

        Raises `InvalidInput` for a bad name or value. The change is read and written in one
        transaction, so two concurrent partial changes both apply.
        """
        flags.check_name(name)
        now = from_ms(to_ms(self.clock()))  # as stored: whole milliseconds

        def fn(txn: Txn) -> Flag:
            row = txn.get_flag(name)
            if row is not None:
                current = flags.from_definition(name, row.definition, row.updated_at)
            else:
                current = flags.DEFAULTS.get(name) or Flag(name)
            flag = replace(flags.changed(current, changes), updated_at=now)
            txn.put_flag(FlagRow(name, flags.definition_json(flag), now))
            return flag

        try:
            return self.writer.run(fn)
        finally:
            self.invalidate()

    def reset(self, name: str) -> Flag | None:
        """Drop the stored definition: the built-in default again (returned), or no flag (None).

        Raises `NotFound` when the flag is neither stored nor built in.
        """
        flags.check_name(name)
        try:
            existed = self.writer.run(lambda txn: txn.delete_flag(name))
        finally:
            self.invalidate()
        default = flags.DEFAULTS.get(name)
        if not existed and default is None:
            raise NotFound(f"no flag named {name!r}")
        return default
