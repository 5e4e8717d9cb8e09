"""What a decision reads (the state view, a placement) and what it returns (a decision
and its findings): plain values shared by the engine's steps and by the book."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from territory.shared.events import (
    ConflictKind,
    DecisionLevel,
    DecisionTrace,
)


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


@dataclass
class StateView:
    """What `decide` may read from the current state (never writes)."""

    previous: Placement | None = None
    parent: Placement | None = None
    loads: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    rr_position: int = 0
    today: date | None = None
