"""`client.received`: a client record as an upstream CRM sends it."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from territory.shared.events.envelope import Event
from territory.shared.events.validators import (
    _HOST,
    _SOURCE_SYSTEM,
    NonNegativeCount,
    NonNegativeMoney,
    OptionalCode,
    OptionalId,
    OptionalLongText,
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


_SEGMENT_ALIASES = {s.value.casefold(): s for s in Segment} | {
    "pension fund": Segment.PENSION,
    "asset management": Segment.ASSET_MANAGER,
    "sovereign wealth fund": Segment.SOVEREIGN,
    "swf": Segment.SOVEREIGN,
    "insurer": Segment.INSURANCE,
    "family office": Segment.FAMILY_OFFICE,
}


class FieldError(BaseModel):
    """One machine-readable problem with one field (or the whole record when field is None)."""

    model_config = ConfigDict(frozen=True)

    field: str | None = Field(None, description="Dotted path of the offending field.")
    code: str = Field(..., description="Machine-readable code, e.g. `missing`, `invalid_lei`.")
    message: str


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
    postal_code: OptionalCode = None
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

    @property
    def source_key(self) -> str:
        return f"{self.source_system}:{self.source_id}"

    @model_validator(mode="before")
    @classmethod
    def _clean_text_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            cleaned = {}
            for key, value in data.items():
                if type(value) is str:
                    if not value:
                        continue  # empty CSV cells are the commonest value of all
                    value = clean_text(value)
                if value is not None:
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
            found = _SEGMENT_ALIASES.get(value.casefold())
            if found is None:
                raise PydanticCustomError(
                    "invalid_segment",
                    "unknown segment '{value}'; expected one of: {allowed}",
                    {"value": value, "allowed": ", ".join(s.value for s in Segment)},
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
        code = normalize_country(value)
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
