"""The engine: a compiled ruleset that decides one client at a time, purely.

`Engine.decide` reads a client's facts plus a read-only view of the current state (its
previous assignment, its parent's assignment, advisor loads, the round-robin position)
and returns a `Decision` with its full trace and the conflicts it found. It does no I/O
and mutates nothing, so the same inputs always give the same decision.

Precedence: whitelist > blacklist > (hierarchy, when subsidiaries follow their parent)
> tier rules > segment rules > region rules > the ruleset's fallback territory. Within a
level the highest `priority` wins; equal priorities are broken by rule id (ascending,
plain string order) and, when they name different territories, reported as a
`multi_territory` conflict. A subsidiary never follows a parent that is only held in the
fallback territory: it is decided on its own facts.
The blacklist is a veto, not a level: a blacklisted territory is never assigned, by any
level, a whitelist entry included (that clash is reported).

This module holds the decision steps. Compiling and matching are `compiled.CompiledRules`
(which `Engine` extends), advisor selection is `advisors.AdvisorSelector`, and the values a
decision reads and returns are `decision` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping

from territory.rules.advisors import AdvisorSelector
from territory.rules.compiled import LEVEL_RANK, Candidate, CompiledRules, Match
from territory.rules.conditions import explain
from territory.rules.decision import Decision, Finding, Placement, StateView
from territory.rules.facts import ClientFacts
from territory.rules.ruleset import Ruleset
from territory.shared.events import (
    ConflictAction,
    ConflictKind,
    DecisionLevel,
    DecisionTrace,
    RejectedCandidate,
)

__all__ = [
    "LEVEL_RANK",
    "Candidate",
    "Decision",
    "Engine",
    "Finding",
    "Match",
    "Placement",
    "StateView",
]

_LEVEL = {
    "tier": DecisionLevel.TIER,
    "segment": DecisionLevel.SEGMENT,
    "region": DecisionLevel.REGION,
}


class Engine(CompiledRules):
    """A ruleset compiled for evaluation, deciding one client at a time."""

    def __init__(self, ruleset: Ruleset) -> None:
        super().__init__(ruleset)
        self.advisors = AdvisorSelector(ruleset, self.territories)
        self.capacity = self.advisors.capacity
        self.tier_weight = self.advisors.tier_weight
        self.policy = ruleset.advisor_selection
        self.hierarchy = ruleset.hierarchy

    def has_room(
        self, advisor: str, tier: str | None, loads: Mapping[str, Mapping[str, int]]
    ) -> bool:
        return self.advisors.has_room(advisor, tier, loads)

    def utilisation(
        self, advisor: str, tier: str | None, loads: Mapping[str, Mapping[str, int]]
    ) -> float:
        return self.advisors.utilisation(advisor, tier, loads)

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
            and parent.rule_id != "fallback"
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
            fallback = self.ruleset.fallback
            caught = fallback.territory if fallback is not None else None
            if caught is not None and caught in blacklist:
                rejected.append(
                    RejectedCandidate.model_construct(
                        territory_id=caught,
                        rule_id="fallback",
                        reason=f"fallback territory is blacklisted: {blacklist[caught]}",
                    )
                )
                caught = None
            findings.append(
                Finding(
                    ConflictKind.NO_TERRITORY,
                    "no rule places this client in an allowed territory"
                    + (f"; held in the fallback territory {caught}" if caught else ""),
                    tuple(sorted(blacklist)),
                )
            )
            if fallback is not None and caught is not None:
                territory = caught
                level = DecisionLevel.FALLBACK
                rule_id = "fallback"
                matched = ["no whitelist entry, parent or rule applies"]
                reason = f"no rule applies: held in the fallback territory {caught}" + (
                    f": {fallback.reason}" if fallback.reason else ""
                )
            else:
                reason = "no territory: no whitelist entry or rule applies"

        selection = None
        if territory is not None:
            advisor, selection, capacity_finding = self.advisors.select(
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
