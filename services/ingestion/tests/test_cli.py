import asyncio
import json

import pytest
from typer.testing import CliRunner

from territory.shared.cli import _load_plugins, app
from territory.shared.testing import read_topic

pytestmark = pytest.mark.kafka


DIRTY = (
    "source_id,name,country,advisor_email,lei,segment\n"
    "a1,Northwind Pension Plan,CA,,,\n"
    "a2,Bluewater Bank,GB,not-an-email,,\n"
    "a3,Cedar Holdings,JP,,5493001KJTIIGC8Y1R19,Sovereign Wealth\n"
    ",No Id Ltd,US,,,\n"
    "a5,Delta Casino,ZZ,,,Casino\n"
)


def _cli_env(monkeypatch, ingestion_settings, tmp_path):
    monkeypatch.setenv(
        "TERRITORY_KAFKA__BOOTSTRAP_SERVERS", ingestion_settings.kafka.bootstrap_servers
    )
    monkeypatch.setenv("TERRITORY_KAFKA__TOPIC_PREFIX", ingestion_settings.kafka.topic_prefix)
    monkeypatch.setenv("TERRITORY_ARCHIVE__LOCAL_DIR", str(tmp_path / "archive"))
    _load_plugins()


def test_cli_reports_problems_by_reason_and_field_with_rows(
    ingestion_settings, tmp_path, monkeypatch
):
    path = tmp_path / "dirty.csv"
    path.write_text(DIRTY, encoding="utf-8")
    _cli_env(monkeypatch, ingestion_settings, tmp_path)
    result = CliRunner().invoke(
        app, ["ingest", "file", str(path), "--source-system", "crm", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert (report["accepted"], report["rejected"], report["quarantined"]) == (4, 1, 3)
    assert report["rejected_by_reason"] == {"missing_required_field": 1}
    assert report["quarantined_by_field"] == {
        "advisor_email": 1,
        "country": 1,
        "lei": 1,
        "segment": 1,
    }
    problems = {(p["outcome"], p["reason"], p["field"]): p for p in report["problems"]}
    assert problems[("quarantined", "invalid_lei", "lei")]["examples"] == [
        {"row": 4, "value": "5493001KJTIIGC8Y1R19"}
    ]
    assert problems[("quarantined", "unknown_segment", "segment")]["examples"] == [
        {"row": 6, "value": "Casino"}
    ]
    assert problems[("rejected", "missing_required_field", "source_id")]["examples"] == [
        {"row": 5, "value": ""}
    ]

    # The same, for people: counts by reason and field, the rows and values.
    human = CliRunner().invoke(app, ["ingest", "file", str(path), "--source-system", "crm"])
    assert human.exit_code == 0, human.output
    text = " ".join(human.output.split())
    assert "invalid_lei" in text
    assert "4: '5493001KJTIIGC8Y1R19'" in text
    assert "unknown_segment" in text
    assert "missing_required_field" in text
    assert "quarantined: lei" in text


def test_cli_usage_names_the_path_argument():
    _load_plugins()
    result = CliRunner().invoke(app, ["ingest", "file", "--help"])
    assert "PATH" in result.output
    assert "{path}" not in result.output


def test_cli_ingests_a_file_and_reports_by_reason(ingestion_settings, tmp_path, monkeypatch):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "source_id,name,country,advisor_email\n"
        "a1,Northwind Pension Plan,CA,\n"
        "a2,Bluewater Bank,GB,not-an-email\n"
        ",Cedar Holdings,JP,\n",
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
    assert report["rejected_by_reason"] == {"missing_required_field": 1}
    assert report["quarantined_by_field"] == {"advisor_email": 1}
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
