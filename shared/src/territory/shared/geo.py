"""Countries and sales regions.

A region is derived from the ISO 3166-1 country when a record does not carry one. NA is the
United States and Canada (plus their North Atlantic territories); LATAM is Mexico, Central
and South America and the Caribbean; APAC is Asia (without the Middle East) and Oceania;
every other country is EMEA (Europe, the Middle East and Africa).
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache

import pycountry


class Region(StrEnum):
    NA = "NA"
    EMEA = "EMEA"
    APAC = "APAC"
    LATAM = "LATAM"


_NA = frozenset(["US", "CA", "PM", "BM", "GL", "UM"])
_LATAM = frozenset(
    [
        "MX",
        "GT",
        "BZ",
        "SV",
        "HN",
        "NI",
        "CR",
        "PA",
        "CU",
        "DO",
        "HT",
        "JM",
        "BS",
        "BB",
        "TT",
        "AG",
        "DM",
        "GD",
        "KN",
        "LC",
        "VC",
        "PR",
        "VI",
        "VG",
        "AI",
        "MS",
        "KY",
        "TC",
        "AW",
        "CW",
        "SX",
        "BQ",
        "BL",
        "MF",
        "GP",
        "MQ",
        "CO",
        "VE",
        "EC",
        "PE",
        "BO",
        "BR",
        "PY",
        "UY",
        "AR",
        "CL",
        "GY",
        "SR",
        "GF",
        "FK",
        "GS",
    ]
)
_APAC = frozenset(
    [
        "CN",
        "HK",
        "MO",
        "TW",
        "JP",
        "KR",
        "KP",
        "MN",
        "IN",
        "PK",
        "BD",
        "LK",
        "NP",
        "BT",
        "MV",
        "AF",
        "SG",
        "MY",
        "ID",
        "TH",
        "VN",
        "PH",
        "KH",
        "LA",
        "MM",
        "BN",
        "TL",
        "AU",
        "NZ",
        "PG",
        "FJ",
        "SB",
        "VU",
        "NC",
        "PF",
        "WS",
        "TO",
        "KI",
        "TV",
        "NR",
        "PW",
        "FM",
        "MH",
        "CK",
        "NU",
        "TK",
        "WF",
        "AS",
        "GU",
        "MP",
        "PN",
        "NF",
        "CX",
        "CC",
        "HM",
        "IO",
        "KZ",
        "KG",
        "TJ",
        "TM",
        "UZ",
    ]
)


@cache
def _alpha3_to_alpha2() -> dict[str, str]:
    return {c.alpha_3: c.alpha_2 for c in pycountry.countries}


@cache
def _alpha2_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@cache
def _names_to_alpha2() -> dict[str, str]:
    names: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                names[value.casefold()] = c.alpha_2
    names.update({"usa": "US", "uk": "GB", "united states of america": "US"})
    return names


def normalize_country(value: str) -> str | None:
    """Return the ISO alpha-2 code for an alpha-2, alpha-3 code or an English name."""
    text = value.strip()
    upper = text.upper()
    if len(upper) == 2 and upper in _alpha2_codes():
        return upper
    if len(upper) == 3 and upper in _alpha3_to_alpha2():
        return _alpha3_to_alpha2()[upper]
    return _names_to_alpha2().get(text.casefold())


def region_for_country(alpha2: str) -> Region:
    if alpha2 in _NA:
        return Region.NA
    if alpha2 in _LATAM:
        return Region.LATAM
    if alpha2 in _APAC:
        return Region.APAC
    return Region.EMEA
