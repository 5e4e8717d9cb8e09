"""HTTP ingestion against the real broker: what is accepted is on client.received, what is
refused is on client.rejected with its reason, and nothing else is anywhere."""

import base64
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from territory.shared.testing import read_topic

pytestmark = pytest.mark.kafka

GOOD = {
    "source_system": "salesforce",
    "source_id": "001",
    "name": "Acme Pension Fund",
    "country": "CA",
}


async def test_one_record_is_published_with_its_source_key(client, ingestion_settings):
    response = await client.post("/v1/clients", json=GOOD)
    assert response.status_code == 202, response.text
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (1, 0)

    topics = ingestion_settings.kafka.topics
    events = await read_topic(
        ingestion_settings.kafka.bootstrap_servers, topics.client_received, expect=1
    )
    assert len(events) == 1
    event = events[0]
    assert event["_key"] == "salesforce:001"
    assert event["event_type"] == "client.received"
    assert event["payload"]["region"] == "NA"
    assert event["event_id"] == report["results"][0]["event_id"]


async def test_mixed_batch_splits_into_received_and_rejected(client, ingestion_settings):
    batch = [
        GOOD,
        {**GOOD, "source_id": "002", "name": ""},
        {**GOOD, "source_id": "003", "lei": "bogus"},
        "not an object",
        {**GOOD, "source_id": "004", "source_system": None},
        {**GOOD, "source_id": "005", "source_system": "Sales Force!"},
    ]
    response = await client.post("/v1/clients", json=batch, params={"source_system": "dynamics"})
    report = response.json()
    assert response.status_code == 202
    # 004 takes the default source_system; 003's bad LEI is quarantined, not refused.
    assert report["accepted"] == 3
    assert report["rejected"] == 3
    assert report["rejected_by_reason"] == {
        "invalid_json": 1,
        "invalid_value": 1,
        "missing_required_field": 1,
    }
    assert [r["status"] for r in report["results"]] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert report["quarantined"] == 1
    assert report["quarantined_by_field"] == {"lei": 1}
    issues = report["results"][2]["field_issues"]
    assert [(i["field"], i["code"], i["raw"]) for i in issues] == [("lei", "invalid_lei", "bogus")]
    assert "must be 20 characters" in issues[0]["message"]

    servers = ingestion_settings.kafka.bootstrap_servers
    topics = ingestion_settings.kafka.topics
    received = await read_topic(servers, topics.client_received, expect=3)
    rejected = await read_topic(servers, topics.client_rejected, expect=3)
    assert sorted(e["_key"] for e in received) == [
        "dynamics:004",
        "salesforce:001",
        "salesforce:003",
    ]
    (quarantined,) = [e["payload"] for e in received if e["_key"] == "salesforce:003"]
    assert quarantined["lei"] is None
    assert quarantined["field_issues"][0]["raw"] == "bogus"
    assert len(rejected) == 3
    by_key = {e["payload"]["source_key"]: e["payload"] for e in rejected}
    bad = by_key["sales force!:005"]
    assert bad["reason"] == "invalid_value"
    assert bad["stage"] == "ingestion"
    assert bad["errors"][0]["field"] == "source_system"
    assert '"source_system": "Sales Force!"' in bad["original"]


async def test_csv_upload_accounts_for_every_row(client, ingestion_settings, tmp_path):
    body = (
        "source_system,source_id,name,country,aum_usd,extra\n"
        "hubspot,1,Alpha Capital LLC,US,100,x\n"
        "hubspot,2,Beta,US,-5,x\n"
        "hubspot,3,Gamma,US\n"
        "\n"
        "hubspot,4,Délta Bank AG,DE,7,x\n"
    ).encode() + b"hubspot,5,Caf\xe9,FR,1,x\n"
    response = await client.post(
        "/v1/uploads",
        content=body,
        params={"filename": "export.csv"},
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    report = response.json()
    assert report["accepted"] == 3  # row 3's negative aum_usd is quarantined
    assert report["rejected_by_reason"] == {"invalid_encoding": 1, "malformed_row": 1}
    assert report["quarantined_by_field"] == {"aum_usd": 1}
    (negative,) = [p for p in report["problems"] if p["outcome"] == "quarantined"]
    assert negative == {
        "outcome": "quarantined",
        "reason": "greater_than_equal",
        "field": "aum_usd",
        "count": 1,
        "examples": [{"row": 3, "value": "-5"}],
    }
    assert report["blank_lines"] == 1
    assert report["ignored_columns"] == ["extra"]
    archived = Path(report["archive_uri"].removeprefix("file://").replace("%3D", "="))
    assert archived.read_bytes() == body

    servers = ingestion_settings.kafka.bootstrap_servers
    rejected = await read_topic(servers, ingestion_settings.kafka.topics.client_rejected, expect=2)
    rows = {e["payload"]["row_number"]: e["payload"] for e in rejected}
    assert set(rows) == {4, 7}
    assert rows[4]["reason"] == "malformed_row"
    assert rows[4]["original"] == "hubspot,3,Gamma,US"
    assert rows[7]["original_encoding"] == "base64"
    assert base64.b64decode(rows[7]["original"]) == b"hubspot,5,Caf\xe9,FR,1,x"
    assert all(r["upload_id"] == report["upload_id"] for r in rows.values())


async def test_upload_missing_required_columns_is_refused_as_problem(client):
    response = await client.post("/v1/uploads", content=b"id,title\n1,x\n")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "source_id" in response.json()["detail"]


async def test_request_limits(client):
    too_many = [{**GOOD, "source_id": str(i)} for i in range(51)]
    response = await client.post("/v1/clients", json=too_many)
    assert response.status_code == 413
    response = await client.post("/v1/clients", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["title"] == "Request refused"


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"broker": True}
    metrics = await client.get("/metrics/")
    assert metrics.status_code == 200


def jsonl_stream(rows: int):
    async def gen():
        chunk = []
        for i in range(rows):
            chunk.append(
                f'{{"source_system":"csv","source_id":"{i}","name":"Client {i} Ltd","country":"GB"}}\n'
            )
            if len(chunk) == 5000:
                yield "".join(chunk).encode()
                chunk = []
        if chunk:
            yield "".join(chunk).encode()

    return gen()


async def end_offsets(servers: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=servers)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return sum((await consumer.end_offsets(parts)).values())
    finally:
        await consumer.stop()


@pytest.mark.slow
async def test_100k_rows_streamed_upload(client, ingestion_settings):
    response = await client.post(
        "/v1/uploads",
        content=jsonl_stream(100_000),
        params={"filename": "big.jsonl"},
        timeout=300,
    )
    assert response.status_code == 202, response.text
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (100_000, 0)
    topic = ingestion_settings.kafka.topics.client_received
    assert await end_offsets(ingestion_settings.kafka.bootstrap_servers, topic) == 100_000


async def test_an_upload_is_spooled_and_parsed_off_the_event_loop(client, monkeypatch):
    import threading

    from territory.ingestion import files

    loop_thread = threading.current_thread()
    parsed_in: set[threading.Thread] = set()
    real_iter_csv = files.iter_csv

    def watched(*args, **kwargs):
        for row in real_iter_csv(*args, **kwargs):
            parsed_in.add(threading.current_thread())
            yield row

    monkeypatch.setattr(files, "iter_csv", watched)
    monkeypatch.setattr(files, "PARSE_CHUNK_ROWS", 7)
    rows = "".join(f"hubspot,{i},Client {i},US\n" for i in range(50))
    response = await client.post(
        "/v1/uploads",
        content=("source_system,source_id,name,country\n" + rows).encode(),
        params={"filename": "many.csv"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 50
    assert parsed_in
    assert loop_thread not in parsed_in
