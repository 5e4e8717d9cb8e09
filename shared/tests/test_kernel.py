"""The service kernel: the rebuild reader, typed batched consumers, dead letters."""

from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import TestKafkaBroker
from prometheus_client import REGISTRY

from territory.shared.events import (
    ClientReceived,
    ClientRecord,
    ClientRejected,
    Event,
    RejectReason,
)
from territory.shared.kernel import Batch, ServiceKernel, producer_name, read_events
from territory.shared.settings import KafkaSettings, RetrySettings, ServiceSettings
from territory.shared.testing import read_topic
from territory.shared.topics import Topic


def received(i: int, name: str | None = None) -> ClientReceived:
    record = ClientRecord(source_system="crm", source_id=str(i), name=name or f"Client {i}")
    return ClientReceived(producer="test", correlation_id=f"c/{i}", payload=record)


def skipped(topic: str) -> float:
    value = REGISTRY.get_sample_value("territory_rebuild_skipped_records_total", {"topic": topic})
    return value or 0.0


def test_producer_name_says_which_service_and_process():
    name = producer_name("dedupe")
    service, _, where = name.partition("@")
    assert service == "dedupe"
    assert where.rsplit(":", 1)[1].isdigit()


@pytest.mark.kafka
async def test_rebuild_reader_skips_and_counts_a_malformed_record_and_never_raises(
    kafka_settings,
):
    topic = kafka_settings.topics.client_received
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, received(1).model_dump_json().encode(), key=b"k")
        # Cut short: `Invalid JSON: EOF while parsing`, what crashed the rules rebuild.
        await producer.send_and_wait(topic, received(2).model_dump_json().encode()[:40], key=b"k")
        await producer.send_and_wait(topic, b'{"not": "an event"}', key=b"k")
        await producer.send_and_wait(topic, received(3).model_dump_json().encode(), key=b"k")
    finally:
        await producer.stop()
    before = skipped(topic)
    seen = [
        (event.payload.source_id, position.offset)
        async for event, position in read_events(
            kafka_settings, topic, ClientReceived, client_id="test"
        )
    ]
    assert seen == [("1", 0), ("3", 3)]
    assert skipped(topic) - before == 2


def kernel_with(attempts: int = 2) -> ServiceKernel:
    settings = ServiceSettings(
        kafka=KafkaSettings(topic_prefix="unit-kernel."),
        retry=RetrySettings(attempts=attempts, backoff_seconds=0),
    )
    return ServiceKernel(settings, "test")


async def test_a_batch_whose_handler_raises_falls_back_to_one_record_at_a_time():
    kernel = kernel_with()
    calls: list[list[str]] = []

    @kernel.consumer(Topic.CLIENT_RECEIVED, group_id="g", publishes=[Topic.CLIENT_RECEIVED])
    async def on_received(batch: Batch[ClientReceived]) -> Sequence[Event[Any]]:
        names = [e.payload.name for e in batch]
        calls.append(names)
        if "Poison" in names:
            raise RuntimeError("cannot decide")
        return []

    rejected: list[dict[str, Any]] = []

    @kernel.broker.subscriber(kernel.topics.client_rejected)
    async def collect(body: dict[str, Any]) -> None:
        rejected.append(body)

    async with TestKafkaBroker(kernel.broker) as broker:
        subscriber = kernel.subscribers["on_received"]
        # The in-memory broker delivers one publish as one batch: publish a batch at once.
        await broker.publish_batch(
            received(1).model_dump_json().encode(),
            received(2, "Poison").model_dump_json().encode(),
            b'{"not": "an event"}',
            received(3).model_dump_json().encode(),
            topic=kernel.topics.client_received,
        )
        subscriber.mock.assert_called()
    # The batch twice (one retry), then each record alone, the poison one twice.
    assert calls[:2] == [["Client 1", "Poison", "Client 3"]] * 2
    assert calls[2:] == [["Client 1"], ["Poison"], ["Poison"], ["Client 3"]]
    reasons = sorted(ClientRejected.model_validate(r).payload.reason.value for r in rejected)
    assert reasons == ["contract_violation", "processing_failed"]
    failed = next(
        ClientRejected.model_validate(r).payload
        for r in rejected
        if r["payload"]["reason"] == "processing_failed"
    )
    assert failed.source_key == "crm:2"
    assert failed.attempts == 2
    assert failed.position is not None


@pytest.mark.kafka
async def test_outputs_of_a_batch_are_published_and_its_offsets_committed(kafka_settings):
    settings = ServiceSettings(kafka=kafka_settings, retry=RetrySettings(attempts=1))
    kernel = ServiceKernel(settings, "test")
    sizes: list[int] = []

    @kernel.consumer(
        Topic.CLIENT_RECEIVED,
        group_id=f"{kafka_settings.topic_prefix}g",
        publishes=[Topic.CLIENT_REJECTED],
    )
    async def echo(batch: Batch[ClientReceived]) -> Sequence[Event[Any]]:
        sizes.append(len(batch))
        return [
            kernel.dead_letters.rejection(
                reason=RejectReason.INVALID_VALUE, original="", source_key=e.payload.source_key
            )
            for e in batch
        ]

    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        for i in range(200):
            await producer.send(
                kafka_settings.topics.client_received,
                received(i).model_dump_json().encode(),
                key=received(i).key(),
            )
        await producer.flush()
    finally:
        await producer.stop()
    await kernel.broker.start()
    try:
        out = await read_topic(
            kafka_settings.bootstrap_servers, kafka_settings.topics.client_rejected, expect=200
        )
    finally:
        await kernel.broker.stop()
    assert sum(sizes) == 200
    assert max(sizes) > 1  # delivered as batches, not one by one
    assert sorted(int(e["payload"]["source_key"].split(":")[1]) for e in out) == list(range(200))


def processed(topic: str) -> float:
    value = REGISTRY.get_sample_value(
        "territory_consumer_records_total",
        {"service": "test", "topic": topic, "outcome": "processed"},
    )
    return value or 0.0


async def test_only_records_that_were_processed_count_as_processed():
    kernel = kernel_with(attempts=1)
    topic = kernel.topics.client_received

    @kernel.consumer(Topic.CLIENT_RECEIVED, group_id="g")
    async def picky(batch: Batch[ClientReceived]) -> None:
        if any(e.payload.name == "Poison" for e in batch):
            raise RuntimeError("no")

    before = processed(topic)
    async with TestKafkaBroker(kernel.broker) as broker:
        await broker.publish_batch(
            received(1).model_dump_json().encode(),
            received(2, "Poison").model_dump_json().encode(),
            topic=topic,
        )
    assert processed(topic) - before == 1
