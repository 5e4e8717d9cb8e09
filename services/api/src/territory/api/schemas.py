"""API models (what callers see); the warehouse tables live in `territory.shared.warehouse`."""

from __future__ import annotations

from datetime import date
from typing import Any, Generic, Literal, Self, TypeVar
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")


class Paged(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(..., description="Rows matching the filters (all pages).")
    limit: int = Field(..., description="The page size used (after capping).")
    offset: int


class Accepted(BaseModel):
    """An action was published as an event; the owning service carries it out."""

    event_id: UUID
    event_type: str
    topic: str
    detail: str | None = None


# ---- rulesets -------------------------------------------------------------------------


class RulesetTerritory(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(..., min_length=1, max_length=128)
    name: str = Field(..., min_length=1, max_length=300)
    region: str = Field(..., min_length=1, max_length=32)
    segment: str | None = None
    tier: str | None = None
    advisors: list[str] = Field(default_factory=list)


class RulesetAdvisor(BaseModel):
    model_config = ConfigDict(extra="allow")

    email: str = Field(..., min_length=3, max_length=320)
    name: str = Field(..., min_length=1, max_length=300)
    capacity: dict[str, int] = Field(default_factory=dict)


class RulesetDocument(BaseModel):
    """The shape the API checks before forwarding or publishing; the rules service owns the
    rest (`rules`, `tiers`, `whitelist`, `blacklist`, …) and validates it fully on load."""

    model_config = ConfigDict(extra="allow")

    version: str = Field(..., min_length=1, max_length=64)
    territories: list[RulesetTerritory] = Field(default_factory=list, max_length=10_000)
    advisors: list[RulesetAdvisor] = Field(default_factory=list, max_length=100_000)


class RulesetCandidate(BaseModel):
    """A ruleset as a JSON object (`document`) or as the YAML text an editor holds (`yaml`)."""

    document: RulesetDocument | None = None
    yaml_text: str | None = Field(
        None, alias="yaml", max_length=2_000_000, description="The ruleset as YAML text."
    )
    comment: str | None = Field(None, max_length=1000)

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one_document(self) -> Self:
        if (self.document is None) == (self.yaml_text is None):
            raise ValueError("give exactly one of `document` and `yaml`")
        if self.yaml_text is not None:
            try:
                data = yaml.safe_load(self.yaml_text)
            except yaml.YAMLError as exc:
                raise ValueError(f"the YAML cannot be parsed: {type(exc).__name__}") from None
            self.document = RulesetDocument.model_validate(data)
            self.yaml_text = None
        return self

    @property
    def ruleset(self) -> RulesetDocument:
        if self.document is None:  # pragma: no cover - the validator guarantees it
            raise RuntimeError("candidate without a document")
        return self.document


class RulesetPublication(RulesetCandidate):
    replay: bool = Field(True, description="Re-decide every client after loading it.")


class PreviewResult(BaseModel):
    candidate_version: str
    diff: dict[str, Any] = Field(
        ..., description="What would change, as the rules service reports it (opaque here)."
    )


class WhitelistOverride(BaseModel):
    client_id: str = Field(..., min_length=1, max_length=128)
    territory_id: str = Field(..., min_length=1, max_length=128)
    reason: str = Field(..., min_length=1, max_length=1000)
    expires: date | None = Field(None, description="Last day the pin applies (inclusive).")


class BlacklistOverride(BaseModel):
    client_id: str = Field(..., min_length=1, max_length=128)
    territory_ids: list[str] = Field(..., min_length=1, max_length=100)
    reason: str = Field(..., min_length=1, max_length=1000)


class OverridePublished(Accepted):
    version: str
    previous_version: str


# ---- commands -------------------------------------------------------------------------


class ReassignRequest(BaseModel):
    reason: str | None = Field(None, max_length=1000)


class AcknowledgeRequest(BaseModel):
    reason: str | None = Field(None, max_length=1000)


class DedupeDecisionRequest(BaseModel):
    action: Literal["merge", "split"]
    client_ids: list[str] = Field(
        ..., min_length=1, max_length=50, description="merge: survivor first; split: one client."
    )
    source_keys: list[str] = Field(default_factory=list, max_length=500)
    reason: str | None = Field(None, max_length=1000)
