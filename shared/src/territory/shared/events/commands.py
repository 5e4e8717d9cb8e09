"""Commands from people, published by the API: `dedupe.command`, `rules.command`."""

from __future__ import annotations

from typing import ClassVar, Literal, Self
from uuid import UUID, uuid4

from pydantic import (
    BaseModel,
    Field,
    model_validator,
)

from territory.shared.events.envelope import Event
from territory.shared.topics import Topic


class DedupeCommand(BaseModel):
    """A reviewer's decision: merge golden clients, or split source records off one."""

    command_id: UUID = Field(default_factory=uuid4)
    action: Literal["merge", "split"]
    client_ids: list[str] = Field(
        default_factory=list,
        description="merge: the clients to merge, survivor first; split: the client to split.",
    )
    source_keys: list[str] = Field(
        default_factory=list, description="split: `system:id` of the records to split off."
    )
    decided_by: str
    reason: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.action == "merge" and len(self.client_ids) < 2:
            raise ValueError("merge needs at least two client_ids")
        if self.action == "split" and (len(self.client_ids) != 1 or not self.source_keys):
            raise ValueError("split needs one client_id and the source_keys to split off")
        return self


class DedupeCommanded(Event[DedupeCommand]):
    topic: ClassVar[Topic] = Topic.DEDUPE_COMMAND
    event_type: Literal["dedupe.command"] = "dedupe.command"

    def key(self) -> bytes:
        return b"dedupe"


class RulesCommand(BaseModel):
    """Reassign every client now (the nightly job's trigger), or acknowledge a conflict."""

    command_id: UUID = Field(default_factory=uuid4)
    action: Literal["reassign", "acknowledge_conflict"]
    requested_by: str
    reason: str | None = None
    conflict_id: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.action == "acknowledge_conflict" and not self.conflict_id:
            raise ValueError("acknowledge_conflict needs conflict_id")
        return self


class RulesCommanded(Event[RulesCommand]):
    topic: ClassVar[Topic] = Topic.RULES_COMMAND
    event_type: Literal["rules.command"] = "rules.command"

    def key(self) -> bytes:
        return b"rules"
