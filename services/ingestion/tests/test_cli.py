import asyncio
import json

import pytest
from typer.testing import CliRunner

from territory.shared.cli import _load_plugins, app
from territory.shared.testing import read_topic

pytestmark = pytest.mark.kafka


def test_cli_ingests_a_file_and_reports_by_reason(ingestion_settings, tmp_path, monkeypatch):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "source_id,name,country,advisor_email\n"
        "a1,Northwind Pension Plan,CA,\n"
        "a2,Bluewater Bank,GB,not-an-email\n"
        "a3,Cedar Holdings,JP,\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(
        "TERRITORY_KAFKA__BOOTSTRAP_SERVERS", ingestion_settings.kafka.bootstrap_servers
    )
    monkeypatch.setenv("TERRITORY_KAFKA__TOPIC_PREFIX", ingestion_settings.kafka.topic_prefix)
    monkeypatch.setenv("TERRITORY_ARCHIVE__LOCAL_DIR", str(tmp_path / "archive"))
    _load_plugins()
    result = CliRunner().invoke(
        app, ["ingest", "file", str(path), "--source-system", "CSV", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["accepted"] == 2
    assert report["rejected_by_reason"] == {"invalid_value": 1}
    assert report["archive_uri"].startswith("file://")


async def test_cli_events_arrive(ingestion_settings, tmp_path, monkeypatch):
    path = tmp_path / "accounts.jsonl"
    path.write_text('{"source_id": "j1", "name": "Aurora Foundation", "country": "DE"}\n{"oops"\n')
    monkeypatch.setenv(
        "TERRITORY_KAFKA__BOOTSTRAP_SERVERS", ingestion_settings.kafka.bootstrap_servers
    )
    monkeypatch.setenv("TERRITORY_KAFKA__TOPIC_PREFIX", ingestion_settings.kafka.topic_prefix)
    monkeypatch.setenv("TERRITORY_ARCHIVE__LOCAL_DIR", str(tmp_path / "archive"))
    _load_plugins()
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["ingest", "file", str(path), "--source-system", "hubspot", "--json"],
    )
    assert result.exit_code == 0, result.output
    servers = ingestion_settings.kafka.bootstrap_servers
    received = await read_topic(servers, ingestion_settings.kafka.topics.client_received, expect=1)
    rejected = await read_topic(servers, ingestion_settings.kafka.topics.client_rejected, expect=1)
    assert [e["_key"] for e in received] == ["hubspot:j1"]
    assert rejected[0]["payload"]["reason"] == "invalid_json"
    assert rejected[0]["payload"]["row_number"] == 2


def test_cli_refuses_a_file_without_required_columns(tmp_path, monkeypatch, kafka_settings):
    path = tmp_path / "bad.csv"
    path.write_text("title\nx\n")
    monkeypatch.setenv("TERRITORY_KAFKA__TOPIC_PREFIX", kafka_settings.topic_prefix)
    monkeypatch.setenv("TERRITORY_ARCHIVE__LOCAL_DIR", str(tmp_path / "archive"))
    _load_plugins()
    result = CliRunner().invoke(app, ["ingest", "file", str(path)])
    assert result.exit_code == 2
    assert "required columns missing" in result.output
