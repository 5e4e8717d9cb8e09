"""Generate the AsyncAPI document of the event contract into docs/asyncapi/.

    python scripts/gen_asyncapi.py docs/asyncapi

One document for the whole contract: a channel per topic with its event model, so an
upstream CRM team can see exactly what `client.received` accepts (and everyone else what
each topic carries). The models are the ones in `territory.shared.events`; nothing here is
written by hand, so the document cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from territory.shared.events import EVENT_TYPES
from territory.shared.topics import TOPIC_SPECS, Topics

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


def build() -> dict[str, Any]:
    broker = KafkaBroker("127.0.0.1:9092", description="Territory Engine event contract")
    topics = Topics()
    for topic in TOPIC_SPECS:
        model = EVENT_TYPES[topic]
        broker.publisher(
            topics.name(topic),
            title=topic.value,
            description=DESCRIPTIONS[topic.value],
            schema=model,
        )
    spec = AsyncAPI(
        broker,
        title="Territory Engine events",
        version="1",
        description=(
            "Every event is JSON with the envelope event_id, event_type, schema_version, "
            "occurred_at, producer, correlation_id and a payload. Consumers ignore unknown "
            "fields; adding an optional field keeps schema_version."
        ),
    )
    doc: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return doc


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/asyncapi")
    out.mkdir(parents=True, exist_ok=True)
    doc = build()
    (out / "territory-events.yaml").write_text(
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    (out / "territory-events.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print(f"wrote {out}/territory-events.yaml ({len(doc.get('channels', {}))} channels)")


if __name__ == "__main__":
    main()
