"""The book: every client's current facts and assignment, advisor loads, open conflicts.

The book is the rules service's state, rebuilt on start from `client.deduplicated`,
`assignment.changed` and `conflict.detected`. `Book.apply` asks the engine for a
decision and turns it into what must be published: an `Assignment` only when territory or
advisor actually change, and `Conflict`s when one opens or clears. It is plain,
synchronous code (no I/O): the service publishes what it returns; preview runs it on a
copy and publishes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from territory.rules.engine import Decision, Engine, Finding, Placement, StateView
from territory.rules.facts import ClientFacts
from territory.shared.events import (
    Assignment,
    Conflict,
    ConflictKind,
    DecisionLevel,
    DecisionTrace,
)


@dataclass
class Outcome:
    assignments: list[Assignment] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)  # client ids kept by the churn guard

    def extend(self, other: Outcome) -> None:
        self.assignments.extend(other.assignments)
        self.conflicts.extend(other.conflicts)
        self.held_back.extend(other.held_back)


def conflict_id(kind: ConflictKind, client_id: str | None, advisor: str | None = None) -> str:
    return ":".join(str(p) for p in (kind.value, client_id or "-", advisor or "-"))


@dataclass
class Book:
    clients: dict[str, ClientFacts] = field(default_factory=dict)
    placements: dict[str, Placement] = field(default_factory=dict)
    loads: dict[str, Counter[str]] = field(default_factory=dict)
    rr: dict[str, int] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)
    open_conflicts: dict[str, Conflict] = field(default_factory=dict)
    client_conflicts: dict[str, set[str]] = field(default_factory=dict)

    # -- state changes without decisions (rebuild) ----------------------------------------

    def put_client(self, facts: ClientFacts) -> None:
        old = self.clients.get(facts.client_id)
        if old is not None and old.parent_id and old.parent_id != facts.parent_id:
            self.children.get(old.parent_id, set()).discard(facts.client_id)
        self.clients[facts.client_id] = facts
        if facts.parent_id:
            self.children.setdefault(facts.parent_id, set()).add(facts.client_id)

    def retire_client(self, client_id: str) -> None:
        old = self.clients.pop(client_id, None)
        if old is not None and old.parent_id:
            self.children.get(old.parent_id, set()).discard(client_id)

    def place(self, client_id: str, placement: Placement | None) -> None:
        """Record an assignment (from `assignment.changed` on rebuild, or a decision)."""
        old = self.placements.pop(client_id, None)
        if old is not None and old.advisor_email and old.tier:
            self.loads[old.advisor_email][old.tier] -= 1
        if placement is None or placement.territory_id is None:
            return
        self.placements[client_id] = placement
        if placement.advisor_email and placement.tier:
            self.loads.setdefault(placement.advisor_email, Counter())[placement.tier] += 1

    def note_conflict(self, conflict: Conflict) -> None:
        if conflict.resolved:
            self.open_conflicts.pop(conflict.conflict_id, None)
            if conflict.client_id:
                self.client_conflicts.get(conflict.client_id, set()).discard(conflict.conflict_id)
        else:
            self.open_conflicts[conflict.conflict_id] = conflict
            if conflict.client_id:
                self.client_conflicts.setdefault(conflict.client_id, set()).add(
                    conflict.conflict_id
                )

    def copy(self) -> Book:
        """An independent copy for previews (client facts are shared: never mutated)."""
        return Book(
            clients=dict(self.clients),
            placements=dict(self.placements),
            loads={a: Counter(c) for a, c in self.loads.items()},
            rr=dict(self.rr),
            children={k: set(v) for k, v in self.children.items()},
            open_conflicts=dict(self.open_conflicts),
            client_conflicts={k: set(v) for k, v in self.client_conflicts.items()},
        )

    # -- decisions ------------------------------------------------------------------------

    def view(self, client_id: str, today: date | None) -> StateView:
        """What the engine sees for this client, with the client's own slot freed."""
        facts = self.clients[client_id]
        previous = self.placements.get(client_id)
        loads: Mapping[str, Mapping[str, int]] = self.loads
        if previous is not None and previous.advisor_email and previous.tier:
            loads = _Without(self.loads, previous.advisor_email, previous.tier)
        parent = self.placements.get(facts.parent_id) if facts.parent_id else None
        return StateView(previous=previous, parent=parent, loads=loads, today=today)

    def decide(self, engine: Engine, client_id: str, today: date | None) -> Decision:
        facts = self.clients[client_id]
        view = self.view(client_id, today)
        decision = engine.decide(facts, view)
        if engine.policy.strategy == "round_robin" and decision.territory_id is not None:
            # The round-robin position is per territory: decide again with the right one
            # only when round robin is in use (cheap; keeps `decide` free of book lookups).
            view.rr_position = self.rr.get(decision.territory_id, 0)
            decision = engine.decide(facts, view)
        return decision

    def apply(
        self,
        engine: Engine,
        client_id: str,
        *,
        changed_by: str,
        now: datetime | None = None,
        churn: Counter[str] | None = None,
        churn_cap: int | None = None,
        _lineage: frozenset[str] = frozenset(),
    ) -> Outcome:
        """Re-decide one client and record the result; returns what to publish."""
        now = now or datetime.now(UTC)
        out = Outcome()
        if client_id not in self.clients:
            return out
        decision = self.decide(engine, client_id, now.date())
        previous = self.placements.get(client_id)
        target = decision.placement if decision.territory_id else None
        moves = _moved(previous, target)
        keep = False
        if moves and decision.hold:
            # Hold: keep what the client had, unless that is no longer allowed at all.
            keep = previous is None or (
                previous.territory_id in engine.territories
                and previous.territory_id not in decision.blacklisted
            )
        if (
            moves
            and not keep
            and churn is not None
            and churn_cap is not None
            and previous is not None
            and previous.advisor_email
        ):
            if churn[previous.advisor_email] >= churn_cap:
                keep = True
                out.held_back.append(client_id)
            else:
                churn[previous.advisor_email] += 1
        findings = list(decision.findings)
        if keep:
            moves = False
        elif moves:
            self.place(client_id, target)
            if decision.territory_id and engine.policy.strategy == "round_robin":
                self.rr[decision.territory_id] = self.rr.get(decision.territory_id, 0) + 1
            out.assignments.append(_assignment(decision, previous, changed_by, now))
        elif (
            previous is not None
            and target is not None
            and (previous.tier != target.tier or previous.rule_id != target.rule_id)
        ):
            # Same people, another tier: published, or the durable assignment (what a
            # restart rebuilds the advisors' per-tier loads from, and what the warehouse
            # shows) keeps the old tier while capacity is counted against the new one.
            # Another rule placing it: published, or the warehouse's "why here" names a
            # rule that no longer decides (or no longer exists).
            self.place(client_id, target)
            out.assignments.append(_assignment(decision, previous, changed_by, now))
        elif previous is not None and target is not None and previous != target:
            self.place(client_id, target)  # same people, tier and rule, new version: no event
        out.conflicts.extend(
            self._conflicts(engine, client_id, findings, settled=moves and not keep)
        )
        if moves and client_id in self.children:
            # Subsidiaries (and theirs) may follow this client: decide them again now.
            # `_lineage` stops a malformed hierarchy with a cycle.
            lineage = _lineage | {client_id}
            for child in sorted(self.children[client_id]):
                if child in self.clients and child not in lineage:
                    out.extend(
                        self.apply(engine, child, changed_by=changed_by, now=now, _lineage=lineage)
                    )
        return out

    def end(self, engine: Engine, client_id: str, *, reason: str, changed_by: str) -> Outcome:
        """The client is gone (merged into another): its assignment ends."""
        out = Outcome()
        previous = self.placements.get(client_id)
        self.retire_client(client_id)
        if previous is not None:
            self.place(client_id, None)
            trace = DecisionTrace(
                ruleset_version=engine.version,
                level=DecisionLevel.UNASSIGNED,
                notes=[reason],
            )
            out.assignments.append(
                Assignment(
                    client_id=client_id,
                    territory_id=None,
                    advisor_email=None,
                    previous_territory_id=previous.territory_id,
                    previous_advisor_email=previous.advisor_email,
                    ruleset_version=engine.version,
                    reason=reason,
                    trace=trace,
                    changed_by=changed_by,
                )
            )
        out.conflicts.extend(self._conflicts(engine, client_id, []))
        return out

    def _conflicts(
        self, engine: Engine, client_id: str, findings: list[Finding], *, settled: bool = False
    ) -> list[Conflict]:
        """Conflicts that open now, and the client's open ones that cleared.

        `settled`: the client moved, so an orphaned assignment found by this decision is
        already repaired by it: reported once, as resolved, never left open."""
        if not findings and not self.client_conflicts.get(client_id):
            return []
        out: list[Conflict] = []
        now_ids: set[str] = set()
        for finding in findings:
            policy = engine.ruleset.conflict_policy(finding.kind)
            cid = conflict_id(finding.kind, client_id, finding.advisor_email)
            now_ids.add(cid)
            existing = self.open_conflicts.get(cid)
            if existing is not None and existing.detail == finding.detail:
                continue
            resolved = settled and finding.kind == ConflictKind.ORPHANED_ASSIGNMENT
            if resolved:
                now_ids.discard(cid)
            conflict = Conflict(
                resolved=resolved,
                conflict_id=cid,
                kind=finding.kind,
                severity=policy.severity,
                action=policy.action,
                client_id=client_id,
                territory_ids=list(finding.territory_ids),
                advisor_email=finding.advisor_email,
                ruleset_version=engine.version,
                detail=finding.detail,
            )
            self.note_conflict(conflict)
            out.append(conflict)
        for cid in sorted(self.client_conflicts.get(client_id, set()) - now_ids):
            old = self.open_conflicts[cid]
            cleared = old.model_copy(update={"resolved": True, "ruleset_version": engine.version})
            self.note_conflict(cleared)
            out.append(cleared)
        return out

    # -- views ----------------------------------------------------------------------------

    def territory_counts(self) -> Counter[str]:
        return Counter(p.territory_id for p in self.placements.values() if p.territory_id)

    def order(self) -> Iterator[str]:
        """Replay order: parents before their subsidiaries, otherwise first-seen order."""
        done: set[str] = set()
        for client_id in list(self.clients):
            yield from self._parents_first(client_id, done)

    def _parents_first(self, client_id: str, done: set[str]) -> Iterable[str]:
        chain = []
        current: str | None = client_id
        while current is not None and current not in done and current in self.clients:
            chain.append(current)
            done.add(current)
            current = self.clients[current].parent_id
        return reversed(chain)


class _Without(Mapping[str, Mapping[str, int]]):
    """A read-only view of advisor loads with one client's own slot taken out."""

    __slots__ = ("advisor", "loads", "tier")

    def __init__(self, loads: dict[str, Counter[str]], advisor: str, tier: str) -> None:
        self.loads = loads
        self.advisor = advisor
        self.tier = tier

    def __getitem__(self, advisor: str) -> Mapping[str, int]:
        load = self.loads[advisor]
        if advisor != self.advisor:
            return load
        freed = dict(load)
        freed[self.tier] = freed.get(self.tier, 0) - 1
        return freed

    def __iter__(self) -> Iterator[str]:
        return iter(self.loads)

    def __len__(self) -> int:
        return len(self.loads)


def _moved(previous: Placement | None, target: Placement | None) -> bool:
    before = (previous.territory_id, previous.advisor_email) if previous else (None, None)
    after = (target.territory_id, target.advisor_email) if target else (None, None)
    return before != after


def _assignment(
    decision: Decision, previous: Placement | None, changed_by: str, now: datetime
) -> Assignment:
    # model_construct: every value comes from the validated ruleset or the validated
    # client (e-mail validation alone would cost more than the decision).
    return Assignment.model_construct(
        client_id=decision.client_id,
        territory_id=decision.territory_id,
        advisor_email=decision.advisor_email,
        tier=decision.tier,
        previous_territory_id=previous.territory_id if previous else None,
        previous_advisor_email=previous.advisor_email if previous else None,
        ruleset_version=decision.trace.ruleset_version,
        rule_id=decision.rule_id,
        reason=decision.reason,
        trace=decision.trace,
        changed_by=changed_by,
        effective_from=now,
    )
