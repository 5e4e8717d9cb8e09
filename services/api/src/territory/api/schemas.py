"""API models (what callers see); the warehouse tables live in `territory.shared.warehouse`."""

from __future__ import annotations

from datetime import date
from typing import Any, Generic, Literal, Self, TypeVar
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from territory.shared.events import UtcDatetime
from territory.shared.rulesets import PreviewDiff, RulesetDimensions

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


class RulesetDocument(RulesetDimensions):
    """The shape the API checks before forwarding or publishing: the version, territories
    and advisors with the models every service reads them with; the rules service owns the
    rest (`rules`, `tiers`, `whitelist`, `blacklist`, …) and validates it fully on load."""

    model_config = ConfigDict(extra="allow")


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
    diff: PreviewDiff = Field(..., description="What would change, as the rules service says.")


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


# ---- reads ----------------------------------------------------------------------------


class AdvisorRef(BaseModel):
    """An advisor as a caller may see them: `email` is null for roles that may not see
    e-mails; `advisor_id` is an opaque, stable key usable in every advisor route."""

    advisor_id: str
    email: str | None = None
    name: str | None = None


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


class ClientSummary(BaseModel):
    client_id: str
    name: str
    region: str | None
    segment: str | None
    country: str | None
    tier: str | None
    territory_id: str | None
    advisor: AdvisorRef | None
    parent_client_id: str | None
    aum_usd: float | None
    annual_revenue_usd: float | None
    updated_at: UtcDatetime | None


class GoldenRecord(BaseModel):
    client_id: str
    name: str
    segment: str | None
    region: str | None
    country: str | None
    state: str | None
    city: str | None
    postal_code: str | None
    address: str | None
    aum_usd: float | None
    annual_revenue_usd: float | None
    employee_count: int | None
    industry: str | None
    website: str | None
    lei: str | None
    tax_id: str | None = Field(None, description="PII: null for roles that may not see it.")
    advisor_hint: AdvisorRef | None = Field(None, description="Advisor named upstream.")
    parent_client_id: str | None
    decision: str
    version: int
    updated_at: UtcDatetime | None


class SourceRecord(BaseModel):
    source_key: str
    source_system: str
    source_id: str
    updated_at: UtcDatetime | None
    name: str | None = None
    parent_source_id: str | None = None
    country: str | None = None
    tax_id: str | None = None
    lei: str | None = None
    advisor_hint: AdvisorRef | None = None


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


class ClientDetail(BaseModel):
    golden: GoldenRecord
    source_records: list[SourceRecord]
    current_assignment: AssignmentRecord | None
    history: list[AssignmentRecord] = Field(..., description="Newest first (at most 200).")
    masked: list[str] = Field(..., description="PII kinds masked for this caller.")


class HierarchyNode(BaseModel):
    client_id: str
    name: str
    region: str | None
    segment: str | None
    tier: str | None
    territory_id: str | None
    advisor: AdvisorRef | None
    parent_client_id: str | None
    child_count: int = Field(..., description="Visible subsidiaries (expand with parent_id).")
    path: list[str] = Field(
        default_factory=list, description="Search results: ids from the root down to the parent."
    )


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


class TrendPoint(BaseModel):
    day: date
    changes: int


class AssignmentTrend(BaseModel):
    days: int
    points: list[TrendPoint]


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


class RulesetVersionSummary(BaseModel):
    version: str
    published_by: str
    comment: str | None
    published_at: UtcDatetime
    active: bool


class RulesetVersionDetail(RulesetVersionSummary):
    document: dict[str, Any]


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
