"""Kafka records → contract events (validated again: upstream CRMs publish directly).

The service gets its batches validated by the kernel (`decoded_of`); `decode` does the
same from raw records for the benchmark, which measures the loader without a broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from territory.loader.rows import Loaded
from territory.shared.errors import field_errors
from territory.shared.events import EVENT_TYPES, Event, FieldError, MessagePosition
from territory.shared.kernel import Batch
from territory.shared.topics import Topic, Topics

# What the loader records. rules.command needs no row: its effects arrive as events.
LOADED_TOPICS = (
    Topic.CLIENT_RECEIVED,
    Topic.CLIENT_DEDUPLICATED,
    Topic.ASSIGNMENT_CHANGED,
    Topic.CONFLICT_DETECTED,
    Topic.CLIENT_REJECTED,
    Topic.RULESET_PUBLISHED,
    Topic.DEDUPE_COMMAND,
)


@dataclass(frozen=True, slots=True)
class Poison:
    """A record that is not a valid event of its topic: it becomes a dead letter."""

    value: bytes
    key: bytes | None
    position: MessagePosition
    errors: list[FieldError]


@dataclass
class Decoded:
    items: list[Loaded] = field(default_factory=list)
    raw_json: list[str] = field(default_factory=list)
    poison: list[Poison] = field(default_factory=list)


def decode(records: list[ConsumerRecord[bytes, bytes]], topics: Topics) -> Decoded:
    by_name = {topics.name(t): t for t in LOADED_TOPICS}
    out = Decoded()
    for rec in records:
        position = MessagePosition(topic=rec.topic, partition=rec.partition, offset=rec.offset)
        value = rec.value or b""
        model = EVENT_TYPES[by_name[rec.topic]]
        try:
            event = model.model_validate_json(value)
        except ValidationError as exc:
            out.poison.append(Poison(value, rec.key, position, field_errors(exc)))
            continue
        out.items.append(Loaded(event, position))
        out.raw_json.append(value.decode("utf-8"))
    return out


def decoded_of(batch: Batch[Event[Any]]) -> Decoded:
    """A kernel batch (already validated; its invalid records are dead letters)."""
    return Decoded(
        items=[Loaded(event, position) for event, position in batch.items()],
        raw_json=[raw.decode("utf-8") for raw in batch.raw],
    )
