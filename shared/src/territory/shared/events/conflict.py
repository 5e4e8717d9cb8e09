"""`conflict.detected`: a conflict the rules service found."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
)

from territory.shared.events.envelope import Event
from territory.shared.events.validators import EmailAddress
from territory.shared.topics import Topic


class ConflictKind(StrEnum):
    MULTI_TERRITORY = "multi_territory"
    WHITELIST_BLACKLIST_CLASH = "whitelist_blacklist_clash"
    NO_TERRITORY = "no_territory"
    ADVISOR_OVER_CAPACITY = "advisor_over_capacity"
    ORPHANED_ASSIGNMENT = "orphaned_assignment"
    HIERARCHY_ADVISOR_MISMATCH = "hierarchy_advisor_mismatch"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ConflictAction(StrEnum):
    FLAG = "flag"
    HOLD = "hold"
    REFUSE_RULESET = "refuse_ruleset"


class Conflict(BaseModel):
    """Payload of `conflict.detected`."""

    conflict_id: str = Field(..., description="Deterministic id: kind + subject.")
    kind: ConflictKind
    severity: Severity
    action: ConflictAction
    client_id: str | None = None
    territory_ids: list[str] = Field(default_factory=list)
    advisor_email: EmailAddress | None = None
    ruleset_version: str
    detail: str
    resolved: bool = Field(False, description="True when a later decision cleared it.")


class ConflictDetected(Event[Conflict]):
    topic: ClassVar[Topic] = Topic.CONFLICT_DETECTED
    event_type: Literal["conflict.detected"] = "conflict.detected"

    def key(self) -> bytes:
        return (self.payload.client_id or self.payload.conflict_id).encode()
