import pytest
from pydantic import ValidationError

from territory.dedupe.normalize import profile_of
from territory.dedupe.scoring import FieldWeights, Scorer, Thresholds, extra_words

from .conftest import make_record

LEI_A = "5493001KJTIIGC8Y1R12"
LEI_B = "969500Q7NIG2CKRMQV29"


def score(a, b, scorer=None):
    return (scorer or Scorer()).compare(profile_of(a), profile_of(b))


def test_variants_of_one_organisation_score_high_with_reasons():
    a = make_record(
        "salesforce",
        "1",
        name="Lefèvre Mutual Insurance Company Inc.",
        country="US",
        city="San Francisco",
        postal_code="94105",
        website="https://www.lefevre.example.com",
    )
    b = make_record(
        "hubspot",
        "9",
        name="LEFEVRE MUTUAL INS. CO, Incorporated",
        country="US",
        city="San Francisco",
        postal_code="94105",
        website="lefevre.example.com/",
    )
    result = score(a, b)
    assert result.confidence > 0.99
    assert result.field_scores["name"] > 0
    assert result.field_scores["domain"] > 0
    assert any("name similarity" in r for r in result.reasons)


def test_typos_keep_a_match_but_lower_the_name_score():
    exact = score(
        make_record(name="Bellamy Capital Management Corp."),
        make_record("hubspot", "2", name="Bellamy Capital Management Corp."),
    )
    typo = score(
        make_record(name="Bellamy Capital Management Corp."),
        make_record("hubspot", "2", name="Bellam yCapital Managment, Corp."),
    )
    assert 0 < typo.field_scores["name"] < exact.field_scores["name"]


def test_parent_and_subsidiary_are_not_the_same_client():
    parent = make_record(name="Atlas Holdings Inc.", country="US", website="atlas.example.com")
    child = make_record(
        "salesforce",
        "2",
        name="Atlas Holdings Europe Inc.",
        country="US",
        website="atlas.example.com",
    )
    result = score(parent, child)
    assert result.field_scores["qualifier"] < 0
    assert result.confidence < Thresholds().review
    words, other = extra_words(("atlas", "holdings"), ("atlas", "holdings", "europe"))
    assert words == ()
    assert other == ("europe",)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Atlas Holdings Europe Ltd", "Atlas Holdings Asia Ltd"),
        ("Atlas International Advisors Re Ltd", "Atlas International Advisors Europe Ltd"),
        ("Atlas Asset Management Japan", "Atlas Asset Management UK"),
    ],
)
def test_one_stem_qualified_two_ways_by_region_is_two_entities_of_a_group(one, other):
    common = {"country": "GB", "city": "London", "address": "10 Gresham Street"}
    a = make_record(name=one, **common)
    b = make_record("salesforce", "2", name=other, **common)
    result = score(a, b)
    assert result.field_scores["qualifier"] < 0
    assert result.confidence < Thresholds().review
    assert any("two entities of one group" in r for r in result.reasons)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Whitehall Holdings Asia", "Whitehall Holdings Asai"),
        ("Kowalski Holdings UK", "Kowalski Holdings UUK"),
        ("Brennan Holdings Americas", "Brennan Holdings Maeriacs"),
        ("Andersen Holdings Japan", "Andersen Holdings Ajpna"),
        ("Tanaka Holdings Asia", "Tanaka HldgsAsia"),
    ],
)
def test_a_mistyped_region_word_is_the_same_qualifier(one, other):
    a = make_record(name=one, country="GB", city="London")
    b = make_record("salesforce", "2", name=other, country="GB", city="London")
    assert not any("two entities of one group" in r for r in score(a, b).reasons)


def test_words_left_on_both_sides_without_a_region_are_no_qualifier():
    # FEBRL-like people and typo'd brands: other words on both sides, none a region.
    a = make_record(name="Atlas Capital Partners", country="GB", city="London")
    b = make_record("salesforce", "2", name="Atlas Capitol Associates", country="GB", city="London")
    assert "qualifier" not in score(a, b).levels


def test_a_mistyped_article_is_no_qualifier():
    assert extra_words(("te", "dupont", "family"), ("dupont", "family")) == ((), ())


def test_a_known_parent_link_vetoes_a_match():
    parent = make_record("salesforce", "p", name="Granite Energy")
    child = make_record("salesforce", "c", name="Granite Energy", parent_source_id="p")
    assert score(child, parent).field_scores["hierarchy"] < 0
    assert score(child, parent).confidence < 0.01


def test_identifiers_outweigh_names():
    same_lei = score(
        make_record(name="Northwind Asset Management", lei=LEI_A),
        make_record("dynamics", "2", name="NW Asset Mgmt", lei=LEI_A),
    )
    other_lei = score(
        make_record(name="Northwind Asset Management", lei=LEI_A),
        make_record("dynamics", "2", name="Northwind Asset Management", lei=LEI_B),
    )
    assert same_lei.field_scores["lei"] > 0
    assert other_lei.confidence < 0.5 < same_lei.confidence


def test_missing_values_are_no_evidence():
    result = score(make_record(name="Acme"), make_record("csv", "2", name="Acme"))
    assert set(result.field_scores) == {"name"}


def test_confidence_follows_the_weights():
    a, b = make_record(name="Acme Fund"), make_record("csv", "2", name="Acme Fund")
    cautious = Scorer(FieldWeights(prior=-12))
    assert score(a, b, cautious).confidence < score(a, b).confidence
    assert 0 <= score(a, b, cautious).confidence <= 1


def test_thresholds_are_validated():
    with pytest.raises(ValidationError):
        Thresholds(merge=0.5, review=0.9)
    assert Thresholds(merge=0.8, review=0.8).review == 0.8


def test_an_identical_identifier_that_failed_its_check_digits_is_weak_evidence():
    bad_lei = "5493001KJTIIGC8Y1R19"  # wrong check digits: quarantined, raw value kept
    a = make_record("salesforce", "1", name="Harbor Light Pension Plan", country="US", lei=bad_lei)
    b = make_record("hubspot", "9", name="Harbour Light Pension", country="US", lei=bad_lei)
    assert a.lei is None
    assert a.quarantined_raw("lei") == bad_lei
    same = score(a, b)
    assert same.field_scores["unchecked_id"] == FieldWeights().unchecked_id_same == 2.0
    assert "identical lei that failed its check digits (weak evidence)" in same.reasons
    # Another invalid value, or one side without, is no evidence at all (never negative).
    c = make_record(
        "dynamics", "3", name="Harbour Light Pension", country="US", lei=bad_lei[:-1] + "8"
    )
    d = make_record("csv", "4", name="Harbour Light Pension", country="US")
    assert "unchecked_id" not in score(a, c).field_scores
    assert "unchecked_id" not in score(a, d).field_scores
    # Weak: it adds to the name evidence, far less than a valid LEI match would.
    assert same.confidence > score(a, d).confidence
    assert FieldWeights().unchecked_id_same < FieldWeights().lei_same / 4


def levels(a, b):
    return score(a, b).levels


def test_a_space_moved_by_a_typo_keeps_an_address_the_same():
    # Sorted words alone would see "oft pinecr" against "pinecroft" (FEBRL's typos).
    a = make_record(name="Emma Louca", address="92 Pinecroft")
    b = make_record("csv", "2", name="Emma Louca", address="92 Pinecr Oft")
    assert levels(a, b)["address"] == "address_same"
    a = make_record(name="Keaton Webb", address="2 Mckinley Circuit")
    b = make_record("csv", "2", name="Keaton Webb", address="2 Mckinleycircuit")
    assert levels(a, b)["address"] == "address_same"
    # The same street under another house number, typo'd: the weak stale-address level.
    a = make_record(name="Kylie Dixon", address="37 Sanford Place")
    b = make_record("csv", "2", name="Kylie Dixon", address="4 Sanford Xplace")
    assert levels(a, b)["address"] == "house_number_different"


def test_a_house_number_without_its_street_is_evidence_only_when_it_differs():
    a = make_record(name="Jackson Alderman", address="84 Maccallum Circuit")
    same_number = make_record("csv", "2", name="Jackson Alderman", address="84")
    other_number = make_record("csv", "3", name="Jackson Alderman", address="489")
    assert "address" not in levels(a, same_number)
    assert levels(a, other_number)["address"] == "address_different"


def test_one_typo_in_a_town_unknown_to_geonames_is_the_same_town():
    a = make_record(name="Jackson Alderman", city="Penshurst")
    b = make_record("csv", "2", name="Jackson Alderman", city="Penshjrst")
    assert levels(a, b)["city"] == "city_same"
    other = make_record("csv", "3", name="Jackson Alderman", city="Penrith")
    assert levels(a, other)["city"] == "city_different"
    # Hamburg is a GeoNames city, Homburg is not: one letter apart, two places.
    h = make_record(name="Nordbank AG", city="Hamburg")
    assert levels(h, make_record("csv", "4", name="Nordbank AG", city="Homburg"))["city"] == (
        "city_different"
    )


def _fields(c):
    return (c.candidate_key, c.confidence, c.field_scores, c.reasons, c.levels)


def test_compare_gives_what_a_fresh_scorer_gives_after_a_batch_scored_the_pair():
    # `compare` reuses a pair `compare_many` scored moments before (rendering explains the
    # pairs clustering just scored): the same comparison whatever else was in the batch,
    # and never for another profile of the same source key (a changed record).
    query = profile_of(make_record("salesforce", "q", name="Cedar Energy Co Ltd", country="CA"))
    twin = profile_of(make_record("hubspot", "t", name="CEDAR ENERGY LTD", country="CA"))
    other = profile_of(make_record("dynamics", "o", name="Cedar Energy Company", country="CA"))
    scorer = Scorer()
    batch = scorer.compare_many(query, [other, twin])
    assert _fields(scorer.compare(query, twin)) == _fields(batch[1])
    assert _fields(scorer.compare(query, twin)) == _fields(Scorer().compare(query, twin))
    changed = profile_of(make_record("hubspot", "t", name="Brightwater Power", country="CA"))
    assert scorer.compare(query, changed).levels["name"] == "name_different"
    reverse = scorer.compare(twin, query)
    assert reverse.candidate_key == "salesforce:q"
    assert _fields(reverse) == _fields(Scorer().compare(twin, query))
