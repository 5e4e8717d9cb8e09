"""API models of the dashboard's own routes (sign-in, keyset pages, data quality).

Kept apart from `schemas` so the dashboard's additions never reshape an existing model.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from territory.api.schemas import ClientSummary
from territory.api.security import Role
from territory.shared.events import UtcDatetime


class AuthConfig(BaseModel):
    """How the dashboard signs in: with the development issuer, or with an OIDC token."""

    development: bool = Field(..., description="The development issuer is available.")
    issuer: str
    audience: str
    roles: list[Role]
    regions: list[str] = Field(..., description="Sales regions a token may name.")


class DevTokenRequest(BaseModel):
    roles: list[Role] = Field(..., min_length=1, max_length=4)
    regions: list[str] = Field(default_factory=list, max_length=10)
    subject: str = Field("dev@territory.local", min_length=1, max_length=320)


class IssuedToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    """The caller as the API sees them (what the dashboard may show)."""

    subject: str
    roles: list[Role]
    regions: list[str] | None = Field(..., description="Visible regions (null: all).")
    sees_emails: bool
    sees_tax_id: bool


class ClientKeysetPage(BaseModel):
    """One page of clients and the cursor of the next one (null on the last page)."""

    items: list[ClientSummary]
    total: int = Field(..., description="Rows matching the filters (may be a few seconds old).")
    limit: int
    next_cursor: str | None


class RejectionCount(BaseModel):
    stage: str
    reason: str
    records: int


class RejectionSummary(BaseModel):
    total: int
    by_reason: list[RejectionCount]


class RejectedRecord(BaseModel):
    event_id: str
    stage: str
    reason: str
    source_key: str | None
    row_number: int | None
    upload_id: str | None
    fields: list[str] = Field(..., description="Fields named by the validation errors.")
    messages: list[str] = Field(..., description="The validation messages (no input values).")
    occurred_at: UtcDatetime
