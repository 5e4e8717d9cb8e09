"""Load status: lag per topic (the loader's consumer group), rows per table, last batch."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import Engine, func, select

from territory.loader.decode import LOADED_TOPICS
from territory.shared.broker import topic_bounds
from territory.shared.settings import KafkaSettings
from territory.shared.warehouse import schema as s


async def topic_lag(kafka: KafkaSettings, group_id: str) -> dict[str, int | None]:
    """Messages not yet loaded per topic (None: the topic does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_id)
        lag: dict[str, int | None] = {}
        for topic in LOADED_TOPICS:
            name = kafka.topics.name(topic)
            bounds = await topic_bounds(consumer, name)
            if bounds is None:
                lag[name] = None
                continue
            total = 0
            for tp, (start, end) in bounds.items():
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else start
                total += max(0, end - done)
            lag[name] = total
        return lag
    finally:
        await consumer.stop()
        await admin.close()


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            f"{t.schema}.{t.name}": int(
                conn.execute(select(func.count()).select_from(t)).scalar_one()
            )
            for t in s.metadata.sorted_tables
        }


def last_batch(engine: Engine) -> dict[str, Any] | None:
    t = s.load_batches
    with engine.connect() as conn:
        row = conn.execute(select(t).order_by(t.c.finished_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None
