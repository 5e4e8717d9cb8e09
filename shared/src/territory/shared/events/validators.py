"""Field validators and reusable field types of the contract.

They live beside the models (every consumer validates again: upstream CRMs may publish
`client.received` directly) but apart from them, so a model reads as its fields.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    Field,
    WithJsonSchema,
)
from pydantic.networks import validate_email as pydantic_validate_email
from pydantic_core import PydanticCustomError
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.util import get_cc_module

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Anything clean_text would change besides trimming: control characters, whitespace other
# than a plain space, or runs of whitespace. Most upstream values have none of these, and
# one search is much cheaper than two substitutions (ingestion validates ~20k records/s).
_NEEDS_CLEANING = re.compile(r"[\x00-\x1f\x7f]|[^\S ]|\s\s")


def clean_text(value: Any) -> Any:
    """NFC-normalise, drop control characters, collapse whitespace; '' becomes None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value if value.isascii() else unicodedata.normalize("NFC", value)
        if _NEEDS_CLEANING.search(text):
            text = _WHITESPACE.sub(" ", _CONTROL.sub("", text))
        return text.strip() or None
    return value


@lru_cache(maxsize=65_536)
def _validated_email(value: str) -> str:
    # email-validator costs ~90 µs an address, and a handful of advisor addresses recur on
    # most records, so validated addresses are cached.
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise PydanticCustomError(
            "invalid_email", "value is not a valid email address: {why}", {"why": str(exc)}
        ) from None


def _validated_email_or_none(value: Any) -> Any:
    return _validated_email(value) if isinstance(value, str) else value


@lru_cache(maxsize=65_536)
def _email_str(value: str) -> str:
    # pydantic's `EmailStr` check, cached: an assignment names one of a few hundred
    # advisors, and email-validator's ~40 µs an address was most of the time the loader
    # and the rules service spent validating an `assignment.changed`. (Invalid addresses
    # raise, so they are not cached.)
    return pydantic_validate_email(value)[1]


# `EmailStr`, the same values and errors and JSON schema, with validated addresses cached.
EmailAddress = Annotated[
    str, AfterValidator(_email_str), WithJsonSchema({"type": "string", "format": "email"})
]


def _utc(value: datetime) -> datetime:
    """Naive timestamps from upstream exports are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# ClientRecord cleans every text value once, in a model-level "before" step (one Python
# call per record instead of one per field), and drops blank values: a blank optional field
# is None and a blank required field is reported as `missing`.
RequiredName = Annotated[str, Field(max_length=300)]
RequiredId = Annotated[str, Field(max_length=128)]
OptionalId = Annotated[str, Field(max_length=128)] | None
OptionalCode = Annotated[str, Field(max_length=40)] | None
OptionalShortText = Annotated[str, Field(max_length=200)] | None
OptionalLongText = Annotated[str, Field(max_length=500)] | None
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
NonNegativeMoney = (
    Annotated[Decimal, Field(ge=0, max_digits=22, decimal_places=2, allow_inf_nan=False)] | None
)
NonNegativeCount = Annotated[int, Field(ge=0, le=10_000_000)] | None


_SOURCE_SYSTEM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


_LEI = re.compile(r"^[0-9A-Z]{18}[0-9]{2}$")
# Each letter or digit as its base-36 value in decimal (A → "10"), for the mod 97 check.
_BASE36 = {ord(ch): str(int(ch, 36)) for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_ALNUM = re.compile(r"^[0-9A-Z]*$")


def validate_lei(value: str) -> str:
    """ISO 17442: 18 letters or digits, then 2 check digits (ISO 7064 mod 97-10). Returns
    the compact form; the error says which of the rules is broken.

    Computed directly: python-stdnum's generic clean-up step cost more than all other field
    checks together on the ingestion path.
    """
    lei = value.replace(" ", "").replace("-", "").upper()
    if not _LEI.match(lei):
        if len(lei) != 20:
            why = f"must be 20 characters (18 letters or digits + 2 check digits), got {len(lei)}"
        elif not _ALNUM.match(lei):
            why = "must contain only letters A-Z and digits"
        else:
            why = "must be 18 letters or digits followed by 2 check digits (0-9)"
        raise PydanticCustomError(
            "invalid_lei", "'{value}' is not a valid LEI: {why}", {"value": value, "why": why}
        )
    if int(lei.translate(_BASE36)) % 97 != 1:
        raise PydanticCustomError(
            "invalid_lei",
            "'{value}' is not a valid LEI: wrong check digits (ISO 7064 mod 97-10)",
            {"value": value},
        )
    return lei


# A postcode anywhere: 2-12 letters, digits, spaces or hyphens with at least one digit (GB,
# CA, NL and IE codes mix letters and digits; none is letters only).
_POSTCODE = re.compile(r"^(?=[^0-9]*[0-9])[0-9A-Z][0-9A-Z -]{0,10}[0-9A-Z]$")


def validate_postal_code(value: Any) -> Any:
    if isinstance(value, str) and not _POSTCODE.match(value.upper()):
        raise PydanticCustomError(
            "invalid_postal_code",
            "'{value}' is not a postcode: 2-12 letters, digits, spaces or hyphens"
            " with at least one digit",
            {"value": value},
        )
    return value


OptionalPostalCode = (
    Annotated[str, Field(max_length=40), AfterValidator(validate_postal_code)] | None
)


@lru_cache(maxsize=1024)
def _tax_id_module(country: str) -> Any:
    """python-stdnum's tax id module for a country, or None (looked up once a country)."""
    for kind in ("ein", "vat") if country == "US" else ("vat", "tin"):
        try:
            module = get_cc_module(country.lower(), kind)
        except Exception:
            module = None
        if module is not None:
            return module
    return None


def _check_tax_id(tax_id: str, country: str) -> None:
    """Validate check digits where python-stdnum knows the country's tax id."""
    module = _tax_id_module(country)
    if module is None:
        return
    try:
        module.validate(tax_id)
    except StdnumValidationError as exc:
        raise PydanticCustomError(
            "invalid_tax_id",
            "tax_id is not a valid {country} tax id: {why}",
            {"country": country, "why": str(exc)},
        ) from None
