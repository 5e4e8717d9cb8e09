"""The rules service over the real broker: clients in → assignments out, ruleset change →
replay → only moved clients, restart mid-replay, preview over HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from rules_factories import golden, ruleset_doc, write_ruleset

from territory.rules.app import create_app, running
from territory.rules.ruleset import parse_ruleset, ruleset_document
from territory.rules.settings import RulesOptions, RulesSettings
from territory.shared.broker import EventPublisher, make_broker
from territory.shared.events import (
    ClientDeduplicated,
    Event,
    RulesCommand,
    RulesCommanded,
    RulesetPublished,
    RulesetRelease,
)
from territory.shared.settings import KafkaSettings, RetrySettings
from territory.shared.testing import read_topic, settle

pytestmark = pytest.mark.kafka

# GB clients move from EU to EU-2 under this ruleset; nobody else moves.
GB_MOVES = {
    "version": "t2",
    "rules": [
        *ruleset_doc()["rules"],
        {
            "id": "r-gb",
            "level": "region",
            "priority": 5,
            "when": {"field": "country", "op": "eq", "value": "GB"},
            "territory": "EU-2",
        },
    ],
}


@pytest.fixture
def rules_settings(kafka_settings: KafkaSettings, tmp_path) -> RulesSettings:
    return RulesSettings(
        kafka=kafka_settings,
        retry=RetrySettings(attempts=2, backoff_seconds=0.05),
        rules=RulesOptions(
            initial_ruleset=write_ruleset(tmp_path / "ruleset.yaml"),
            group_id=f"rules-{kafka_settings.topic_prefix}",
            replay_chunk=7,
        ),
    )


@pytest.fixture
async def publish(rules_settings) -> AsyncIterator[Any]:
    broker = make_broker(rules_settings.kafka, client_id="test-producer")
    await broker.connect()
    publisher = EventPublisher(broker, rules_settings.kafka.topics)

    async def send(*events: Event[Any]) -> None:
        await publisher.publish_many(list(events))

    yield send
    await broker.stop()


def clients_event(*goldens):
    return [ClientDeduplicated(producer="test-dedupe", payload=g) for g in goldens]


def release(changes: dict[str, Any], **kw: Any) -> RulesetPublished:
    doc = ruleset_document(parse_ruleset(ruleset_doc(**changes)))
    return RulesetPublished(
        producer="test",
        payload=RulesetRelease(version=doc["version"], document=doc, published_by="tester", **kw),
    )


async def assignments(settings: RulesSettings, expect: int, timeout: float = 30.0):
    return await read_topic(
        settings.kafka.bootstrap_servers,
        settings.kafka.topics.assignment_changed,
        expect=expect,
        timeout=timeout,
    )


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


SAMPLE = [
    golden("us-1", country="US"),
    golden("us-pen", country="US", segment="Pension"),
    golden("us-big", country="US", segment="Pension", aum=5e9),
    golden("gb-1", country="GB"),
    golden("gb-2", country="GB", segment="Bank"),
    golden("fr-1", country="FR"),
    golden("jp-1", country="JP"),  # no territory: a gap
]


async def test_deduplicated_clients_in_assignments_out(rules_settings, publish):
    await publish(*clients_event(*SAMPLE[:4]))
    async with running(rules_settings) as service:
        await publish(*clients_event(*SAMPLE[4:]))
        await wait_for(lambda: len(service.client_offsets) == len(SAMPLE))
        events = await assignments(rules_settings, expect=6)
        by_client = {e["payload"]["client_id"]: e["payload"] for e in events}
        assert {c: a["territory_id"] for c, a in by_client.items()} == {
            "us-1": "NA",
            "us-pen": "NA-PEN",
            "us-big": "NA-BIG",
            "gb-1": "EU",
            "gb-2": "EU",
            "fr-1": "EU",
        }
        big = by_client["us-big"]
        assert (big["rule_id"], big["tier"], big["ruleset_version"]) == ("t-big", "big", "t1")
        assert big["trace"]["level"] == "tier"
        assert {r["rule_id"] for r in big["trace"]["rejected_candidates"]} == {"s-pen", "r-na"}
        assert big["advisor_email"] == "ann@advisors.example.com"
        assert all(e["_key"] == e["payload"]["client_id"] for e in events)

        conflicts = await read_topic(
            rules_settings.kafka.bootstrap_servers,
            rules_settings.kafka.topics.conflict_detected,
            expect=1,
        )
        assert [(c["payload"]["kind"], c["payload"]["client_id"]) for c in conflicts] == [
            ("no_territory", "jp-1")
        ]

        # the same client again, unchanged: no new assignment
        await publish(*clients_event(golden("gb-1", country="GB", version=2)))
        # a change that matters: FR client becomes a US pension fund
        await publish(*clients_event(golden("fr-1", country="US", segment="Pension", version=2)))
        # a client merged away: its assignment ends
        await publish(*clients_event(golden("gb-2", country="GB", retired=True, version=2)))
        await wait_for(
            lambda: (
                "gb-2" not in service.book.clients
                and service.book.placements["fr-1"].territory_id == "NA-PEN"
            )
        )
        await settle()
        events = await assignments(rules_settings, expect=9, timeout=3)
        later = sorted(
            [
                e["payload"]
                for e in events
                if e["payload"]["changed_by"] == "rules-engine"
                and e["payload"]["previous_territory_id"]
            ],
            key=lambda p: p["client_id"],
        )
        assert [(p["client_id"], p["previous_territory_id"], p["territory_id"]) for p in later] == [
            ("fr-1", "EU", "NA-PEN"),
            ("gb-2", "EU", None),
        ]
        assert len(events) == 8


async def test_ruleset_change_replays_and_emits_only_moved_clients(rules_settings, publish):
    await publish(*clients_event(*SAMPLE))
    async with running(rules_settings) as service:
        first = await assignments(rules_settings, expect=6)
        assert len(first) == 6
        # the same ruleset again (new version label, same rules): nobody moves
        await publish(release({"version": "t1-again"}))
        await wait_for(lambda: service.active.version == "t1-again")
        await publish(release(GB_MOVES))
        await wait_for(lambda: service.book.placements["gb-2"].territory_id == "EU-2")
        await settle()
        events = await assignments(rules_settings, expect=9, timeout=3)
        assert len(events) == 8
        moved = [e["payload"] for e in events if e["payload"]["ruleset_version"] == "t2"]
        assert sorted(p["client_id"] for p in moved) == ["gb-1", "gb-2"]
        assert {(p["territory_id"], p["previous_territory_id"], p["rule_id"]) for p in moved} == {
            ("EU-2", "EU", "r-gb")
        }
        assert all(p["changed_by"].startswith("replay:t2") for p in moved)

        # the nightly job with nothing changed: no event
        await publish(
            RulesCommanded(
                producer="t", payload=RulesCommand(action="reassign", requested_by="nightly")
            )
        )
        await settle(1.0)
        assert len(await assignments(rules_settings, expect=9, timeout=2)) == 8

        # an invalid ruleset is refused (dead letter), the active one stays
        bad = release({"version": "t3"})
        bad.payload.document["rules"][0]["territory"] = "NOWHERE"
        await publish(bad)
        rejected = await read_topic(
            rules_settings.kafka.bootstrap_servers,
            rules_settings.kafka.topics.client_rejected,
            expect=1,
        )
        assert rejected[0]["payload"]["source_key"] == "ruleset:t3"
        assert service.active.version == "t2"
        assert "t3" in (service.describe().last_refusal or "")


async def test_ruleset_that_causes_a_refusing_conflict_is_not_activated(rules_settings, publish):
    await publish(*clients_event(*SAMPLE[:3]))
    async with running(rules_settings) as service:
        await assignments(rules_settings, expect=3)
        # US clients would have no territory: `no_territory` refuses this ruleset
        refused = release(
            {
                "version": "t-gap",
                "rules": [
                    r for r in ruleset_doc()["rules"] if r["id"] not in ("r-na", "s-pen", "t-big")
                ],
                "conflicts": {"no_territory": {"severity": "error", "action": "refuse_ruleset"}},
            }
        )
        await publish(refused)
        conflicts = await read_topic(
            rules_settings.kafka.bootstrap_servers,
            rules_settings.kafka.topics.conflict_detected,
            expect=3,
        )
        assert {c["payload"]["action"] for c in conflicts} == {"refuse_ruleset"}
        assert service.active.version == "t1"
        await settle()
        assert len(await assignments(rules_settings, expect=4, timeout=2)) == 3
    # a restart does not activate the refused ruleset either (it is the last one published)
    async with running(rules_settings, subscribe=False) as service:
        assert service.active.version == "t1"
    assert len(await assignments(rules_settings, expect=4, timeout=2)) == 3


async def test_restart_mid_replay_finishes_without_duplicates(rules_settings, publish, monkeypatch):
    many = [golden(f"gb-{i:03d}", country="GB") for i in range(60)]
    many += [golden(f"us-{i:03d}", country="US") for i in range(20)]
    await publish(*clients_event(*many))
    async with running(rules_settings) as service:
        await wait_for(lambda: len(service.book.placements) == 80)
    assert len(await assignments(rules_settings, expect=80)) == 80

    # the new ruleset is published while the service is down …
    await publish(release(GB_MOVES))
    # … the next instance applies it at start and dies after three chunks of the replay
    # (7 clients per chunk, each chunk published before the next is decided)
    real = EventPublisher.publish_many
    chunks = 0

    async def dying(self, events):
        nonlocal chunks
        chunks += 1
        if chunks > 3:
            raise RuntimeError("killed mid-replay")
        await real(self, events)

    monkeypatch.setattr(EventPublisher, "publish_many", dying)
    with pytest.raises(RuntimeError, match="killed mid-replay"):
        async with running(rules_settings):
            pass
    monkeypatch.undo()
    partial = await assignments(rules_settings, expect=140, timeout=3)
    assert 80 < len(partial) < 140

    # the restarted instance finishes the replay; nobody moves twice
    async with running(rules_settings) as service:
        assert service.active.version == "t2"
    events = await assignments(rules_settings, expect=141, timeout=3)
    assert len(events) == 140
    per_client = Counter(e["payload"]["client_id"] for e in events)
    assert {c: n for c, n in per_client.items() if c.startswith("gb")} == {
        f"gb-{i:03d}": 2 for i in range(60)
    }
    assert all(per_client[f"us-{i:03d}"] == 1 for i in range(20))


async def test_preview_over_http_publishes_nothing(rules_settings, publish):
    await publish(*clients_event(*SAMPLE))
    app = create_app(rules_settings)
    async with running(rules_settings) as service:
        app.state.service = service
        await assignments(rules_settings, expect=6)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rules") as client:
            import yaml

            body = yaml.safe_dump(ruleset_doc(**GB_MOVES))
            response = await client.post(
                "/v1/preview", content=body, headers={"content-type": "application/yaml"}
            )
            assert response.status_code == 200, response.text
            diff = response.json()
            assert (diff["active_version"], diff["candidate_version"]) == ("t1", "t2")
            assert diff["moved"] == 2
            assert {m["client_id"] for m in diff["moves"]} == {"gb-1", "gb-2"}
            counts = {t["territory_id"]: (t["before"], t["after"]) for t in diff["territories"]}
            assert counts["EU"] == (3, 1)
            assert counts["EU-2"] == (0, 2)
            cat = next(a for a in diff["advisors"] if a["advisor_email"].startswith("cat"))
            assert cat["before"] == cat["after"] == {"small": 3}
            assert diff["new_conflicts"] == []
            assert diff["resolved_conflicts"] == []

            # JSON bodies work too, and invalid candidates get their problems with paths
            bad = ruleset_doc(version="x")
            bad["rules"][0]["when"] = {"field": "colour", "op": "eq", "value": 1}
            response = await client.post("/v1/preview", json=bad)
            assert response.status_code == 422
            assert response.json()["problems"][0]["path"] == "rules.0.when.field"

            active = (await client.get("/v1/ruleset")).json()
            assert (active["version"], active["clients"], active["assigned"]) == ("t1", 7, 6)
            assert active["document"]["territories"][0]["id"] == "NA"
            assert active["last_replay"]["run_id"].startswith("replay:startup")
            assert active["last_replay"]["clients"] == 7
            assert (await client.get("/readyz")).status_code == 200
        await settle()
        assert len(await assignments(rules_settings, expect=7, timeout=2)) == 6
        assert service.active.version == "t1"


async def test_cli_publish_and_reassign_put_events_on_the_topics(kafka_settings, monkeypatch):
    from pathlib import Path

    from typer.testing import CliRunner

    from territory.rules.cli import app

    monkeypatch.setenv("TERRITORY_KAFKA__BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
    monkeypatch.setenv("TERRITORY_KAFKA__TOPIC_PREFIX", kafka_settings.topic_prefix)
    sample = Path(__file__).resolve().parents[3] / "data" / "sample" / "ruleset.yaml"
    runner = CliRunner()
    # the CLI runs its own event loop: keep it off this test's loop
    result = await asyncio.to_thread(
        runner.invoke, app, ["publish", str(sample), "--by", "ops@bank.example.com"]
    )
    assert result.exit_code == 0, result.output
    result = await asyncio.to_thread(runner.invoke, app, ["reassign", "--by", "nightly"])
    assert result.exit_code == 0, result.output
    servers, topics = kafka_settings.bootstrap_servers, kafka_settings.topics
    published = await read_topic(servers, topics.ruleset_published, expect=1)
    assert published[0]["payload"]["version"] == "2026.11.1"
    assert published[0]["payload"]["published_by"] == "ops@bank.example.com"
    assert published[0]["payload"]["document"]["territories"][0]["id"] == "NA-STRATEGIC"
    commands = await read_topic(servers, topics.rules_command, expect=1)
    assert commands[0]["payload"]["action"] == "reassign"


async def test_the_initial_ruleset_file_is_announced_once(rules_settings, publish):
    """With nothing on ruleset.published, the service activates its configured file and
    publishes it, so the warehouse and the API know the active version; a restart reads it
    back from the topic and announces nothing more."""
    topic = rules_settings.kafka.topics.ruleset_published
    servers = rules_settings.kafka.bootstrap_servers
    async with running(rules_settings) as service:
        published = await read_topic(servers, topic, expect=1)
        assert service.engine is not None
        assert service.engine.version == "t1"
    assert len(published) == 1
    payload = published[0]["payload"]
    assert payload["version"] == "t1"
    assert payload["replay"] is False
    assert payload["published_by"].startswith("rules-service (initial ruleset")
    assert {t["id"] for t in payload["document"]["territories"]} >= {"NA", "EU"}

    async with running(rules_settings) as service:
        await settle(1.0)
        assert service.engine is not None
        assert service.engine.version == "t1"
    assert len(await read_topic(servers, topic, expect=2, timeout=3)) == 1
    assert len(await assignments(rules_settings, expect=1, timeout=2)) == 0


async def test_a_malformed_assignment_on_the_topic_does_not_stop_a_restart(rules_settings, publish):
    await publish(*clients_event(*SAMPLE[:4]))
    async with running(rules_settings) as service:
        await wait_for(lambda: len(service.book.placements) == 4)
    # A truncated record on our own topic (`Invalid JSON: EOF while parsing`) used to
    # crash the rebuild; it is skipped, and the rest of the state comes back.
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=rules_settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            rules_settings.kafka.topics.assignment_changed,
            b'{"payload": {"client_id": "x"',
            key=b"x",
        )
    finally:
        await producer.stop()
    async with running(rules_settings, subscribe=False) as service:
        assert service.ready
        assert set(service.book.placements) == {c.client_id for c in SAMPLE[:4]}
    from territory.shared.broker import topic_message_counts

    counts = await topic_message_counts(rules_settings.kafka)
    # four assignments and the malformed record: nothing re-emitted
    assert counts[rules_settings.kafka.topics.assignment_changed] == 5


async def test_assignments_of_a_batch_whose_publish_failed_are_published_by_the_retry(
    rules_settings, publish, monkeypatch
):
    """The book takes a batch's decisions before they are published; when that publish
    fails, deciding again finds no change, so the retry must still send them."""
    async with running(rules_settings) as service:
        real = service.publisher.publish_many
        failures = []

        async def flaky(events):
            if not failures and any(e.event_type == "assignment.changed" for e in events):
                failures.append(len(events))
                raise ConnectionError("broker went away")
            await real(events)

        monkeypatch.setattr(service.publisher, "publish_many", flaky)
        await publish(*clients_event(*SAMPLE[:3]))
        await wait_for(lambda: len(service.client_offsets) == 3)
        events = await assignments(rules_settings, expect=3)
        assert failures, "the first publish of assignments did not fail"
        assert sorted(e["payload"]["client_id"] for e in events) == ["us-1", "us-big", "us-pen"]


def _stale_skipped() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("territory_rules_stale_skipped_total") or 0.0


async def test_a_stale_golden_version_moves_nothing_live_or_after_a_restart(
    rules_settings, publish
):
    """Issue 13: an older client.deduplicated version published again is not applied."""
    await publish(*clients_event(golden("fr-1", country="FR", version=2)))
    async with running(rules_settings) as service:
        await wait_for(lambda: "fr-1" in service.book.placements)
        assert service.book.placements["fr-1"].territory_id == "EU"
        before = _stale_skipped()
        # The older version says US pension fund: applying it would move the client.
        await publish(*clients_event(golden("fr-1", country="US", segment="Pension", version=1)))
        await wait_for(lambda: _stale_skipped() > before)
        await settle()
        assert service.book.placements["fr-1"].territory_id == "EU"
        assert service.client_versions["fr-1"] == 2
        await publish(*clients_event(golden("fr-1", country="US", segment="Pension", version=3)))
        await wait_for(lambda: service.book.placements["fr-1"].territory_id == "NA-PEN")
    events = await assignments(rules_settings, expect=2, timeout=3)
    assert [e["payload"]["territory_id"] for e in events] == ["EU", "NA-PEN"]
    # The rebuild reads v2, v1, v3: it holds v3, and the stale v1 is skipped there too.
    async with running(rules_settings) as service:
        assert service.client_versions["fr-1"] == 3
        assert service.book.placements["fr-1"].territory_id == "NA-PEN"


GARBAGE = [b"", b'{"event_type": "assignment.changed", "payload": {"client_id"', b"\xff\xfe", b"[]"]


async def test_malformed_records_on_every_rebuilt_topic_do_not_stop_start_up(
    rules_settings, publish
):
    """Issue 13: the start-up rebuild goes through the kernel's guard on every topic."""
    from aiokafka import AIOKafkaProducer

    topics = rules_settings.kafka.topics
    await publish(*clients_event(golden("gb-1", country="GB", version=1)))
    producer = AIOKafkaProducer(bootstrap_servers=rules_settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        for topic in (
            topics.ruleset_published,
            topics.client_deduplicated,
            topics.assignment_changed,
            topics.conflict_detected,
        ):
            for value in GARBAGE:
                await producer.send_and_wait(topic, value, key=b"gb-1")
    finally:
        await producer.stop()
    async with running(rules_settings) as service:
        assert service.ready
        assert service.book.placements["gb-1"].territory_id == "EU"
