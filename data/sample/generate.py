"""Generate the sample data set: institutional clients from four CRMs, with duplicates.

    python data/sample/generate.py [--organisations 1800] [--seed 7] [--out data/sample]
    python data/sample/generate.py --organisations 20000 -o /tmp/dirty.csv   # ~36k rows

Writes (deterministic for a given seed):
- clients.csv  every source record, as CRM exports would send them (with source_system)
- truth.csv    the ground truth, one row per clients.csv row in the same order: which real
               organisation each source record belongs to, its parent organisation (for
               dedupe quality measurements) and the dirt the row was given (`dirt`:
               `unusable:<field>` for a row the contract must refuse, `<field>` for each
               optional value it must quarantine, `reused_source_key`; `;`-separated)
With `-o FILE` the records go to FILE and the truth beside it (`FILE` stem + `.truth.csv`).

What makes it realistic: the same organisation appears in 1-3 systems with the variations
that CRM data really has (legal suffix forms, '&'/'and', abbreviations, dropped accents,
typos, casing, address and website formats, missing fields), a few same-system duplicates
and later updates of a record, parent groups with subsidiaries whose names contain the
parent's ("X Holdings" / "X Holdings Europe": not the same client), and dirt: ~6% of rows
carry invalid optional values the contract quarantines (LEIs and tax ids with bad check
digits, free-text or misspelt segment labels, malformed e-mails / websites / postcodes,
negative figures, unknown countries), ~1% are unusable (blank name or source id: refused),
and ~0.3% reuse an existing source key for another organisation.
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stdnum.iso7064 import mod_97_10

SYSTEMS = ["salesforce", "dynamics", "hubspot", "csv"]
COLUMNS = [
    "source_system",
    "source_id",
    "name",
    "parent_source_id",
    "segment",
    "region",
    "country",
    "state",
    "city",
    "postal_code",
    "address",
    "aum_usd",
    "annual_revenue_usd",
    "employee_count",
    "industry",
    "website",
    "lei",
    "tax_id",
    "advisor_email",
    "updated_at",
]

SURNAMES = """Whitfield Harrington Okafor Müller Schröder Dubois Lefèvre Rossi Bianchi García
Nakamura Tanaka Lindqvist Andersen Vandenberg O'Neill Al-Farsi Chen Wong Santos Oliveira
Kowalski Novak Haddad Dupont Moreau Becker Fischer Ivanova Abernathy Castellano Delacroix
Fairbanks Goldberg Hartmann Iversen Jansen Kaufmann Laurent Mendoza Nordström Ortega Petrov
Quinlan Rasmussen Sørensen Thornbury Ueda Vasquez Whitaker Yamamoto Zimmermann Brennan
Caldwell Ellsworth Gallagher Holloway Kensington Lockhart Montague Pemberton Rutherford
Sinclair Townsend Wainwright Ashworth Bellamy Cavendish Drummond Everett Fitzgerald""".split()
PLACES = """Northwind Bluewater Granite Cedar Summit Harbor Meridian Aurora Pinnacle Evergreen
Riverside Lakeshore Highland Atlas Beacon Crescent Keystone Silverline Oakridge Westbrook
Eastgate Stonebridge Redwood Ironwood Clearwater Brightwater Fairview Greenfield Maplewood
Kingsbridge Whitehall Blackstone Goldcrest Starling Falconridge Windermere Ashford Belmont""".split()

# The hand-written words above give every organisation of a sample-sized population a
# readable name. Past `SAMPLE_SCALE` organisations they would give hundreds of distinct
# organisations one exact name in one city (at 400,000: ~200 per pension-fund name, on the
# same street), which no CRM holds and any matcher merges: a larger population draws
# from synthetic words beside them as well, one more surname and one more place per
# organisation past that scale. The sample and the test workloads stay as they were.
SAMPLE_SCALE = 5_000
_SYLLABLES = (
    "ka lo mi ra ve to shi an el or ben dal fen gor hal is jun kor lin mar nor ost pal "
    "quin ros sel tam ur vin wes yor zan bel cor dun ev fal har il jor kel lum mer nev "
    "ol per rud sor tir umb val wil xan yel zor"
).split()


@dataclass(frozen=True)
class Vocabulary:
    surnames: list[str]
    places: list[str]


def vocabulary(entities: int) -> Vocabulary:
    """The words names are drawn from for a population of `entities` organisations."""
    extra = max(0, entities - SAMPLE_SCALE)
    if not extra:
        return Vocabulary(SURNAMES, PLACES)
    rng = random.Random(f"vocabulary:{entities}")  # its own stream: the rows' draws stay
    taken = {w.lower() for w in (*SURNAMES, *PLACES)}
    made: list[str] = []
    while len(made) < 2 * extra:
        word = "".join(rng.choices(_SYLLABLES, k=rng.choice((2, 3, 3, 4)))).capitalize()
        if len(word) >= 5 and word.lower() not in taken:
            taken.add(word.lower())
            made.append(word)
    return Vocabulary([*SURNAMES, *made[:extra]], [*PLACES, *made[extra:]])


# country: (region, [(state, city, postal, street)])
GEO: dict[str, list[tuple[str, str, str, str]]] = {
    "US": [
        ("NY", "New York", "10022", "Park Avenue"),
        ("MA", "Boston", "02110", "Federal Street"),
        ("CA", "San Francisco", "94105", "Mission Street"),
        ("IL", "Chicago", "60601", "Wacker Drive"),
        ("TX", "Dallas", "75201", "Ross Avenue"),
        ("CT", "Greenwich", "06830", "Greenwich Avenue"),
    ],
    "CA": [
        ("ON", "Toronto", "M5H 2N2", "Bay Street"),
        ("QC", "Montréal", "H3B 4W8", "Rue Sainte-Catherine"),
    ],
    "GB": [
        ("", "London", "EC2V 7HH", "Gresham Street"),
        ("", "Edinburgh", "EH2 4AN", "George Street"),
    ],
    "DE": [
        ("HE", "Frankfurt am Main", "60311", "Neue Mainzer Straße"),
        ("BY", "München", "80331", "Maximilianstraße"),
    ],
    "FR": [("", "Paris", "75008", "Avenue des Champs-Élysées")],
    "CH": [("ZH", "Zürich", "8001", "Bahnhofstrasse"), ("GE", "Genève", "1204", "Rue du Rhône")],
    "NL": [("", "Amsterdam", "1017 DG", "Herengracht")],
    "SE": [("", "Stockholm", "111 47", "Kungsgatan")],
    "IT": [("", "Milano", "20121", "Via Montenapoleone")],
    "ES": [("", "Madrid", "28001", "Calle de Serrano")],
    "AE": [("", "Dubai", "", "Sheikh Zayed Road")],
    "ZA": [("GP", "Johannesburg", "2196", "Rivonia Road")],
    "JP": [("13", "Tokyo", "100-0005", "Marunouchi")],
    "SG": [("", "Singapore", "018989", "Marina Boulevard")],
    "AU": [("NSW", "Sydney", "2000", "George Street")],
    "HK": [("", "Hong Kong", "", "Queen's Road Central")],
    "BR": [("SP", "São Paulo", "01310-100", "Avenida Paulista")],
    "MX": [("CMX", "Ciudad de México", "06600", "Paseo de la Reforma")],
}
COUNTRY_WEIGHTS = {
    "US": 30,
    "CA": 6,
    "GB": 10,
    "DE": 7,
    "FR": 5,
    "CH": 5,
    "NL": 3,
    "SE": 2,
    "IT": 2,
    "ES": 2,
    "AE": 2,
    "ZA": 1,
    "JP": 5,
    "SG": 3,
    "AU": 4,
    "HK": 3,
    "BR": 4,
    "MX": 3,
}
LEGAL = {
    "US": ["Inc.", "LLC", "LP", "Corp."],
    "CA": ["Inc.", "Ltd."],
    "GB": ["Ltd", "PLC", "LLP"],
    "DE": ["GmbH", "AG"],
    "FR": ["SA", "SAS"],
    "CH": ["AG", "SA"],
    "NL": ["B.V.", "N.V."],
    "SE": ["AB"],
    "IT": ["S.p.A.", "S.r.l."],
    "ES": ["S.A.", "S.L."],
    "AE": ["LLC"],
    "ZA": ["(Pty) Ltd"],
    "JP": ["K.K.", "Co., Ltd."],
    "SG": ["Pte. Ltd."],
    "AU": ["Pty Ltd", "Limited"],
    "HK": ["Limited"],
    "BR": ["S.A.", "Ltda."],
    "MX": ["S.A. de C.V."],
}
LEGAL_LONG = {
    "Inc.": "Incorporated",
    "LLC": "L.L.C.",
    "Ltd": "Limited",
    "Ltd.": "Limited",
    "Corp.": "Corporation",
    "PLC": "Public Limited Company",
    "AG": "Aktiengesellschaft",
    "GmbH": "G.m.b.H.",
    "B.V.": "BV",
    "N.V.": "NV",
    "S.p.A.": "SpA",
    "S.A.": "SA",
    "LP": "L.P.",
    "Pty Ltd": "Pty. Limited",
    "Limited": "Ltd",
}
ABBREV = {
    "International": "Intl",
    "Management": "Mgmt",
    "Company": "Co",
    "Associates": "Assoc",
    "Investments": "Invest.",
    "Capital": "Cap.",
    "Retirement": "Ret.",
    "Insurance": "Ins.",
}
SEGMENT_WEIGHTS = {
    "Pension": 14,
    "Endowment": 6,
    "Foundation": 8,
    "Insurance": 10,
    "Bank": 10,
    "Asset Manager": 22,
    "Corporate": 18,
    "Sovereign": 2,
    "Family Office": 10,
}
INDUSTRY = {
    "Pension": "Retirement Services",
    "Endowment": "Higher Education",
    "Foundation": "Philanthropy",
    "Insurance": "Insurance",
    "Bank": "Banking",
    "Asset Manager": "Investment Management",
    "Corporate": "Industrials",
    "Sovereign": "Government",
    "Family Office": "Wealth Management",
}
ADVISORS = [
    f"{f}.{s}@advisors.example.com"
    for f, s in [
        ("amelia", "hart"),
        ("bruno", "keller"),
        ("chloe", "martin"),
        ("daniel", "osei"),
        ("elena", "rossi"),
        ("felix", "wagner"),
        ("grace", "lee"),
        ("hiro", "sato"),
        ("isabel", "costa"),
        ("james", "obrien"),
        ("kira", "novak"),
        ("liam", "walsh"),
    ]
]
EIN_PREFIXES = [
    "13",
    "20",
    "26",
    "27",
    "45",
    "46",
    "47",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "87",
    "88",
]


@dataclass
class Org:
    entity_id: str
    name: str
    segment: str
    country: str
    state: str
    city: str
    postal: str
    street: str
    legal: str
    aum: float | None
    revenue: float | None
    employees: int | None
    lei: str | None
    tax_id: str | None
    domain: str
    advisor: str | None
    parent: Org | None = None
    source_ids: dict[str, str] = field(default_factory=dict)


def make_lei(rng: random.Random) -> str:
    body = (
        rng.choice(["5493", "2138", "9695", "8156"])
        + "00"
        + "".join(rng.choices(string.ascii_uppercase + string.digits, k=12))
    )
    return body + mod_97_10.calc_check_digits(body)


def base_name(rng: random.Random, segment: str, words: Vocabulary) -> tuple[str, bool]:
    """The organisation's name and whether a legal-form suffix belongs after it."""
    s, p = rng.choice(words.surnames), rng.choice(words.places)
    match segment:
        case "Pension":
            return rng.choice(
                [
                    f"{p} Public Employees Retirement System",
                    f"{p} Teachers' Pension Plan",
                    f"{s} & Partners Pension Fund",
                    f"{p} Municipal Pension Fund",
                    f"{p} Firefighters' Retirement Fund",
                ]
            ), False
        case "Endowment":
            return rng.choice(
                [
                    f"University of {p} Endowment",
                    f"{s} College Endowment Fund",
                    f"{p} Institute of Technology Endowment",
                ]
            ), False
        case "Foundation":
            return rng.choice(
                [
                    f"The {s} Family Foundation",
                    f"{s} Stiftung",
                    f"Fondation {s}",
                    f"{s} Charitable Trust",
                ]
            ), False
        case "Insurance":
            return rng.choice(
                [
                    f"{s} Mutual Insurance Company",
                    f"{p} Life Assurance",
                    f"{s} Re Insurance",
                    f"{p} General Insurance",
                ]
            ), True
        case "Bank":
            return rng.choice(
                [f"{p} Savings Bank", f"Banque {s}", f"{s} Private Bank", f"{p} Cooperative Bank"]
            ), True
        case "Asset Manager":
            return rng.choice(
                [
                    f"{s} Capital Management",
                    f"{p} Asset Management",
                    f"{s} & {rng.choice(words.surnames)} Investments",
                    f"{p} Investment Partners",
                    f"{s} International Advisors",
                ]
            ), True
        case "Corporate":
            return rng.choice(
                [
                    f"{s} Industries",
                    f"{p} Technologies",
                    f"{s} Manufacturing Company",
                    f"{p} Energy",
                    f"{s} Logistics",
                ]
            ), True
        case "Sovereign":
            return f"{p} Investment Authority", False
        case _:
            return rng.choice([f"{s} Family Office", f"{s} Family Holdings"]), True


def new_org(rng: random.Random, n: int, words: Vocabulary, parent: Org | None = None) -> Org:
    if parent is None:
        segment = rng.choices(list(SEGMENT_WEIGHTS), weights=list(SEGMENT_WEIGHTS.values()))[0]
        country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
        name, legal_form = base_name(rng, segment, words)
    else:
        segment = parent.segment
        country = rng.choice([parent.country, *rng.sample(list(GEO), 2)])
        stem = parent.name.removesuffix(" Holdings")
        name = f"{stem} {rng.choice(['Holdings ' + rng.choice(['Europe', 'Asia', 'Americas']), 'Asset Management ' + rng.choice(['Asia', 'UK', 'Japan', 'Canada']), 'Europe', 'Americas', 'Private Wealth', 'Re'])}"
        legal_form = True
    state, city, postal, street = rng.choice(GEO[country])
    legal = rng.choice(LEGAL[country]) if legal_form else ""
    big = {
        "Pension": 3e10,
        "Sovereign": 2e11,
        "Insurance": 5e10,
        "Bank": 4e10,
        "Asset Manager": 2e10,
        "Endowment": 5e9,
        "Foundation": 1e9,
        "Family Office": 8e8,
        "Corporate": 2e9,
    }[segment]
    aum = (
        round(rng.lognormvariate(0, 1.2) * big, 2)
        if segment != "Corporate" or rng.random() < 0.3
        else None
    )
    revenue = round(rng.lognormvariate(0, 1.0) * big / 20, 2) if rng.random() < 0.7 else None
    employees = int(rng.lognormvariate(6, 1.3)) if rng.random() < 0.8 else None
    slug = "".join(
        ch
        for ch in unicodedata.normalize("NFKD", name.split()[0] + name.split()[-1]).lower()
        if ch.isascii() and ch.isalnum()  # a host name is ASCII ('ø' has no decomposition)
    )
    domain = parent.domain if parent and rng.random() < 0.5 else f"{slug}{n % 97}.example.com"
    return Org(
        entity_id=f"E{n:05d}",
        name=name,
        segment=segment,
        country=country,
        state=state,
        city=city,
        postal=postal,
        street=street,
        legal=legal,
        aum=aum,
        revenue=revenue,
        employees=employees,
        lei=make_lei(rng) if rng.random() < 0.6 else None,
        tax_id=(
            f"{rng.choice(EIN_PREFIXES)}-{rng.randint(1000000, 9999999)}"
            if country == "US" and rng.random() < 0.5
            else None
        ),
        domain=domain,
        advisor=rng.choice(ADVISORS) if rng.random() < 0.4 else None,
        parent=parent,
    )


def strip_accents(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


def typo(rng: random.Random, text: str) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 6:
        return text
    i = rng.choice(letters[1:-1])
    op = rng.random()
    if op < 0.4 and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # transposition
    if op < 0.7:
        return text[:i] + text[i + 1 :]  # deletion
    return text[:i] + rng.choice("aeinorst") + text[i + 1 :]  # substitution


def variant_name(rng: random.Random, org: Org, heavy: bool) -> str:
    name, legal = org.name, org.legal
    if legal and rng.random() < 0.3:
        legal = LEGAL_LONG.get(legal, legal)
    if legal and rng.random() < 0.25:
        legal = ""
    if rng.random() < 0.3:
        name = name.replace(" & ", " and ") if " & " in name else name.replace(" and ", " & ")
    if rng.random() < 0.2:
        for long, short in ABBREV.items():
            name = name.replace(long, short)
    if name.startswith("The ") and rng.random() < 0.5:
        name = name[4:]
    if rng.random() < 0.3:
        name = strip_accents(name)
    if heavy and rng.random() < 0.5:
        name = typo(rng, name)
    if rng.random() < 0.1:
        name = name.upper()
    sep = ", " if legal and rng.random() < 0.3 else " "
    return f"{name}{sep}{legal}".strip() if legal else name


def money(value: float | None, rng: random.Random, fuzz: bool) -> str:
    if value is None:
        return ""
    if fuzz:
        value *= rng.uniform(0.95, 1.05)
    return f"{value:.2f}"


def record(
    rng: random.Random, org: Org, system: str, source_id: str, primary: bool, when: datetime
) -> dict[str, str]:
    heavy = not primary and rng.random() < 0.35
    street_no = (int(org.entity_id[1:]) * 37 % 400) + 1
    address = f"{street_no} {org.street}"
    if not primary and rng.random() < 0.3:
        address = (
            address.replace("Street", "St.").replace("Avenue", "Ave").replace("Straße", "Str.")
        )
    website = rng.choice(
        [f"https://www.{org.domain}", f"www.{org.domain}", f"http://{org.domain}/", org.domain]
    )
    parent_sid = org.parent.source_ids.get(system, "") if org.parent else ""
    return {
        "source_system": system,
        "source_id": source_id,
        "name": variant_name(rng, org, heavy)
        if not primary
        else (f"{org.name} {org.legal}".strip()),
        "parent_source_id": parent_sid,
        "segment": org.segment if rng.random() < 0.9 else "",
        "region": "",
        "country": org.country
        if rng.random() < 0.85
        else {"US": "USA", "GB": "GBR", "DE": "DEU"}.get(org.country, org.country),
        "state": org.state,
        "city": org.city if rng.random() < 0.9 or not heavy else strip_accents(org.city),
        "postal_code": org.postal if rng.random() < 0.85 else "",
        "address": address if rng.random() < 0.85 else "",
        "aum_usd": money(org.aum, rng, fuzz=not primary),
        "annual_revenue_usd": money(org.revenue, rng, fuzz=not primary)
        if rng.random() < 0.8
        else "",
        "employee_count": str(org.employees)
        if org.employees is not None and rng.random() < 0.8
        else "",
        "industry": INDUSTRY[org.segment],
        "website": website if rng.random() < 0.75 else "",
        "lei": (org.lei or "") if rng.random() < (0.95 if primary else 0.6) else "",
        "tax_id": (org.tax_id or "") if rng.random() < 0.7 else "",
        "advisor_email": org.advisor or "",
        "updated_at": when.isoformat(),
    }


# Free-text segment labels: some are aliases (mapped clean), the rest quarantined as Other.
SEGMENT_LABELS = {
    "Sovereign Wealth": False,
    "Pension Fund": False,
    "Pensoin": True,
    "Hedge Fnd": True,
    "Endowmnet": True,
    "Supranational": True,
}


def _bad_lei(lei: str) -> str:
    digits = int(lei[-2:])
    return lei[:-2] + f"{(digits + 1) % 100:02d}"  # one off: wrong check digits


def unusable(rng: random.Random, row: dict[str, str]) -> tuple[dict[str, str], str]:
    """A row the contract must refuse (blank required value)."""
    row = dict(row)
    field = rng.choice(["name", "name", "source_id"])
    row[field] = rng.choice(["", "   "])
    return row, f"unusable:{field}"


def quarantined(rng: random.Random, row: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """A row with one or two invalid optional values (kept, the values quarantined)."""
    row = dict(row)
    dirt: list[str] = []
    for kind in rng.sample(
        ["lei", "segment", "email", "website", "postcode", "aum", "employees", "country", "tax"],
        k=rng.choice([1, 1, 2]),
    ):
        if kind == "lei":
            row["lei"] = _bad_lei(row["lei"] or make_lei(rng))
            dirt.append("lei")
        elif kind == "segment":
            label = rng.choice(sorted(SEGMENT_LABELS))
            row["segment"] = label
            if SEGMENT_LABELS[label]:
                dirt.append("segment")
        elif kind == "email":
            row["advisor_email"] = rng.choice(["not-an-email", "j.smith(at)bank.com", "n/a"])
            dirt.append("advisor_email")
        elif kind == "website":
            row["website"] = rng.choice(["n/a", "none", "http://"])
            dirt.append("website")
        elif kind == "postcode":
            row["postal_code"] = rng.choice(["???", "N/A", "unknown"])
            dirt.append("postal_code")
        elif kind == "aum":
            row["aum_usd"] = "-1500000"
            dirt.append("aum_usd")
        elif kind == "employees":
            row["employee_count"] = "-12"
            dirt.append("employee_count")
        elif kind == "country":
            row["country"] = rng.choice(["XX", "Atlantis"])
            row["tax_id"] = ""  # a tax id is checked against its country: keep this one kind
            dirt.append("country")
        else:
            # (a US EIN has no check digit: only tax ids with one are made wrong)
            if row["tax_id"] and row["country"] in ("DE", "DEU", "GB", "GBR", "FR"):
                row["tax_id"] = row["tax_id"][:-1] + str((int(row["tax_id"][-1]) + 1) % 10)
                dirt.append("tax_id")
    return row, dirt


def generate(entities: int, seed: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    words = vocabulary(entities)
    orgs: list[Org] = []
    n = 0
    while len(orgs) < entities:
        org = new_org(rng, n, words)
        n += 1
        orgs.append(org)
        if rng.random() < 0.12:  # a group with subsidiaries
            if not org.name.endswith("Holdings") and rng.random() < 0.5:
                org.name = f"{org.name} Holdings"
            for _ in range(rng.randint(1, 4)):
                orgs.append(new_org(rng, n, words, parent=org))
                n += 1
    rows: list[dict[str, str]] = []
    truth: list[dict[str, str]] = []
    counters = dict.fromkeys(SYSTEMS, 0)
    reuse_rng = random.Random(seed + 1)  # own stream: the other rows stay as they were

    def emit(org: Org, system: str, primary: bool) -> dict[str, str]:
        counters[system] += 1
        sid = {
            "salesforce": f"001A{counters[system]:011d}",
            "dynamics": f"acc-{counters[system]:06d}",
            "hubspot": str(900000 + counters[system] * 7),
            "csv": f"ROW{counters[system]:05d}",
        }[system]
        org.source_ids.setdefault(system, sid)
        when = start + timedelta(minutes=rng.randint(0, 600_000))
        row = record(rng, org, system, sid, primary, when)
        rows.append(row)
        truth.append(
            {
                "source_system": system,
                "source_id": sid,
                "entity_id": org.entity_id,
                "parent_entity_id": org.parent.entity_id if org.parent else "",
            }
        )
        return row

    # The latest `updated_at` of the rows so far, read incrementally (a scan of every row
    # per reused key made a million-row workload take over an hour).
    latest: list[str] = [""]  # the latest value so far
    upto: list[int] = [0]  # how many rows it covers

    def latest_updated_at() -> str:
        for r in rows[upto[0] :]:
            latest[0] = max(latest[0], r["updated_at"])
        upto[0] = len(rows)
        return latest[0]

    for org in orgs:  # parents come before their subsidiaries, so parent ids resolve
        systems = rng.sample(SYSTEMS, k=rng.choices([1, 2, 3], weights=[45, 40, 15])[0])
        for i, system in enumerate(systems):
            emit(org, system, primary=i == 0)
        if rng.random() < 0.04:  # a duplicate account inside one system
            emit(org, systems[0], primary=False)
        if rng.random() < 0.03:  # a later update of an existing source record
            row = dict(rows[-1])
            row["updated_at"] = (
                datetime.fromisoformat(row["updated_at"]) + timedelta(days=30)
            ).isoformat()
            row["employee_count"] = str(int(row["employee_count"] or 100) + 25)
            rows.append(row)
            truth.append(dict(truth[-1]))
        if len(rows) > 10 and reuse_rng.random() < 0.005:
            # A source system reuses an old source id for a new organisation.
            stranger = new_org(reuse_rng, len(orgs) + 100_000 + len(rows), words)
            i = reuse_rng.randrange(len(rows) - 1)
            old = rows[i]
            row = record(reuse_rng, stranger, old["source_system"], old["source_id"], True, start)
            row["parent_source_id"] = ""
            row["updated_at"] = (
                datetime.fromisoformat(latest_updated_at()) + timedelta(days=1)
            ).isoformat()
            rows.append(row)
            truth.append(
                {
                    "source_system": old["source_system"],
                    "source_id": old["source_id"],
                    "entity_id": stranger.entity_id,
                    "parent_entity_id": "",
                    "dirt": "reused_source_key",
                }
            )
    dirty = rng.sample(range(len(rows)), k=len(rows) * 7 // 100)
    cut = len(dirty) // 7  # ~1% of the rows unusable, ~6% with quarantined values
    for n, i in enumerate(dirty):
        if truth[i].get("dirt"):
            continue
        if n < cut:
            rows[i], mark = unusable(rng, rows[i])
            truth[i]["dirt"] = mark
        else:
            rows[i], marks = quarantined(rng, rows[i])
            truth[i]["dirt"] = ";".join(marks)
    for t in truth:
        t.setdefault("dirt", "")
    return rows, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organisations", "--entities", dest="entities", type=int, default=1800)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="directory")
    parser.add_argument("-o", "--output", type=Path, help="records file (truth beside it)")
    args = parser.parse_args()
    rows, truth = generate(args.entities, args.seed)
    if args.output is not None:
        clients_path = args.output
        truth_path = args.output.with_name(args.output.stem + ".truth.csv")
    else:
        clients_path, truth_path = args.out / "clients.csv", args.out / "truth.csv"
    clients_path.parent.mkdir(parents=True, exist_ok=True)
    with clients_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with truth_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=["source_system", "source_id", "entity_id", "parent_entity_id", "dirt"]
        )
        writer.writeheader()
        writer.writerows(truth)
    refused = sum(t["dirt"].startswith("unusable") for t in truth)
    dirty = sum(bool(t["dirt"]) and not t["dirt"].startswith("unusable") for t in truth)
    print(
        f"{len(rows)} records of {len({t['entity_id'] for t in truth})} organisations "
        f"({refused} unusable, {dirty} with quarantined values or a reused key) -> {clients_path}"
    )


if __name__ == "__main__":
    main()
