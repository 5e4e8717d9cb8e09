"""Kafka plumbing: the broker factory, topic creation and event publishing.

Delivery is at-least-once everywhere: producers are idempotent (acks=all, so a retried send
is not written twice), consumers commit offsets after their effect (see `CONSUMER_ACK_POLICY`)
and every effect is idempotent on `event_id` or a business key.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from territory.shared.events import Event
from territory.shared.settings import KafkaSettings
from territory.shared.topics import TOPIC_SPECS, Topic, Topics

log = logging.getLogger(__name__)

# Offsets are committed after the handler returns; when it raises, the batch is sought
# back and redelivered. The kernel's consumers (`territory.shared.kernel`) turn a poison
# record into a dead letter after bounded retries, so only infrastructure failures (the
# broker itself unreachable) ever lead to redelivery: nothing is lost and the stream never
# stalls on one record.
CONSUMER_ACK_POLICY = AckPolicy.NACK_ON_ERROR


def make_broker(
    settings: KafkaSettings, *, client_id: str, logger: logging.Logger | None = None
) -> KafkaBroker:
    """A faststream broker with an idempotent producer (acks=all)."""
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=f"{settings.client_id}-{client_id}",
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.linger_ms,
        max_batch_size=settings.max_batch_bytes,
        request_timeout_ms=settings.request_timeout_ms,
        allow_auto_create_topics=False,
        graceful_timeout=30.0,
        logger=logger or logging.getLogger(f"territory.{client_id}.broker"),
    )


async def ensure_topics(settings: KafkaSettings, topics: Iterable[Topic] | None = None) -> None:
    """Create the contract's topics (idempotent) with their partition counts and policies."""
    names = settings.topics
    wanted = list(topics) if topics is not None else list(TOPIC_SPECS)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name=names.name(topic),
                num_partitions=TOPIC_SPECS[topic].partitions,
                replication_factor=1 if _single_node(settings) else 3,
                topic_configs=(
                    {"cleanup.policy": "compact"} if TOPIC_SPECS[topic].compacted else {}
                ),
            )
            for topic in wanted
            if names.name(topic) not in existing
        ]
        if new:
            # Another service may create them between list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
            log.info("created topics", extra={"topics": [t.name for t in new]})
    finally:
        await admin.close()


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions, refreshing metadata once if the consumer does not know it."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def read_until_end(
    settings: KafkaSettings, topic: str, *, client_id: str, batch: int = 5_000
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` from the beginning up to its end when the read began.

    How a service rebuilds its state on start: records written after the call are left for
    the service's consumer group, so nothing is read twice and nothing is missed.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-{client_id}-rebuild",
        enable_auto_commit=False,
        request_timeout_ms=settings.request_timeout_ms,
        max_partition_fetch_bytes=8 * 1024**2,
    )
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topic)
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        last = dict.fromkeys(tps, -1)
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=batch)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
                    last[tp] = record.offset
            for tp in list(pending):
                # Offsets can have gaps (compaction, transaction markers): the position is
                # the authority once the last record before the end was seen or skipped.
                if last[tp] >= ends[tp] - 1 or await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()


async def topic_bounds(
    consumer: AIOKafkaConsumer, topic: str
) -> dict[TopicPartition, tuple[int, int]] | None:
    """(first, end) offset of every partition of `topic`; None when it does not exist."""
    tps = await topic_partitions(consumer, topic)
    if not tps:
        return None
    starts = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    return {tp: (starts[tp], ends[tp]) for tp in tps}


async def topic_message_counts(settings: KafkaSettings) -> dict[str, int | None]:
    """Messages ever written per contract topic (None: the topic does not exist)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, client_id=f"{settings.client_id}-stats"
    )
    await consumer.start()
    try:
        counts: dict[str, int | None] = {}
        for topic in TOPIC_SPECS:
            name = settings.topics.name(topic)
            bounds = await topic_bounds(consumer, name)
            counts[name] = None if bounds is None else sum(e - s for s, e in bounds.values())
        return counts
    finally:
        await consumer.stop()


async def group_lag(settings: KafkaSettings, groups: Iterable[str]) -> dict[str, int]:
    """Messages not yet committed per consumer group, over the topics it has committed
    on and every partition of them (a group that committed nothing yet counts the whole
    of the topics it consumes once it has joined; before that it is reported as -1)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, client_id=f"{settings.client_id}-lag"
    )
    try:
        await admin.start()
        await consumer.start()
        out: dict[str, int] = {}
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            topics = sorted({tp.topic for tp in committed})
            if not topics:
                out[group] = -1
                continue
            parts = [tp for t in topics for tp in await topic_partitions(consumer, t)]
            ends = await consumer.end_offsets(parts) if parts else {}
            lag = 0
            for tp, end in ends.items():
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag += max(0, end - done)
            out[group] = lag
        return out
    finally:
        await consumer.stop()
        await admin.close()


def _single_node(settings: KafkaSettings) -> bool:
    return "," not in settings.bootstrap_servers


class Publisher(Protocol):
    """What publishing code needs; `EventPublisher` is the Kafka one (tests may use an
    in-memory one, so code that only reads needs no broker)."""

    def topic_for(self, event: Event[Any]) -> str: ...

    async def publish(self, event: Event[Any]) -> None: ...

    async def publish_many(self, events: Sequence[Event[Any]]) -> None: ...

    async def ready(self) -> bool: ...


class EventPublisher:
    """Publishes contract events with their partition keys; batches are pipelined.

    `publish_many` hands every record to the producer without waiting in between and then
    waits for all acknowledgements, which is what makes bulk ingestion fast while still
    knowing that every record was durably written before reporting success.
    """

    def __init__(self, broker: KafkaBroker, topics: Topics) -> None:
        self.broker = broker
        self.topics = topics

    def topic_for(self, event: Event[Any]) -> str:
        return self.topics.name(event.topic)

    async def ready(self, timeout: float = 2.0) -> bool:
        """The broker answers."""
        try:
            return bool(await self.broker.ping(timeout=timeout))
        except Exception:
            return False

    async def publish(self, event: Event[Any]) -> None:
        await self.broker.publish(
            event.model_dump_json().encode(),
            self.topic_for(event),
            key=event.key(),
            headers=_headers(event),
            correlation_id=event.correlation_id,
        )

    def raw_producer(self) -> AIOKafkaProducer | None:
        """The aiokafka producer inside the faststream broker, when it can be reached.

        Bulk sends go to it directly: faststream's per-message publish wrapper costs as
        much as aiokafka's own send, which halved ingestion throughput. The same producer
        (idempotent, acks=all) is used either way; tests check this path is taken.
        """
        state = getattr(getattr(self.broker.config, "producer", None), "_producer", None)
        producer = getattr(state, "producer", None)
        return producer if isinstance(producer, AIOKafkaProducer) else None

    async def publish_many(self, events: Sequence[Event[Any]]) -> None:
        """Send every event without waiting in between, then wait for all the acks."""
        if not events:
            return
        producer = self.raw_producer()
        if producer is not None:
            pending = [
                await producer.send(
                    self.topic_for(event),
                    event.model_dump_json().encode(),
                    key=event.key(),
                    headers=[
                        (k, v.encode())
                        for k, v in (
                            *_headers(event).items(),
                            ("correlation_id", event.correlation_id),
                        )
                    ],
                )
                for event in events
            ]
            await asyncio.gather(*pending)
            return
        # Without a real producer (faststream's in-memory TestKafkaBroker), publish may
        # deliver at once and return no future: wait only for what is awaitable.
        results = [
            await self.broker.publish(
                event.model_dump_json().encode(),
                self.topic_for(event),
                key=event.key(),
                headers=_headers(event),
                correlation_id=event.correlation_id,
                no_confirm=True,
            )
            for event in events
        ]
        await asyncio.gather(*(r for r in results if inspect.isawaitable(r)))


def _headers(event: Event[Any]) -> dict[str, str]:
    return {
        "event_type": event.event_type,
        "schema_version": str(event.schema_version),
        "content-type": "application/json",
    }
