"""Unsupervised estimation of the scoring weights (expectation–maximisation), and the
estimated model as a versioned file.

The weights in `FieldWeights` are log2 likelihood ratios m/u per comparison level, and
`prior` the log2 odds of a match among blocked candidates. Given records without labels,
they are estimated the Fellegi–Sunter way, as Splink does:

candidate pairs come from the blocking index, each pair is a vector of comparison levels,
and a two-class mixture (match / non-match, fields independent given the class) is
fitted: m (how often a level occurs between duplicates), u (between different
organisations) and the share of matches among the candidates. Pairs are grouped by their
vector of levels (a few thousand distinct vectors), so EM costs nothing next to the
scoring of the pairs, and they are visited in a fixed order: the same records give the
same model, bit for bit.

On organisation data the independence assumption fails badly (the same address implies
the same postcode, city and country), and EM's "match" class tends to become "same
place": see docs/benchmarks.md. The hand-set defaults stay the service's weights; EM is
for data that fits its assumptions (people, restaurants) and for inspection. Structural levels are not
estimated: `qualifier` and `hierarchy_link` encode business rules (a subsidiary is not its
parent), whatever the data's statistics say. A level seen too rarely to estimate keeps
its starting weight.

`estimate_model` returns a `DedupeModel` (weights, how they were estimated, from which
records, with a format version), which `save_model` / `load_model` write and read as JSON;
`territory dedupe model estimate|show` and `report --model` use them.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from territory.dedupe.index import CandidateIndex, IndexSettings
from territory.dedupe.normalize import Profile
from territory.dedupe.scoring import FieldWeights, Scorer

MODEL_FORMAT = 1
_FIXED = {"qualifier", "hierarchy"}
_FLOOR = 1e-4
_MIN_COUNT = 5  # levels seen fewer times among the candidates keep their start weight

Pattern = tuple[tuple[str, str], ...]


def _pattern(levels: dict[str, str]) -> Pattern:
    return tuple(sorted((f, lv) for f, lv in levels.items() if f not in _FIXED))


def candidate_patterns(
    profiles: Sequence[Profile], scorer: Scorer, limit: int = 20
) -> Counter[Pattern]:
    """Level vectors of the blocked candidate pairs (each pair once), counted."""
    index = CandidateIndex(IndexSettings(limit=limit))
    by_key = {}
    for profile in profiles:
        index.add(profile)
        by_key[profile.source_key] = profile
    seen: set[tuple[str, str]] = set()
    patterns: Counter[Pattern] = Counter()
    for profile in profiles:
        keys = []
        for k in index.candidates(profile):
            pair = (min(k, profile.source_key), max(k, profile.source_key))
            if pair not in seen:
                seen.add(pair)
                keys.append(k)
        for comparison in scorer.compare_many(profile, [by_key[k] for k in keys]):
            patterns[_pattern(comparison.levels)] += 1
    return patterns


def candidate_level_vectors(
    profiles: Sequence[Profile], scorer: Scorer, limit: int = 20
) -> list[dict[str, str]]:
    """The candidate pairs' levels, one dict per pair (for inspection and tests)."""
    out: list[dict[str, str]] = []
    for pattern, n in candidate_patterns(profiles, scorer, limit).items():
        out.extend(dict(pattern) for _ in range(n))
    return out


def _frequencies(patterns: Counter[Pattern]) -> dict[str, dict[str, float]]:
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for pattern, n in patterns.items():
        for f, lv in pattern:
            counts[f][lv] += n
    return {f: {lv: x / sum(c.values()) for lv, x in c.items()} for f, c in counts.items()}


class EstimationReport(BaseModel):
    records: int
    candidate_pairs: int
    distinct_patterns: int
    iterations: int
    match_share: float = Field(..., description="Estimated share of matches among candidates.")
    records_digest: str = Field(..., description="blake2b of the sorted source keys.")


class DedupeModel(BaseModel):
    """An estimated scoring model, as written to and read from a model file."""

    format: int = MODEL_FORMAT
    version: str = Field(..., description="Content hash of the weights: same weights, same id.")
    created_at: datetime
    method: str = "em"
    weights: FieldWeights
    start: FieldWeights
    estimation: EstimationReport | None = None


def estimate_weights(
    profiles: Sequence[Profile],
    start: FieldWeights | None = None,
    iterations: int = 40,
    max_weight: float = 20.0,
) -> FieldWeights:
    """EM over the blocked candidate pairs of `profiles`; `start` seeds the match class."""
    weights, _ = _estimate(profiles, start or FieldWeights(), iterations, max_weight)
    return weights


def _estimate(
    profiles: Sequence[Profile],
    start: FieldWeights,
    iterations: int,
    max_weight: float,
) -> tuple[FieldWeights, EstimationReport]:
    scorer = Scorer(start, prefilter=False)  # every level of every pair is data here
    patterns = candidate_patterns(profiles, scorer)
    digest = hashlib.blake2b(
        "\n".join(sorted(p.source_key for p in profiles)).encode(), digest_size=12
    ).hexdigest()
    report = EstimationReport(
        records=len(profiles),
        candidate_pairs=sum(patterns.values()),
        distinct_patterns=len(patterns),
        iterations=0,
        match_share=1.0 / (1.0 + 2.0 ** (-start.prior)),
        records_digest=digest,
    )
    if not patterns:
        return start, report
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for pattern, n in patterns.items():
        for f, lv in pattern:
            counts[f][lv] += n
    # Start: the given weights split into m and u around the observed level frequencies.
    u = _frequencies(patterns)
    m: dict[str, dict[str, float]] = {}
    for f, levels in u.items():
        raw = {lv: p * 2.0 ** getattr(start, lv) for lv, p in levels.items()}
        total = sum(raw.values())
        m[f] = {lv: x / total for lv, x in raw.items()}
    lam = 1.0 / (1.0 + 2.0 ** (-start.prior))
    items = sorted(patterns.items())  # a fixed order: the same floats every run
    total_pairs = sum(n for _, n in items)
    done = 0
    while done < iterations:
        done += 1
        sm: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        su: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        total_p = 0.0
        for pattern, n in items:
            log_odds = math.log(lam / (1 - lam))
            for f, lv in pattern:
                log_odds += math.log(max(m[f][lv], _FLOOR) / max(u[f][lv], _FLOOR))
            p = 1.0 / (1.0 + math.exp(-max(min(log_odds, 50.0), -50.0)))
            total_p += p * n
            for f, lv in pattern:
                sm[f][lv] += p * n
                su[f][lv] += (1.0 - p) * n
        new_lam = min(max(total_p / total_pairs, 1e-6), 1 - 1e-6)
        change = abs(new_lam - lam)
        lam = new_lam
        for f in m:
            tm, tu = sum(sm[f].values()), sum(su[f].values())
            for lv in m[f]:
                m[f][lv] = sm[f][lv] / tm if tm else m[f][lv]
                u[f][lv] = su[f][lv] / tu if tu else u[f][lv]
        if change < 1e-9:
            break
    values = start.model_dump()
    values["prior"] = math.log2(lam / (1 - lam))
    for f, levels in m.items():
        for lv, mp in levels.items():
            if counts[f][lv] < _MIN_COUNT:
                continue
            w = math.log2(max(mp, _FLOOR) / max(u[f][lv], _FLOOR))
            values[lv] = round(max(-max_weight, min(max_weight, w)), 6)
    report.iterations = done
    report.match_share = lam
    return FieldWeights(**values), report


def estimate_model(
    profiles: Sequence[Profile],
    start: FieldWeights | None = None,
    *,
    iterations: int = 40,
) -> DedupeModel:
    start = start or FieldWeights()
    weights, report = _estimate(profiles, start, iterations, 20.0)
    return DedupeModel(
        version=model_version(weights),
        created_at=datetime.now(UTC),
        weights=weights,
        start=start,
        estimation=report,
    )


def model_version(weights: FieldWeights) -> str:
    """A short content hash: two files with the same weights have the same version."""
    return hashlib.blake2b(weights.model_dump_json().encode(), digest_size=6).hexdigest()


def save_model(model: DedupeModel, path: Path) -> None:
    path.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")


def load_model(path: Path) -> DedupeModel:
    model = DedupeModel.model_validate_json(path.read_text(encoding="utf-8"))
    if model.format > MODEL_FORMAT:
        raise ValueError(f"{path}: model format {model.format} is newer than this engine's")
    return model
