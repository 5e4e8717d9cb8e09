"""Candidate index (blocking): which known source records could match a new one.

Every source record is posted under a handful of blocking keys: its identifiers (LEI, tax
id, website domain), its postcode within its country, each name token, and each name
token's 4-character prefix and suffix (a typo rarely hits both ends of a word). A lookup
collects the postings of the new record's keys and ranks the records by the summed
weight of the keys they share (rare keys weigh more, as in IDF); the best `limit` are
scored. Keys whose posting lists grew past `max_postings` ("fund", "capital", a big
city's postcode) are skipped at lookup: they would only add noise and cost, and the
other keys still find the record. Nothing ever scans the whole master.

Updates are incremental: `add` on a new or changed record, `remove` when it changes or
leaves. Postings are lists of small integer handles (not strings) to keep 1M records in
memory; removals are lazy (a tombstone check at lookup, compaction when a list is mostly
dead).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass

from territory.dedupe.normalize import Profile

_STOP_TOKENS = frozenset({"and", "of", "the", "de", "du", "des", "la", "le", "der", "die", "für"})


@dataclass(frozen=True, slots=True)
class IndexSettings:
    limit: int = 25  # candidates returned per lookup
    max_postings: int = 500  # keys with more postings are skipped at lookup


def blocking_keys(profile: Profile) -> dict[str, float]:
    """Blocking keys of a record with their base weights (identifiers weigh most)."""
    keys: dict[str, float] = {}
    if profile.lei:
        keys[f"lei:{profile.lei}"] = 8.0
    if profile.tax_id:
        keys[f"tax:{profile.tax_id}"] = 6.0
    if profile.domain:
        keys[f"dom:{profile.domain}"] = 4.0
    if profile.postal_code:
        keys[f"pc:{profile.country or ''}:{profile.postal_code}"] = 1.0
    for name, value in profile.extra.items():
        keys[f"x:{name}:{value}"] = 1.0
    for token in profile.tokens:
        if token in _STOP_TOKENS or len(token) < 2:
            continue
        keys.setdefault(f"t:{token}", 2.0)
        if len(token) >= 6:
            keys.setdefault(f"p:{token[:4]}", 1.0)
            keys.setdefault(f"s:{token[-4:]}", 1.0)
    return keys


class CandidateIndex:
    def __init__(self, settings: IndexSettings | None = None) -> None:
        self.settings = settings or IndexSettings()
        self._postings: dict[str, list[int]] = {}
        self._handle: dict[str, int] = {}  # source key -> handle
        self._keys: list[str | None] = []  # handle -> source key (None: removed)
        self._record_keys: dict[int, tuple[str, ...]] = {}  # handle -> its blocking keys
        self._dead: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._handle)

    def __contains__(self, source_key: str) -> bool:
        return source_key in self._handle

    def add(self, profile: Profile) -> None:
        if profile.source_key in self._handle:
            self.remove(profile.source_key)
        handle = len(self._keys)
        self._keys.append(profile.source_key)
        self._handle[profile.source_key] = handle
        keys = tuple(blocking_keys(profile))
        self._record_keys[handle] = keys
        for key in keys:
            self._postings.setdefault(key, []).append(handle)

    def remove(self, source_key: str) -> None:
        handle = self._handle.pop(source_key, None)
        if handle is None:
            return
        self._keys[handle] = None
        for key in self._record_keys.pop(handle, ()):
            self._dead[key] += 1
            postings = self._postings.get(key)
            if postings is not None and self._dead[key] * 2 > len(postings):
                alive = [h for h in postings if self._keys[h] is not None]
                self._dead.pop(key, None)
                if alive:
                    self._postings[key] = alive
                else:
                    del self._postings[key]

    def candidates(self, profile: Profile, *, limit: int | None = None) -> list[str]:
        """Source keys of the most promising records, best first (never the record itself)."""
        limit = limit or self.settings.limit
        scores: dict[int, float] = {}
        cap = self.settings.max_postings
        for key, weight in blocking_keys(profile).items():
            postings = self._postings.get(key)
            if not postings or len(postings) > cap:
                continue
            # Rare keys weigh more: an LEI shared by two records says more than "asset".
            w = weight * (1.0 + math.log(cap / len(postings)))
            get = scores.get
            for handle in postings:
                scores[handle] = get(handle, 0.0) + w
        out: list[str] = []
        for handle in heapq.nlargest(limit * 2 + 1, scores, key=scores.__getitem__):
            found = self._keys[handle]
            if found is None or found == profile.source_key:
                continue
            out.append(found)
            if len(out) >= limit:
                break
        return out
