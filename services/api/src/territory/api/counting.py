"""A short-lived cache of list totals.

Counting the rows that match a filter is the expensive half of a page over a million
clients (a scan, where the page itself is an index range). The dashboard shows totals
for orientation, so a total may be up to `ttl` seconds old; the rows themselves are
always read fresh. Keyed by the statement's SQL and parameters, so every filter and every
region scope has its own entry; bounded in size.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class CountCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float | None = None) -> int | None:
        if self.ttl <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < now:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: int, now: float | None = None) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
