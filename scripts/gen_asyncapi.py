"""Generate the AsyncAPI document of the event contract into docs/asyncapi/.

    python scripts/gen_asyncapi.py docs/asyncapi

One document for the whole system, generated from the brokers of the real services, as
their entry modules build them (handlers registered, nothing started): what each service
consumes (its typed handlers) and publishes, with the event model of every topic, so an
upstream CRM team can see exactly what `client.received` accepts (and everyone else what
each topic carries). Nothing here is written by hand but the channel descriptions, so the
document cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from sqlalchemy import create_engine

DESCRIPTIONS = {
    "client.received": "Client records from upstream CRMs (key `source_system:source_id`). "
    "Published by the ingestion service, or directly by a CRM integration; every consumer "
    "validates again.",
    "client.deduplicated": "Golden client records with match evidence (key: golden client_id).",
    "assignment.changed": "A client's territory/advisor changed, with the full decision trace.",
    "conflict.detected": "Rule conflicts: multi-territory, whitelist/blacklist clash, gaps, "
    "capacity, orphans, hierarchy mismatches.",
    "client.rejected": "Dead letters: what was refused, by which stage, why, and the original data.",
    "ruleset.published": "A new ruleset version; triggers a reassignment replay.",
    "dedupe.command": "A reviewer's merge / split decision.",
    "rules.command": "Reassign now, or acknowledge a conflict.",
}


def service_brokers() -> list[KafkaBroker]:
    """Each service's broker as its entry module builds it (default settings)."""
    from territory.api.runtime import build_kernel as api_kernel
    from territory.api.settings import ApiSettings
    from territory.dedupe.service import DedupeService
    from territory.dedupe.settings import DedupeSettings
    from territory.ingestion.runtime import build_kernel as ingestion_kernel
    from territory.ingestion.settings import IngestionSettings
    from territory.loader.runtime import build_kernel as loader_kernel
    from territory.loader.runtime import build_loader
    from territory.loader.settings import LoaderSettings
    from territory.rules.app import build_service as rules_service
    from territory.rules.settings import RulesSettings

    loader_settings = LoaderSettings()
    loader = loader_kernel(loader_settings)
    build_loader(loader_settings, loader, create_engine("sqlite://"))
    return [
        ingestion_kernel(IngestionSettings()).broker,
        DedupeService(DedupeSettings()).broker,
        rules_service(RulesSettings()).publisher.broker,
        loader.broker,
        api_kernel(ApiSettings()).broker,
    ]


def build() -> dict[str, Any]:
    spec = AsyncAPI(
        *service_brokers(),
        title="Territory Engine events",
        version="1",
        description=(
            "Every event is JSON with the envelope event_id, event_type, schema_version, "
            "occurred_at, producer, correlation_id and a payload. Consumers ignore unknown "
            "fields; adding an optional field keeps schema_version."
        ),
    )
    doc: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return one_channel_per_topic(doc)


def one_channel_per_topic(doc: dict[str, Any]) -> dict[str, Any]:
    """faststream gives every publisher and subscriber a channel of its own; a reader wants
    one per topic, whose operations say who sends and who receives it."""
    merged: dict[str, dict[str, Any]] = {}
    renamed: dict[str, str] = {}
    for name, channel in doc["channels"].items():
        topic = channel["address"]
        role = name.partition(":")[2]
        target = merged.setdefault(
            topic, {**channel, "description": DESCRIPTIONS[topic], "messages": {}}
        )
        for key, message in channel["messages"].items():
            new_key = f"{role}:{key}" if role else key
            target["messages"][new_key] = message
            renamed[f"#/channels/{name}/messages/{key}"] = f"#/channels/{topic}/messages/{new_key}"
        renamed[f"#/channels/{name}"] = f"#/channels/{topic}"
    for operation in doc["operations"].values():
        operation["channel"]["$ref"] = renamed[operation["channel"]["$ref"]]
        operation["messages"] = [{"$ref": renamed[m["$ref"]]} for m in operation["messages"]]
    doc["channels"] = dict(sorted(merged.items()))
    doc["operations"] = dict(sorted(doc["operations"].items()))
    # A batch subscriber's payload is a list; each Kafka record carries one of its items.
    for schema in doc["components"]["schemas"].values():
        if schema.get("type") == "array" and schema.get("title", "").endswith(":Payload"):
            items = schema.pop("items")
            del schema["type"]
            schema.update(items)
    return doc


_NAMED = frozenset(("channels", "operations", "messages", "schemas"))


def stable(node: Any, key: str | None = None) -> Any:
    """The document with its name-keyed maps (channels, operations, messages, schemas) in
    name order: faststream collects subscribers in sets, so its order changes per run and
    the committed file would churn on every `make asyncapi`."""
    if isinstance(node, dict):
        items = sorted(node.items()) if key in _NAMED else node.items()
        return {k: stable(v, k) for k, v in items}
    if isinstance(node, list):
        return [stable(v) for v in node]
    return node


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/asyncapi")
    out.mkdir(parents=True, exist_ok=True)
    doc = stable(build())
    (out / "territory-events.yaml").write_text(
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    (out / "territory-events.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print(f"wrote {out}/territory-events.yaml ({len(doc.get('channels', {}))} channels)")


if __name__ == "__main__":
    main()
