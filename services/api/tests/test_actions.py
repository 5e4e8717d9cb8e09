"""Actions are events on the real broker; previews go to the rules service over HTTP."""

from __future__ import annotations

import pytest

from territory.api.actions import next_version
from territory.api.security import Role
from territory.shared.rulesets import PreviewDiff
from territory.shared.testing import read_topic, settle

from .utils.tokens import bearer, token_for

pytestmark = pytest.mark.kafka

ADMIN = bearer(token_for(Role.ADMIN, subject="ada@territory.test"))
ANALYST = bearer(token_for(Role.CRM_ANALYST, "NA", subject="carl@territory.test"))
ENGINEER = bearer(token_for(Role.DATA_ENGINEER, subject="dora@territory.test"))


def _added(diff: PreviewDiff) -> list[str]:
    return [t.territory_id for t in diff.territories if t.before == 0 and t.after > 0]


def _removed(diff: PreviewDiff) -> list[str]:
    return [t.territory_id for t in diff.territories if t.before > 0 and t.after == 0]


CANDIDATE = {
    "version": "2026.12.1",
    "territories": [
        {"id": "na-east", "name": "NA East", "region": "NA", "advisors": ["ann@example.com"]},
        {"id": "apac-sg", "name": "Singapore", "region": "APAC", "advisors": []},
    ],
    "advisors": [{"email": "ann@example.com", "name": "Ann", "capacity": {"t1": 10}}],
    "tiers": [{"id": "t1"}],
    "rules": [],
}


async def test_preview_forwards_the_candidate_and_the_callers_token(client, fake_rules):
    response = await client.post(
        "/api/rulesets/preview", json={"document": CANDIDATE}, headers=ANALYST
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["candidate_version"] == "2026.12.1"
    diff = PreviewDiff.model_validate(body["diff"])
    assert _added(diff) == ["apac-sg"]
    assert _removed(diff) == ["emea-uk"]
    assert diff.active_version == "2026.11.7"
    assert diff.candidate_version == "2026.12.1"
    (sent,) = fake_rules.requests
    assert sent["path"] == "/v1/preview"
    assert sent["authorization"] == ANALYST["authorization"]
    assert sent["body"]["rules"] == []
    assert sent["body"]["tiers"] == [{"id": "t1"}]


async def test_preview_accepts_yaml_text(client, fake_rules):
    text = "version: '9'\nterritories:\n  - {id: x, name: X, region: NA}\nadvisors: []\n"
    response = await client.post("/api/rulesets/preview", json={"yaml": text}, headers=ANALYST)
    assert response.status_code == 200, response.text
    assert _added(PreviewDiff.model_validate(response.json()["diff"])) == ["x"]


async def test_preview_refuses_an_answer_that_is_not_a_preview(client, runtime, monkeypatch):
    async def invented(document, authorization):
        return {"territories_added": ["x"]}

    monkeypatch.setattr(runtime.rules, "preview", invented)
    response = await client.post(
        "/api/rulesets/preview", json={"document": CANDIDATE}, headers=ANALYST
    )
    assert response.status_code == 502
    assert "not a preview" in response.json()["detail"]


async def test_preview_refuses_a_territory_the_rules_service_would_refuse(client, fake_rules):
    bad = {**CANDIDATE, "territories": [{"id": "m", "name": "Mars", "region": "MARS"}]}
    response = await client.post("/api/rulesets/preview", json={"document": bad}, headers=ANALYST)
    assert response.status_code == 422
    assert fake_rules.requests == []


async def test_preview_refuses_a_document_without_version(client, fake_rules):
    bad = {k: v for k, v in CANDIDATE.items() if k != "version"}
    response = await client.post("/api/rulesets/preview", json={"document": bad}, headers=ANALYST)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert fake_rules.requests == []


@pytest.mark.parametrize(
    ("status", "delay", "expected"),
    [(500, 0.0, 502), (422, 0.0, 422), (200, 1.5, 504)],
)
async def test_preview_turns_rules_failures_into_problems(
    client, fake_rules, runtime, status, delay, expected, monkeypatch
):
    fake_rules.status, fake_rules.delay = status, delay
    monkeypatch.setattr(runtime.rules._client, "timeout", __import__("httpx").Timeout(0.5))
    response = await client.post(
        "/api/rulesets/preview", json={"document": CANDIDATE}, headers=ANALYST
    )
    assert response.status_code == expected, response.text
    problem = response.json()
    assert problem["status"] == expected
    assert "Traceback" not in response.text


async def test_preview_when_the_rules_service_is_down(client, runtime, monkeypatch):
    # A port nothing listens on: bind one, then close it.
    import socket

    import httpx

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setattr(
        runtime.rules, "_client", httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    )
    response = await client.post(
        "/api/rulesets/preview", json={"document": CANDIDATE}, headers=ANALYST
    )
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


async def test_publish_puts_the_ruleset_on_the_broker(kafka_client):
    client, kafka = kafka_client
    response = await client.post(
        "/api/rulesets", json={"document": CANDIDATE, "comment": "Singapore opens"}, headers=ADMIN
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    (event,) = await read_topic(kafka.bootstrap_servers, kafka.topics.ruleset_published, expect=1)
    assert event["event_id"] == accepted["event_id"]
    assert accepted["topic"] == kafka.topics.ruleset_published
    assert event["event_type"] == "ruleset.published"
    payload = event["payload"]
    assert payload["version"] == "2026.12.1"
    assert payload["published_by"] == "ada@territory.test"
    assert payload["comment"] == "Singapore opens"
    assert payload["document"]["territories"][1]["id"] == "apac-sg"
    assert payload["document"]["tiers"] == [{"id": "t1"}]  # fields the API does not know survive
    assert event["_key"] == "ruleset"


async def test_whitelist_publishes_a_new_version_of_the_active_ruleset(kafka_client, fake_rules):
    client, kafka = kafka_client
    response = await client.post(
        "/api/rulesets/whitelist",
        json={
            "client_id": "c-42",
            "territory_id": "emea-uk",
            "reason": "board decision",
            "expires": "2027-01-31",
        },
        headers=ANALYST,
    )
    assert response.status_code == 202, response.text
    assert response.json()["version"] == "2026.11.8"
    assert response.json()["previous_version"] == "2026.11.7"
    (event,) = await read_topic(kafka.bootstrap_servers, kafka.topics.ruleset_published, expect=1)
    document = event["payload"]["document"]
    assert document["version"] == "2026.11.8"
    assert document["whitelist"][-1] == {
        "client_id": "c-42",
        "territory": "emea-uk",
        "reason": "board decision",
        "owner": "carl@territory.test",
        "expires": "2027-01-31",
    }
    assert document["whitelist"][0]["client_id"] == "c-old"  # earlier entries are kept
    assert document["territories"] == fake_rules.active["territories"]


async def test_blacklist_merges_with_the_clients_existing_entry(kafka_client):
    client, kafka = kafka_client
    response = await client.post(
        "/api/rulesets/blacklist",
        json={"client_id": "c-9", "territory_ids": ["emea-uk"], "reason": "sanctions"},
        headers=ANALYST,
    )
    assert response.status_code == 202, response.text
    (event,) = await read_topic(kafka.bootstrap_servers, kafka.topics.ruleset_published, expect=1)
    (entry,) = event["payload"]["document"]["blacklist"]
    assert entry["territories"] == ["emea-uk", "na-east"]
    assert entry["reason"] == "sanctions"


async def test_override_without_the_rules_service_publishes_nothing(kafka_client, fake_rules):
    client, kafka = kafka_client
    fake_rules.status = 503
    response = await client.post(
        "/api/rulesets/whitelist",
        json={"client_id": "c-1", "territory_id": "na-east", "reason": "x"},
        headers=ANALYST,
    )
    assert response.status_code == 502
    await settle()
    assert (
        await read_topic(
            kafka.bootstrap_servers, kafka.topics.ruleset_published, expect=1, timeout=1
        )
        == []
    )


async def test_reassign_and_acknowledge_are_rules_commands(kafka_client):
    client, kafka = kafka_client
    r1 = await client.post(
        "/api/assignments/reassign", json={"reason": "nightly"}, headers=ENGINEER
    )
    r2 = await client.post(
        "/api/conflicts/multi_territory:c-na-4/acknowledge",
        json={"reason": "known"},
        headers=ANALYST,
    )
    assert (r1.status_code, r2.status_code) == (202, 202), (r1.text, r2.text)
    events = await read_topic(kafka.bootstrap_servers, kafka.topics.rules_command, expect=2)
    by_id = {e["event_id"]: e["payload"] for e in events}
    reassign = by_id[r1.json()["event_id"]]
    ack = by_id[r2.json()["event_id"]]
    assert (reassign["action"], reassign["requested_by"], reassign["reason"]) == (
        "reassign",
        "dora@territory.test",
        "nightly",
    )
    assert (ack["action"], ack["conflict_id"]) == ("acknowledge_conflict", "multi_territory:c-na-4")


async def test_acknowledging_an_unknown_conflict_is_404_and_publishes_nothing(kafka_client):
    client, kafka = kafka_client
    response = await client.post("/api/conflicts/nope/acknowledge", json={}, headers=ANALYST)
    assert response.status_code == 404
    await settle()
    topic = kafka.topics.rules_command
    assert await read_topic(kafka.bootstrap_servers, topic, expect=1, timeout=1) == []


async def test_dedupe_decisions_are_dedupe_commands(kafka_client):
    client, kafka = kafka_client
    merge = await client.post(
        "/api/dedupe/review/decisions",
        json={"action": "merge", "client_ids": ["c-na-1", "c-na-2"], "reason": "same LEI"},
        headers=ENGINEER,
    )
    bad_split = await client.post(
        "/api/dedupe/review/decisions",
        json={"action": "split", "client_ids": ["c-1"], "source_keys": []},
        headers=ENGINEER,
    )
    assert merge.status_code == 202, merge.text
    assert bad_split.status_code == 422
    await settle()
    (event,) = await read_topic(
        kafka.bootstrap_servers, kafka.topics.dedupe_command, expect=2, timeout=2
    )
    assert event["event_id"] == merge.json()["event_id"]
    assert event["payload"]["client_ids"] == ["c-na-1", "c-na-2"]
    assert event["payload"]["decided_by"] == "dora@territory.test"


def test_next_version():
    assert next_version("2026.11.7") == "2026.11.8"
    assert next_version("v09") == "v10"
    assert next_version("v099") == "v100"
    assert next_version("baseline") == "baseline.1"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"action": "merge", "client_ids": ["c-na-1", "c-nobody"]}, 404, "no such client"),
        ({"action": "merge", "client_ids": ["c-na-1", "c-na-retired"]}, 409, "retired"),
        ({"action": "merge", "client_ids": ["c-na-1", "c-na-1"]}, 409, "itself"),
        (
            {"action": "split", "client_ids": ["c-nobody"], "source_keys": ["hubspot:c-na-1"]},
            404,
            "no such client",
        ),
        (
            {"action": "split", "client_ids": ["c-na-1"], "source_keys": ["hubspot:nope"]},
            404,
            "no such source record",
        ),
        (
            {"action": "split", "client_ids": ["c-na-1"], "source_keys": ["hubspot:c-na-2"]},
            409,
            "belongs to another client",
        ),
        (
            {
                "action": "split",
                "client_ids": ["c-na-1"],
                "source_keys": ["hubspot:c-na-1", "salesforce:c-na-1"],
            },
            409,
            "empty",
        ),
    ],
)
async def test_commands_that_could_not_be_applied_are_refused_before_publishing(
    kafka_client, body, status, says
):
    """Issue 13: merge / split naming unknown ids were accepted and silently did nothing."""
    client, kafka = kafka_client
    response = await client.post("/api/dedupe/review/decisions", json=body, headers=ENGINEER)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]
    await settle()
    topic = kafka.topics.dedupe_command
    assert await read_topic(kafka.bootstrap_servers, topic, expect=1, timeout=1) == []
