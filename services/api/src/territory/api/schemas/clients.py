"""Clients: summaries, the golden record with its sources, the hierarchy."""

from __future__ import annotations

from pydantic import BaseModel, Field

from territory.api.schemas.assignments import AssignmentRecord
from territory.api.schemas.common import AdvisorRef
from territory.api.schemas.quality import FieldIssueRecord
from territory.shared.events import UtcDatetime


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


class SourceMatch(BaseModel):
    """Why dedupe placed a source record in this golden client: the newest decision whose
    trigger was that record, with its most confident evidence."""

    decision: str = Field(..., description="merged, possible_duplicate or new.")
    confidence: float | None = Field(None, description="Best evidence, 0..1 (null: none).")
    candidate_client_id: str | None = Field(
        None,
        description=(
            "The golden client the record was compared with (null: no evidence, or a client "
            "outside your regions)."
        ),
    )
    field_scores: dict[str, float] = Field(default_factory=dict, description="Score per field.")
    reasons: list[str] = Field(default_factory=list)
    occurred_at: UtcDatetime


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
    match: SourceMatch | None = Field(
        None, description="Match evidence (null: not recorded yet for this record)."
    )


class ClientDetail(BaseModel):
    golden: GoldenRecord
    source_records: list[SourceRecord]
    current_assignment: AssignmentRecord | None
    history: list[AssignmentRecord] = Field(..., description="Newest first (at most 200).")
    masked: list[str] = Field(..., description="PII kinds masked for this caller.")
    field_issues: list[FieldIssueRecord] = Field(
        default_factory=list,
        description="Optional values quarantined in the source records (left empty).",
    )


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
