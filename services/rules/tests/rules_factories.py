"""Factories shared by the rules tests: a small ruleset document and golden clients.

(Imported by name: conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import copy
from typing import Any

from territory.rules.engine import Engine
from territory.rules.ruleset import parse_ruleset
from territory.shared.events import ClientRecord, GoldenClient, SourceRecordRef

A = "ann@advisors.example.com"
B = "bob@advisors.example.com"
C = "cat@advisors.example.com"

BASE: dict[str, Any] = {
    "version": "t1",
    "tiers": [
        {"id": "big", "when": {"field": "aum_usd", "op": "ge", "value": 1_000_000_000}},
        {"id": "small"},
    ],
    "territories": [
        {"id": "NA", "name": "North America", "region": "NA", "advisors": [A, B]},
        {"id": "NA-PEN", "name": "NA Pensions", "region": "NA", "advisors": [B]},
        {"id": "NA-BIG", "name": "NA Big", "region": "NA", "tier": "big", "advisors": [A]},
        {"id": "EU", "name": "Europe", "region": "EMEA", "advisors": [C]},
        {"id": "EU-2", "name": "Europe 2", "region": "EMEA", "advisors": [C]},
    ],
    "advisors": [
        {"email": A, "name": "Ann", "capacity": {"big": 2, "small": 5}},
        {"email": B, "name": "Bob", "capacity": {"big": 2, "small": 5}},
        {"email": C, "name": "Cat", "capacity": {"big": 10, "small": 10}},
    ],
    "rules": [
        {
            "id": "r-na",
            "level": "region",
            "when": {"field": "region", "op": "eq", "value": "NA"},
            "territory": "NA",
        },
        {
            "id": "r-eu",
            "level": "region",
            "when": {"field": "country", "op": "in", "value": ["GB", "FR", "DE"]},
            "territory": "EU",
        },
        {
            "id": "s-pen",
            "level": "segment",
            "when": {
                "all": [
                    {"field": "region", "op": "eq", "value": "NA"},
                    {"field": "segment", "op": "eq", "value": "Pension"},
                ]
            },
            "territory": "NA-PEN",
        },
        {
            "id": "t-big",
            "level": "tier",
            "when": {"field": "tier", "op": "eq", "value": "big"},
            "territory": "NA-BIG",
        },
    ],
}


def ruleset_doc(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc.update(copy.deepcopy(changes))
    return doc


def engine_of(**changes: Any) -> Engine:
    return Engine(parse_ruleset(ruleset_doc(**changes)))


def golden(
    client_id: str,
    *,
    country: str = "US",
    segment: str | None = None,
    aum: float | None = None,
    parent: str | None = None,
    source: str = "crm",
    retired: bool = False,
    version: int = 1,
    **fields: Any,
) -> GoldenClient:
    record = ClientRecord(
        source_system=source,
        source_id=client_id,
        name=f"Client {client_id}",
        country=country,
        segment=segment,
        aum_usd=aum,
        **fields,
    )
    ref = SourceRecordRef(source_system=source, source_id=client_id)
    return GoldenClient(
        client_id=client_id,
        decision="new",
        trigger=ref,
        record=record,
        parent_client_id=parent,
        source_records=[ref],
        retired=retired,
        version=version,
    )


def write_ruleset(path: Any, **changes: Any) -> Any:
    """Write a test ruleset as YAML; returns the path."""
    import yaml

    path.write_text(yaml.safe_dump(ruleset_doc(**changes)), encoding="utf-8")
    return path
