"""The home page's figures."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Summary(BaseModel):
    regions: list[str] | None = Field(..., description="Regions visible to you (null: all).")
    clients: int
    unassigned_clients: int
    clients_by_region: dict[str, int]
    territories: int
    advisors: int
    open_conflicts: int
    open_dedupe_reviews: int | None = Field(None, description="Null for roles without access.")
    assignment_changes_7d: int
    active_ruleset_version: str | None
