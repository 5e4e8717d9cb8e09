"""Topic names, in one place.

Every service asks `Topics` for a name instead of spelling it, so a deployment (or a test)
can give all topics a common prefix and run several isolated pipelines on one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topic(StrEnum):
    CLIENT_RECEIVED = "client.received"
    CLIENT_DEDUPLICATED = "client.deduplicated"
    ASSIGNMENT_CHANGED = "assignment.changed"
    CONFLICT_DETECTED = "conflict.detected"
    CLIENT_REJECTED = "client.rejected"
    RULESET_PUBLISHED = "ruleset.published"
    # Commands from people (through the API): manual merge/split of golden clients, and
    # reassignment or conflict acknowledgement. Whitelist/blacklist overrides are new
    # ruleset versions on `ruleset.published`, so rules keep one source of truth.
    DEDUPE_COMMAND = "dedupe.command"
    RULES_COMMAND = "rules.command"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    partitions: int
    # Compacted topics keep the latest event per key forever; they are the state that a
    # service rebuilds from on start (golden clients, current rulesets).
    compacted: bool = False


TOPIC_SPECS: dict[Topic, TopicSpec] = {
    Topic.CLIENT_RECEIVED: TopicSpec(partitions=6),
    Topic.CLIENT_DEDUPLICATED: TopicSpec(partitions=6),
    Topic.ASSIGNMENT_CHANGED: TopicSpec(partitions=6),
    Topic.CONFLICT_DETECTED: TopicSpec(partitions=3),
    Topic.CLIENT_REJECTED: TopicSpec(partitions=3),
    Topic.RULESET_PUBLISHED: TopicSpec(partitions=1),
    Topic.DEDUPE_COMMAND: TopicSpec(partitions=1),
    Topic.RULES_COMMAND: TopicSpec(partitions=1),
}


@dataclass(frozen=True, slots=True)
class Topics:
    """Resolved topic names for one deployment (`prefix` + canonical name)."""

    prefix: str = ""

    def name(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.value}"

    @property
    def client_received(self) -> str:
        return self.name(Topic.CLIENT_RECEIVED)

    @property
    def client_deduplicated(self) -> str:
        return self.name(Topic.CLIENT_DEDUPLICATED)

    @property
    def assignment_changed(self) -> str:
        return self.name(Topic.ASSIGNMENT_CHANGED)

    @property
    def conflict_detected(self) -> str:
        return self.name(Topic.CONFLICT_DETECTED)

    @property
    def client_rejected(self) -> str:
        return self.name(Topic.CLIENT_REJECTED)

    @property
    def ruleset_published(self) -> str:
        return self.name(Topic.RULESET_PUBLISHED)

    @property
    def dedupe_command(self) -> str:
        return self.name(Topic.DEDUPE_COMMAND)

    @property
    def rules_command(self) -> str:
        return self.name(Topic.RULES_COMMAND)

    def all(self) -> dict[str, TopicSpec]:
        return {self.name(t): spec for t, spec in TOPIC_SPECS.items()}
