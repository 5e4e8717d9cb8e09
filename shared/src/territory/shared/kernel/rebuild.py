"""Rebuilding state from a topic: every valid event from the beginning up to the end.

A record that is not a valid event of the topic is counted, logged (rate-limited) and
skipped, never raised: its dead letter is the business of the topic's consumer group,
which met (or will meet) the same record live. One bad record must not stop a restart.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from territory.shared.broker import read_until_end
from territory.shared.events import MessagePosition
from territory.shared.log import RateLimitedLog
from territory.shared.settings import KafkaSettings

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

SKIPPED = Counter(
    "territory_rebuild_skipped_records_total",
    "Records skipped while rebuilding state because they are not valid events",
    ["topic"],
)

LOG_EVERY_SECONDS = 10.0


async def read_events(
    settings: KafkaSettings,
    topic: str,
    model: type[ModelT],
    *,
    client_id: str,
    batch: int = 5_000,
) -> AsyncIterator[tuple[ModelT, MessagePosition]]:
    """Every record of `topic` that validates as `model`, with its position.

    `model` may be a partial view of the event (only the fields the state needs), which
    is what keeps re-reading a million events of a service's own topic cheap.
    """
    limited = RateLimitedLog(log, LOG_EVERY_SECONDS)
    async for record in read_until_end(settings, topic, client_id=client_id, batch=batch):
        position = MessagePosition(
            topic=record.topic, partition=record.partition, offset=record.offset
        )
        try:
            event = model.model_validate_json(record.value or b"")
        except ValidationError as exc:
            SKIPPED.labels(topic).inc()
            limited.warning(
                "skipping a record that is not a valid event while rebuilding",
                key=topic,
                topic=topic,
                partition=record.partition,
                offset=record.offset,
                error=str(exc)[:300],
            )
            continue
        yield event, position
