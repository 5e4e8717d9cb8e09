"""Unsupervised estimation of the scoring weights (expectation–maximisation).

The weights in `FieldWeights` are log2 likelihood ratios m/u per comparison level, and
`prior` the log2 odds of a match among blocked candidates. Given records without labels,
EM estimates them the Fellegi–Sunter way: candidate pairs come from the blocking index,
each pair is a vector of comparison levels, and a two-class mixture (match / non-match,
fields independent given the class) is fitted. The result is a `FieldWeights` for the
data at hand, so the confidence is calibrated on that data rather than hand-set.

Structural levels are not estimated: `qualifier` and `hierarchy_link` encode business
rules (a subsidiary is not its parent), whatever the data's statistics say.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from territory.dedupe.index import CandidateIndex, IndexSettings
from territory.dedupe.normalize import Profile
from territory.dedupe.scoring import FieldWeights, Scorer

_FIXED = {"qualifier", "hierarchy"}
_FLOOR = 1e-4


def candidate_level_vectors(
    profiles: Sequence[Profile], scorer: Scorer, limit: int = 20
) -> list[dict[str, str]]:
    index = CandidateIndex(IndexSettings(limit=limit))
    by_key = {}
    for profile in profiles:
        index.add(profile)
        by_key[profile.source_key] = profile
    seen: set[tuple[str, str]] = set()
    vectors = []
    for profile in profiles:
        keys = [
            k
            for k in index.candidates(profile)
            if (min(k, profile.source_key), max(k, profile.source_key)) not in seen
        ]
        for key in keys:
            seen.add((min(key, profile.source_key), max(key, profile.source_key)))
        for comparison in scorer.compare_many(profile, [by_key[k] for k in keys]):
            vectors.append({f: lv for f, lv in comparison.levels.items() if f not in _FIXED})
    return vectors


def estimate_weights(
    profiles: Sequence[Profile],
    start: FieldWeights | None = None,
    iterations: int = 25,
    max_weight: float = 20.0,
) -> FieldWeights:
    """EM over the blocked candidate pairs of `profiles`; `start` seeds the match class."""
    start = start or FieldWeights()
    scorer = Scorer(start, prefilter=False)  # every level of every pair is data here
    vectors = candidate_level_vectors(profiles, scorer)
    if not vectors:
        return start
    # Start: the given weights split into m and u around the observed level frequencies.
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for v in vectors:
        for f, lv in v.items():
            counts[f][lv] += 1
    u = {f: {lv: n / sum(c.values()) for lv, n in c.items()} for f, c in counts.items()}
    m: dict[str, dict[str, float]] = {}
    for f, levels in u.items():
        raw = {lv: p * 2.0 ** getattr(start, lv) for lv, p in levels.items()}
        total = sum(raw.values())
        m[f] = {lv: x / total for lv, x in raw.items()}
    lam = 1.0 / (1.0 + 2.0 ** (-start.prior))
    for _ in range(iterations):
        sm: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        su: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        total_p = 0.0
        for v in vectors:
            log_odds = math.log(lam / (1 - lam))
            for f, lv in v.items():
                log_odds += math.log(max(m[f][lv], _FLOOR) / max(u[f][lv], _FLOOR))
            p = 1.0 / (1.0 + math.exp(-max(min(log_odds, 50.0), -50.0)))
            total_p += p
            for f, lv in v.items():
                sm[f][lv] += p
                su[f][lv] += 1.0 - p
        lam = min(max(total_p / len(vectors), 1e-6), 1 - 1e-6)
        for f in m:
            tm, tu = sum(sm[f].values()), sum(su[f].values())
            for lv in m[f]:
                m[f][lv] = sm[f][lv] / tm if tm else m[f][lv]
                u[f][lv] = su[f][lv] / tu if tu else u[f][lv]
    values = start.model_dump()
    values["prior"] = math.log2(lam / (1 - lam))
    for f, levels in m.items():
        for lv, mp in levels.items():
            w = math.log2(max(mp, _FLOOR) / max(u[f][lv], _FLOOR))
            values[lv] = max(-max_weight, min(max_weight, w))
    return FieldWeights(**values)
