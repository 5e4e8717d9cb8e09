"""The handlers in memory (faststream's TestKafkaBroker): no broker needed."""

import json

from faststream.kafka import TestKafkaBroker

from territory.dedupe.engine import golden_id
from territory.dedupe.service import DedupeService
from territory.dedupe.settings import DedupeSettings
from territory.shared.events import (
    ClientDeduplicated,
    ClientReceived,
    DedupeCommand,
    DedupeCommanded,
)
from territory.shared.settings import KafkaSettings, RetrySettings

from .conftest import make_record


def _service():
    settings = DedupeSettings(
        kafka=KafkaSettings(topic_prefix="unit."),
        retry=RetrySettings(attempts=1, backoff_seconds=0),
    )
    service = DedupeService(settings)
    out: list[dict] = []
    rejected: list[dict] = []

    @service.broker.subscriber(settings.kafka.topics.client_deduplicated)
    async def collect(body: dict) -> None:
        out.append(body)

    @service.broker.subscriber(settings.kafka.topics.client_rejected)
    async def collect_rejected(body: dict) -> None:
        rejected.append(body)

    return service, settings.kafka.topics, out, rejected


def _received(record) -> bytes:
    return ClientReceived(producer="test", payload=record).model_dump_json().encode()


async def test_records_become_golden_clients_and_poison_becomes_a_dead_letter():
    service, topics, out, rejected = _service()
    async with TestKafkaBroker(service.broker) as broker:
        first = make_record("salesforce", "1", name="Cedar Energy Inc.", country="CA")
        await broker.publish(_received(first), topics.client_received, key=b"salesforce:1")
        dup = make_record("hubspot", "2", name="CEDAR ENERGY", country="CA")
        await broker.publish(_received(dup), topics.client_received, key=b"hubspot:2")
        await broker.publish(_received(dup), topics.client_received, key=b"hubspot:2")
        await broker.publish(b'{"not": "an event"}', topics.client_received, key=b"x")
        service.kernel.subscribers["on_client_received"].mock.assert_called()

    events = [ClientDeduplicated.model_validate(e) for e in out]
    assert [e.payload.decision.value for e in events] == ["new", "merged"]  # redelivery: nothing
    assert {e.payload.client_id for e in events} == {golden_id("salesforce:1")}
    assert events[1].payload.version == 2
    assert len(rejected) == 1
    assert rejected[0]["payload"]["stage"] == "dedupe"
    assert rejected[0]["payload"]["reason"] == "contract_violation"


async def test_merge_command_is_applied_and_re_emitted():
    service, topics, out, _ = _service()
    async with TestKafkaBroker(service.broker) as broker:
        for sid, name in [("1", "Cedar Energy"), ("2", "Summit Logistics")]:
            record = make_record("salesforce", sid, name=name)
            await broker.publish(_received(record), topics.client_received)
        a, b = golden_id("salesforce:1"), golden_id("salesforce:2")
        command = DedupeCommanded(
            producer="api",
            payload=DedupeCommand(action="merge", client_ids=[a, b], decided_by="r@x.com"),
        )
        await broker.publish(command.model_dump_json().encode(), topics.dedupe_command)
    last = {e["payload"]["client_id"]: e["payload"] for e in out}
    assert last[b]["retired"] is True
    assert last[a]["merged_client_ids"] == [b]
    assert json.dumps(last[a]).count("salesforce") >= 2


async def test_a_batch_keeps_each_records_correlation_id_on_its_golden_client():
    service, topics, out, _ = _service()
    events = [
        ClientReceived(
            producer="test",
            correlation_id=f"upload/{i}",
            payload=make_record("salesforce", str(i), name=name),
        )
        for i, name in enumerate(["Cedar Energy", "Summit Logistics", "Harbor Bank"])
    ]
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish_batch(
            *(e.model_dump_json().encode() for e in events), topic=topics.client_received
        )
    by_client = {e["payload"]["client_id"]: e["correlation_id"] for e in out}
    assert by_client == {golden_id(f"salesforce:{i}"): f"upload/{i}" for i in range(3)}


async def test_a_command_that_changes_nothing_is_logged_and_counted(caplog):
    """Issue 13: a merge naming unknown clients was accepted and did nothing, silently."""
    from territory.dedupe.service import COMMANDS

    before = COMMANDS.labels("merge", "not_applied")._value.get()
    service, topics, out, _ = _service()
    async with TestKafkaBroker(service.broker) as broker:
        command = DedupeCommanded(
            producer="api",
            payload=DedupeCommand(
                action="merge", client_ids=["gc-nobody", "gc-nobody-2"], decided_by="r@x.com"
            ),
        )
        await broker.publish(command.model_dump_json().encode(), topics.dedupe_command)
    assert out == []
    assert COMMANDS.labels("merge", "not_applied")._value.get() == before + 1
    warned = [r for r in caplog.records if r.getMessage() == "dedupe command changed nothing"]
    assert warned
    assert warned[0].client_ids == ["gc-nobody", "gc-nobody-2"]
