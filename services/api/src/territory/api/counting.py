"""A short-lived cache of list totals and aggregates.

Counting the rows that match a filter is the expensive half of a page over a million
clients (a scan, where the page itself is an index range). The dashboard shows totals
for orientation, so a total may be up to `ttl` seconds old; the rows themselves are
always read fresh. Keyed by the statement's SQL and parameters, so every filter and every
region scope has its own entry; bounded in size. Aggregates over every client (clients
per territory, per advisor and tier, the home page's figures) use the same cache.
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
        self._lock = threading.Lock()

    def get(self, key: str, now: float | None = None) -> Any:
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


def cached(session: Session, key: str, compute: Callable[[], T]) -> T:
    """`compute()`, or its value from the last `ttl` seconds (when the session has a cache)."""
    cache: CountCache | None = session.info.get("count_cache")
    if cache is None:
        return compute()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.put(key, value)
    return value  # type: ignore[no-any-return]
