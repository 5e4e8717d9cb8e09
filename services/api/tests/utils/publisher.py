"""An in-memory publisher: read tests and role checks need no broker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from territory.shared.events import Event
from territory.shared.topics import Topics


class RecordingPublisher:
    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.published: list[Event[Any]] = []

    def topic_for(self, event: Event[Any]) -> str:
        return self.topics.name(event.topic)

    async def publish(self, event: Event[Any]) -> None:
        self.published.append(event)

    async def publish_many(self, events: Sequence[Event[Any]]) -> None:
        self.published.extend(events)

    async def ready(self) -> bool:
        return True
