"""One handler in memory (faststream TestKafkaBroker): a golden client in, its assignment out."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import TestKafkaBroker
from rules_factories import golden, ruleset_doc

from territory.rules.ruleset import parse_ruleset
from territory.rules.service import RulesService, register
from territory.rules.settings import RulesSettings
from territory.shared.events import ClientDeduplicated
from territory.shared.kernel import ServiceKernel
from territory.shared.settings import KafkaSettings, RetrySettings


@pytest.fixture
def settings() -> RulesSettings:
    return RulesSettings(
        kafka=KafkaSettings(topic_prefix="unit."),
        retry=RetrySettings(attempts=1, backoff_seconds=0),
    )


async def test_client_deduplicated_handler_publishes_the_assignment(settings):
    kernel = ServiceKernel(settings, "rules")
    broker = kernel.broker
    service = RulesService(
        settings=settings,
        publisher=kernel.publisher,
        dead_letters=kernel.dead_letters,
        producer="t",
    )
    service._activate(parse_ruleset(ruleset_doc()), source="test", published_by=None)
    register(kernel, service)
    topics = settings.kafka.topics

    @broker.subscriber(topics.assignment_changed)
    async def assignments(body: dict) -> None: ...

    @broker.subscriber(topics.client_rejected)
    async def rejected(body: dict) -> None: ...

    async with TestKafkaBroker(broker) as test_broker:
        event = ClientDeduplicated(producer="dedupe", payload=golden("g1", country="GB"))
        await test_broker.publish(
            event.model_dump_json().encode(), topics.client_deduplicated, key=b"g1"
        )
        assignments.mock.assert_called_once()
        payload = assignments.mock.call_args.args[0]["payload"]
        assert payload["client_id"] == "g1"
        assert payload["territory_id"] == "EU"
        assert payload["trace"]["rule_id"] == "r-eu"
        assert service.book.placements["g1"].territory_id == "EU"

        # a message that breaks the contract becomes a dead letter, not an assignment
        await test_broker.publish(json.dumps({"nope": 1}).encode(), topics.client_deduplicated)
        rejected.mock.assert_called_once()
        assert rejected.mock.call_args.args[0]["payload"]["reason"] == "contract_violation"
        assignments.mock.assert_called_once()


async def test_acknowledging_a_conflict_that_is_not_open_is_logged_and_counted(settings, caplog):
    """Issue 13: acknowledging an unknown conflict was accepted and did nothing, silently."""
    from territory.rules.service import COMMANDS
    from territory.shared.events import RulesCommand, RulesCommanded

    kernel = ServiceKernel(settings, "rules")
    service = RulesService(
        settings=settings,
        publisher=kernel.publisher,
        dead_letters=kernel.dead_letters,
        producer="t",
    )
    before = COMMANDS.labels("acknowledge_conflict", "not_applied")._value.get()
    command = RulesCommand(
        action="acknowledge_conflict", requested_by="carl@x.com", conflict_id="multi:nobody"
    )
    await service.on_command(RulesCommanded(producer="api", payload=command))
    assert COMMANDS.labels("acknowledge_conflict", "not_applied")._value.get() == before + 1
    assert any(r.getMessage() == "acknowledged conflict is not open" for r in caplog.records)
