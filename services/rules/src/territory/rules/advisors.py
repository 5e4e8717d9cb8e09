"""Advisor selection inside a territory: a pinned advisor (whitelist or parent), the
current one while still eligible, then round robin or the least utilised with room;
capacity per tier, strict or soft (an overload is reported as a finding)."""

from __future__ import annotations

from collections.abc import Mapping

from territory.rules.decision import Finding, StateView
from territory.rules.ruleset import Ruleset
from territory.shared.events import ConflictKind
from territory.shared.rulesets import Territory


class AdvisorSelector:
    def __init__(self, ruleset: Ruleset, territories: Mapping[str, Territory]) -> None:
        self.territories = territories
        self.capacity: dict[str, dict[str, int]] = {
            a.email: dict(a.capacity) for a in ruleset.advisors
        }
        self.tier_weight = {t.id: t.weight for t in ruleset.tiers}
        self.policy = ruleset.advisor_selection

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

    def select(
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
