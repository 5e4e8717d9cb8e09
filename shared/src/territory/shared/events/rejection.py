"""`client.rejected`: dead letters, with the reason and the original data."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
)

from territory.shared.events.client import FieldError
from territory.shared.events.envelope import Event
from territory.shared.topics import Topic


class RejectReason(StrEnum):
    MISSING_REQUIRED_FIELD = "missing_required_field"
    INVALID_VALUE = "invalid_value"
    MALFORMED_ROW = "malformed_row"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_JSON = "invalid_json"
    RECORD_TOO_LARGE = "record_too_large"
    CONTRACT_VIOLATION = "contract_violation"
    PROCESSING_FAILED = "processing_failed"
    DUPLICATE_EVENT_ID = "duplicate_event_id"


class MessagePosition(BaseModel):
    topic: str
    partition: int
    offset: int


class Rejection(BaseModel):
    """Payload of `client.rejected`: what was refused, where, why, and the original data."""

    stage: str = Field(..., description="ingestion, dedupe, rules, loader, …")
    reason: RejectReason
    errors: list[FieldError] = Field(default_factory=list)
    original: str = Field(..., description="The original data as text (bytes: see encoding).")
    original_encoding: Literal["utf-8", "base64"] = "utf-8"
    original_format: Literal["json", "csv", "jsonl", "kafka"] = "json"
    source_key: str | None = None
    position: MessagePosition | None = Field(None, description="Original topic/partition/offset.")
    upload_id: str | None = None
    row_number: int | None = Field(None, ge=1, description="1-based line of the row in its file.")
    attempts: int = Field(1, ge=1)
    origin_id: str | None = Field(
        None,
        description="The same for every dead letter of one bad message, whichever stage "
        "wrote it: derived from its topic/partition/offset (a row: upload and row number).",
    )
    original_size: int | None = Field(
        None, ge=0, description="Size of the whole original in bytes (UTF-8 for text)."
    )
    original_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 (hex) of the whole original."
    )
    original_truncated: bool = Field(
        False,
        description="`original` holds only the first bytes of it (dead letters always fit "
        "on the broker); the whole original is at `archive_uri`.",
    )
    archive_uri: str | None = Field(
        None, description="Where the whole original is archived (s3:// or file://)."
    )


class ClientRejected(Event[Rejection]):
    topic: ClassVar[Topic] = Topic.CLIENT_REJECTED
    event_type: Literal["client.rejected"] = "client.rejected"

    def key(self) -> bytes:
        return (self.payload.source_key or str(self.event_id)).encode()
