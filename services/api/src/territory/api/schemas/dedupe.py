"""The dedupe review queue and reviewers' decisions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from territory.shared.events import UtcDatetime


class DedupeDecisionRequest(BaseModel):
    action: Literal["merge", "split"]
    client_ids: list[str] = Field(
        ..., min_length=1, max_length=50, description="merge: survivor first; split: one client."
    )
    source_keys: list[str] = Field(default_factory=list, max_length=500)
    reason: str | None = Field(None, max_length=1000)


class DedupeReviewItem(BaseModel):
    event_id: str
    client_id: str
    source_key: str
    client_name: str | None
    candidate_client_ids: list[str]
    best_confidence: float | None
    evidence: list[dict[str, Any]] | dict[str, Any]
    status: str
    occurred_at: UtcDatetime
