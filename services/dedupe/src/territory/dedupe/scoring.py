"""Scoring: how likely two records are the same organisation, with the reasons.

A Fellegi–Sunter style model: each field comparison lands in a level (exact, close,
different, missing) and each level carries a weight, the log2 of its likelihood ratio
P(level | same organisation) / P(level | different organisations). The weights add up
with the prior log-odds of a match among blocked candidates, and the confidence is the
posterior probability, `1 / (1 + 2^-(prior + Σ weights))`. A missing value weighs
nothing (absence is no evidence), so one comparison reads field by field: the
explanation is the list of weights.

Names are scored for all candidates of one record at once with rapidfuzz's `cdist`
(C++, vectorised); the other fields are a handful of dictionary-speed comparisons.

A parent and its subsidiary share most of their name ("Atlas Holdings" / "Atlas Holdings
Europe"), often their website and sometimes their address. What tells them apart is
that one name is the other plus qualifying words: when every word of one name is found in
the other and the other has words left over, the pair is a hierarchy, not a duplicate,
and the `qualifier` weight pushes it far below any threshold. Two subsidiaries of one
group ("Atlas Holdings Europe" / "Atlas Holdings Asia") each keep words of their own, one
of them a region word (`_regional`): the same weight. A known parent link between the two
records does the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, Field, model_validator
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

from territory.dedupe.knowledge import region_words
from territory.dedupe.normalize import Profile


class FieldWeights(BaseModel):
    """log2 likelihood ratios per comparison level (configuration, not code)."""

    prior: float = Field(-5.0, description="log2 odds of a match among blocked candidates.")
    name_exact: float = 9.0  # token_sort_ratio ≥ 98
    name_high: float = 7.0  # ≥ 92
    name_close: float = 4.0  # ≥ 85
    name_fair: float = 1.0  # ≥ 75
    name_different: float = -6.0
    qualifier: float = -14.0  # one name is the other plus words: parent vs subsidiary
    hierarchy_link: float = -20.0  # one record names the other as its parent
    lei_same: float = 10.0
    lei_different: float = -10.0
    tax_same: float = 8.0
    tax_close: float = 2.0
    tax_different: float = -6.0
    # The same LEI / tax id on both records although it failed its check digits (the
    # quarantine kept the raw value): a copied typo still says "same origin", weakly.
    # Never negative: two invalid values that differ say nothing.
    unchecked_id_same: float = 2.0
    domain_same: float = 3.0
    domain_different: float = -3.0
    country_same: float = 0.5
    country_different: float = -3.0
    city_same: float = 0.5
    city_different: float = -1.5
    postcode_same: float = 1.5
    postcode_different: float = -1.0
    address_same: float = 2.0
    address_close: float = 0.5
    address_different: float = -1.0
    # Another house number on the same street: often a stale address, weak evidence.
    house_number_different: float = -0.5
    segment_same: float = 0.3
    segment_different: float = -1.0
    legal_same: float = 0.5
    legal_compatible: float = -0.5  # other forms of one jurisdiction (Inc / LLC)
    legal_different: float = -6.0  # forms no country shares (N.V. / PLC, Corp. / AG)
    extra_same: float = 3.0
    extra_close: float = 1.0
    extra_different: float = -3.0


class Thresholds(BaseModel):
    """auto-merge ≥ `merge`; human review (`possible_duplicate`) ≥ `review`; else new."""

    merge: float = Field(0.9, gt=0, le=1)
    review: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.merge:
            raise ValueError("the review threshold must not exceed the merge threshold")
        return self


@dataclass(slots=True)
class Comparison:
    """The outcome of comparing one record with one candidate."""

    candidate_key: str
    confidence: float
    field_scores: dict[str, float] = field(default_factory=dict)  # weight per field
    reasons: list[str] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)  # comparison level per field


_NOISE_WORDS = ("the", "and", "of")
# Words whose presence on one side only qualifies nothing ("Trust Co Ltd" loses its "Co"
# to the legal form "Co., Ltd."; "Smith Manufacturing Company" is Smith Manufacturing).
_SILENT_WORDS = frozenset({"company", "co"})
_NUMBER = re.compile(r"\b\d+[a-z]?\b")


@lru_cache(maxsize=1 << 16)
def _quiet(name: str) -> str:
    return " ".join(t for t in name.split() if t not in _SILENT_WORDS) or name


def _legal_level(q: Profile, c: Profile) -> str:
    """Same legal form (or one family), other forms of one jurisdiction, or forms that no
    country shares: different legal entities ("Redwood Bank N.V." / "Redwood Bank PLC")."""
    shared = q.legal_jurisdictions & c.legal_jurisdictions
    known = bool(q.legal_jurisdictions and c.legal_jurisdictions)
    if (q.legal_form == c.legal_form or q.legal_group == c.legal_group) and (shared or not known):
        return "legal_same"
    if q.legal_jurisdictions and c.legal_jurisdictions:
        if q.legal_jurisdictions & c.legal_jurisdictions:
            return "legal_compatible"
        return "legal_different"
    return "legal_compatible"


def _confidence(log2_odds: float) -> float:
    return float(1.0 / (1.0 + 2.0 ** (-log2_odds)))


@lru_cache(maxsize=1 << 16)
def _token_match(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) <= 2:
        return False
    return fuzz.ratio(a, b) >= 80


@lru_cache(maxsize=1 << 16)
def _address_parts(address: str) -> tuple[frozenset[str], str]:
    """An address's house numbers, and its street without them."""
    return frozenset(_NUMBER.findall(address)), " ".join(_NUMBER.sub("", address).split())


def _text_similarity(a: str, b: str) -> float:
    """0-100, as names compare: word order forgiven (sorted words), or a typo that moves a
    space forgiven (plain order: "Pinecr Oft" / "Pinecroft", "Mckinleycircuit"), the better
    of the two."""
    return max(fuzz.token_sort_ratio(a, b), fuzz.ratio(a, b))


@lru_cache(maxsize=1 << 16)
def _noise(token: str) -> bool:
    """A mistyped article or conjunction ("Te", "nad") qualifies nothing."""
    return any(Levenshtein.distance(token, w) <= 1 for w in _NOISE_WORDS)


@lru_cache(maxsize=1 << 16)
def extra_words(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Words of `a` not found in `b`, and of `b` not found in `a` (typo-tolerant).
    Cached: names repeat across pairs (on the sample, 108k calls are 23k distinct pairs)."""
    set_a, set_b = set(a), set(b)
    rest_a = [t for t in a if t not in set_b and not _noise(t) and t not in _SILENT_WORDS]
    rest_b = [u for u in b if u not in set_a and not _noise(u) and u not in _SILENT_WORDS]
    if not rest_a and not rest_b:
        return (), ()
    glued_a, glued_b = "".join(rest_a), "".join(rest_b)
    if glued_a and glued_b and fuzz.ratio(glued_a, glued_b) >= 85:
        return (), ()  # the same words split or glued differently ("Harrins Ton" / "Harrinston")
    only_a = tuple(t for t in rest_a if not any(_token_match(t, u) for u in b))
    only_b = tuple(u for u in rest_b if not any(_token_match(u, t) for t in a))
    return only_a, only_b


def _regional(only_a: tuple[str, ...], only_b: tuple[str, ...]) -> bool:
    """Whether words left over on both sides include a region word that the other side
    does not spell some other way ("Europe" / "Asia", "Europe" / "Re"; not "Asia" /
    "Asai", "UK" / "UUK", "Americas" / "Maeriacs", "Asia" / "HldgsAsia"): one stem
    qualified two ways names two entities of one group, as one qualified and one bare name
    names a parent and its subsidiary. On a 60,000-record generated workload, 348 of the
    515 wrongly merged pairs were such siblings."""
    regions = region_words()
    return any(
        t in regions and not any(_spelt_alike(t, u) for u in other)
        for mine, other in ((only_a, only_b), (only_b, only_a))
        for t in mine
    )


def _spelt_alike(region: str, word: str) -> bool:
    """A mistyped, truncated or glued spelling of a region word."""
    if word.startswith(region) or word.endswith(region):
        return True
    if region.startswith(word) or region.endswith(word):
        return True
    return OSA.distance(region, word) <= max(1, (len(region) + 1) // 3)


def conflicting_tax_ids(a: str | None, b: str | None) -> bool:
    """Two tax ids that name different legal entities: both present, and further apart
    than the one typo `tax_close` scores (`one_typo`). A typo'd copy of one id names the
    same entity: on FEBRL3 (its social security numbers read as tax ids), vetoing those
    kept 466 true pairs apart (pairwise recall 0.856 before, 0.927 after)."""
    if not a or not b or a == b:
        return False
    return not one_typo(a, b)


def one_typo(a: str, b: str) -> bool:
    """One character inserted, deleted, replaced, or two neighbours swapped ("12345" /
    "12435"), in values long enough for that to mean something (more than 4 characters)."""
    return len(a) > 4 and OSA.distance(a, b) <= 1


def _exact_levels(prefix: str) -> tuple[str, str, str]:
    """The same, close (one typo) and different levels of an exactly compared field."""
    return f"{prefix}_same", f"{prefix}_close", f"{prefix}_different"


# The fields compared for equality, in the order of their reasons: (label, Profile
# attribute, its levels, whether one typo is `close`).
_EXACT_FIELDS = (
    ("lei", "lei", _exact_levels("lei"), False),
    ("tax_id", "tax_id", _exact_levels("tax"), True),
    ("domain", "domain", _exact_levels("domain"), False),
    ("country", "country", _exact_levels("country"), False),
    ("postal_code", "postal_code", _exact_levels("postcode"), False),
    ("segment", "segment", _exact_levels("segment"), False),
)
_EXTRA_LEVELS = _exact_levels("extra")


def _exact_level(a: str, b: str, levels: tuple[str, str, str], close: bool) -> str:
    if a == b:
        return levels[0]
    if close and one_typo(a, b):
        return levels[1]  # one typo in an identifier
    return levels[2]


@lru_cache(maxsize=1 << 12)
def _exact_reason(label: str, level: str) -> str:
    return f"{label} {level.rsplit('_', 1)[1]}"


@lru_cache(maxsize=1 << 14)
def _name_reason(name_score: float) -> str:
    return f"name similarity {name_score:.0f}/100"


# Pairs `Scorer` keeps for `compare` (a consumer batch of 500 records scores ~12,000).
_RECENT = 1 << 15


class Scorer:
    def __init__(
        self, weights: FieldWeights | None = None, review: float = 0.5, *, prefilter: bool = True
    ) -> None:
        self.w = weights or FieldWeights()
        w = self.w
        # Level name → weight, read once per pair field (pydantic attribute access is slow).
        self._weight = {name: float(value) for name, value in w.model_dump().items()}
        # The most that non-identifying fields can add to a pair whose names differ.
        best_rest = sum(
            max(0.0, *values)
            for values in (
                (w.country_same, w.country_different),
                (w.city_same, w.city_different),
                (w.postcode_same, w.postcode_different),
                (w.address_same, w.address_close, w.address_different),
                (w.segment_same, w.segment_different),
                (w.legal_same, w.legal_compatible, w.legal_different),
            )
        )
        review_log2_odds = math.log2(review / (1 - review)) if 0 < review < 1 else -math.inf
        self._hopeless = prefilter and w.prior + w.name_different + best_rest < review_log2_odds
        # The latest pairs scored at or above review, by the identity of their two profiles
        # (a profile's values never change; a changed record gets a new profile): rendering a golden
        # client explains its pairs again, mostly pairs scored moments before.
        self._review = review
        self._recent: dict[tuple[int, int], tuple[Profile, Profile, Comparison]] = {}

    def compare_many(self, query: Profile, candidates: Sequence[Profile]) -> list[Comparison]:
        if not candidates:
            return []
        choices = [c.name for c in candidates]
        # Token order (sorted) forgives reordered words; plain order forgives a typo that
        # moves a letter across a space ("Internationa lAdvisors"). The better one counts.
        names = np.maximum(
            process.cdist([query.name], choices, scorer=fuzz.token_sort_ratio, dtype=np.float32),
            process.cdist([query.name], choices, scorer=fuzz.ratio, dtype=np.float32),
        )[0]
        # "Trust Co Ltd" gives its "Co" to the legal form "Co., Ltd.", "Trust Company
        # Limited" does not: the names compare without such words as well.
        quiet = _quiet(query.name)
        if quiet != query.name or any(_quiet(c) != c for c in choices):
            names = np.maximum(
                names,
                process.cdist(
                    [quiet], [_quiet(c) for c in choices], scorer=fuzz.ratio, dtype=np.float32
                )[0],
            )
        out = []
        for cand, name_score in zip(candidates, names, strict=True):
            if name_score < 75 and self._hopeless and not self._shares_identifier(query, cand):
                # With these weights nothing but an identifier can lift a pair whose names
                # differ this much to the review threshold: skip the field-by-field work
                # (most candidates of a big master end here).
                weight = self.w.name_different
                out.append(
                    Comparison(
                        cand.source_key,
                        _confidence(self.w.prior + weight),
                        {"name": weight},
                        [f"name similarity {name_score:.0f}/100"],
                        {"name": "name_different"},
                    )
                )
            else:
                comparison = self._compare(query, cand, float(name_score))
                if comparison.confidence >= self._review:
                    self._remember(query, cand, comparison)
                out.append(comparison)
        return out

    def _remember(self, q: Profile, c: Profile, comparison: Comparison) -> None:
        if len(self._recent) >= _RECENT:
            self._recent.clear()
        self._recent[id(q), id(c)] = (q, c, comparison)

    @staticmethod
    def _shares_identifier(q: Profile, c: Profile) -> bool:
        return bool(
            (q.lei and q.lei == c.lei)
            or (q.tax_id and q.tax_id == c.tax_id)
            or (q.domain and q.domain == c.domain)
            or any(c.extra.get(k) == v for k, v in q.extra.items())
        )

    def compare(self, a: Profile, b: Profile) -> Comparison:
        """`compare_many(a, [b])[0]`: the same result, whichever other candidates `a` was
        scored with (so a recent pair's comparison is reused)."""
        held = self._recent.get((id(a), id(b)))
        if held is not None and held[0] is a and held[1] is b:
            return held[2]
        return self.compare_many(a, [b])[0]

    def levels(self, q: Profile, c: Profile, name_score: float) -> tuple[dict[str, str], list[str]]:
        """The comparison level of every field both records have, named after its weight
        in `FieldWeights`, with a readable reason per field."""
        levels: dict[str, str] = {}
        reasons: list[str] = []
        if name_score >= 98:
            levels["name"] = "name_exact"
        elif name_score >= 92:
            levels["name"] = "name_high"
        elif name_score >= 85:
            levels["name"] = "name_close"
        elif name_score >= 75:
            levels["name"] = "name_fair"
        else:
            levels["name"] = "name_different"
        reasons.append(_name_reason(name_score))
        if name_score >= 60 and self.w.qualifier:
            only_q, only_c = extra_words(q.tokens, c.tokens)
            if bool(only_q) != bool(only_c):
                levels["qualifier"] = "qualifier"
                words = " ".join(only_q or only_c)
                reasons.append(
                    f"one name is the other plus '{words}': parent and subsidiary, not the same client"
                )
            elif only_q and only_c and _regional(only_q, only_c):
                levels["qualifier"] = "qualifier"
                reasons.append(
                    f"one name qualified two ways, '{' '.join(only_q)}' and "
                    f"'{' '.join(only_c)}': two entities of one group, not the same client"
                )
        if (q.parent_key and q.parent_key == c.source_key) or (
            c.parent_key and c.parent_key == q.source_key
        ):
            levels["hierarchy"] = "hierarchy_link"
            reasons.append("one record is the other's parent")

        for label, attr, triple, close in _EXACT_FIELDS:
            a, b = getattr(q, attr), getattr(c, attr)
            if a is None or b is None:
                continue
            level = _exact_level(a, b, triple, close)
            levels[label] = level
            reasons.append(_exact_reason(label, level))
        if q.legal_form and c.legal_form:
            levels["legal_form"] = _legal_level(q, c)
            reasons.append(f"legal form {levels['legal_form'].rsplit('_', 1)[1]}")
        if q.city and c.city:
            if q.city_id and c.city_id:
                same_city = q.city_id == c.city_id  # exonyms: Genève / Geneva / Genf
            else:
                # Neither city known to GeoNames: one typo ("Berwkck" / "Berwick") is the
                # same town. A known city one letter from an unknown name is not (Hamburg /
                # Homburg): the unknown one is more likely a small town of its own.
                same_city = (
                    q.city == c.city
                    or fuzz.ratio(q.city, c.city) >= 90
                    or (q.city_id is None and c.city_id is None and one_typo(q.city, c.city))
                )
            levels["city"] = "city_same" if same_city else "city_different"
        if q.address and c.address:
            numbers_q, street_q = _address_parts(q.address)
            numbers_c, street_c = _address_parts(c.address)
            if numbers_q and numbers_c and not numbers_q & numbers_c:
                same_street = (
                    bool(street_q and street_c) and _text_similarity(street_q, street_c) >= 85
                )
                # The same street with another number is a stale or mistyped address (weak
                # evidence); another street altogether is a different address.
                levels["address"] = "house_number_different" if same_street else "address_different"
            elif not street_q or not street_c:
                pass  # the same house number, one street missing: no evidence either way
            else:
                ratio = _text_similarity(q.address, c.address)
                levels["address"] = (
                    "address_same"
                    if ratio >= 90
                    else "address_close"
                    if ratio >= 75
                    else "address_different"
                )
        shared_unchecked = q.unchecked_ids & c.unchecked_ids if q.unchecked_ids else None
        if shared_unchecked:
            levels["unchecked_id"] = "unchecked_id_same"
            which = ", ".join(sorted(v.split(":", 1)[0] for v in shared_unchecked))
            reasons.append(f"identical {which} that failed its check digits (weak evidence)")
        for attr, value in q.extra.items():
            other = c.extra.get(attr)
            if other is not None:
                level = _exact_level(value, other, _EXTRA_LEVELS, True)
                levels[attr] = level
                reasons.append(_exact_reason(attr, level))
        return levels, reasons

    def _compare(self, q: Profile, c: Profile, name_score: float) -> Comparison:
        levels, reasons = self.levels(q, c, name_score)
        weight = self._weight
        scores = {field: weight[level] for field, level in levels.items()}
        confidence = _confidence(self.w.prior + sum(scores.values()))
        return Comparison(c.source_key, confidence, scores, reasons, levels)
