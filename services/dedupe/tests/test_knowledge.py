"""Organisation-name knowledge kept as data: legal-form jurisdictions, abbreviations,
city exonyms, compound words, and what they do to a comparison."""

import pytest

from territory.dedupe.engine import DedupeEngine
from territory.dedupe.knowledge import city_id, legal_jurisdictions
from territory.dedupe.normalize import normalize_name, profile_of, split_compounds
from territory.dedupe.scoring import Scorer

from .conftest import make_record


def levels(a, b):
    return Scorer().compare(profile_of(a), profile_of(b)).levels


@pytest.mark.parametrize(
    ("one", "other"),
    [("Redwood Bank N.V.", "Redwood Bank PLC"), ("Atlas Corp.", "Atlas AG"),
     ("Meridian Inc.", "Meridian S.A."), ("Cedar GmbH", "Cedar Ltd")],
)  # fmt: skip
def test_legal_forms_no_country_shares_count_against_a_merge(one, other):
    a = make_record("salesforce", "1", name=one)
    b = make_record("hubspot", "2", name=other)
    assert levels(a, b)["legal_form"] == "legal_different"
    assert Scorer().compare(profile_of(a), profile_of(b)).confidence < 0.5


def test_legal_forms_of_one_jurisdiction_are_compatible_and_synonyms_the_same():
    assert not legal_jurisdictions("nv").isdisjoint({"Netherlands"})
    assert "Switzerland" in legal_jurisdictions("ag")  # cleanco lacks it; the table adds it
    inc = make_record("salesforce", "1", name="Cedar Energy Inc.")
    llc = make_record("hubspot", "2", name="Cedar Energy LLC")
    spelled = make_record("hubspot", "3", name="Cedar Energy Incorporated")
    assert levels(inc, llc)["legal_form"] == "legal_compatible"
    assert levels(inc, spelled)["legal_form"] == "legal_same"


def test_a_legal_form_on_one_side_only_is_no_evidence():
    a = make_record("salesforce", "1", name="Redwood Savings Bank N.V.", country="NL")
    b = make_record("hubspot", "2", name="Redwood Savings Bank", country="NL")
    comparison = Scorer().compare(profile_of(a), profile_of(b))
    assert "legal_form" not in comparison.levels
    assert comparison.confidence >= 0.9


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("Brennan Investment Auth", "brennan investment authority"),
        ("Summit Teachers Ret. System", "summit teachers retirement system"),
        ("Ashford Inv Ptnrs", "ashford investment partners"),
        ("Liberty Asset Mgmt", "liberty asset management"),
        ("Kaufmann Ins. Grp", "kaufmann insurance group"),
        ("Whitehall Trust Co", "whitehall trust company"),
    ],
)
def test_financial_institution_abbreviations_expand(short, long):
    assert normalize_name(short).key == long


def test_glued_and_split_words_are_undone_at_generic_words():
    assert split_compounds(["meridian", "retirementfund"]) == ["meridian", "retirement", "fund"]
    assert split_compounds(["cedarholdings"]) == ["cedar", "holdings"]
    assert split_compounds(["tampal", "holdi", "ngs"]) == ["tampal", "holdings"]
    assert split_compounds(["stonebridge", "capital"]) == ["stonebridge", "capital"]
    glued = profile_of(make_record(name="Meridian RetirementFund"))
    spaced = profile_of(make_record("hubspot", "2", name="Meridian Retirement Fund"))
    assert glued.name == spaced.name


@pytest.mark.parametrize(
    ("one", "other", "country"),
    [("Genève", "Geneva", "CH"), ("München", "Munich", "DE"),
     ("Frankfurt am Main", "Frankfurt", "DE"), ("Zürich", "Zurich", "CH"),
     ("Milano", "Milan", "IT"), ("Ciudad de México", "Mexico City", "MX")],
)  # fmt: skip
def test_city_exonyms_are_the_same_city(one, other, country):
    assert city_id(one, country) is not None
    assert city_id(one, country) == city_id(other, country) == city_id(other)
    a = make_record("salesforce", "1", name="Holloway Private Bank", country=country, city=one)
    b = make_record("hubspot", "2", name="Holloway Private Bank", country=country, city=other)
    assert levels(a, b)["city"] == "city_same"


def test_a_homonym_abroad_is_not_the_city():
    assert city_id("Geneva", "US") != city_id("Geneva", "CH")
    assert city_id("Frankfurt", "DE") != city_id("Paris", "FR")


def test_a_stale_house_number_does_not_outweigh_an_exact_name_and_postcode():
    engine = DedupeEngine()
    place = {"country": "GB", "city": "London", "postal_code": "EC2V 7HH"}
    first = make_record(
        "salesforce",
        "1",
        name="Falconridge Insurance Group PLC",
        address="7 Gresham Street",
        **place,
    )
    second = make_record(
        "hubspot", "2", name="Falconridge Insurance Group P.L.C.", address="117 Gresham St", **place
    )
    engine.on_record(first)
    placement = engine.on_record(second)
    assert placement.decision.value == "merged"
    assert placement.comparisons[0][1].levels["address"] == "house_number_different"


def test_another_street_weighs_more_than_another_house_number():
    base = make_record("salesforce", "1", name="Falconridge Group", address="7 Gresham Street")
    stale = make_record("hubspot", "2", name="Falconridge Group", address="9 Gresham Street")
    moved = make_record("hubspot", "3", name="Falconridge Group", address="9 Bishopsgate")
    scorer = Scorer()
    assert (
        scorer.compare(profile_of(base), profile_of(stale)).field_scores["address"]
        > scorer.compare(profile_of(base), profile_of(moved)).field_scores["address"]
    )


def test_trust_co_ltd_and_trust_company_limited_are_one_name():
    a = make_record("salesforce", "1", name="Cedar Trust Co Ltd", country="CA")
    b = make_record("hubspot", "2", name="Cedar Trust Company Limited", country="CA")
    comparison = Scorer().compare(profile_of(a), profile_of(b))
    assert "qualifier" not in comparison.levels
    assert comparison.levels["name"] in ("name_exact", "name_high")
