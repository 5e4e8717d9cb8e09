"""The parts of a ruleset every service reads, and the rules service's HTTP answers.

A ruleset is owned by the rules service (`territory.rules.ruleset`: tiers, rules,
conditions, policies). Its territories, advisors and whitelist / blacklist entries are read
by the loader (the warehouse's dimensions), the API (it checks a candidate before
forwarding it, and edits the entries of an override) and the rules service itself, so they
are declared here, once. The same goes for what the rules service answers over HTTP
(`GET /v1/ruleset`: `ActiveRuleset`; `POST /v1/preview`: `PreviewDiff`): the API and the
CLI parse those answers with these models.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from territory.shared.events import ConflictKind, Segment
from territory.shared.events.validators import EmailAddress
from territory.shared.geo import Region


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Territory(_Strict):
    id: str = Field(..., min_length=1, max_length=64)
    name: str
    region: Region
    segment: Segment | None = None
    tier: str | None = Field(None, description="Only clients of this tier may be placed here.")
    advisors: list[EmailAddress] = Field(default_factory=list)

    @field_validator("advisors", mode="after")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]


class Advisor(_Strict):
    email: EmailAddress
    name: str
    capacity: dict[str, int] = Field(
        default_factory=dict, description="Max clients per tier id; a missing tier means 0."
    )

    @field_validator("email", mode="after")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class ClientRef(_Strict):
    """A client by golden id, by source key (`system:id`) or by LEI: exactly one."""

    client_id: str | None = None
    source_key: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_.-]*:.+$")
    lei: str | None = Field(None, min_length=20, max_length=20)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [k for k in ("client_id", "source_key", "lei") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("name the client by exactly one of client_id, source_key, lei")
        return self

    @property
    def key(self) -> tuple[str, str]:
        if self.client_id:
            return ("client_id", self.client_id)
        if self.source_key:
            return ("source_key", self.source_key)
        return ("lei", str(self.lei).upper())

    def describe(self) -> str:
        kind, value = self.key
        return f"{kind}={value}"


class WhitelistEntry(ClientRef):
    territory: str
    advisor: EmailAddress | None = Field(None, description="Optional: pin the advisor too.")
    reason: str = Field(..., min_length=1)
    owner: str = Field(..., min_length=1)
    expires: date | None = Field(None, description="Last day the entry applies (inclusive).")


class BlacklistEntry(ClientRef):
    territories: list[str] = Field(..., min_length=1)
    reason: str = Field(..., min_length=1)
    owner: str | None = None


class RulesetDimensions(BaseModel):
    """What a ruleset document says about territories and advisors; the rest of the
    document (tiers, rules, policies) is the rules service's and is ignored here."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(..., min_length=1, max_length=64)
    territories: list[Territory] = Field(default_factory=list, max_length=10_000)
    advisors: list[Advisor] = Field(default_factory=list, max_length=100_000)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # YAML reads `version: 2026.11` as a float; a version is text.
        return str(value) if isinstance(value, int | float) else value


# ---- the rules service's HTTP answers ---------------------------------------------------


class Move(BaseModel):
    client_id: str
    from_territory: str | None
    from_advisor: str | None
    to_territory: str | None
    to_advisor: str | None
    rule_id: str | None
    reason: str


class TerritoryCount(BaseModel):
    territory_id: str
    before: int
    after: int


class AdvisorLoad(BaseModel):
    advisor_email: str
    before: dict[str, int] = Field(description="Clients per tier now.")
    after: dict[str, int] = Field(description="Clients per tier under the candidate.")
    capacity_before: dict[str, int] = Field(description="Capacity per tier in the active ruleset.")
    capacity_after: dict[str, int] = Field(description="Capacity per tier in the candidate.")
    over_capacity_after: list[str] = Field(
        default_factory=list, description="Tiers above capacity under the candidate."
    )


class ConflictSummary(BaseModel):
    conflict_id: str
    kind: ConflictKind
    severity: str
    action: str
    client_id: str | None
    detail: str


class PreviewDiff(BaseModel):
    """Response of `POST /v1/preview` and of `territory rules preview`."""

    active_version: str
    candidate_version: str
    clients: int = Field(description="Clients the preview re-decided.")
    moved: int = Field(description="Clients whose territory or advisor would change.")
    moves: list[Move] = Field(description="The moves (first `limit`, by client id).")
    moves_truncated: bool = False
    held_back: int = Field(0, description="Moves the churn guard would hold back.")
    territories: list[TerritoryCount]
    advisors: list[AdvisorLoad]
    new_conflicts: list[ConflictSummary]
    resolved_conflicts: list[ConflictSummary]
    new_conflicts_by_kind: dict[str, int]
    resolved_conflicts_by_kind: dict[str, int]
    refused: bool = Field(
        False, description="The candidate causes a conflict whose action is refuse_ruleset."
    )
    took_seconds: float


class ReplayReport(BaseModel):
    run_id: str
    ruleset_version: str
    clients: int
    moved: int
    conflicts: int
    held_back: int = Field(0, description="Moves the churn guard held back.")
    held_back_clients: list[str] = Field(default_factory=list, description="First 1,000.")
    seconds: float


class ActiveRuleset(BaseModel):
    """Response of `GET /v1/ruleset`."""

    version: str
    fingerprint: str = Field(description="Content hash: equal fingerprints decide alike.")
    source: str = Field(description="`ruleset.published@<offset>` or the initial file path.")
    published_by: str | None = None
    activated_at: datetime
    clients: int
    assigned: int
    open_conflicts: int
    last_refusal: str | None = Field(
        None, description="Why the last published ruleset was refused."
    )
    last_replay: ReplayReport | None = Field(None, description="The last reassignment run.")
    document: dict[str, Any]
