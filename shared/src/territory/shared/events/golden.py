"""`client.deduplicated`: the golden record of one client, with its match evidence."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from territory.shared.events.client import ClientRecord
from territory.shared.events.envelope import Event
from territory.shared.events.validators import UtcDatetime
from territory.shared.topics import Topic


class DedupeDecision(StrEnum):
    NEW = "new"
    MERGED = "merged"
    POSSIBLE_DUPLICATE = "possible_duplicate"


class SourceRecordRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_system: str
    source_id: str
    updated_at: UtcDatetime | None = None

    @property
    def source_key(self) -> str:
        return f"{self.source_system}:{self.source_id}"


class MatchEvidence(BaseModel):
    """Why a record was (or was not) matched to a golden client."""

    candidate_client_id: str
    confidence: float = Field(..., ge=0, le=1)
    field_scores: dict[str, float] = Field(default_factory=dict, description="Score per field.")
    reasons: list[str] = Field(default_factory=list)


class RecordMatch(BaseModel):
    """Why one source record sits in its golden client, as the client is now."""

    source: SourceRecordRef
    decision: DedupeDecision = Field(
        ...,
        description="`merged`: it matched another record of this client; `new`: it is the "
        "client's only record; `possible_duplicate`: it is held for review against `evidence`.",
    )
    evidence: list[MatchEvidence] = Field(
        default_factory=list,
        description="For `merged`, the most confident pair inside the client (its "
        "`candidate_client_id` is this client); for `possible_duplicate`, the other client.",
    )


class GoldenClient(BaseModel):
    """The golden record of one client (payload of `client.deduplicated`)."""

    model_config = ConfigDict(extra="ignore")

    client_id: str = Field(..., description="Stable golden client id.")
    decision: DedupeDecision
    trigger: SourceRecordRef = Field(..., description="The source record that caused this event.")
    record: ClientRecord = Field(..., description="Survived field values of the golden client.")
    parent_client_id: str | None = Field(None, description="Parent golden client (hierarchy).")
    source_records: list[SourceRecordRef] = Field(
        default_factory=list, description="Lineage: every source record in this golden client."
    )
    evidence: list[MatchEvidence] = Field(default_factory=list)
    matches: list[RecordMatch] = Field(
        default_factory=list,
        description="Per source record (the trigger's first, at most the dedupe service's "
        "`match_limit`): why it is in this client. Empty on events from before this field and "
        "on retired clients.",
    )
    merged_client_ids: list[str] = Field(
        default_factory=list, description="Golden ids absorbed into this one (they are retired)."
    )
    version: int = Field(1, ge=1, description="Increases with every change of this client.")
    retired: bool = Field(False, description="True when this id was merged into another.")


class ClientDeduplicated(Event[GoldenClient]):
    topic: ClassVar[Topic] = Topic.CLIENT_DEDUPLICATED
    event_type: Literal["client.deduplicated"] = "client.deduplicated"

    def key(self) -> bytes:
        return self.payload.client_id.encode()
