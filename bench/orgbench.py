"""A hard organisation benchmark: CRM records of institutional clients with the noise and
the near misses that break entity resolution on organisation data.

Separate from `data/sample` (which the engine's tests and defaults have seen). Each
organisation gets one to three source records in different CRMs (sometimes two in one);
every record but the first is a noisy copy. The noise, each drawn independently:

- abbreviations of financial-institution words (Mgmt, Ptnrs, Auth, Ret, Inv, Grp, Ins, Co,
  Intl, Svcs, Hldgs, Assn, Natl, Fdn, Tr …), dotted or not;
- city exonyms and alternate names (Genève / Geneva, München / Munich, Frankfurt am Main /
  Frankfurt, Milano / Milan, Zürich / Zurich, Lisboa / Lisbon …);
- legal forms spelled out, dotted, moved behind a comma, or dropped on one side;
- one or two typos; words split ("Blue Water") or joined ("RetirementFund");
- word order shuffled ("Asset Mgmt Liberty"), a leading "The" added or dropped, upper case,
  accents stripped;
- stale addresses: another house number on the same street, or another street and postcode
  in the same city (the organisation moved); missing postcode, address, country, website,
  identifiers.

Hard negatives (different organisations, never to be merged):
- *jurisdiction twins*: the same name in another country with that country's legal form
  ("Redwood Bank N.V." in Amsterdam, "Redwood Bank PLC" in London);
- *same stem*: the same brand in another line of business in the same city ("Redwood
  Capital Management" / "Redwood Asset Management");
- *typo twins*: a brand one letter away in the same country ("Meridian Savings Bank" /
  "Meridan Savings Bank"), with its own identifiers, website and address;
- *subsidiaries*: "Redwood Holdings" and "Redwood Holdings Europe" (a parent link when the
  same CRM holds both).

Every name token is reused across many organisations ("bank", "fund", "capital",
"management" in thousands): a blocking scheme that drops common tokens loses pairs here.

`generate(organisations, seed)` is deterministic. The benchmark tunes nothing on the seed
it reports: `DEV_SEED` is the one to look at while developing, `TEST_SEED` the one the
figures in docs/benchmarks.md come from.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data" / "sample"))
from generate import make_lei, strip_accents

DEV_SEED = 101
EIN_PREFIXES = ("13", "20", "26", "27", "45", "46", "47", "81", "82", "83", "84", "85", "86")
TEST_SEED = 202

SYSTEMS = ("salesforce", "dynamics", "hubspot", "csv", "sap")
SYLLABLES = (
    "ka lo mi ra ve to shi an el or ben dal fen gor hal is jun kor lin mar nor ost pal "
    "quin ros sel tam ur vin wes yor zan bel cor dun ev fal gr har il jor kel lum mer nev "
    "ol per rud sor tir umb val wil xan yel zor"
).split()
WORDS = """Redwood Liberty Meridian Northwind Bluewater Granite Cedar Summit Harbor Aurora
Pinnacle Evergreen Riverside Lakeshore Highland Atlas Beacon Crescent Keystone Silverline
Oakridge Westbrook Eastgate Stonebridge Ironwood Clearwater Brightwater Fairview Greenfield
Maplewood Kingsbridge Whitehall Blackstone Goldcrest Starling Falconridge Windermere Ashford
Belmont Whitfield Harrington Okafor Müller Schröder Dubois Lefèvre Rossi Bianchi García
Nakamura Tanaka Lindqvist Andersen Vandenberg Kowalski Novak Haddad Dupont Moreau Becker
Fischer Abernathy Castellano Delacroix Fairbanks Goldberg Hartmann Iversen Jansen Kaufmann
Laurent Mendoza Nordström Ortega Petrov Quinlan Rasmussen Sørensen Thornbury Vasquez Whitaker
Yamamoto Zimmermann Brennan Caldwell Ellsworth Gallagher Holloway Kensington Lockhart
Montague Pemberton Rutherford Sinclair Townsend Wainwright Ashworth Bellamy Cavendish
Drummond Everett Fitzgerald""".split()
# Lines of business: each a name pattern and whether a legal form follows it.
SECTORS: list[tuple[str, bool]] = [
    ("{b} Bank", True),
    ("{b} Savings Bank", True),
    ("{b} Private Bank", True),
    ("{b} Capital Management", True),
    ("{b} Asset Management", True),
    ("{b} Investment Management", True),
    ("{b} Capital", True),
    ("{b} Capital Partners", True),
    ("{b} Investment Partners", True),
    ("{b} Fund Services", True),
    ("{b} Insurance Group", True),
    ("{b} Life Insurance Company", True),
    ("{b} Trust Company", True),
    ("{b} Holdings", True),
    ("{b} Group", True),
    ("{b} International Advisors", True),
    ("{b} Retirement Fund", False),
    ("{b} Pension Fund", False),
    ("{b} Teachers Retirement System", False),
    ("{b} Investment Authority", False),
    ("{b} National Foundation", False),
    ("{b} Family Office", True),
    ("{b} Mutual Insurance Association", False),
]
# Abbreviations as CRMs type them (each applied to a word with some probability).
ABBREVIATIONS = {
    "Management": ["Mgmt", "Mgmt.", "Mgt"],
    "Partners": ["Ptnrs", "Prtnrs"],
    "Authority": ["Auth", "Auth."],
    "Retirement": ["Ret", "Ret."],
    "Investment": ["Inv", "Inv."],
    "Investments": ["Invs", "Invest."],
    "Group": ["Grp"],
    "Insurance": ["Ins", "Ins."],
    "Company": ["Co", "Co."],
    "International": ["Intl", "Int'l"],
    "Services": ["Svcs"],
    "Holdings": ["Hldgs"],
    "Association": ["Assn"],
    "National": ["Natl"],
    "Foundation": ["Fdn"],
    "Capital": ["Cap."],
    "Advisors": ["Advs", "Advisers"],
    "Trust": ["Tr."],
    "Mutual": ["Mut."],
    "Bank": ["Bk"],
    "Fund": ["Fd"],
    "System": ["Sys"],
    "Teachers": ["Tchrs"],
}
# country: legal forms, then (city, exonyms / alternate names, postcodes, streets)
GEO: dict[str, tuple[list[str], list[tuple[str, list[str], list[str], list[str]]]]] = {
    "US": (
        ["Inc.", "LLC", "Corp.", "LP"],
        [
            (
                "New York",
                ["NYC", "New York City"],
                ["10022", "10017", "10005"],
                ["Park Avenue", "Madison Avenue", "Wall Street"],
            ),
            ("Boston", [], ["02110", "02109"], ["Federal Street", "State Street"]),
            ("Chicago", [], ["60601", "60606"], ["Wacker Drive", "LaSalle Street"]),
            ("San Francisco", ["SF"], ["94105", "94111"], ["Mission Street", "California Street"]),
        ],
    ),
    "GB": (
        ["Ltd", "PLC", "LLP"],
        [
            (
                "London",
                [],
                ["EC2V 7HH", "EC2M 4AA", "E14 5AB"],
                ["Gresham Street", "Bishopsgate", "Canada Square"],
            ),
            ("Edinburgh", [], ["EH2 4AN"], ["George Street", "Charlotte Square"]),
        ],
    ),
    "DE": (
        ["GmbH", "AG", "SE"],
        [
            (
                "Frankfurt am Main",
                ["Frankfurt", "Frankfurt a.M."],
                ["60311", "60325"],
                ["Neue Mainzer Straße", "Taunusanlage"],
            ),
            (
                "München",
                ["Munich", "Muenchen"],
                ["80331", "80333"],
                ["Maximilianstraße", "Theatinerstraße"],
            ),
            ("Köln", ["Cologne", "Koeln"], ["50667"], ["Hohe Straße"]),
        ],
    ),
    "CH": (
        ["AG", "SA", "GmbH"],
        [
            ("Zürich", ["Zurich", "Zuerich"], ["8001", "8002"], ["Bahnhofstrasse", "Paradeplatz"]),
            (
                "Genève",
                ["Geneva", "Genf"],
                ["1204", "1201"],
                ["Rue du Rhône", "Quai du Mont-Blanc"],
            ),
        ],
    ),
    "NL": (
        ["N.V.", "B.V."],
        [("Amsterdam", [], ["1017 DG", "1082 MS"], ["Herengracht", "Gustav Mahlerlaan"])],
    ),
    "FR": (
        ["SA", "SAS"],
        [("Paris", [], ["75008", "75002"], ["Avenue des Champs-Élysées", "Rue de la Paix"])],
    ),
    "IT": (
        ["S.p.A.", "S.r.l."],
        [
            ("Milano", ["Milan"], ["20121"], ["Via Montenapoleone"]),
            ("Roma", ["Rome"], ["00187"], ["Via del Corso"]),
        ],
    ),
    "ES": (["S.A.", "S.L."], [("Madrid", [], ["28001"], ["Calle de Serrano"])]),
    "PT": (["S.A.", "Lda."], [("Lisboa", ["Lisbon"], ["1250-096"], ["Avenida da Liberdade"])]),
    "AT": (["AG", "GmbH"], [("Wien", ["Vienna"], ["1010"], ["Kärntner Straße"])]),
    "BE": (["SA", "NV"], [("Bruxelles", ["Brussels", "Brussel"], ["1000"], ["Avenue Louise"])]),
    "SE": (["AB"], [("Stockholm", [], ["111 47"], ["Kungsgatan"])]),
    "JP": (["K.K.", "Co., Ltd."], [("Tokyo", [], ["100-0005"], ["Marunouchi"])]),
    "SG": (["Pte. Ltd."], [("Singapore", [], ["018989"], ["Marina Boulevard"])]),
    "AU": (["Pty Ltd", "Limited"], [("Sydney", [], ["2000"], ["George Street"])]),
    "CA": (
        ["Inc.", "Ltd."],
        [
            ("Montréal", ["Montreal"], ["H3B 4W8"], ["Rue Sainte-Catherine"]),
            ("Toronto", [], ["M5H 2N2"], ["Bay Street"]),
        ],
    ),
    "MX": (
        ["S.A. de C.V."],
        [("Ciudad de México", ["Mexico City"], ["06600"], ["Paseo de la Reforma"])],
    ),
    "BR": (["S.A.", "Ltda."], [("São Paulo", ["Sao Paulo"], ["01310-100"], ["Avenida Paulista"])]),
}
COUNTRY_WEIGHTS = {"US": 28, "GB": 12, "DE": 9, "CH": 7, "NL": 4, "FR": 5, "IT": 4, "ES": 3,
                   "PT": 2, "AT": 2, "BE": 2, "SE": 2, "JP": 5, "SG": 3, "AU": 4, "CA": 5,
                   "MX": 2, "BR": 3}  # fmt: skip
LEGAL_SPELLED = {
    "Inc.": ["Incorporated", "Inc", "INC."],
    "LLC": ["L.L.C.", "Limited Liability Company"],
    "Corp.": ["Corporation", "Corp"],
    "LP": ["L.P."],
    "Ltd": ["Limited", "Ltd."],
    "Ltd.": ["Limited", "Ltd"],
    "PLC": ["P.L.C.", "Public Limited Company", "plc"],
    "LLP": ["L.L.P."],
    "GmbH": ["G.m.b.H.", "Gesellschaft mit beschränkter Haftung"],
    "AG": ["Aktiengesellschaft", "A.G."],
    "SE": ["S.E."],
    "SA": ["S.A.", "Société Anonyme"],
    "S.A.": ["SA", "Sociedad Anónima"],
    "SAS": ["S.A.S."],
    "N.V.": ["NV", "Naamloze Vennootschap"],
    "B.V.": ["BV"],
    "NV": ["N.V."],
    "S.p.A.": ["SpA", "S.P.A."],
    "S.r.l.": ["Srl"],
    "S.L.": ["SL"],
    "Lda.": ["Lda"],
    "AB": ["Aktiebolag"],
    "K.K.": ["Kabushiki Kaisha", "KK"],
    "Co., Ltd.": ["Co. Ltd", "Company Limited"],
    "Pte. Ltd.": ["Pte Ltd", "Private Limited"],
    "Pty Ltd": ["Pty. Ltd.", "Pty Limited"],
    "Limited": ["Ltd"],
    "S.A. de C.V.": ["SA de CV"],
    "Ltda.": ["Ltda"],
}


@dataclass
class Org:
    entity_id: str
    brand: str
    pattern: str
    legal_form: bool
    country: str
    city: int  # index into GEO[country][1]
    postcode: str
    street: str
    number: int
    legal: str
    domain: str
    lei: str | None
    tax_id: str | None
    parent: Org | None = None
    source_ids: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.pattern.format(b=self.brand)


def _brand(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    if r < 0.65:
        return rng.choice(WORDS)
    syllable = "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()
    return f"{rng.choice(WORDS)} {syllable}"


def typo(rng: random.Random, text: str) -> str:
    """One typo, as `data/sample/generate.py`'s, plus doubled letters."""
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 6:
        return text
    i = rng.choice(letters[1:-1])
    op = rng.random()
    if op < 0.35 and i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # transposition
    if op < 0.65:
        return text[:i] + text[i + 1 :]  # deletion
    if op < 0.8:
        return text[:i] + text[i] + text[i:]  # doubled letter
    return text[:i] + rng.choice("aeinorst") + text[i + 1 :]  # substitution


def _new_org(
    rng: random.Random, n: int, *, brand: str | None = None, sector: int | None = None,
    country: str | None = None, city: int | None = None, parent: Org | None = None,
) -> Org:  # fmt: skip
    if country is None:
        country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    forms, cities = GEO[country]
    if city is None:
        city = rng.randrange(len(cities))
    _, _, postcodes, streets = cities[city]
    pattern, has_legal = SECTORS[sector if sector is not None else rng.randrange(len(SECTORS))]
    brand = brand or _brand(rng)
    slug = "".join(
        ch
        for ch in strip_accents(brand + pattern.split()[-1]).lower()
        if ch.isascii() and ch.isalnum()
    )
    return Org(
        entity_id=f"O{n:06d}",
        brand=brand,
        pattern=pattern,
        legal_form=has_legal,
        country=country,
        city=city,
        postcode=rng.choice(postcodes),
        street=rng.choice(streets),
        number=rng.randint(1, 250),
        legal=rng.choice(forms) if has_legal else "",
        domain=f"{slug}{n % 89}.example.{country.lower()}",
        lei=make_lei(rng) if rng.random() < 0.5 else None,
        tax_id=f"{rng.choice(EIN_PREFIXES)}-{rng.randint(1000000, 9999999)}"
        if country == "US" and rng.random() < 0.4
        else None,
        parent=parent,
    )


def organisations(rng: random.Random, count: int) -> list[Org]:
    orgs: list[Org] = []
    while len(orgs) < count:
        org = _new_org(rng, len(orgs))
        orgs.append(org)
        r = rng.random()
        if r < 0.06:  # jurisdiction twin: same name, another country and legal form
            others = [c for c in GEO if c != org.country]
            twin = _new_org(
                rng, len(orgs), brand=org.brand, sector=_sector(org), country=rng.choice(others)
            )
            orgs.append(twin)
        elif r < 0.12:  # same stem, another line of business, same city
            sector = rng.choice([i for i in range(len(SECTORS)) if SECTORS[i][0] != org.pattern])
            orgs.append(
                _new_org(
                    rng,
                    len(orgs),
                    brand=org.brand,
                    sector=sector,
                    country=org.country,
                    city=org.city,
                )
            )
        elif r < 0.16:  # typo twin: a brand one letter away, same country and sector
            brand = typo(rng, org.brand)
            if brand.casefold() != org.brand.casefold():
                orgs.append(
                    _new_org(rng, len(orgs), brand=brand, sector=_sector(org), country=org.country)
                )
        elif r < 0.19:  # subsidiaries of a group
            org.pattern = "{b} Holdings"
            for region in rng.sample(
                ["Europe", "Asia", "Americas", "UK", "Japan"], rng.randint(1, 2)
            ):
                sub = _new_org(rng, len(orgs), brand=org.brand, parent=org)
                sub.pattern = "{b} Holdings " + region
                sub.legal_form = True
                orgs.append(sub)
    return orgs[:count]


def _sector(org: Org) -> int:
    return next(i for i, (p, _) in enumerate(SECTORS) if p == org.pattern)


def _abbreviate(rng: random.Random, name: str, p: float) -> str:
    words = name.split()
    return " ".join(
        rng.choice(ABBREVIATIONS[w]) if w in ABBREVIATIONS and rng.random() < p else w
        for w in words
    )


def _split_or_join(rng: random.Random, name: str) -> str:
    words = name.split()
    if len(words) >= 2 and rng.random() < 0.5:
        i = rng.randrange(len(words) - 1)
        return " ".join([*words[:i], words[i] + words[i + 1], *words[i + 2 :]])
    long = [i for i, w in enumerate(words) if len(w) >= 8]
    if not long:
        return name
    i = rng.choice(long)
    cut = rng.randint(3, len(words[i]) - 3)
    return " ".join([*words[:i], words[i][:cut], words[i][cut:], *words[i + 1 :]])


def noisy_name(rng: random.Random, org: Org) -> str:
    name, legal = org.name, org.legal
    if legal and rng.random() < 0.35:
        legal = rng.choice(LEGAL_SPELLED.get(legal, [legal]))
    if legal and rng.random() < 0.2:
        legal = ""  # one-sided legal form
    if rng.random() < 0.35:
        name = _abbreviate(rng, name, 0.7)
    if rng.random() < 0.12:
        name = _split_or_join(rng, name)
    if rng.random() < 0.3:
        name = typo(rng, name)
        if rng.random() < 0.15:
            name = typo(rng, name)
    if rng.random() < 0.05 and len(name.split()) >= 3:
        words = name.split()
        rng.shuffle(words)
        name = " ".join(words)
    if rng.random() < 0.15:
        name = name[4:] if name.startswith("The ") else "The " + name
    if rng.random() < 0.25:
        name = strip_accents(name)
    if rng.random() < 0.1:
        name = name.upper()
    sep = ", " if legal and rng.random() < 0.3 else " "
    return f"{name}{sep}{legal}" if legal else name


def _record(rng: random.Random, org: Org, system: str, sid: str, primary: bool) -> dict[str, Any]:
    _forms, cities = GEO[org.country]
    city, exonyms, postcodes, streets = cities[org.city]
    number, street, postcode = org.number, org.street, org.postcode
    if not primary:
        r = rng.random()
        if r < 0.15:  # stale: another house number on the same street
            number = max(1, number + rng.choice([-12, -4, -2, 2, 6, 20, 100]))
        elif r < 0.22:  # moved within the city
            street = rng.choice(streets)
            postcode = rng.choice(postcodes)
            number = rng.randint(1, 250)
        if exonyms and rng.random() < 0.5:
            city = rng.choice(exonyms)
        elif rng.random() < 0.2:
            city = strip_accents(city)
    address = (
        f"{number} {street}"
        if org.country in ("US", "GB", "CA", "AU", "SG", "JP")
        else f"{street} {number}"
    )
    if not primary and rng.random() < 0.3:
        address = address.replace("Street", "St").replace("Avenue", "Ave").replace("Straße", "Str.")
    parent_sid = org.parent.source_ids.get(system) if org.parent else None
    keep = 0.95 if primary else 0.75
    return {
        "source_system": system,
        "source_id": sid,
        "name": f"{org.name} {org.legal}".strip() if primary else noisy_name(rng, org),
        "parent_source_id": parent_sid,
        "country": org.country if rng.random() < (0.97 if primary else 0.85) else None,
        "city": city if rng.random() < keep + 0.05 else None,
        "postal_code": postcode if rng.random() < keep else None,
        "address": address if rng.random() < keep else None,
        "website": rng.choice([f"https://www.{org.domain}", f"www.{org.domain}", org.domain])
        if rng.random() < 0.6
        else None,
        "lei": org.lei if org.lei and rng.random() < (0.9 if primary else 0.5) else None,
        "tax_id": org.tax_id if org.tax_id and rng.random() < 0.6 else None,
    }


def generate(count: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(records in arrival order, truth: source key → organisation id) for `count` orgs."""
    rng = random.Random(seed)
    orgs = organisations(rng, count)
    rows: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    counters = dict.fromkeys(SYSTEMS, 0)
    for org in orgs:  # parents come before their subsidiaries
        systems = rng.sample(SYSTEMS, k=rng.choices([1, 2, 3], weights=[40, 42, 18])[0])
        if rng.random() < 0.05:
            systems.append(systems[0])  # a duplicate account inside one system
        for i, system in enumerate(systems):
            counters[system] += 1
            sid = f"{system[:2].upper()}{counters[system]:07d}"
            org.source_ids.setdefault(system, sid)
            rows.append(_record(rng, org, system, sid, primary=i == 0))
            truth[f"{system}:{sid}"] = org.entity_id
    # CRMs are loaded in batches, not organisation by organisation.
    rng.shuffle(rows)
    return rows, truth


if __name__ == "__main__":  # a quick look: python bench/orgbench.py 2000
    import sys

    records, _truth = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, DEV_SEED)
    for row in records[:40]:
        print(row["name"], "|", row["city"], "|", row["address"], "|", row["country"])
    print(len(records), "records", file=sys.stderr)
