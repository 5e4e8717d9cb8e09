"""The committed AsyncAPI document is generated from the contract: it must not drift."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_asyncapi", ROOT / "scripts" / "gen_asyncapi.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_asyncapi_matches_the_contract():
    committed = json.loads((ROOT / "docs" / "asyncapi" / "territory-events.json").read_text())
    assert load_generator().build() == committed, "run `make asyncapi` and commit docs/asyncapi"


def test_every_topic_has_a_channel_with_its_payload_schema():
    doc = load_generator().build()
    assert set(doc["channels"]) >= {"client.received", "client.rejected", "ruleset.published"}
    record = doc["components"]["schemas"]["ClientRecord"]
    assert {"source_system", "source_id", "name"} <= set(record["required"])


def test_the_document_comes_from_the_real_services_handlers():
    operations = load_generator().build()["operations"]
    receives = {k for k, op in operations.items() if op["action"] == "receive"}
    sends = {k for k, op in operations.items() if op["action"] == "send"}
    # dedupe consumes client.received and publishes golden clients; the loader reads all.
    assert "client.received:OnClientReceivedSubscribe" in receives
    assert "client.deduplicated:dedupe.on_client_received" in sends
    assert "client.received:ingestion" in sends
    assert "ruleset.published:api" in sends
    assert {k.split(":")[0] for k in receives if k.endswith("OnBatchSubscribe")} >= {
        "client.received",
        "assignment.changed",
        "client.rejected",
    }
    # every consumer may dead-letter
    assert "client.rejected:dedupe.on_client_received" in sends
