from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError
from stdnum.iso7064 import mod_97_10

from territory.shared.errors import field_errors, reason_for
from territory.shared.events import (
    EVENT_TYPES,
    ClientReceived,
    ClientRecord,
    RejectReason,
    clean_text,
)
from territory.shared.events.validators import EmailAddress
from territory.shared.geo import Region, normalize_country, region_for_country

VALID = {"source_system": "salesforce", "source_id": "001", "name": "Acme Pension Fund"}


def codes(**fields):
    with pytest.raises(ValidationError) as exc:
        ClientRecord.model_validate({**VALID, **fields})
    return {(e.field, e.code) for e in field_errors(exc.value)}


def issues(**fields):
    """The record is kept: the refused optional values are its field issues."""
    record = ClientRecord.model_validate({**VALID, **fields})
    return {(i.field, i.code) for i in record.field_issues}


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
        ({"name": "x" * 301}, ("name", "string_too_long")),
        # An unusable record is refused with every problem it has, optional ones included.
        ({"name": "", "lei": "x"}, ("lei", "invalid_lei")),
    ],
)
def test_unusable_records_are_refused_with_machine_readable_codes(fields, expected):
    assert expected in codes(**fields)


@pytest.mark.parametrize(
    ("fields", "expected", "clean"),
    [
        ({"country": "XX"}, ("country", "invalid_country"), {"country": None}),
        ({"aum_usd": "-1"}, ("aum_usd", "greater_than_equal"), {"aum_usd": None}),
        ({"employee_count": "-3"}, ("employee_count", "greater_than_equal"), {}),
        ({"lei": "5493001KJTIIGC8Y1R19"}, ("lei", "invalid_lei"), {"lei": None}),
        ({"advisor_email": "nobody"}, ("advisor_email", "invalid_email"), {}),
        ({"segment": "Casino"}, ("segment", "unknown_segment"), {"segment": "Other"}),
        ({"website": "not a site"}, ("website", "invalid_website"), {"website": None}),
        ({"country": "DE", "tax_id": "DE123"}, ("tax_id", "invalid_tax_id"), {"country": "DE"}),
        ({"region": "MARS"}, ("region", "enum"), {"region": None}),
        ({"postal_code": "??"}, ("postal_code", "invalid_postal_code"), {}),
        ({"address": "x" * 501}, ("address", "string_too_long"), {"address": None}),
    ],
)
def test_invalid_optional_values_are_quarantined_not_refused(fields, expected, clean):
    record = ClientRecord.model_validate({**VALID, **fields})
    field = expected[0]
    assert {(i.field, i.code) for i in record.field_issues} == {expected}
    (issue,) = record.field_issues
    assert issue.raw == str(fields[field])[:500]
    assert issue.message
    assert record.model_dump()[field] == clean.get(field)
    for name, value in clean.items():
        assert record.model_dump()[name] == value


def test_lei_errors_say_which_rule_is_broken():
    def message(lei: str) -> str:
        return ClientRecord.model_validate({**VALID, "lei": lei}).field_issues[0].message

    assert "wrong check digits" in message("5493001KJTIIGC8Y1R19")
    assert "must be 20 characters" in message("5493001KJTIIGC8Y1R1")
    assert "followed by 2 check digits" in message("5493001KJTIIGC8Y1RAB")
    assert "only letters A-Z and digits" in message("5493001KJTIIGC8Y1R!9")


@pytest.mark.parametrize(
    ("label", "segment"),
    [
        ("Sovereign Wealth", "Sovereign"),
        ("sovereign-wealth fund", "Sovereign"),
        ("SWF", "Sovereign"),
        ("Pension Fund", "Pension"),
        ("Asset Mgr.", "Asset Manager"),
        ("Insurance Co", "Insurance"),
        ("Family  Office", "Family Office"),
        ("Not-for-profit", "Foundation"),
    ],
)
def test_segment_aliases_come_from_the_data_file(label, segment):
    record = ClientRecord.model_validate({**VALID, "segment": label})
    assert record.segment == segment
    assert record.field_issues == []


def test_unknown_segment_keeps_its_label_as_raw():
    record = ClientRecord.model_validate({**VALID, "segment": "  Casino   Operator "})
    assert record.segment == "Other"
    assert record.quarantined_raw("segment") == "Casino Operator"


def test_quarantine_is_idempotent_and_survives_the_topic_round_trip():
    record = ClientRecord.model_validate(
        {**VALID, "lei": "5493001KJTIIGC8Y1R19", "segment": "Casino", "country": "XX"}
    )
    assert len(record.field_issues) == 3
    again = ClientRecord.model_validate(record.model_dump())
    assert again == record
    event = ClientReceived(producer="t", payload=record)
    assert ClientReceived.model_validate_json(event.model_dump_json()) == event
    # New bad values on an already-quarantined record add issues; old ones are not doubled.
    more = ClientRecord.model_validate({**record.model_dump(), "aum_usd": -5, "lei": "bad"})
    assert [(i.field, i.code) for i in more.field_issues].count(("lei", "invalid_lei")) == 2
    assert ("aum_usd", "greater_than_equal") in {(i.field, i.code) for i in more.field_issues}
    assert len(more.field_issues) == 5
    assert ClientRecord.model_validate_json(more.model_dump_json()) == more


def test_a_malformed_issue_list_is_itself_quarantined():
    record = ClientRecord.model_validate({**VALID, "field_issues": "oops"})
    assert [(i.field, i.code) for i in record.field_issues] == [
        ("field_issues", "invalid_field_issues")
    ]


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
def test_lei_with_wrong_check_digits_is_quarantined(body, digits):
    lei = f"{body}{digits:02d}"
    if mod_97_10.is_valid(lei):
        return
    assert ("lei", "invalid_lei") in issues(lei=lei)


@given(st.decimals(min_value=0, max_value=10**15, places=2, allow_nan=False))
def test_non_negative_amounts_round_trip_through_json(amount):
    record = ClientRecord.model_validate({**VALID, "aum_usd": str(amount)})
    event = ClientReceived(producer="t", payload=record)
    again = ClientReceived.model_validate_json(event.model_dump_json())
    assert again.payload.aum_usd == amount


@given(st.decimals(min_value=-(10**15), max_value=Decimal("-0.01"), allow_nan=False, places=2))
def test_negative_amounts_are_quarantined(amount):
    assert ("aum_usd", "greater_than_equal") in issues(aum_usd=str(amount))


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


_OPTIONAL = [
    f for f in ClientRecord.model_fields if f not in {"source_system", "source_id", "name"}
]
_junk = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["XX", "DE", "US", "Casino", "Pension Fund", "-1", "5493001KJTIIGC8Y1R19"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_required = st.fixed_dictionaries(
    {
        "source_system": st.one_of(st.just("crm"), st.just(""), st.text(max_size=8)),
        "source_id": st.one_of(st.just("1"), st.just(""), st.none(), st.integers()),
        "name": st.one_of(st.just("Acme"), st.just(" "), st.none()),
    }
)


@given(_required, st.dictionaries(st.sampled_from(_OPTIONAL), _junk, max_size=8))
def test_optional_junk_never_refuses_a_usable_record(required, junk):
    data = {**required, **junk}
    try:
        record = ClientRecord.model_validate(data)
    except ValidationError as exc:
        # Refused only when the record is unusable: an error on a required field.
        fields = {e.field for e in field_errors(exc)}
        assert fields & {"source_system", "source_id", "name"}, fields
        return
    again = ClientRecord.model_validate_json(record.model_dump_json())
    assert again == record
    assert len({i.identity for i in record.field_issues}) == len(record.field_issues)
    for issue in record.field_issues:
        if issue.field != "field_issues":
            assert getattr(record, issue.field) in (None, "Other")


_EMAILISH = st.one_of(
    st.emails(),
    st.text(max_size=40),
    st.sampled_from(["A.B@Example.COM", " x@y.org ", "John <j@d.com>", "a@@b", "x@localhost"]),
)


@given(value=_EMAILISH)
def test_cached_email_addresses_validate_exactly_as_emailstr(value):
    """`EmailAddress` (assignment and conflict advisors) is pydantic's `EmailStr` with the
    check cached: the same value, or the same error, for anything, asked twice."""

    def outcome(adapter: TypeAdapter[str]) -> object:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            return exc.errors(include_url=False)

    ours, theirs = TypeAdapter(EmailAddress), TypeAdapter(EmailStr)
    assert outcome(ours) == outcome(theirs)
    assert outcome(ours) == outcome(theirs)  # the second time from the cache
    assert ours.json_schema() == theirs.json_schema()
