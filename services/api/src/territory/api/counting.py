"""A short-lived cache of list totals and aggregates.

Counting the rows that match a filter is the expensive half of a page over a million
clients (a scan, where the page itself is an index range). The dashboard shows totals
for orientation, so a total may be up to `ttl` seconds old; the rows themselves are
always read fresh. Keyed by the statement's SQL and parameters, so every filter and every
region scope has its own entry; bounded in size. Aggregates over every client (clients
per territory, per advisor and tier, the home page's figures) use the same cache.

Under load, an expired entry is recomputed by one request while the others keep getting
the previous value (stale-while-revalidate): fifty concurrent requests never start fifty
identical scans, and no request waits for a recount that another one is already doing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class CountCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._refreshing: set[str] = set()
        self._first: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: str, now: float | None = None) -> Any:
        """The fresh value, or None."""
        if self.ttl <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < now:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: Any, now: float | None = None) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        if self.ttl <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if entry[0] >= now or key in self._refreshing:
                    return entry[1]  # type: ignore[no-any-return]
                self._refreshing.add(key)  # this caller refreshes; others get the old value
            else:
                first = self._first.setdefault(key, threading.Lock())
        if entry is not None:
            try:
                value = compute()
                self.put(key, value)
                return value
            finally:
                with self._lock:
                    self._refreshing.discard(key)
        # Nothing to serve yet: one caller computes, the others wait for its value.
        with first:
            cached_value = self.get(key)
            if cached_value is not None:
                return cached_value  # type: ignore[no-any-return]
            value = compute()
            self.put(key, value)
        with self._lock:
            self._first.pop(key, None)
        return value


def cached(session: Session, key: str, compute: Callable[[], T]) -> T:
    """`compute()`, or its value from the last `ttl` seconds (when the session has a cache)."""
    cache: CountCache | None = session.info.get("count_cache")
    if cache is None:
        return compute()
    return cache.get_or_compute(key, compute)
