"""Normalisation of organisation records into comparable `Profile`s.

Names: accents folded, case folded, `&` → `and`, punctuation dropped (dotted forms such as
`S.p.A.` or `L.L.C.` collapse to `spa` / `llc` first), a leading "The" dropped, common
abbreviations expanded, and trailing legal-entity forms stripped in many languages. The
legal form is kept apart, canonicalised (`Incorporated` → `inc`, `G.m.b.H.` → `gmbh`):
agreeing or disagreeing legal forms are evidence, not part of the name.

The list of legal forms is cleanco's multilingual term table (a maintained library) plus
the spelled-out forms it lacks; the matching itself is token-based here because cleanco's
own `basename` leaves pieces behind on forms such as "(Pty) Ltd" or "Co., Ltd.".
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache

from cleanco.termdata import terms_by_type

from territory.dedupe.knowledge import abbreviations, city_id, generic_words, legal_jurisdictions
from territory.shared.events import ClientRecord

# Letters that NFKD does not decompose into a base letter and a combining mark.
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ı": "i",
        "þ": "th",
        "å": "a",
        "Å": "a",
    }
)
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}(?:[a-z]\b)?")
_APOSTROPHE = re.compile(r"['’`´]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Spelled-out and regional forms that cleanco's table lacks (after normalisation).
_EXTRA_LEGAL = [
    "aktiengesellschaft",
    "aktiebolag",
    "private limited",
    "pvt ltd",
    "gesellschaft mit beschrankter haftung",
    "public limited company",
    "limited liability company",
    "limited partnership",
    "limited liability partnership",
    "kk",
    "kabushiki kaisha",
    "kabushiki gaisha",
    "co ltd",
    "company limited",
    "sa de cv",
    "sab de cv",
    "s de rl de cv",
    "pty ltd",
    "pty limited",
    "pty",
    "pte ltd",
    "pte limited",
    "sdn bhd",
    "societe anonyme",
    "sociedad anonima",
    "sociedade anonima",
    "societa per azioni",
    "naamloze vennootschap",
    "besloten vennootschap",
    "sas",
    "sa",
    "ltda",
    "spa",
    "srl",
    "bv",
    "nv",
    "ab",
    "corp",
    "corporation",
    "incorporated",
    "inc",
    "limited",
    "ltd",
    "llc",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "ag",
    "se",
]
# Terms in cleanco's table that are also ordinary name words here.
_NOT_LEGAL = {"co", "company", "private", "vat", "et", "da", "pt", "teo", "as", "ee", "sd"}

# Canonical legal forms: synonyms collapse so that "Incorporated" agrees with "Inc.".
_LEGAL_CANON = {
    "incorporated": "inc",
    "corporation": "corp",
    "limited": "ltd",
    "company limited": "co ltd",
    "public limited company": "plc",
    "limited liability company": "llc",
    "limited partnership": "lp",
    "limited liability partnership": "llp",
    "aktiengesellschaft": "ag",
    "aktiebolag": "ab",
    "private limited": "pte ltd",
    "pvt ltd": "pte ltd",
    "gesellschaft mit beschrankter haftung": "gmbh",
    "kabushiki kaisha": "kk",
    "kabushiki gaisha": "kk",
    "pty limited": "pty ltd",
    "pte limited": "pte ltd",
    "societe anonyme": "sa",
    "sociedad anonima": "sa",
    "sociedade anonima": "sa",
    "societa per azioni": "spa",
    "naamloze vennootschap": "nv",
    "besloten vennootschap": "bv",
}

# Abbreviations expanded inside names (after legal forms are stripped): data/abbreviations.tsv.
ABBREVIATIONS = abbreviations()
_ADDRESS_ABBREVIATIONS = {
    "st": "street",
    "str": "strasse",
    "ave": "avenue",
    "av": "avenue",
    "rd": "road",
    "blvd": "boulevard",
    "dr": "drive",
    "ln": "lane",
    "pl": "place",
    "sq": "square",
    "ct": "court",
    "hwy": "highway",
    "fl": "floor",
    "ste": "suite",
}
_LEADING_ARTICLES = ("the",)


def fold(text: str) -> str:
    """Case- and accent-folded text: 'Lefèvre Straße' → 'lefevre strasse'."""
    text = text.translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold()


def _tokens(text: str) -> list[str]:
    text = fold(text)
    text = text.replace("&", " and ").replace("+", " and ")
    text = _APOSTROPHE.sub("", text)
    # "s.p.a." → "spa", "l.l.c." → "llc": dotted initials are one word.
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    return [t for t in _NON_ALNUM.split(text) if t]


@cache
def _legal_forms() -> tuple[tuple[str, ...], ...]:
    """Every legal form as a token tuple, longest first (so 'sa de cv' beats 'sa')."""
    forms: set[tuple[str, ...]] = set()
    for term in itertools.chain(*terms_by_type.values(), _EXTRA_LEGAL):
        tokens = tuple(_tokens(term))
        if tokens and " ".join(tokens) not in _NOT_LEGAL:
            forms.add(tokens)
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


@cache
def _legal_forms_by_last() -> dict[str, tuple[tuple[str, ...], ...]]:
    """`_legal_forms()` grouped by their last token, each group in the same order: a name
    is only compared with the forms its last word can end."""
    by_last: dict[str, list[tuple[str, ...]]] = {}
    for form in _legal_forms():
        by_last.setdefault(form[-1], []).append(form)
    return {last: tuple(forms) for last, forms in by_last.items()}


@dataclass(frozen=True, slots=True)
class NormalizedName:
    key: str  # the comparable name: tokens joined by one space
    tokens: tuple[str, ...]
    legal_form: str | None  # canonical legal form, e.g. "inc", "gmbh", "sa de cv"
    # The tokens with glued and split words undone at generic words ("kantonalbank" →
    # "kantonal bank", "retirementfund" → "retirement fund"): what records compare on.
    parts: tuple[str, ...] = ()


def normalize_name(name: str) -> NormalizedName:
    tokens = _tokens(name)
    if tokens and tokens[0] in _LEADING_ARTICLES and len(tokens) > 1:
        tokens = tokens[1:]
    legal: list[str] = []
    # Strip legal forms from the end, repeatedly ("Foo Co., Ltd." / "Foo AG & Co. KG"),
    # but never the whole name.
    by_last = _legal_forms_by_last()
    changed = True
    while changed and tokens:
        changed = False
        for form in by_last.get(tokens[-1], ()):
            n = len(form)
            if len(tokens) > n and tuple(tokens[-n:]) == form:
                legal.insert(0, " ".join(form))
                tokens = tokens[:-n]
                if tokens and tokens[-1] == "and":  # "Foo & Co" leftovers
                    tokens = tokens[:-1]
                changed = True
                break
    tokens = [ABBREVIATIONS.get(t, t) for t in tokens]
    legal_form = None
    if legal:
        joined = " ".join(legal)
        legal_form = _LEGAL_CANON.get(joined, joined)
    return NormalizedName(
        key=" ".join(tokens),
        tokens=tuple(tokens),
        legal_form=legal_form,
        parts=tuple(split_compounds(tokens)),
    )


def _split(token: str) -> list[str]:
    """'retirementfund' → ['retirement', 'fund'], 'cedarholdings' → ['cedar', 'holdings'],
    'pensionfd' → ['pension', 'fund']: a token glued from a generic word and another word
    of three letters or more. Tokens that are generic words themselves stay whole."""
    generic = generic_words()
    if len(token) < 7 or token in generic:
        return [token]
    for cut in range(3, len(token) - 1):
        head, tail = token[:cut], token[cut:]
        tail_word = ABBREVIATIONS.get(tail, tail) if head in generic or cut >= 4 else tail
        if tail_word in generic and (len(tail) >= 3 or head in generic):
            return [*_split(head), tail_word]
        if head in generic and len(head) >= 4 and len(tail) >= 3:
            return [head, *_split(tail)]
    return [token]


def split_compounds(tokens: list[str]) -> list[str]:
    """Undo words glued or split by typing: 'RetirementFund' → 'retirement fund',
    'Holdi ngs' → 'holdings' (two pieces whose join is a generic word are joined)."""
    generic = generic_words()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and tokens[i] not in generic and tokens[i + 1] not in generic:
            joined = tokens[i] + tokens[i + 1]
            if joined in generic:
                out.append(joined)
                i += 2
                continue
        out.extend(_split(tokens[i]))
        i += 1
    return out


def legal_family(form: str | None) -> str | None:
    """Broad family of a legal form, for agreement: corporations, limited companies, …"""
    if form is None:
        return None
    last = form.split()[-1]
    return {
        "inc": "corp",
        "corp": "corp",
        "ag": "corp",
        "sa": "corp",
        "spa": "corp",
        "nv": "corp",
        "plc": "corp",
        "kk": "corp",
        "ab": "corp",
        "cv": "corp",
        "ltd": "ltd",
        "limited": "ltd",
        "gmbh": "ltd",
        "bv": "ltd",
        "srl": "ltd",
        "sl": "ltd",
        "ltda": "ltd",
        "llc": "ltd",
        "sas": "ltd",
        "lp": "partnership",
        "llp": "partnership",
    }.get(last, last)


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def domain_of(website: str | None) -> str | None:
    """'https://www.Acme.com/about' → 'acme.com' (host without 'www.', port or path)."""
    if not website:
        return None
    host = _SCHEME.sub("", website.strip().lower()).split("/")[0].split("?")[0]
    host = host.split("@")[-1].split(":")[0].removeprefix("www.").strip(".")
    return host or None


def normalize_postcode(postal_code: str | None) -> str | None:
    if not postal_code:
        return None
    compact = _NON_ALNUM.sub("", fold(postal_code))
    return compact or None


def normalize_address(address: str | None) -> str | None:
    if not address:
        return None
    tokens = [_ADDRESS_ABBREVIATIONS.get(t, t) for t in _tokens(address)]
    # German compounds: "Neue Mainzer Straße" and "Mainzerstr." agree after this.
    tokens = [t[:-7] + " strasse" if t.endswith("strasse") and len(t) > 7 else t for t in tokens]
    return " ".join(tokens) or None


_HOUSE_NUMBER = re.compile(r"\b\d+[a-z]?\b")


def house_numbers(address: str | None) -> frozenset[str]:
    """Numbers in a normalised address ('neue mainzer strasse 52' → {'52'})."""
    return frozenset(_HOUSE_NUMBER.findall(address)) if address else frozenset()


def normalize_tax_id(tax_id: str | None, country: str | None = None) -> str | None:
    """The compact tax id, without its country: one CRM may lack the country of a record
    whose tax id another has, and that must not read as two tax ids (which vetoes a merge).
    The same number under two countries is rare, and the countries disagree then anyway.
    `country` is accepted for callers of the earlier form and not used."""
    if not tax_id:
        return None
    compact = _NON_ALNUM.sub("", fold(tax_id))
    return compact or None


def normalize_city(city: str | None) -> str | None:
    if not city:
        return None
    return " ".join(_tokens(city)) or None


@dataclass(slots=True)
class Profile:
    """The comparable form of one source record (what the index and the scorer see)."""

    source_key: str
    name: str
    tokens: tuple[str, ...]
    legal_form: str | None = None
    legal_group: str | None = None  # legal_family(legal_form)
    # Countries whose law has this legal form (cleanco + data/legal_forms.tsv).
    legal_jurisdictions: frozenset[str] = frozenset()
    city_id: str | None = None  # GeoNames id: exonyms and alternate names agree
    domain: str | None = None
    lei: str | None = None
    tax_id: str | None = None
    country: str | None = None
    city: str | None = None
    postal_code: str | None = None
    address: str | None = None
    segment: str | None = None
    parent_key: str | None = None  # source key of the parent record, same system
    # Other exact-compare attributes (benchmarks put e.g. a date of birth here).
    extra: dict[str, str] = field(default_factory=dict)
    # Identifiers quarantined at ingestion (an LEI or tax id that failed its check digits),
    # as "field:VALUE" in upper case without separators: weak evidence when identical.
    unchecked_ids: frozenset[str] = frozenset()


def profile_of(record: ClientRecord) -> Profile:
    name = normalize_name(record.name)
    return Profile(
        source_key=record.source_key,
        name=" ".join(name.parts),
        tokens=name.parts,
        legal_form=name.legal_form,
        legal_group=legal_family(name.legal_form),
        legal_jurisdictions=legal_jurisdictions(name.legal_form),
        city_id=city_id(record.city, record.country) if record.city else None,
        domain=domain_of(record.website),
        lei=record.lei.upper() if record.lei else None,
        tax_id=normalize_tax_id(record.tax_id, record.country),
        country=record.country,
        city=normalize_city(record.city),
        postal_code=normalize_postcode(record.postal_code),
        address=normalize_address(record.address),
        segment=record.segment.value if record.segment else None,
        parent_key=(
            f"{record.source_system}:{record.parent_source_id}" if record.parent_source_id else None
        ),
        unchecked_ids=unchecked_ids(record),
    )


_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
UNCHECKED_ID_FIELDS = ("lei", "tax_id")


def unchecked_ids(record: ClientRecord) -> frozenset[str]:
    """The record's identifiers that failed their checks, kept as raw values by the
    quarantine: "lei:5493001KJTIIGC8Y1R19". Values shorter than 6 characters say nothing."""
    if not record.field_issues:
        return frozenset()
    out = set()
    for name in UNCHECKED_ID_FIELDS:
        raw = record.quarantined_raw(name)
        if raw:
            value = _NOT_ALNUM.sub("", raw.upper())
            if len(value) >= 6:
                out.add(f"{name}:{value}")
    return frozenset(out)
