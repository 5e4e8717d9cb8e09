"""Assignments: history records, the trend, the reassignment command."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from territory.api.schemas.common import AdvisorRef
from territory.shared.events import UtcDatetime


class ReassignRequest(BaseModel):
    reason: str | None = Field(None, max_length=1000)


class AssignmentRecord(BaseModel):
    event_id: str
    client_id: str
    client_name: str | None = None
    territory_id: str | None
    advisor: AdvisorRef | None
    tier: str | None
    previous_territory_id: str | None
    previous_advisor: AdvisorRef | None
    ruleset_version: str
    rule_id: str | None
    decision_level: str
    reason: str
    trace: dict[str, Any] = Field(..., description="The rules engine's decision trace.")
    changed_by: str
    effective_from: UtcDatetime
    effective_to: UtcDatetime | None
    is_current: bool


class TrendPoint(BaseModel):
    day: date
    changes: int


class AssignmentTrend(BaseModel):
    days: int
    points: list[TrendPoint]
