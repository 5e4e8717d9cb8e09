"""`ruleset.published`: a ruleset release (the rules service validates the document)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
)

from territory.shared.events.envelope import Event
from territory.shared.topics import Topic


class RulesetRelease(BaseModel):
    """Payload of `ruleset.published`. The rules service validates `document` on load."""

    version: str = Field(..., min_length=1, max_length=64)
    document: dict[str, Any] = Field(..., description="The ruleset (YAML) as a JSON object.")
    published_by: str
    comment: str | None = None
    replay: bool = Field(True, description="Re-decide every client after loading it.")


class RulesetPublished(Event[RulesetRelease]):
    topic: ClassVar[Topic] = Topic.RULESET_PUBLISHED
    event_type: Literal["ruleset.published"] = "ruleset.published"

    def key(self) -> bytes:
        return b"ruleset"
