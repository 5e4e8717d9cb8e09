"""`assignment.changed`: where a client is assigned, and why."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
)

from territory.shared.events.envelope import (
    Event,
    _now,
)
from territory.shared.events.validators import EmailAddress, UtcDatetime
from territory.shared.topics import Topic


class DecisionLevel(StrEnum):
    WHITELIST = "whitelist"
    HIERARCHY = "hierarchy"
    TIER = "tier"
    SEGMENT = "segment"
    REGION = "region"
    MANUAL = "manual"
    # No rule placed the client; the ruleset's fallback territory holds it for review.
    FALLBACK = "fallback"
    UNASSIGNED = "unassigned"


class RejectedCandidate(BaseModel):
    territory_id: str
    rule_id: str | None = None
    reason: str


class DecisionTrace(BaseModel):
    """Why a client is where it is: enough to answer "why" without re-running anything."""

    ruleset_version: str
    level: DecisionLevel
    rule_id: str | None = None
    matched_conditions: list[str] = Field(default_factory=list)
    rejected_candidates: list[RejectedCandidate] = Field(default_factory=list)
    advisor_selection: str | None = Field(None, description="How the advisor was chosen.")
    notes: list[str] = Field(default_factory=list)


class Assignment(BaseModel):
    """Payload of `assignment.changed`."""

    client_id: str
    territory_id: str | None = Field(None, description="None: the client is unassigned.")
    advisor_email: EmailAddress | None = None
    tier: str | None = None
    previous_territory_id: str | None = None
    previous_advisor_email: EmailAddress | None = None
    ruleset_version: str
    rule_id: str | None = None
    reason: str = Field(..., description="One human-readable sentence.")
    trace: DecisionTrace
    changed_by: str = Field(..., description="`rules-engine`, a user, or `replay:<run id>`.")
    effective_from: UtcDatetime = Field(default_factory=_now)


class AssignmentChanged(Event[Assignment]):
    topic: ClassVar[Topic] = Topic.ASSIGNMENT_CHANGED
    event_type: Literal["assignment.changed"] = "assignment.changed"

    def key(self) -> bytes:
        return self.payload.client_id.encode()
