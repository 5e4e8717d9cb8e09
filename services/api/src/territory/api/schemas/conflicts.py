"""Conflicts and their acknowledgement."""

from __future__ import annotations

from pydantic import BaseModel, Field

from territory.api.schemas.common import AdvisorRef
from territory.shared.events import UtcDatetime


class AcknowledgeRequest(BaseModel):
    reason: str | None = Field(None, max_length=1000)


class ConflictRecord(BaseModel):
    conflict_id: str
    kind: str
    severity: str
    action: str
    client_id: str | None
    territory_ids: list[str]
    advisor: AdvisorRef | None
    ruleset_version: str
    detail: str
    resolved: bool
    first_seen_at: UtcDatetime
    last_seen_at: UtcDatetime
