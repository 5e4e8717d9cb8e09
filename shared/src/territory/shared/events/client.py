"""`client.received`: a client record as an upstream CRM sends it.

Field-level quarantine: only an unusable record is refused (no `source_system`,
`source_id` or `name`, or not an object at all). An invalid *optional* value (an LEI or tax
id with wrong check digits, an unknown segment, a malformed e-mail / website / postcode, a
negative figure, an unknown country, ...) keeps the record: the clean field is left empty
(an unknown segment becomes `Other`), and the record carries one `FieldIssue` per refused
value with the raw value preserved. The rule lives in the model, so every consumer applies
it (upstream CRMs may publish `client.received` directly), and validating a quarantined
record again gives the same record (the same issues, none twice).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import cache, lru_cache
from importlib.resources import files
from typing import Annotated, Any, ClassVar, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from territory.shared.events.envelope import Event
from territory.shared.events.validators import (
    _HOST,
    _NEEDS_CLEANING,
    _SOURCE_SYSTEM,
    NonNegativeCount,
    NonNegativeMoney,
    OptionalCode,
    OptionalId,
    OptionalLongText,
    OptionalPostalCode,
    OptionalShortText,
    RequiredId,
    RequiredName,
    UtcDatetime,
    _check_tax_id,
    _validated_email_or_none,
    clean_text,
    validate_lei,
)
from territory.shared.geo import Region, normalize_country, region_for_country
from territory.shared.topics import Topic


class Segment(StrEnum):
    PENSION = "Pension"
    ENDOWMENT = "Endowment"
    FOUNDATION = "Foundation"
    INSURANCE = "Insurance"
    BANK = "Bank"
    ASSET_MANAGER = "Asset Manager"
    CORPORATE = "Corporate"
    SOVEREIGN = "Sovereign"
    FAMILY_OFFICE = "Family Office"
    OTHER = "Other"


_LABEL_PUNCTUATION = re.compile(r"[\s\-_/.,()]+")


def fold_segment_label(label: str) -> str:
    """The form a segment label is looked up by: case-folded, '&' as 'and', punctuation as
    one space (so "Sovereign-Wealth", "sovereign wealth" and "SOVEREIGN  WEALTH" agree)."""
    text = label.casefold().replace("&", " and ")
    return _LABEL_PUNCTUATION.sub(" ", text).strip()


@cache
def segment_aliases() -> dict[str, Segment]:
    """Folded label → segment, from the shipped data file `data/segment_aliases.yaml`."""
    text = files("territory.shared").joinpath("data/segment_aliases.yaml").read_text("utf-8")
    table: dict[str, list[str]] = yaml.safe_load(text)
    aliases = {fold_segment_label(s.value): s for s in Segment}
    for segment_name, labels in table.items():
        segment = Segment(segment_name)
        for label in labels or ():
            aliases[fold_segment_label(label)] = segment
    return aliases


@lru_cache(maxsize=4096)
def _country_code(value: str) -> str | None:
    """`normalize_country`, cached: a few hundred spellings recur on every record."""
    return normalize_country(value)


@lru_cache(maxsize=4096)
def _segment_of(label: str) -> Segment | None:
    """The segment a label names (a few dozen labels recur on every record)."""
    return segment_aliases().get(fold_segment_label(label))


class FieldError(BaseModel):
    """One machine-readable problem with one field (or the whole record when field is None)."""

    model_config = ConfigDict(frozen=True)

    field: str | None = Field(None, description="Dotted path of the offending field.")
    code: str = Field(..., description="Machine-readable code, e.g. `missing`, `invalid_lei`.")
    message: str


class FieldIssue(BaseModel):
    """One optional value a record arrived with and the contract did not accept.

    The record is kept; the clean field is left empty (or mapped: an unknown segment is
    `Other`) and `raw` keeps the value as received (text-cleaned, at most 500 characters),
    so it stays visible and usable: dedupe may compare the raw `lei` / `tax_id` of two
    records as weak evidence.
    """

    model_config = ConfigDict(frozen=True)

    field: str = Field(..., description="The contract field the value was sent for.")
    code: str = Field(
        ..., description="Machine-readable rule broken: `invalid_lei`, `unknown_segment`, …"
    )
    raw: str | None = Field(None, description="The value as received (may be PII: tax_id).")
    message: str = Field(..., description="The rule broken, for people.")

    @property
    def identity(self) -> tuple[str, str, str | None]:
        return (self.field, self.code, self.raw)


# Errors on these fields make a record unusable: it is refused (dead letter), never kept.
REQUIRED_FIELDS = frozenset({"source_system", "source_id", "name"})
_RAW_LIMIT = 500


def _raw_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = clean_text(value)
    elif isinstance(value, (int, float, bool)) or not isinstance(value, (dict, list, tuple)):
        text = str(value)
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text[:_RAW_LIMIT] if text is not None else None


def _issue_code(field: str, error: Any) -> str:
    code = str(error["type"])
    if code == "value_error" and field.endswith("email"):
        return "invalid_email"
    if field == "segment" and code == "invalid_segment":
        return "unknown_segment"
    return code


class ClientRecord(BaseModel):
    """A client record as an upstream CRM sends it (payload of `client.received`)."""

    model_config = ConfigDict(extra="ignore", str_max_length=2_000)

    source_system: str = Field(
        ...,
        description="Upstream system: salesforce, dynamics, hubspot, csv, …",
        examples=["salesforce"],
    )
    source_id: RequiredId = Field(
        ..., description="The record's id in that system.", examples=["001Dn00000ABCDE"]
    )
    name: RequiredName = Field(
        ..., description="Organisation name as typed upstream.", examples=["Acme Pension Fund"]
    )
    parent_source_id: OptionalId = Field(
        None, description="Parent organisation in the same source system."
    )
    segment: Segment | None = Field(None, description="Client segment.", examples=["Pension"])
    region: Region | None = Field(None, description="Sales region; derived from country.")
    country: str | None = Field(None, description="ISO 3166-1 alpha-2.", examples=["CA"])
    state: OptionalShortText = None
    city: OptionalShortText = None
    postal_code: OptionalPostalCode = None
    address: OptionalLongText = None
    aum_usd: NonNegativeMoney = Field(None, description="Assets under management, USD.")
    annual_revenue_usd: NonNegativeMoney = None
    employee_count: NonNegativeCount = None
    industry: OptionalShortText = None
    website: OptionalLongText = None
    lei: str | None = Field(None, description="ISO 17442 Legal Entity Identifier.")
    tax_id: OptionalCode = Field(
        None, description="Tax id (PII); validated by country where a check exists."
    )
    advisor_email: Annotated[str | None, BeforeValidator(_validated_email_or_none)] = Field(
        None,
        description="Advisor named upstream: a hint, not an assignment.",
        json_schema_extra={"format": "email"},
    )
    updated_at: UtcDatetime | None = Field(
        None, description="Upstream modification time (orders updates of one record)."
    )
    field_issues: list[FieldIssue] = Field(
        default_factory=list,
        description=(
            "Optional values refused by the contract (field-level quarantine): the clean "
            "field is empty (an unknown segment is `Other`) and `raw` keeps the value sent."
        ),
    )

    @property
    def source_key(self) -> str:
        return f"{self.source_system}:{self.source_id}"

    def quarantined_raw(self, field: str) -> str | None:
        """The raw value refused for `field` (e.g. an LEI with wrong check digits), if any."""
        for issue in self.field_issues:
            if issue.field == field and issue.raw is not None:
                return issue.raw
        return None

    @model_validator(mode="wrap")
    @classmethod
    def _quarantine(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Keep a record whose only problems are optional values: drop (or map) each bad
        value, record it as a `FieldIssue`, validate again. Clean records pass the first
        `handler` call, so the hot path pays one extra function call."""
        try:
            return handler(data)
        except ValidationError as first:
            if not isinstance(data, dict):
                raise
            error: ValidationError = first
        data = dict(data)
        issues: list[FieldIssue] = []
        seen: set[tuple[str, str, str | None]] = set()
        # Each round removes at least one field, so this ends; errors on required fields
        # (or not on any one field) are raised as they are: the record is unusable.
        for _ in range(len(cls.model_fields) + 1):
            bad: dict[str, Any] = {}
            for err in error.errors(include_url=False):
                loc = err["loc"]
                field = loc[0] if loc else None
                if not isinstance(field, str) or field in REQUIRED_FIELDS:
                    raise error
                if field not in cls.model_fields:
                    raise error
                bad.setdefault(field, err)
            if "field_issues" in bad:
                # Issues are optional too: a malformed list is dropped (and said so).
                raw = data.pop("field_issues", None)
                issue = FieldIssue(
                    field="field_issues",
                    code="invalid_field_issues",
                    raw=_raw_text(raw),
                    message=str(bad.pop("field_issues")["msg"]),
                )
                issues.append(issue)
                seen.add(issue.identity)
            else:
                for old in data.get("field_issues") or ():
                    if not isinstance(old, FieldIssue):
                        old = FieldIssue.model_validate(old)
                    if old.identity not in seen:
                        seen.add(old.identity)
                        issues.append(old)
            for field, err in bad.items():
                raw = data.pop(field, None)
                issue = FieldIssue(
                    field=field,
                    code=_issue_code(field, err),
                    raw=_raw_text(raw),
                    message=err["msg"],
                )
                if issue.identity not in seen:
                    seen.add(issue.identity)
                    issues.append(issue)
                if field == "segment":
                    data["segment"] = Segment.OTHER
            data["field_issues"] = issues
            try:
                return handler(data)
            except ValidationError as again:
                error = again
                issues = []
                seen = set()
        raise error

    @model_validator(mode="before")
    @classmethod
    def _clean_text_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            cleaned = {}
            needs_cleaning = _NEEDS_CLEANING.search
            for key, value in data.items():
                if type(value) is str:
                    # `clean_text` inlined for the commonest value: ASCII, nothing to
                    # collapse (a call per value was a tenth of validating a record).
                    if value.isascii() and needs_cleaning(value) is None:
                        value = value.strip()
                        if not value:
                            continue  # empty CSV cells are the commonest value of all
                    else:
                        value = clean_text(value)
                        if value is None:
                            continue
                elif value is None:
                    continue
                cleaned[key] = value
            return cleaned
        return data

    @field_validator("source_system", mode="before")
    @classmethod
    def _source_system(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.casefold()
            if not _SOURCE_SYSTEM.match(value):
                raise PydanticCustomError(
                    "invalid_source_system",
                    "source_system must be 1-64 characters of a-z, 0-9, '_', '.', '-'",
                )
        return value

    @field_validator("segment", mode="before")
    @classmethod
    def _segment(cls, value: Any) -> Any:
        if isinstance(value, str):
            found = _segment_of(value)
            if found is None:
                raise PydanticCustomError(
                    "invalid_segment",
                    "unknown segment '{value}' (not in segment_aliases.yaml); kept as Other",
                    {"value": value},
                )
            return found
        return value

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("invalid_country", "country must be a string")
        code = _country_code(value)
        if code is None:
            raise PydanticCustomError(
                "invalid_country", "'{value}' is not an ISO 3166-1 country", {"value": value}
            )
        return code

    @field_validator("website", mode="after")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower()).split("/")[0]
        host = host.split(":")[0].removeprefix("www.")
        if not _HOST.match(host):
            raise PydanticCustomError(
                "invalid_website", "'{value}' is not a web address", {"value": value}
            )
        return value

    @field_validator("lei", mode="before")
    @classmethod
    def _lei(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("invalid_lei", "an LEI is a string")
        return validate_lei(value)

    @field_validator("tax_id", mode="after")
    @classmethod
    def _tax_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if value is not None and country is not None:
            _check_tax_id(value, country)
        return value

    @model_validator(mode="after")
    def _derive_region(self) -> Self:
        if self.region is None and self.country is not None:
            self.region = region_for_country(self.country)
        return self


class ClientReceived(Event[ClientRecord]):
    topic: ClassVar[Topic] = Topic.CLIENT_RECEIVED
    event_type: Literal["client.received"] = "client.received"

    def key(self) -> bytes:
        return self.payload.source_key.encode()
