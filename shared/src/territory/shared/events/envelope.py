"""The envelope common to every event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from territory.shared.events.validators import UtcDatetime
from territory.shared.topics import Topic

SCHEMA_VERSION = 1

PayloadT = TypeVar("PayloadT", bound=BaseModel)


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel, Generic[PayloadT]):
    """Envelope common to every event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: ClassVar[Topic]

    event_id: UUID = Field(default_factory=uuid4, description="Unique id; the idempotency key.")
    event_type: str
    schema_version: int = SCHEMA_VERSION
    occurred_at: UtcDatetime = Field(default_factory=_now)
    producer: str = Field(..., description="Service (and instance) that produced the event.")
    correlation_id: str = Field(
        default_factory=lambda: str(uuid4()),
        description="Follows one record end to end, across every service.",
        max_length=128,
    )
    payload: PayloadT

    def key(self) -> bytes:
        """Partition key: keeps per-client order."""
        raise NotImplementedError
