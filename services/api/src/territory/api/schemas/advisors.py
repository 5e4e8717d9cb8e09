"""Advisors and their workload."""

from __future__ import annotations

from pydantic import BaseModel

from territory.api.schemas.clients import ClientSummary
from territory.api.schemas.common import AdvisorRef, Paged


class TierLoad(BaseModel):
    tier: str | None
    clients: int
    capacity: int | None
    utilisation: float | None


class AdvisorSummary(AdvisorRef):
    active: bool
    total_capacity: int
    capacity: dict[str, int]
    territory_ids: list[str]
    client_count: int
    utilisation: float | None


class AdvisorWorkload(AdvisorSummary):
    by_tier: list[TierLoad]
    clients: Paged[ClientSummary]
