"""Candidate index (blocking): which known source records could match a new one.

Every source record is posted under several blocking keys, so that an obvious pair shares
more than one of them:
- identifiers: LEI, tax id, website domain;
- the whole normalised name, the name's words sorted (word order forgiven), the name with
  its country, and the name's distinctive words alone ("redwood" of "Redwood Bank": the
  words that are not generic such as "bank", "fund", "capital");
- each name word, each pair of adjacent words glued ("Sil Verline" meets "Silverline"),
  and each long word's 4-character prefix and suffix (a typo rarely hits both ends);
- the postcode within its country, and the postcode with the house number;
- attribute values an adapter supplies in `Profile.extra` (a date of birth, a phone).

A lookup collects the postings of the new record's keys and ranks the records by the
summed weight of the keys they share (rare keys weigh more, as in IDF). Keys whose
posting lists grew past `max_postings` ("fund", "capital", a big city's postcode) are
skipped, except that a record never loses all its name words: when every name key is that
common, the rarest one is still read. A word's prefix and suffix keys count only for
records that do not share the word itself (they stand in for it across a typo; counted on
top, a long shared given name outweighed a short shared surname threefold). The best
`limit * 8` by that sum are re-ranked by a cheap name similarity and, where the new record
has an address, a smaller share of address similarity (rapidfuzz `ratio`, vectorised),
which breaks the ties among hundreds of records that share one word; the best `limit` are
scored. Nothing ever scans the whole master.

Updates are incremental: `add` on a new or changed record, `remove` when it changes or
leaves. Postings are small integer handles (not strings) to keep 1M records in memory: a
key posted by one record only (most keys: names, identifiers, addresses) holds the bare
handle, a shared key the list of them. Keys are held per kind (the part before the first
`:`), so that the rest of a key is the very string the profile already holds where it is
one (the name, a word, the LEI, the domain) rather than a copy. A record's keys are not
stored: `remove` derives them again from the profile indexed (which must not change while
indexed: a changed record is added again as a new profile). Removals are lazy (a tombstone
check at lookup, compaction when a list is mostly dead).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
from rapidfuzz import fuzz, process

from territory.dedupe.knowledge import generic_words
from territory.dedupe.normalize import Profile, house_numbers

_STOP_TOKENS = frozenset({"and", "of", "the", "de", "du", "des", "la", "le", "der", "die", "für"})


@dataclass(frozen=True, slots=True)
class IndexSettings:
    limit: int = 25  # candidates returned per lookup
    max_postings: int = 500  # keys with more postings are skipped at lookup


_NAME_KEYS = ("t:", "n:", "o:", "b:", "p:", "s:", "j:", "c:")
_NONE: dict[str, list[int] | int] = {}
_GONE = Profile(source_key="", name="", tokens=())
# The address's share of the re-ranking, beside the name's 3: enough to lift the twin at
# the same street among records tied on one shared word; at 2 and 3 the organisation sets'
# blocking recall fell (hard negatives share addresses), at 1 it did not.
_ADDRESS_WEIGHT = 1.0


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
        for number in house_numbers(profile.address):
            keys[f"hn:{profile.postal_code}:{number}"] = 1.5
    for name, value in profile.extra.items():
        # A shared attribute value the adapter supplies (a date of birth, a phone number)
        # is nearly an identifier: at weight 1, two of them lost to the 40 records sharing
        # a common given name, and those pairs were never compared (FEBRL4: 3).
        keys[f"x:{name}:{value}"] = 3.0
    words = [t for t in profile.tokens if t not in _STOP_TOKENS and len(t) >= 2]
    if profile.name:
        keys[f"n:{profile.name}"] = 4.0
        if profile.country:
            keys[f"c:{profile.country}:{profile.name}"] = 2.0
    if len(words) > 1:
        keys[f"o:{' '.join(sorted(words))}"] = 3.0
    generic = generic_words()
    distinctive = sorted({t for t in words if t not in generic})
    if distinctive and len(distinctive) < len(words):
        keys[f"b:{' '.join(distinctive)}"] = 2.0
    for token in words:
        keys.setdefault(f"t:{token}", 2.0)
        for affix in _affixes(token):
            keys.setdefault(affix, 1.0)
    for a, b in itertools.pairwise(words):
        keys.setdefault(f"t:{a}{b}", 2.0)  # "sil verline" → the key of "silverline"
    return keys


def _affixes(token: str) -> tuple[str, ...]:
    """A long word's prefix and suffix keys (a typo rarely hits both ends)."""
    return (f"p:{token[:4]}", f"s:{token[-4:]}") if len(token) >= 6 else ()


def _affix_words(profile: Profile) -> dict[str, str]:
    """The word each prefix ("p:") and suffix ("s:") key of `blocking_keys` stands for
    (the first word to post it, as there)."""
    affixes: dict[str, str] = {}
    for token in profile.tokens:
        if token not in _STOP_TOKENS:
            for affix in _affixes(token):
                affixes.setdefault(affix, token)
    return affixes


class CandidateIndex:
    def __init__(self, settings: IndexSettings | None = None) -> None:
        self.settings = settings or IndexSettings()
        # kind of key ("n", "t", "lei", ...) -> rest of the key -> the handles posted under
        # it, in posting order (a bare handle: only one)
        self._postings: dict[str, dict[str, list[int] | int]] = {}
        self._handle: dict[str, int] = {}  # source key -> handle
        self._profiles: list[Profile | None] = []  # handle -> profile indexed (None: removed)
        self._names: list[str] = []  # handle -> the profile's name (for the re-ranking)
        self._addresses: list[str] = []  # handle -> the profile's address, or ""
        # handle -> whether its profile is still indexed (postings hold removed handles
        # until compacted), as an array: a lookup filters its best few hundred at once.
        self._alive = np.zeros(1024, dtype=np.bool_)
        # The last profile added and its keys: a new record is added, then looked up.
        self._last: tuple[Profile, dict[str, float]] = (_GONE, {})
        self._dead: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._handle)

    def __contains__(self, source_key: str) -> bool:
        return source_key in self._handle

    def add(self, profile: Profile) -> None:
        if profile.source_key in self._handle:
            self.remove(profile.source_key)
        handle = len(self._profiles)
        self._profiles.append(profile)
        self._names.append(profile.name)
        self._addresses.append(profile.address or "")
        if handle >= len(self._alive):
            grown = np.zeros(2 * len(self._alive), dtype=np.bool_)
            grown[: len(self._alive)] = self._alive
            self._alive = grown
        self._alive[handle] = True
        self._handle[profile.source_key] = handle
        # The profile's own strings, to hold instead of an equal copy cut from a key.
        own = {s: s for s in (profile.name, profile.lei, profile.tax_id, profile.domain) if s}
        own.update((t, t) for t in profile.tokens)
        families = self._postings
        keys = blocking_keys(profile)
        self._last = (profile, keys)
        for key in keys:
            family, _, rest = key.partition(":")
            postings = families.get(family)
            if postings is None:
                postings = families[family] = {}
            held = postings.get(rest)
            if held is None:
                postings[own.get(rest, rest)] = handle
            elif isinstance(held, int):
                postings[rest] = [held, handle]
            else:
                held.append(handle)

    def remove(self, source_key: str) -> None:
        handle = self._handle.pop(source_key, None)
        if handle is None:
            return
        profile = self._profiles[handle]
        self._profiles[handle] = None
        self._alive[handle] = False
        self._names[handle] = ""
        self._addresses[handle] = ""
        if profile is None:
            return
        profiles = self._profiles
        for key in blocking_keys(profile):
            self._dead[key] += 1
            family, _, rest = key.partition(":")
            held = self._postings[family]
            postings = held.get(rest)
            if postings is None:
                continue
            if isinstance(postings, int):
                postings = [postings]
            if self._dead[key] * 2 > len(postings):
                alive = [h for h in postings if profiles[h] is not None]
                self._dead.pop(key, None)
                if len(alive) > 1:
                    held[rest] = alive
                elif alive:
                    held[rest] = alive[0]
                else:
                    del held[rest]

    def candidates(
        self, profile: Profile, *, limit: int | None = None, similar: float | None = None
    ) -> list[str]:
        """Source keys of the most promising records, best first (never the record itself).
        With `similar`, every re-ranked record whose name similarity (0-100) reaches it is
        returned as well, past `limit`: a close name among hundreds of records sharing
        common words is then found from both sides of the pair, whichever came first."""
        limit = limit or self.settings.limit
        scores: dict[int, float] = {}
        cap = self.settings.max_postings
        used_name_key = False
        rarest: tuple[int, list[int], float] | None = None  # the least common name key
        last, keys = self._last
        if last is not profile:
            keys = blocking_keys(profile)
        families = self._postings
        # A word's prefix and suffix keys stand in for the word when a typo changed it: a
        # record sharing the word itself gets no more for its prefix and suffix (else the
        # 42 records sharing a given name of seven letters outweigh the 44 sharing a
        # surname of five threefold, and the twin at the same street is never compared).
        affix_of = _affix_words(profile)
        sharing: dict[str, list[int]] = {}  # word -> the records posted under "t:word"
        skips: dict[str, set[int]] = {}  # (the same as a set, once per word)
        for key, weight in keys.items():
            family, _, rest = key.partition(":")
            postings = families.get(family, _NONE).get(rest)
            if postings is None:
                continue
            if isinstance(postings, int):
                postings = [postings]
            if len(postings) > cap:
                if family == "t" and (rarest is None or len(postings) < rarest[0]):
                    rarest = (len(postings), postings, weight)
                continue
            used_name_key = used_name_key or key.startswith(_NAME_KEYS)
            weight *= 1.0 + math.log(cap / len(postings))
            if family == "t":
                sharing[rest] = postings
            elif (word := affix_of.get(key)) is not None and word in sharing:
                skip = skips.get(word)
                if skip is None:
                    skip = skips[word] = set(sharing[word])
                self._post_except(scores, postings, weight, skip)
                continue
            self._post(scores, postings, weight)
        if not used_name_key and rarest is not None:
            # Every name word is common ("Capital Bank"): read the rarest anyway, at the
            # weight of a key exactly at the cap, rather than lose the record's name.
            self._post(scores, rarest[1], rarest[2])
        if not scores:
            return []
        # The best `limit * 8 + 1` by summed weight, ties in first-posted order (what
        # `heapq.nlargest` gives), then the re-ranking: both vectorised.
        handles = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        weights = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        best = np.argsort(-weights, kind="stable")[: limit * 8 + 1]
        picked, summed = handles[best], weights[best]
        # Not the record itself, nor a removed record still in a posting list.
        keep = self._alive[picked]
        me = self._handle.get(profile.source_key)  # (the one live handle of that key)
        if me is not None:
            keep &= picked != me
        if not keep.all():
            picked, summed = picked[keep], summed[keep]
        top: list[int] = picked.tolist()
        if len(top) > limit and profile.name:
            # Ties among records sharing one word are broken by a cheap name similarity
            # (float32 throughout, as the scalar arithmetic on rapidfuzz's float32 was).
            # (More than `limit` handles: itemgetter gives a tuple.)
            similarity = process.cdist(
                [profile.name],
                itemgetter(*top)(self._names),
                scorer=fuzz.ratio,
                dtype=np.float32,
            )[0]
            rank = summed.astype(np.float32) + np.float32(3.0) * similarity / np.float32(100)
            if profile.address:
                # and by the address's: among records tied on a shared surname or given
                # name, the one at the same street is the likely twin (FEBRL4 rec-944:
                # another given name, postcode mistyped, never compared).
                near = process.cdist(
                    [profile.address],
                    itemgetter(*top)(self._addresses),
                    scorer=fuzz.ratio,
                    dtype=np.float32,
                )[0]
                rank += np.float32(_ADDRESS_WEIGHT) * near / np.float32(100)
            ranked = np.argsort(-rank, kind="stable")
            if similar is not None:
                tail = ranked[limit:]
                ranked = np.concatenate((ranked[:limit], tail[similarity[tail] >= similar]))
                limit = len(ranked)
            top = picked[ranked].tolist()
        profiles = self._profiles
        return [p.source_key for p in (profiles[h] for h in top[:limit]) if p is not None]

    @staticmethod
    def _post_except(
        scores: dict[int, float], postings: list[int], weight: float, skip: set[int]
    ) -> None:
        get = scores.get
        for handle in postings:
            if handle not in skip:
                scores[handle] = get(handle, 0.0) + weight

    @staticmethod
    def _post(scores: dict[int, float], postings: list[int], weight: float) -> None:
        get = scores.get
        for handle in postings:
            scores[handle] = get(handle, 0.0) + weight
