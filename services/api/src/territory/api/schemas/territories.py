"""Territories."""

from __future__ import annotations

from pydantic import BaseModel

from territory.api.schemas.common import AdvisorRef


class TerritorySummary(BaseModel):
    territory_id: str
    name: str
    region: str | None
    segment: str | None
    tier: str | None
    active: bool
    ruleset_version: str
    advisors: list[AdvisorRef]
    client_count: int


class TierCount(BaseModel):
    tier: str | None
    clients: int


class TerritoryDetail(TerritorySummary):
    clients_by_tier: list[TierCount]
