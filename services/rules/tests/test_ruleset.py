"""Ruleset validation: bad documents are refused with the path of every bad entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from rules_factories import ruleset_doc

from territory.rules.engine import Engine
from territory.rules.ruleset import (
    RulesetError,
    load_ruleset,
    loads_ruleset,
    parse_ruleset,
    ruleset_document,
    ruleset_fingerprint,
)

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "ruleset.yaml"


def problems(doc) -> dict[str, str]:
    with pytest.raises(RulesetError) as caught:
        Engine(parse_ruleset(doc))
    return dict(caught.value.problems)


def test_sample_ruleset_loads_and_round_trips():
    ruleset = load_ruleset(SAMPLE)
    assert ruleset.version == "2026.11.1"
    again = parse_ruleset(ruleset_document(ruleset))
    assert ruleset_fingerprint(again) == ruleset_fingerprint(ruleset)
    assert Engine(ruleset).rule_count == len(ruleset.rules)


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"version": None}, "version", "string"),
        (
            {"territories": [{"id": "X", "name": "x", "region": "MARS"}]},
            "territories.0.region",
            "NA",
        ),
        ({"advisors": [{"email": "not-an-email", "name": "x"}]}, "advisors.0.email", "email"),
        (
            {
                "rules": [
                    {
                        "id": "r",
                        "level": "planet",
                        "when": {"field": "country", "op": "eq", "value": "GB"},
                        "territory": "EU",
                    }
                ]
            },
            "rules.0.level",
            "tier",
        ),
        (
            {
                "rules": [
                    {
                        "id": "r",
                        "level": "region",
                        "when": {"all": [{"field": "country", "op": "equals", "value": "GB"}]},
                        "territory": "EU",
                    }
                ]
            },
            "rules.0.when.all.0",
            "equals",
        ),
        (
            {
                "rules": [
                    {
                        "id": "r",
                        "level": "region",
                        "when": {"any": [{"not": {"field": "colour", "op": "in", "value": ["x"]}}]},
                        "territory": "EU",
                    }
                ]
            },
            "rules.0.when.any.0.not.field",
            "country",
        ),
        (
            {"rules": [{"id": "r", "level": "region", "when": 42, "territory": "EU"}]},
            "rules.0.when",
            "condition",
        ),
        (
            {
                "rules": [
                    {
                        "id": "r",
                        "level": "region",
                        "when": {"field": "aum_usd", "op": "between", "value": [9, 1]},
                        "territory": "EU",
                    }
                ]
            },
            "rules.0.when",
            "above",
        ),
        (
            {
                "rules": [
                    {
                        "id": "r",
                        "level": "region",
                        "when": {"field": "country", "op": "eq", "value": "GB"},
                        "territory": "NOWHERE",
                    }
                ]
            },
            "rules.0.territory",
            "unknown territory",
        ),
        (
            {
                "rules": [
                    {
                        "id": "r",
                        "level": "region",
                        "when": {"field": "country", "op": "eq", "value": "GB"},
                        "territory": "EU",
                        "colour": "red",
                    }
                ]
            },
            "rules.0.colour",
            "Extra",
        ),
        (
            {
                "whitelist": [
                    {
                        "client_id": "c",
                        "lei": "969500Q7NIG2CKRMQV29",
                        "territory": "EU",
                        "reason": "r",
                        "owner": "o",
                    }
                ]
            },
            "whitelist.0",
            "exactly one",
        ),
        (
            {"whitelist": [{"client_id": "c", "territory": "EU", "owner": "o"}]},
            "whitelist.0.reason",
            "required",
        ),
        (
            {"blacklist": [{"client_id": "c", "territories": ["EU", "MOON"], "reason": "r"}]},
            "blacklist.0.territories.1",
            "unknown territory",
        ),
        (
            {"conflicts": {"no_territory": {"severity": "fatal", "action": "flag"}}},
            "conflicts.no_territory.severity",
            "error",
        ),
        ({"hierarchy": {"subsidiaries": "sometimes"}}, "hierarchy.subsidiaries", "follow_parent"),
        (
            {
                "rules": [
                    {
                        "id": "r",
                        "level": "region",
                        "when": {"field": "aum_usd", "op": "gt", "value": "lots"},
                        "territory": "EU",
                    }
                ]
            },
            "rules.0.when",
            "number",
        ),
    ],
)
def test_invalid_documents_name_the_bad_entry(change, path, fragment):
    found = problems(ruleset_doc(**change))
    assert path in found, found
    assert fragment.lower() in found[path].lower()


def test_unknown_advisor_and_tier_references():
    doc = ruleset_doc()
    doc["territories"][0]["advisors"].append("ghost@advisors.example.com")
    doc["territories"][1]["tier"] = "huge"
    doc["advisors"][0]["capacity"]["medium"] = 3
    found = problems(doc)
    assert "unknown advisor" in found["territories.0.advisors.2"]
    assert "unknown tier" in found["territories.1.tier"]
    assert "unknown tier" in found["advisors.0.capacity"]


def test_yaml_errors_and_non_mappings_are_reported():
    with pytest.raises(RulesetError) as caught:
        loads_ruleset("version: [unclosed")
    assert caught.value.problems[0][0] == "<document>"
    with pytest.raises(RulesetError):
        loads_ruleset("- just a list")


def test_numeric_version_is_read_as_text():
    assert loads_ruleset("version: 2026.11\nterritories: []\nadvisors: []\n").version == "2026.11"


def test_sample_ruleset_assigns_every_valid_sample_client():
    """Each valid row of the sample data as its own golden client (the dedupe service is
    built elsewhere): every one gets a territory and an advisor, with a trace, no gap."""
    import csv

    from pydantic import ValidationError

    from territory.rules.book import Book
    from territory.rules.facts import ClientFacts
    from territory.shared.events import ClientRecord, GoldenClient, SourceRecordRef

    engine = Engine(load_ruleset(SAMPLE))
    book = Book()
    with (SAMPLE.parent / "clients.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                record = ClientRecord.model_validate({k: v for k, v in row.items() if v})
            except ValidationError:
                continue
            ref = SourceRecordRef(source_system=record.source_system, source_id=record.source_id)
            parent = (
                f"{record.source_system}:{record.parent_source_id}"
                if record.parent_source_id
                else None
            )
            book.put_client(
                ClientFacts.of(
                    GoldenClient(
                        client_id=record.source_key,
                        decision="new",
                        trigger=ref,
                        record=record,
                        parent_client_id=parent,
                        source_records=[ref],
                    )
                )
            )
    assert len(book.clients) > 3000
    events = []
    for client_id in list(book.order()):
        events.extend(book.apply(engine, client_id, changed_by="test").assignments)
    # A record whose country was quarantined and that names no region gives the region
    # rules nothing to go on: it is not dropped, the fallback territory holds it and it is
    # flagged as a no_territory conflict for review.
    assert {e.client_id for e in events} == set(book.clients)
    assert len(events) == len(book.clients)
    assert all(e.territory_id and e.advisor_email and e.trace.rule_id for e in events)
    held = {e.client_id for e in events if e.trace.level.value == "fallback"}
    assert held, "the sample has records with a quarantined country and no region"
    # Only clients without a region land there (a country rule or a parent places others).
    assert held <= {c for c, f in book.clients.items() if not f.values.get("region")}
    assert all(f"no_territory:{c}:-" in book.open_conflicts for c in held)
    assert {e.territory_id for e in events if e.client_id in held} == {"GLOBAL-DATA-REVIEW"}
    territories = {e.territory_id for e in events}
    assert territories == {t.id for t in engine.ruleset.territories}
    levels = {e.trace.level.value for e in events}
    assert levels == {"whitelist", "hierarchy", "tier", "segment", "region", "fallback"}


def test_the_vocabulary_names_fields_of_the_contracts_record():
    from decimal import Decimal
    from typing import get_args

    from territory.rules.ruleset import ClientField, NumberField, StringField
    from territory.shared import fields

    derived = {"tier", "source_system"}  # computed by the rules service, not on the record
    strings = set(get_args(StringField)) - derived
    numbers = set(get_args(NumberField))
    assert strings | numbers <= set(fields.DESCRIPTIVE_FIELDS)
    assert all(fields.value_type(f) in (int, Decimal) for f in numbers)
    assert not any(fields.value_type(f) in (int, Decimal) for f in strings)
    assert set(get_args(ClientField)) == strings | numbers | derived
