"""Unsupervised estimation of the scoring weights (expectation–maximisation), and the
estimated model as a versioned file.

The weights in `FieldWeights` are log2 likelihood ratios m/u per comparison level, and
`prior` the log2 odds of a match among blocked candidates. Given records without labels,
they are estimated the Fellegi–Sunter way, as Splink does:

- u (how often a level occurs between *different* organisations) from random pairs of
  the records: nearly every random pair is a non-match, so their level frequencies are u;
- m (how often a level occurs between duplicates) and the share of matches among the
  blocked candidates by EM over the candidate pairs of the blocking index, u held fixed.
  Pairs are grouped by their vector of levels (a few hundred distinct vectors), so EM
  costs nothing next to the scoring of the pairs.

Everything is seeded: the same records give the same model. Structural levels are not
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
import random
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

DETERMINISTIC_RECALL = 0.7
Pattern = tuple[tuple[str, str], ...]
_CORROBORATING = {
    ("lei", "lei_same"),
    ("tax_id", "tax_same"),
    ("domain", "domain_same"),
    ("postal_code", "postcode_same"),
    ("address", "address_same"),
}


def _deterministic(levels: dict[str, str]) -> bool:
    """A pair any reviewer would call a duplicate: the same name and one agreeing
    identifier or location, nothing that identifies disagreeing."""
    if levels.get("name") not in ("name_exact", "name_high"):
        return False
    if any(lv in ("lei_different", "tax_different", "legal_different") for lv in levels.values()):
        return False
    return any(item in _CORROBORATING for item in levels.items())


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


def random_patterns(
    profiles: Sequence[Profile], scorer: Scorer, pairs: int = 20_000, seed: int = 0
) -> Counter[Pattern]:
    """Level vectors of random pairs (seeded): what different organisations look like."""
    rng = random.Random(seed)
    out: Counter[Pattern] = Counter()
    n = len(profiles)
    if n < 2:
        return out
    for _ in range(pairs):
        i, j = rng.randrange(n), rng.randrange(n)
        if i != j:
            out[_pattern(scorer.compare(profiles[i], profiles[j]).levels)] += 1
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
    random_pairs: int
    distinct_patterns: int
    iterations: int
    match_share: float = Field(..., description="Estimated share of matches among candidates.")
    seed: int
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
    *,
    seed: int = 0,
) -> FieldWeights:
    """EM over the blocked candidate pairs of `profiles`; `start` seeds the match class."""
    weights, _ = _estimate(profiles, start or FieldWeights(), iterations, max_weight, seed)
    return weights


def _estimate(
    profiles: Sequence[Profile],
    start: FieldWeights,
    iterations: int,
    max_weight: float,
    seed: int,
) -> tuple[FieldWeights, EstimationReport]:
    scorer = Scorer(start, prefilter=False)  # every level of every pair is data here
    patterns = candidate_patterns(profiles, scorer)
    background = random_patterns(profiles, scorer, seed=seed)
    digest = hashlib.blake2b(
        "\n".join(sorted(p.source_key for p in profiles)).encode(), digest_size=12
    ).hexdigest()
    report = EstimationReport(
        records=len(profiles),
        candidate_pairs=sum(patterns.values()),
        random_pairs=sum(background.values()),
        distinct_patterns=len(patterns),
        iterations=0,
        match_share=1.0 / (1.0 + 2.0 ** (-start.prior)),
        seed=seed,
        records_digest=digest,
    )
    if not patterns:
        return start, report
    observed = _frequencies(patterns)
    u_random = _frequencies(background)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for pattern, n in patterns.items():
        for f, lv in pattern:
            counts[f][lv] += n
    # u: the level's frequency among random pairs; a level they never showed (two random
    # records sharing an LEI) is rarer than one in the number of random pairs compared.
    seen_pairs: Counter[str] = Counter()
    for pattern, n in background.items():
        for f, _ in pattern:
            seen_pairs[f] += n
    u = {
        f: {
            lv: u_random[f].get(lv, 0.5 / (seen_pairs[f] + 1)) if f in u_random else observed[f][lv]
            for lv in levels
        }
        for f, levels in observed.items()
    }
    # m: the starting weights applied to u.
    m: dict[str, dict[str, float]] = {}
    for f, levels in u.items():
        raw = {lv: p * 2.0 ** getattr(start, lv) for lv, p in levels.items()}
        total = sum(raw.values())
        m[f] = {lv: x / total for lv, x in raw.items()}
    items = sorted(patterns.items())  # a fixed order: the same floats every run
    total_pairs = sum(n for _, n in items)
    # The share of matches among the candidates is fixed before EM, as Splink does: the
    # pairs a deterministic rule calls duplicates (the same name and an identifier, the
    # postcode or the address agreeing), divided by the rule's assumed recall. Left free,
    # EM drifts to "candidates versus random pairs" and calls most candidates matches.
    sure = sum(n for pattern, n in items if _deterministic(dict(pattern)))
    lam = min(max(sure / DETERMINISTIC_RECALL / total_pairs, 1e-6), 0.5)
    done = 0
    while done < iterations:
        done += 1
        sm: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        total_p = 0.0
        for pattern, n in items:
            log_odds = math.log(lam / (1 - lam))
            for f, lv in pattern:
                log_odds += math.log(max(m[f][lv], _FLOOR) / max(u[f][lv], _FLOOR))
            p = 1.0 / (1.0 + math.exp(-max(min(log_odds, 50.0), -50.0)))
            total_p += p * n
            for f, lv in pattern:
                sm[f][lv] += p * n
        change = 0.0
        for f in m:
            tm = sum(sm[f].values())
            for lv in m[f]:
                new = sm[f][lv] / tm if tm else m[f][lv]
                change = max(change, abs(new - m[f][lv]))
                m[f][lv] = new
        if change < 1e-7:
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
    seed: int = 0,
    iterations: int = 40,
) -> DedupeModel:
    start = start or FieldWeights()
    weights, report = _estimate(profiles, start, iterations, 20.0, seed)
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
