from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from stdnum.iso7064 import mod_97_10

from territory.shared.errors import field_errors, reason_for
from territory.shared.events import (
    EVENT_TYPES,
    ClientReceived,
    ClientRecord,
    RejectReason,
    clean_text,
)
from territory.shared.geo import Region, normalize_country, region_for_country

VALID = {"source_system": "salesforce", "source_id": "001", "name": "Acme Pension Fund"}


def codes(**fields):
    with pytest.raises(ValidationError) as exc:
        ClientRecord.model_validate({**VALID, **fields})
    return {(e.field, e.code) for e in field_errors(exc.value)}


def test_minimal_record_is_valid_and_keyed_by_source():
    record = ClientRecord.model_validate(VALID)
    assert record.source_key == "salesforce:001"
    event = ClientReceived(producer="test", payload=record)
    assert event.key() == b"salesforce:001"
    assert event.event_type == "client.received"
    assert event.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": ""}, ("name", "missing")),
        ({"name": "   "}, ("name", "missing")),
        ({"source_id": None}, ("source_id", "missing")),
        ({"source_system": "Sales Force!"}, ("source_system", "invalid_source_system")),
        ({"country": "XX"}, ("country", "invalid_country")),
        ({"aum_usd": "-1"}, ("aum_usd", "greater_than_equal")),
        ({"employee_count": "-3"}, ("employee_count", "greater_than_equal")),
        ({"lei": "5493001KJTIIGC8Y1R19"}, ("lei", "invalid_lei")),
        ({"advisor_email": "nobody"}, ("advisor_email", "invalid_email")),
        ({"segment": "Casino"}, ("segment", "invalid_segment")),
        ({"website": "not a site"}, ("website", "invalid_website")),
        ({"country": "DE", "tax_id": "DE123"}, ("tax_id", "invalid_tax_id")),
        ({"region": "MARS"}, ("region", "enum")),
        ({"name": "x" * 301}, ("name", "string_too_long")),
    ],
)
def test_invalid_fields_have_machine_readable_codes(fields, expected):
    assert expected in codes(**fields)


def test_reason_prefers_missing_fields():
    with pytest.raises(ValidationError) as exc:
        ClientRecord.model_validate({"source_system": "x", "name": "", "country": "XX"})
    errors = field_errors(exc.value)
    assert reason_for(errors) is RejectReason.MISSING_REQUIRED_FIELD
    assert reason_for([e for e in errors if e.code != "missing"]) is RejectReason.INVALID_VALUE


def test_normalisation():
    record = ClientRecord.model_validate(
        {
            **VALID,
            "source_system": "  HubSpot ",
            "name": "  Cafe\u0301   de\tla  Paix ",  # decomposed é, tabs, runs of spaces
            "country": "deu",
            "segment": "pension fund",
            "advisor_email": "Jane.Doe@Example.COM",
            "aum_usd": "1234.50",
            "city": "",
            "updated_at": "2025-03-01T10:00:00",
        }
    )
    assert record.source_system == "hubspot"
    assert record.name == "Café de la Paix"
    assert record.country == "DE"
    assert record.region is Region.EMEA
    assert record.segment == "Pension"
    assert record.advisor_email == "jane.doe@example.com"
    assert record.aum_usd == Decimal("1234.50")
    assert record.city is None
    assert record.updated_at == datetime(2025, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("country", "region"),
    [
        ("US", "NA"),
        ("CA", "NA"),
        ("MX", "LATAM"),
        ("BR", "LATAM"),
        ("GB", "EMEA"),
        ("AE", "EMEA"),
        ("ZA", "EMEA"),
        ("JP", "APAC"),
        ("AU", "APAC"),
        ("IN", "APAC"),
    ],
)
def test_region_is_derived_from_country(country, region):
    assert ClientRecord.model_validate({**VALID, "country": country}).region == region


def test_explicit_region_wins():
    record = ClientRecord.model_validate({**VALID, "country": "US", "region": "emea"})
    assert record.region is Region.EMEA


def test_valid_identifiers_are_kept_in_compact_form():
    record = ClientRecord.model_validate(
        {**VALID, "lei": "5493001kjtiigc8y1r12", "country": "US", "tax_id": "04-1234567"}
    )
    assert record.lei == "5493001KJTIIGC8Y1R12"
    assert record.tax_id == "04-1234567"


def test_every_topic_has_one_event_model():
    assert {t.value for t in EVENT_TYPES} == {
        "client.received",
        "client.deduplicated",
        "assignment.changed",
        "conflict.detected",
        "client.rejected",
        "ruleset.published",
        "dedupe.command",
        "rules.command",
    }
    for topic, model in EVENT_TYPES.items():
        assert model.model_fields["event_type"].default == topic.value


def test_consumers_ignore_unknown_fields_for_forward_compatibility():
    event = ClientReceived(producer="t", payload=ClientRecord.model_validate(VALID))
    data = event.model_dump(mode="json")
    data["future_field"] = 1
    data["payload"]["future_payload_field"] = "x"
    assert ClientReceived.model_validate(data) == event


# --- properties -------------------------------------------------------------------------

lei_bodies = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=18, max_size=18)


@given(lei_bodies)
def test_any_lei_with_correct_check_digits_is_accepted(body):
    lei = body + mod_97_10.calc_check_digits(body)
    assert ClientRecord.model_validate({**VALID, "lei": lei}).lei == lei


@given(lei_bodies, st.integers(min_value=0, max_value=99))
def test_lei_with_wrong_check_digits_is_rejected(body, digits):
    lei = f"{body}{digits:02d}"
    if mod_97_10.is_valid(lei):
        return
    assert ("lei", "invalid_lei") in codes(lei=lei)


@given(st.decimals(min_value=0, max_value=10**15, places=2, allow_nan=False))
def test_non_negative_amounts_round_trip_through_json(amount):
    record = ClientRecord.model_validate({**VALID, "aum_usd": str(amount)})
    event = ClientReceived(producer="t", payload=record)
    again = ClientReceived.model_validate_json(event.model_dump_json())
    assert again.payload.aum_usd == amount


@given(st.decimals(min_value=-(10**15), max_value=Decimal("-0.01"), allow_nan=False, places=2))
def test_negative_amounts_are_rejected(amount):
    assert ("aum_usd", "greater_than_equal") in codes(aum_usd=str(amount))


@given(st.text(max_size=300))
def test_clean_text_is_idempotent_and_trimmed(text):
    once = clean_text(text)
    assert clean_text(once) == once
    if once is not None:
        assert once == once.strip()
        assert "  " not in once


@given(st.sampled_from(sorted(__import__("pycountry").countries, key=lambda c: c.alpha_2)))
def test_every_iso_country_has_a_region_and_both_code_forms_agree(country):
    assert normalize_country(country.alpha_2) == country.alpha_2
    assert normalize_country(country.alpha_3) == country.alpha_2
    assert region_for_country(country.alpha_2) in set(Region)


@pytest.mark.parametrize(
    "command",
    [
        {"action": "merge", "client_ids": ["c1"], "decided_by": "u"},
        {"action": "split", "client_ids": ["c1"], "decided_by": "u"},
    ],
)
def test_malformed_dedupe_commands_are_refused(command):
    from territory.shared.events import DedupeCommand

    with pytest.raises(ValidationError):
        DedupeCommand.model_validate(command)


def test_acknowledging_a_conflict_names_it():
    from territory.shared.events import RulesCommand

    with pytest.raises(ValidationError):
        RulesCommand(action="acknowledge_conflict", requested_by="u")
    assert RulesCommand(action="reassign", requested_by="u").conflict_id is None
