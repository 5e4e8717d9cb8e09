"""Data quality: the field issues of field-level quarantine (issue 12), per client and
summed by field and code."""

from __future__ import annotations

from pydantic import BaseModel, Field

from territory.shared.events import UtcDatetime


class FieldIssueRecord(BaseModel):
    """One optional value a source record arrived with and the contract did not accept."""

    client_id: str | None = Field(None, description="Golden client (null until deduplicated).")
    client_name: str | None = None
    source_key: str
    field: str
    code: str = Field(..., description="invalid_lei, invalid_tax_id, unknown_segment, …")
    raw: str | None = Field(
        None, description="The value as received; null when it is PII you may not see."
    )
    message: str
    occurred_at: UtcDatetime | None = Field(
        None, description="When the source record version carrying the value was received."
    )


class FieldIssueCount(BaseModel):
    field: str
    code: str
    issues: int = Field(..., description="Field issues (one per source record and value).")
    clients: int = Field(..., description="Distinct golden clients having them.")


class DataQualitySummary(BaseModel):
    issues: int = Field(..., description="Field issues of the clients within your regions.")
    clients_with_issues: int
    by_field: dict[str, int] = Field(..., description="Issues per field.")
    by_field_and_code: list[FieldIssueCount] = Field(..., description="Most frequent first.")
    masked: list[str] = Field(..., description="PII kinds masked for this caller.")
