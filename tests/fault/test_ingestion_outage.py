"""The broker down under the ingestion service (issue 13, defect 5): a request is answered
503 with Retry-After within the publish timeout instead of hanging, a request refused while
the broker is known to be down publishes nothing later, the batch that was in flight when
the timeout struck is reported (log + metric) when it lands, and the CLI ends with one line
naming the broker. The broker is one of the suite's own (never the shared one)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from harness.kafka import Broker, read_all
from harness.stack import free_port
from typer.testing import CliRunner

from territory.ingestion.app import create_app
from territory.ingestion.pipeline import LATE
from territory.ingestion.runtime import running
from territory.ingestion.settings import IngestionOptions, IngestionSettings
from territory.shared.cli import _load_plugins, app
from territory.shared.settings import ArchiveSettings, KafkaSettings

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(600)]

TIMEOUT_S = 2.0


def record(source_id: str) -> dict[str, str]:
    return {"source_system": "crm", "source_id": source_id, "name": f"Fund {source_id}"}


def late(outcome: str) -> float:
    return LATE.labels(outcome)._value.get()


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    b = Broker(tmp_path / "kafka", free_port(), free_port())
    await asyncio.to_thread(b.up)
    try:
        yield b
    finally:
        await asyncio.to_thread(b.down)


async def test_requests_are_answered_503_while_the_broker_is_down(broker, tmp_path):
    settings = IngestionSettings(
        kafka=KafkaSettings(bootstrap_servers=broker.bootstrap, topic_prefix="outage."),
        archive=ArchiveSettings(local_dir=tmp_path / "archive"),
        ingestion=IngestionOptions(publish_timeout_seconds=TIMEOUT_S, spool_dir=str(tmp_path)),
    )
    topic = settings.kafka.topics.client_received
    api = create_app(settings)
    async with running(settings) as runtime:
        api.state.runtime = runtime
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:
            # A fresh broker elects partition leaders first: retry until it takes records.
            for _ in range(30):
                ok = await client.post("/v1/clients", json=record("before"))
                if ok.status_code == 202:
                    break
            assert ok.status_code == 202, ok.text

            await asyncio.to_thread(broker.down)
            published_late = late("published")
            started = time.monotonic()
            first = await client.post("/v1/clients", json=[record("inflight"), record("x")])
            took = time.monotonic() - started
            assert first.status_code == 503, first.text
            assert took < TIMEOUT_S + 5, f"answered after {took:.1f}s"
            assert first.headers["content-type"].startswith("application/problem+json")
            assert int(first.headers["retry-after"]) >= 1
            body = first.json()
            assert (body["published"], body["unacknowledged"]) == (0, 2)
            assert broker.bootstrap not in first.text  # the address is logged, not returned

            # Known down now: refused before anything is handed to the producer.
            refused = await client.post("/v1/clients", json=record("refused"))
            assert refused.status_code == 503
            upload = await client.post(
                "/v1/uploads",
                params={"filename": "f.csv", "source_system": "crm"},
                content=b"source_id,name\nrefused-file,Fund F\n",
                headers={"content-type": "text/csv"},
            )
            assert upload.status_code == 503, upload.text
            assert "retry-after" in upload.headers

            await asyncio.to_thread(broker.up)
            for _ in range(180):
                if not runtime.ingestor.late:
                    break
                await asyncio.sleep(0.5)
            assert not runtime.ingestor.late, "the in-flight batch never settled"
            # It was in the producer when the timeout struck: it landed, and that is counted.
            assert late("published") == published_late + 1

            back = await client.post("/v1/clients", json=record("after"))
            assert back.status_code == 202, back.text

    keys = [e["key"].decode() for e in await read_all(broker.bootstrap, topic)]
    assert "crm:refused" not in keys
    assert "crm:refused-file" not in keys
    assert {"crm:before", "crm:after", "crm:inflight"} <= set(keys)


def test_cli_names_the_broker_it_cannot_reach(tmp_path, monkeypatch):
    path = tmp_path / "accounts.csv"
    path.write_text("source_id,name\na1,Northwind Pension Plan\n", encoding="utf-8")
    bogus = f"127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("TERRITORY_KAFKA__BOOTSTRAP_SERVERS", bogus)
    monkeypatch.setenv("TERRITORY_ARCHIVE__LOCAL_DIR", str(tmp_path / "archive"))
    _load_plugins()
    result = CliRunner().invoke(app, ["ingest", "file", str(path), "--source-system", "crm"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert bogus in lines[0]
    assert lines[0].startswith("error:")
    assert json.dumps(bogus).strip('"') in result.output
