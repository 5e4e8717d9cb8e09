"""Over the real Kafka broker: client.received → client.deduplicated, restart included."""

import asyncio

import pytest

from territory.dedupe.engine import golden_id
from territory.dedupe.service import DedupeService
from territory.dedupe.settings import DedupeOptions, DedupeSettings
from territory.shared.broker import EventPublisher, make_broker
from territory.shared.events import ClientReceived
from territory.shared.testing import read_topic, settle

from .conftest import at, make_record

pytestmark = pytest.mark.kafka

ADDRESS = {"country": "CA", "city": "Toronto", "postal_code": "M5H 2N2"}


async def _publish(kafka_settings, records):
    broker = make_broker(kafka_settings, client_id="test-upstream")
    await broker.connect()
    try:
        publisher = EventPublisher(broker, kafka_settings.topics)
        for record in records:
            await publisher.publish(ClientReceived(producer="test", payload=record))
    finally:
        await broker.stop()


async def _golden_events(kafka_settings, expect, timeout=30.0):
    return await read_topic(
        kafka_settings.bootstrap_servers,
        kafka_settings.topics.client_deduplicated,
        expect=expect,
        timeout=timeout,
    )


async def _count_settled(kafka_settings, at_least):
    """Events on client.deduplicated once no more arrive."""
    events = await _golden_events(kafka_settings, at_least)
    while True:
        await settle(1.0)
        more = await _golden_events(kafka_settings, len(events) + 1, timeout=1.0)
        if len(more) == len(events):
            return more
        events = more


async def test_received_to_deduplicated_with_restart(kafka_settings):
    settings = DedupeSettings(
        kafka=kafka_settings,
        dedupe=DedupeOptions(group_id=f"{kafka_settings.topic_prefix}dedupe"),
    )
    first_batch = [
        make_record(
            "salesforce", "c", name="Cedar Energy Europe Ltd", parent_source_id="p", **ADDRESS
        ),
        make_record("salesforce", "1", name="Cedar Energy Inc.", updated_at=at(1), **ADDRESS),
        make_record("hubspot", "7", name="CEDAR ENERGY, INC", updated_at=at(2), **ADDRESS),
        make_record("dynamics", "x", name="Summit Logistics GmbH", country="DE"),
    ]
    service = DedupeService(settings)
    await service.start()
    try:
        await _publish(kafka_settings, first_batch)
        events = await _count_settled(kafka_settings, 4)
    finally:
        await service.stop()
    by_client = {}
    for e in events:
        by_client.setdefault(e["payload"]["client_id"], []).append(e["payload"])
        assert e["_key"] == e["payload"]["client_id"]
    # Partitions interleave: whichever Cedar record came first founded the golden client.
    cedar = next(c for c in by_client if c in {golden_id("salesforce:1"), golden_id("hubspot:7")})
    assert set(by_client) == {cedar, golden_id("dynamics:x"), golden_id("salesforce:c")}
    assert {r["source_id"] for r in by_client[cedar][-1]["source_records"]} == {"1", "7"}
    assert by_client[cedar][-1]["decision"] == "merged"

    # Restart: the master is read back, nothing is re-emitted …
    restarted = DedupeService(settings)
    await restarted.start()
    try:
        assert await restarted.ready()
        assert set(restarted.engine.records) == {r.source_key for r in first_batch}
        await settle(2.0)
        assert len(await _golden_events(kafka_settings, len(events) + 1, timeout=2.0)) == len(
            events
        )
        # … and the state is kept: the late parent resolves the child, an update of a
        # known record updates its golden client, a new duplicate joins it.
        await _publish(
            kafka_settings,
            [
                make_record("salesforce", "p", name="Cedar Energy Holdings Ltd", country="GB"),
                make_record(
                    "hubspot",
                    "7",
                    name="CEDAR ENERGY, INC",
                    employee_count=40,
                    updated_at=at(9),
                    **ADDRESS,
                ),
            ],
        )
        after = await _count_settled(kafka_settings, len(events) + 3)
    finally:
        await restarted.stop()
    seen = {(e["_partition"], e["_offset"]) for e in events}
    new = [e["payload"] for e in after if (e["_partition"], e["_offset"]) not in seen]
    assert sorted(g["client_id"] for g in new) == sorted(
        [golden_id("salesforce:p"), golden_id("salesforce:c"), cedar]
    )
    child = next(g for g in new if g["client_id"] == golden_id("salesforce:c"))
    assert child["parent_client_id"] == golden_id("salesforce:p")
    assert child["version"] == 2
    cedar_now = next(g for g in new if g["client_id"] == cedar)
    assert cedar_now["record"]["employee_count"] == 40
    assert cedar_now["version"] == by_client[cedar][-1]["version"] + 1
    await asyncio.sleep(0)


async def test_malformed_records_on_every_rebuilt_topic_do_not_stop_the_rebuild(kafka_settings):
    """Issue 13: both topics the master is rebuilt from go through the kernel's guard."""
    from aiokafka import AIOKafkaProducer

    settings = DedupeSettings(kafka=kafka_settings)
    good = ClientReceived(producer="test", payload=make_record("crm", "g1", name="Good Fund"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            kafka_settings.topics.client_received, good.model_dump_json().encode(), key=b"k"
        )
        for topic in (
            kafka_settings.topics.client_received,
            kafka_settings.topics.client_deduplicated,
        ):
            for value in (b"", b'{"payload": {"client_id"', b"\xff\xfe", b"[]"):
                await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    from prometheus_client import REGISTRY

    topics = (kafka_settings.topics.client_received, kafka_settings.topics.client_deduplicated)

    def skipped(topic: str) -> float:
        labels = {"topic": topic}
        return REGISTRY.get_sample_value("territory_rebuild_skipped_records_total", labels) or 0

    before = {t: skipped(t) for t in topics}
    service = DedupeService(settings)
    await service.rebuild()
    assert await service.ready()
    assert {t: skipped(t) - before[t] for t in topics} == dict.fromkeys(topics, 4)


async def test_a_batch_torn_by_a_crash_is_repaired_when_the_service_starts(kafka_settings):
    """On the topic: a merge's survivor without the two retirements its batch also emitted
    (the process died between the acknowledgements). The group's offsets are past every
    record, so nothing is consumed: the start-up itself publishes what was lost."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from territory.dedupe.engine import DedupeEngine
    from territory.shared.broker import ensure_topics
    from territory.shared.events import ClientDeduplicated

    web = make_record("hubspot", "1", name="Cedar Energy Inc.", website="cedar.ca", country="CA")
    place = make_record("dynamics", "2", name="Cedar Enrgy Inc", **ADDRESS)
    bridge = make_record("salesforce", "3", name="Cedar Energy Inc", website="cedar.ca", **ADDRESS)
    engine = DedupeEngine()
    published = []
    for record in (web, place, bridge):
        engine.on_record(record)
        published.append(engine.drain())
    survivor = golden_id("salesforce:3")
    torn = [*published[0], *published[1], *(g for g in published[2] if g.client_id == survivor)]
    settings = DedupeSettings(
        kafka=kafka_settings,
        dedupe=DedupeOptions(group_id=f"{kafka_settings.topic_prefix}dedupe"),
    )
    await ensure_topics(kafka_settings)
    await _publish(kafka_settings, [web, place, bridge])
    broker = make_broker(kafka_settings, client_id="test-upstream")
    await broker.connect()
    try:
        publisher = EventPublisher(broker, kafka_settings.topics)
        for golden in torn:
            await publisher.publish(ClientDeduplicated(producer="dedupe", payload=golden))
    finally:
        await broker.stop()
    group = AIOKafkaConsumer(
        bootstrap_servers=kafka_settings.bootstrap_servers,
        group_id=settings.dedupe.group_id,
        enable_auto_commit=False,
    )
    await group.start()
    try:
        topic = kafka_settings.topics.client_received
        await group._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in group.partitions_for_topic(topic) or ()]
        group.assign(partitions)
        ends = await group.end_offsets(partitions)
        await group.commit(dict(ends.items()))
    finally:
        await group.stop()
    service = DedupeService(settings)
    await service.start()
    try:
        events = await _count_settled(kafka_settings, len(torn) + 2)
    finally:
        await service.stop()
    assert len(events) == len(torn) + 2
    repairs = [e["payload"] for e in events if e["payload"]["retired"]]
    assert {r["client_id"] for r in repairs} == {golden_id("hubspot:1"), golden_id("dynamics:2")}
    assert {r["evidence"][0]["candidate_client_id"] for r in repairs} == {survivor}
