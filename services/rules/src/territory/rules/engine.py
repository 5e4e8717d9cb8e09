"""The engine: a compiled ruleset that decides one client at a time, purely.

`Engine.decide` reads a client's facts plus a read-only view of the current state (its
previous assignment, its parent's assignment, advisor loads, the round-robin position)
and returns a `Decision` with its full trace and the conflicts it found. It does no I/O
and mutates nothing, so the same inputs always give the same decision.

Precedence: whitelist > blacklist > (hierarchy, when subsidiaries follow their parent)
> tier rules > segment rules > region rules. Within a level the highest `priority`
wins; equal priorities are broken by rule id (ascending, plain string order) and, when
they name different territories, reported as a `multi_territory` conflict.
The blacklist is a veto, not a level: a blacklisted territory is never assigned, by any
level, a whitelist entry included (that clash is reported).

Compilation: rules are indexed by the fields their conditions pin with `eq` / `in`
(country, segment, region, tier, state …), so a client is tested only against the rules
of its own country / segment / … plus the unindexed ones; and the match result is cached
by the client's equivalence-class signature (see `conditions.FieldClassifier`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from territory.rules.conditions import (
    FieldClassifier,
    Predicate,
    Values,
    comparisons,
    compile_condition,
    explain,
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
from territory.shared.events import (
    ConflictAction,
    ConflictKind,
    DecisionLevel,
    DecisionTrace,
    RejectedCandidate,
)
from territory.shared.rulesets import Territory, WhitelistEntry

LEVEL_RANK = {"tier": 0, "segment": 1, "region": 2}
_LEVEL = {
    "tier": DecisionLevel.TIER,
    "segment": DecisionLevel.SEGMENT,
    "region": DecisionLevel.REGION,
}
# Fields a rule may be indexed by, most selective first.
INDEX_FIELDS = ("country", "state", "segment", "tier", "region", "industry", "source_system")
CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a client is now (the book's view of one assignment)."""

    territory_id: str | None
    advisor_email: str | None
    tier: str | None
    rule_id: str | None = None
    ruleset_version: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A conflict found while deciding (the service adds severity, action and id)."""

    kind: ConflictKind
    detail: str
    territory_ids: tuple[str, ...] = ()
    advisor_email: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    client_id: str
    territory_id: str | None
    advisor_email: str | None
    tier: str | None
    level: DecisionLevel
    rule_id: str | None
    reason: str
    trace: DecisionTrace
    findings: tuple[Finding, ...] = ()
    hold: bool = False  # a finding asks to keep the previous assignment for review
    blacklisted: frozenset[str] = frozenset()

    @property
    def placement(self) -> Placement:
        return Placement(
            self.territory_id,
            self.advisor_email,
            self.tier,
            self.rule_id,
            self.trace.ruleset_version,
        )


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


@dataclass
class StateView:
    """What `decide` may read from the current state (never writes)."""

    previous: Placement | None = None
    parent: Placement | None = None
    loads: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    rr_position: int = 0
    today: date | None = None


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


class Engine:
    """A ruleset compiled for evaluation."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.version = ruleset.version
        self.territories: dict[str, Territory] = {t.id: t for t in ruleset.territories}
        self.capacity: dict[str, dict[str, int]] = {
            a.email: dict(a.capacity) for a in ruleset.advisors
        }
        self.tier_weight = {t.id: t.weight for t in ruleset.tiers}
        self.policy = ruleset.advisor_selection
        self.hierarchy = ruleset.hierarchy
        self._tiers: list[tuple[str, Predicate | None]] = []
        self._rules: list[_CompiledRule] = []
        self._index: dict[str, dict[Any, list[int]]] = {}
        self._unindexed: list[int] = []
        self._classifiers: dict[str, FieldClassifier] = {}
        self._cache: dict[tuple[Any, ...], Match] = {}
        self._whitelist: dict[tuple[str, str], list[WhitelistEntry]] = {}
        self._blacklist: dict[tuple[str, str], list[tuple[frozenset[str], str]]] = {}
        self._compile()

    # -- compilation ----------------------------------------------------------------------

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

    def decide(self, facts: ClientFacts, state: StateView) -> Decision:
        values = facts.values
        found = self.match(values)
        tier = found.tier
        notes: list[str] = []
        findings: list[Finding] = []
        rejected: list[RejectedCandidate] = []
        blacklist = self.blacklist_of(facts)
        whitelist = self.whitelist_of(facts, state.today, notes)

        territory: str | None = None
        advisor: str | None = None
        level = DecisionLevel.UNASSIGNED
        rule_id: str | None = None
        matched: list[str] = []
        reason = ""
        pinned_advisor: str | None = None

        if whitelist is not None:
            if whitelist.territory in blacklist:
                findings.append(
                    Finding(
                        ConflictKind.WHITELIST_BLACKLIST_CLASH,
                        f"whitelist puts {whitelist.describe()} in {whitelist.territory}, "
                        f"the blacklist forbids it ({blacklist[whitelist.territory]})",
                        (whitelist.territory,),
                    )
                )
                rejected.append(
                    RejectedCandidate.model_construct(
                        territory_id=whitelist.territory,
                        rule_id="whitelist",
                        reason=f"blacklisted: {blacklist[whitelist.territory]}",
                    )
                )
            else:
                territory = whitelist.territory
                level = DecisionLevel.WHITELIST
                rule_id = "whitelist"
                pinned_advisor = whitelist.advisor.lower() if whitelist.advisor else None
                matched = [f"whitelist {whitelist.describe()}"]
                reason = f"whitelisted to {territory} by {whitelist.owner}: {whitelist.reason}"

        parent = state.parent
        if (
            territory is None
            and self.hierarchy.subsidiaries == "follow_parent"
            and parent is not None
            and parent.territory_id is not None
        ):
            if parent.territory_id in blacklist:
                rejected.append(
                    RejectedCandidate.model_construct(
                        territory_id=parent.territory_id,
                        rule_id="hierarchy",
                        reason=f"parent's territory is blacklisted: {blacklist[parent.territory_id]}",
                    )
                )
            elif parent.territory_id in self.territories:
                territory = parent.territory_id
                level = DecisionLevel.HIERARCHY
                rule_id = "hierarchy"
                pinned_advisor = parent.advisor_email
                matched = [f"parent {facts.parent_id} is in {territory}"]
                reason = f"follows its parent {facts.parent_id} into {territory}"

        winner: Candidate | None = None
        for cand in found.candidates:
            if territory is not None or winner is not None:
                owner = rule_id or (winner.rule_id if winner else "")
                if (
                    winner is not None
                    and cand.level == winner.level
                    and cand.priority == winner.priority
                    and cand.territory_id != winner.territory_id
                ):
                    findings.append(
                        Finding(
                            ConflictKind.MULTI_TERRITORY,
                            f"rules {winner.rule_id} and {cand.rule_id} (level {cand.level}, "
                            f"priority {cand.priority}) both match; {winner.rule_id} wins by "
                            "rule id order",
                            (winner.territory_id, cand.territory_id),
                        )
                    )
                    why = f"tie at priority {cand.priority} broken by rule id: {owner} first"
                elif winner is None:
                    why = f"outranked by {level.value} ({owner})"
                elif cand.territory_id == winner.territory_id:
                    why = f"same territory as winning rule {owner}"
                else:
                    why = f"lower precedence than {owner} ({winner.level}, priority {winner.priority})"
                rejected.append(
                    RejectedCandidate.model_construct(
                        territory_id=cand.territory_id, rule_id=cand.rule_id, reason=why
                    )
                )
                continue
            if cand.territory_id in blacklist:
                rejected.append(
                    RejectedCandidate.model_construct(
                        territory_id=cand.territory_id,
                        rule_id=cand.rule_id,
                        reason=f"blacklisted: {blacklist[cand.territory_id]}",
                    )
                )
                continue
            serves = self.territories[cand.territory_id].tier
            if serves is not None and serves != tier:
                rejected.append(
                    RejectedCandidate.model_construct(
                        territory_id=cand.territory_id,
                        rule_id=cand.rule_id,
                        reason=f"territory serves tier {serves}, client is {tier or 'untiered'}",
                    )
                )
                continue
            winner = cand

        if winner is not None:
            territory = winner.territory_id
            level = _LEVEL[winner.level]
            rule_id = winner.rule_id
            rule = self._by_id[winner.rule_id]
            scoped = dict(values)
            scoped["tier"] = tier
            matched = explain(rule.when, scoped)
            reason = f"{winner.level} rule {winner.rule_id} places it in {territory}" + (
                f": {rule.description}" if rule.description else ""
            )
        if territory is None:
            findings.append(
                Finding(
                    ConflictKind.NO_TERRITORY,
                    "no rule places this client in an allowed territory",
                    tuple(sorted(blacklist)),
                )
            )
            reason = "no territory: no whitelist entry or rule applies"

        selection = None
        if territory is not None:
            advisor, selection, capacity_finding = self._advisor(
                territory, tier, state, pinned_advisor
            )
            if capacity_finding is not None:
                findings.append(capacity_finding)

        previous = state.previous
        if previous is not None and previous.territory_id is not None:
            gone = None
            if previous.territory_id not in self.territories:
                gone = f"territory {previous.territory_id} was removed"
            elif previous.advisor_email is not None and previous.advisor_email not in (
                self.territories[previous.territory_id].advisors
            ):
                gone = f"advisor {previous.advisor_email} left {previous.territory_id}"
            if gone is not None:
                findings.append(
                    Finding(
                        ConflictKind.ORPHANED_ASSIGNMENT,
                        f"assignment orphaned: {gone}",
                        (previous.territory_id,),
                        previous.advisor_email,
                    )
                )
            notes.append(
                f"previous: {previous.territory_id} / {previous.advisor_email or 'no advisor'}"
                f" (rule {previous.rule_id}, ruleset {previous.ruleset_version})"
            )

        if (
            self.hierarchy.advisors_must_agree
            and parent is not None
            and parent.advisor_email is not None
            and advisor != parent.advisor_email
        ):
            findings.append(
                Finding(
                    ConflictKind.HIERARCHY_ADVISOR_MISMATCH,
                    f"advisor {advisor or 'none'} differs from parent {facts.parent_id}'s "
                    f"{parent.advisor_email}",
                    tuple(t for t in (territory, parent.territory_id) if t),
                    advisor,
                )
            )

        hold = any(
            self.ruleset.conflict_policy(f.kind).action == ConflictAction.HOLD for f in findings
        )
        # model_construct: every value here is built by the engine itself (validated
        # types), and validation would cost more than the decision.
        trace = DecisionTrace.model_construct(
            ruleset_version=self.version,
            level=level,
            rule_id=rule_id,
            matched_conditions=[*(f"tier {tier}" for _ in [0] if tier), *matched],
            rejected_candidates=rejected,
            advisor_selection=selection,
            notes=notes,
        )
        return Decision(
            client_id=facts.client_id,
            territory_id=territory,
            advisor_email=advisor,
            tier=tier,
            level=level,
            rule_id=rule_id,
            reason=reason,
            trace=trace,
            findings=tuple(findings),
            hold=hold,
            blacklisted=frozenset(blacklist),
        )

    # -- advisors -------------------------------------------------------------------------

    def has_room(
        self, advisor: str, tier: str | None, loads: Mapping[str, Mapping[str, int]]
    ) -> bool:
        if tier is None:
            return True  # capacity is per tier: an untiered client counts against none
        cap = self.capacity.get(advisor, {}).get(tier, 0)
        return loads.get(advisor, {}).get(tier, 0) < cap

    def utilisation(
        self, advisor: str, tier: str | None, loads: Mapping[str, Mapping[str, int]]
    ) -> float:
        """Load relative to capacity after taking one more client of `tier`."""
        load = loads.get(advisor, {})
        cap = self.capacity.get(advisor, {})
        if tier is None:
            used = sum(self.tier_weight.get(t, 1.0) * n for t, n in load.items())
            total = sum(self.tier_weight.get(t, 1.0) * n for t, n in cap.items())
            return (used + 1) / total if total else float("inf")
        limit = cap.get(tier, 0)
        return (load.get(tier, 0) + 1) / limit if limit else float("inf")

    def _advisor(
        self, territory_id: str, tier: str | None, state: StateView, pinned: str | None
    ) -> tuple[str | None, str, Finding | None]:
        members = self.territories[territory_id].advisors
        if not members:
            return None, f"territory {territory_id} has no advisors", None
        loads = state.loads
        strict = self.policy.capacity == "strict"
        if (
            pinned is not None
            and pinned in members
            and (self.has_room(pinned, tier, loads) or not strict)
        ):
            over = not self.has_room(pinned, tier, loads)
            return (
                pinned,
                "pinned (whitelist or parent)",
                (self._over(pinned, tier, territory_id) if over else None),
            )
        previous = state.previous
        if (
            self.policy.keep_current
            and previous is not None
            and previous.territory_id == territory_id
            and previous.advisor_email in members
            and self.has_room(previous.advisor_email, tier, loads)
        ):
            return previous.advisor_email, "kept current advisor (still eligible, has room)", None
        with_room = [a for a in members if self.has_room(a, tier, loads)]
        if with_room:
            if self.policy.strategy == "round_robin":
                n = len(members)
                for step in range(n):
                    candidate = members[(state.rr_position + step) % n]
                    if candidate in with_room:
                        return candidate, f"round robin (position {state.rr_position % n})", None
            best = min(with_room, key=lambda a: (self.utilisation(a, tier, loads), a))
            return best, "least utilised with room (ties by e-mail)", None
        if strict:
            return (
                None,
                "no advisor has room (strict capacity)",
                Finding(
                    ConflictKind.ADVISOR_OVER_CAPACITY,
                    f"every advisor of {territory_id} is at capacity for tier {tier}",
                    (territory_id,),
                ),
            )
        best = min(members, key=lambda a: (self.utilisation(a, tier, loads), a))
        return best, "least utilised, over capacity (soft)", self._over(best, tier, territory_id)

    def _over(self, advisor: str, tier: str | None, territory_id: str) -> Finding:
        cap = self.capacity.get(advisor, {}).get(tier or "", 0)
        return Finding(
            ConflictKind.ADVISOR_OVER_CAPACITY,
            f"{advisor} takes a tier {tier} client above capacity {cap}",
            (territory_id,),
            advisor,
        )
