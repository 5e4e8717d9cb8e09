import pytest

from territory.dedupe.normalize import (
    domain_of,
    legal_family,
    normalize_address,
    normalize_name,
    normalize_postcode,
)

NAMES = [
    # (as typed upstream, comparable name, canonical legal form)
    ("Acme Pension Fund", "acme pension fund", None),
    ("ACME PENSION FUND", "acme pension fund", None),
    ("The Whitfield Family Foundation", "whitfield family foundation", None),
    ("Smith & Partners Pension Fund", "smith and partners pension fund", None),
    ("Smith and Partners Pension Fund", "smith and partners pension fund", None),
    ("Lefèvre Mutual Insurance Company Inc.", "lefevre mutual insurance company", "inc"),
    ("Lefevre Mutual Ins. Co, Incorporated", "lefevre mutual insurance company", "inc"),
    ("Northwind Capital Mgmt LLC", "northwind capital management", "llc"),
    ("Northwind Cap. Management L.L.C.", "northwind capital management", "llc"),
    ("Müller Industries GmbH", "muller industries", "gmbh"),
    ("Mueller Industries G.m.b.H.", "mueller industries", "gmbh"),
    ("Schröder Logistik Aktiengesellschaft", "schroder logistik", "ag"),
    ("Schröder Logistik AG", "schroder logistik", "ag"),
    ("Société Générale S.A.", "societe generale", "sa"),
    ("Banco Santander, S.A.", "banco santander", "sa"),
    ("Grupo Bimbo, S.A.B. de C.V.", "grupo bimbo", "sab de cv"),
    ("Cementos Mexicanos S.A. de C.V.", "cementos mexicanos", "sa de cv"),
    ("Assicurazioni Generali S.p.A.", "assicurazioni generali", "spa"),
    ("Assicurazioni Generali SpA", "assicurazioni generali", "spa"),
    ("Koninklijke Philips N.V.", "koninklijke philips", "nv"),
    ("Vandenberg Holding B.V.", "vandenberg holding", "bv"),
    ("Lindqvist Kapital AB", "lindqvist kapital", "ab"),
    ("Nakamura Trading Co., Ltd.", "nakamura trading", "co ltd"),
    ("Tanaka Securities K.K.", "tanaka securities", "kk"),
    ("Wong Asset Management Pte. Ltd.", "wong asset management", "pte ltd"),
    ("Granite Mining (Pty) Ltd", "granite mining", "pty ltd"),
    ("Harbor Energy Pty. Limited", "harbor energy", "pty ltd"),
    ("Whitehall Industries Public Limited Company", "whitehall industries", "plc"),
    ("Whitehall Industries PLC", "whitehall industries", "plc"),
    ("Bluewater Partners L.P.", "bluewater partners", "lp"),
    ("Sørensen Stiftung", "sorensen stiftung", None),
    ("Fondation Lefèvre", "fondation lefevre", None),
    ("O'Neill Teachers' Retirement System", "oneill teachers retirement system", None),
    ("Zürich Kantonalbank", "zurich kantonalbank", None),
    ("Al-Farsi Intl Investments", "al farsi international investments", None),
]


@pytest.mark.parametrize(("raw", "key", "legal"), NAMES)
def test_names_normalise_across_languages_and_legal_forms(raw, key, legal):
    name = normalize_name(raw)
    assert name.key == key
    assert name.legal_form == legal


def test_a_legal_form_alone_is_kept_as_the_name():
    assert normalize_name("Limited").key == "limited"
    assert normalize_name("The").key == "the"


def test_spelled_out_and_short_legal_forms_are_one_family():
    assert legal_family(normalize_name("X Incorporated").legal_form) == legal_family(
        normalize_name("X Inc.").legal_form
    )
    assert legal_family("ltd") != legal_family("inc")
    assert legal_family(None) is None


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.Acme.com/about", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("http://acme.com:8080/", "acme.com"),
        ("acme.co.uk", "acme.co.uk"),
        ("", None),
        (None, None),
    ],
)
def test_website_becomes_domain(website, domain):
    assert domain_of(website) == domain


def test_addresses_and_postcodes_compare_after_normalisation():
    assert normalize_address("38 Bay St.") == normalize_address("38 Bay Street")
    assert normalize_address("Neue Mainzer Str. 5") == normalize_address("Neue Mainzer Straße 5")
    assert normalize_postcode("M5H 2N2") == normalize_postcode("m5h2n2")
