"""Compiling a ruleset: conditions turned into closures, rules indexed by the fields their
conditions pin with `eq` / `in` (country, segment, region, tier, state …), so a client is
tested only against the rules of its own country / segment / … plus the unindexed ones;
and the match result cached by the client's equivalence-class signature (see
`conditions.FieldClassifier`). Also the whitelist / blacklist lookups by client key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from territory.rules.conditions import (
    FieldClassifier,
    Predicate,
    Values,
    comparisons,
    compile_condition,
    interpret,
    norm_value,
    signature_function,
)
from territory.rules.facts import ClientFacts
from territory.rules.ruleset import (
    AllOf,
    Compare,
    Membership,
    Rule,
    Ruleset,
    RulesetError,
)
from territory.shared.rulesets import Territory, WhitelistEntry

LEVEL_RANK = {"tier": 0, "segment": 1, "region": 2}
# Fields a rule may be indexed by, most selective first.
INDEX_FIELDS = ("country", "state", "segment", "tier", "region", "industry", "source_system")
CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Candidate:
    rule_id: str
    territory_id: str
    level: str
    priority: int


@dataclass(frozen=True, slots=True)
class Match:
    """Which tier a client falls in and which rules matched, in precedence order."""

    tier: str | None
    candidates: tuple[Candidate, ...]


@dataclass(slots=True)
class _CompiledRule:
    rule: Rule
    test: Predicate
    order: tuple[int, int, str]


def _pinned(cond: Any) -> dict[str, frozenset[Any]]:
    """Fields a condition requires to be in a finite set (`eq` / `in`, also inside `all`)."""
    if isinstance(cond, Compare) and cond.op == "eq":
        return {cond.field: frozenset([norm_value(cond.field, cond.value)])}
    if isinstance(cond, Membership) and cond.op == "in":
        return {cond.field: frozenset(norm_value(cond.field, v) for v in cond.value)}
    if isinstance(cond, AllOf):
        out: dict[str, frozenset[Any]] = {}
        for part in cond.all:
            for name, values in _pinned(part).items():
                out[name] = out[name] & values if name in out else values
        return out
    return {}


class CompiledRules:
    """A ruleset compiled for matching: tiers and rule conditions as closures, rules indexed
    by the fields they pin, match results cached by equivalence-class signature."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.version = ruleset.version
        self.territories: dict[str, Territory] = {t.id: t for t in ruleset.territories}
        self._tiers: list[tuple[str, Predicate | None]] = []
        self._rules: list[_CompiledRule] = []
        self._index: dict[str, dict[Any, list[int]]] = {}
        self._unindexed: list[int] = []
        self._classifiers: dict[str, FieldClassifier] = {}
        self._cache: dict[tuple[Any, ...], Match] = {}
        self._whitelist: dict[tuple[str, str], list[WhitelistEntry]] = {}
        self._blacklist: dict[tuple[str, str], list[tuple[frozenset[str], str]]] = {}
        self._compile()

    def _compile(self) -> None:
        problems: list[tuple[str, str]] = []
        conditions: list[Any] = []
        for i, tier in enumerate(self.ruleset.tiers):
            try:
                self._tiers.append((tier.id, compile_condition(tier.when) if tier.when else None))
            except ValueError as exc:
                problems.append((f"tiers.{i}.when", str(exc)))
            if tier.when is not None:
                conditions.append(tier.when)
        for i, rule in enumerate(self.ruleset.rules):
            try:
                test = compile_condition(rule.when)
            except ValueError as exc:
                problems.append((f"rules.{i}.when", str(exc)))
                continue
            conditions.append(rule.when)
            position = len(self._rules)
            self._rules.append(
                _CompiledRule(rule, test, (LEVEL_RANK[rule.level], -rule.priority, rule.id))
            )
            pinned = _pinned(rule.when)
            name = next((f for f in INDEX_FIELDS if f in pinned), None)
            if name is None:
                self._unindexed.append(position)
            else:
                bucket = self._index.setdefault(name, {})
                for value in pinned[name]:
                    bucket.setdefault(value, []).append(position)
        if problems:
            raise RulesetError(problems)
        for cond in conditions:
            for comparison in comparisons(cond):
                if comparison.field == "tier":
                    continue  # derived from the tier conditions' own fields
                classifier = self._classifiers.setdefault(
                    comparison.field, FieldClassifier(comparison.field)
                )
                classifier.add(comparison)
        for classifier in self._classifiers.values():
            classifier.freeze()
        self._signature = signature_function(self._classifiers)
        self._by_id = {r.rule.id: r.rule for r in self._rules}
        for entry in self.ruleset.whitelist:
            self._whitelist.setdefault(entry.key, []).append(entry)
        for b in self.ruleset.blacklist:
            self._blacklist.setdefault(b.key, []).append((frozenset(b.territories), b.reason))

    @property
    def rule_count(self) -> int:
        return len(self._rules)

    # -- matching (cached) ----------------------------------------------------------------

    def tier_of(self, values: Values) -> str | None:
        for tier_id, test in self._tiers:
            if test is None or test(values):
                return tier_id
        return None

    def match(self, values: Values) -> Match:
        signature = self._signature(values)
        found = self._cache.get(signature)
        if found is None:
            found = self.match_uncached(values)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[signature] = found
        return found

    def match_uncached(self, values: Values) -> Match:
        tier = self.tier_of(values)
        scoped = dict(values)
        scoped["tier"] = tier
        positions: set[int] = set(self._unindexed)
        for name, bucket in self._index.items():
            value = scoped.get(name)
            if value is not None:
                hits = bucket.get(value)
                if hits:
                    positions.update(hits)
        matched = sorted(
            (self._rules[p] for p in positions if self._rules[p].test(scoped)),
            key=lambda r: r.order,
        )
        return Match(
            tier,
            tuple(
                Candidate(r.rule.id, r.rule.territory, r.rule.level, r.rule.priority)
                for r in matched
            ),
        )

    def match_naive(self, values: Values) -> Match:
        """Every tier and rule interpreted from the models: the baseline for benchmarks
        and the oracle for tests of the compiled path."""
        tier = None
        for t in self.ruleset.tiers:
            if t.when is None or interpret(t.when, values):
                tier = t.id
                break
        scoped = dict(values)
        scoped["tier"] = tier
        matched = sorted(
            (r for r in self.ruleset.rules if interpret(r.when, scoped)),
            key=lambda r: (LEVEL_RANK[r.level], -r.priority, r.id),
        )
        return Match(
            tier, tuple(Candidate(r.id, r.territory, r.level, r.priority) for r in matched)
        )

    # -- deciding -------------------------------------------------------------------------

    def blacklist_of(self, facts: ClientFacts) -> dict[str, str]:
        """Territories this client may never be in, with the reason."""
        out: dict[str, str] = {}
        if self._blacklist:
            for key in facts.keys:
                for territories, reason in self._blacklist.get(key, ()):
                    for tid in territories:
                        out.setdefault(tid, reason)
        return out

    def whitelist_of(
        self, facts: ClientFacts, today: date | None, notes: list[str]
    ) -> WhitelistEntry | None:
        if not self._whitelist:
            return None
        for key in facts.keys:
            for entry in self._whitelist.get(key, ()):
                if entry.expires is not None and today is not None and today > entry.expires:
                    notes.append(f"whitelist entry for {entry.describe()} expired {entry.expires}")
                    continue
                return entry
        return None
