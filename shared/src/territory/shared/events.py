"""The event contract: one pydantic model per topic, with a common envelope.

Every event is JSON: `{event_id, event_type, schema_version, occurred_at, producer,
correlation_id, payload}`. Adding an optional payload field keeps `schema_version`; a
breaking change makes a new version. Consumers ignore fields they do not know, so an
older consumer keeps working while producers move ahead.

Field validators live here, beside the fields, because every consumer validates again:
upstream CRMs may publish `client.received` directly.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar
from uuid import UUID, uuid4

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.util import get_cc_module

from territory.shared.geo import Region, normalize_country, region_for_country
from territory.shared.topics import Topic

SCHEMA_VERSION = 1

# ---------------------------------------------------------------------------------------
# Reusable field types
# ---------------------------------------------------------------------------------------

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

_SOURCE_SYSTEM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class FieldError(BaseModel):
    """One machine-readable problem with one field (or the whole record when field is None)."""

    model_config = ConfigDict(frozen=True)

    field: str | None = Field(None, description="Dotted path of the offending field.")
    code: str = Field(..., description="Machine-readable code, e.g. `missing`, `invalid_lei`.")
    message: str


# ---------------------------------------------------------------------------------------
# client.received
# ---------------------------------------------------------------------------------------


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


_LEI = re.compile(r"^[0-9A-Z]{18}[0-9]{2}$")


def validate_lei(value: str) -> str:
    """ISO 17442: 20 characters, ISO 7064 mod 97-10 check digits. Returns the compact form.

    Computed directly: python-stdnum's generic clean-up step cost more than all other field
    checks together on the ingestion path.
    """
    lei = value.replace(" ", "").replace("-", "").upper()
    if not _LEI.match(lei):
        raise PydanticCustomError(
            "invalid_lei", "'{value}' is not a valid LEI: 20 letters and digits", {"value": value}
        )
    if int("".join(str(int(ch, 36)) for ch in lei)) % 97 != 1:
        raise PydanticCustomError(
            "invalid_lei", "'{value}' is not a valid LEI: wrong check digits", {"value": value}
        )
    return lei


def _check_tax_id(tax_id: str, country: str) -> None:
    """Validate check digits where python-stdnum knows the country's tax id."""
    module: Any = None
    for kind in ("ein", "vat") if country == "US" else ("vat", "tin"):
        try:
            module = get_cc_module(country.lower(), kind)
        except Exception:
            module = None
        if module is not None:
            break
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


# ---------------------------------------------------------------------------------------
# Envelope
# ---------------------------------------------------------------------------------------

PayloadT = TypeVar("PayloadT", bound=BaseModel)


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel, Generic[PayloadT]):
    """Envelope common to every event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: ClassVar[Topic]

    event_id: UUID = Field(default_factory=uuid4, description="Unique id; the idempotency key.")
    event_type: str
    schema_version: int = SCHEMA_VERSION
    occurred_at: UtcDatetime = Field(default_factory=_now)
    producer: str = Field(..., description="Service (and instance) that produced the event.")
    correlation_id: str = Field(
        default_factory=lambda: str(uuid4()),
        description="Follows one record end to end, across every service.",
        max_length=128,
    )
    payload: PayloadT

    def key(self) -> bytes:
        """Partition key: keeps per-client order."""
        raise NotImplementedError


class ClientReceived(Event[ClientRecord]):
    topic: ClassVar[Topic] = Topic.CLIENT_RECEIVED
    event_type: Literal["client.received"] = "client.received"

    def key(self) -> bytes:
        return self.payload.source_key.encode()


# ---------------------------------------------------------------------------------------
# client.deduplicated
# ---------------------------------------------------------------------------------------


class DedupeDecision(StrEnum):
    NEW = "new"
    MERGED = "merged"
    POSSIBLE_DUPLICATE = "possible_duplicate"


class SourceRecordRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_system: str
    source_id: str
    updated_at: UtcDatetime | None = None

    @property
    def source_key(self) -> str:
        return f"{self.source_system}:{self.source_id}"


class MatchEvidence(BaseModel):
    """Why a record was (or was not) matched to a golden client."""

    candidate_client_id: str
    confidence: float = Field(..., ge=0, le=1)
    field_scores: dict[str, float] = Field(default_factory=dict, description="Score per field.")
    reasons: list[str] = Field(default_factory=list)


class GoldenClient(BaseModel):
    """The golden record of one client (payload of `client.deduplicated`)."""

    model_config = ConfigDict(extra="ignore")

    client_id: str = Field(..., description="Stable golden client id.")
    decision: DedupeDecision
    trigger: SourceRecordRef = Field(..., description="The source record that caused this event.")
    record: ClientRecord = Field(..., description="Survived field values of the golden client.")
    parent_client_id: str | None = Field(None, description="Parent golden client (hierarchy).")
    source_records: list[SourceRecordRef] = Field(
        default_factory=list, description="Lineage: every source record in this golden client."
    )
    evidence: list[MatchEvidence] = Field(default_factory=list)
    merged_client_ids: list[str] = Field(
        default_factory=list, description="Golden ids absorbed into this one (they are retired)."
    )
    version: int = Field(1, ge=1, description="Increases with every change of this client.")
    retired: bool = Field(False, description="True when this id was merged into another.")


class ClientDeduplicated(Event[GoldenClient]):
    topic: ClassVar[Topic] = Topic.CLIENT_DEDUPLICATED
    event_type: Literal["client.deduplicated"] = "client.deduplicated"

    def key(self) -> bytes:
        return self.payload.client_id.encode()


# ---------------------------------------------------------------------------------------
# assignment.changed
# ---------------------------------------------------------------------------------------


class DecisionLevel(StrEnum):
    WHITELIST = "whitelist"
    HIERARCHY = "hierarchy"
    TIER = "tier"
    SEGMENT = "segment"
    REGION = "region"
    MANUAL = "manual"
    UNASSIGNED = "unassigned"


class RejectedCandidate(BaseModel):
    territory_id: str
    rule_id: str | None = None
    reason: str


class DecisionTrace(BaseModel):
    """Why a client is where it is: enough to answer "why" without re-running anything."""

    ruleset_version: str
    level: DecisionLevel
    rule_id: str | None = None
    matched_conditions: list[str] = Field(default_factory=list)
    rejected_candidates: list[RejectedCandidate] = Field(default_factory=list)
    advisor_selection: str | None = Field(None, description="How the advisor was chosen.")
    notes: list[str] = Field(default_factory=list)


class Assignment(BaseModel):
    """Payload of `assignment.changed`."""

    client_id: str
    territory_id: str | None = Field(None, description="None: the client is unassigned.")
    advisor_email: EmailStr | None = None
    tier: str | None = None
    previous_territory_id: str | None = None
    previous_advisor_email: EmailStr | None = None
    ruleset_version: str
    rule_id: str | None = None
    reason: str = Field(..., description="One human-readable sentence.")
    trace: DecisionTrace
    changed_by: str = Field(..., description="`rules-engine`, a user, or `replay:<run id>`.")
    effective_from: UtcDatetime = Field(default_factory=_now)


class AssignmentChanged(Event[Assignment]):
    topic: ClassVar[Topic] = Topic.ASSIGNMENT_CHANGED
    event_type: Literal["assignment.changed"] = "assignment.changed"

    def key(self) -> bytes:
        return self.payload.client_id.encode()


# ---------------------------------------------------------------------------------------
# conflict.detected
# ---------------------------------------------------------------------------------------


class ConflictKind(StrEnum):
    MULTI_TERRITORY = "multi_territory"
    WHITELIST_BLACKLIST_CLASH = "whitelist_blacklist_clash"
    NO_TERRITORY = "no_territory"
    ADVISOR_OVER_CAPACITY = "advisor_over_capacity"
    ORPHANED_ASSIGNMENT = "orphaned_assignment"
    HIERARCHY_ADVISOR_MISMATCH = "hierarchy_advisor_mismatch"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ConflictAction(StrEnum):
    FLAG = "flag"
    HOLD = "hold"
    REFUSE_RULESET = "refuse_ruleset"


class Conflict(BaseModel):
    """Payload of `conflict.detected`."""

    conflict_id: str = Field(..., description="Deterministic id: kind + subject.")
    kind: ConflictKind
    severity: Severity
    action: ConflictAction
    client_id: str | None = None
    territory_ids: list[str] = Field(default_factory=list)
    advisor_email: EmailStr | None = None
    ruleset_version: str
    detail: str
    resolved: bool = Field(False, description="True when a later decision cleared it.")


class ConflictDetected(Event[Conflict]):
    topic: ClassVar[Topic] = Topic.CONFLICT_DETECTED
    event_type: Literal["conflict.detected"] = "conflict.detected"

    def key(self) -> bytes:
        return (self.payload.client_id or self.payload.conflict_id).encode()


# ---------------------------------------------------------------------------------------
# client.rejected (dead letters)
# ---------------------------------------------------------------------------------------


class RejectReason(StrEnum):
    MISSING_REQUIRED_FIELD = "missing_required_field"
    INVALID_VALUE = "invalid_value"
    MALFORMED_ROW = "malformed_row"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_JSON = "invalid_json"
    RECORD_TOO_LARGE = "record_too_large"
    CONTRACT_VIOLATION = "contract_violation"
    PROCESSING_FAILED = "processing_failed"


class MessagePosition(BaseModel):
    topic: str
    partition: int
    offset: int


class Rejection(BaseModel):
    """Payload of `client.rejected`: what was refused, where, why, and the original data."""

    stage: str = Field(..., description="ingestion, dedupe, rules, loader, …")
    reason: RejectReason
    errors: list[FieldError] = Field(default_factory=list)
    original: str = Field(..., description="The original data as text (bytes: see encoding).")
    original_encoding: Literal["utf-8", "base64"] = "utf-8"
    original_format: Literal["json", "csv", "jsonl", "kafka"] = "json"
    source_key: str | None = None
    position: MessagePosition | None = Field(None, description="Original topic/partition/offset.")
    upload_id: str | None = None
    row_number: int | None = Field(None, ge=1, description="1-based line of the row in its file.")
    attempts: int = Field(1, ge=1)


class ClientRejected(Event[Rejection]):
    topic: ClassVar[Topic] = Topic.CLIENT_REJECTED
    event_type: Literal["client.rejected"] = "client.rejected"

    def key(self) -> bytes:
        return (self.payload.source_key or str(self.event_id)).encode()


# ---------------------------------------------------------------------------------------
# ruleset.published
# ---------------------------------------------------------------------------------------


class RulesetRelease(BaseModel):
    """Payload of `ruleset.published`. The rules service validates `document` on load."""

    version: str = Field(..., min_length=1, max_length=64)
    document: dict[str, Any] = Field(..., description="The ruleset (YAML) as a JSON object.")
    published_by: str
    comment: str | None = None
    replay: bool = Field(True, description="Re-decide every client after loading it.")


class RulesetPublished(Event[RulesetRelease]):
    topic: ClassVar[Topic] = Topic.RULESET_PUBLISHED
    event_type: Literal["ruleset.published"] = "ruleset.published"

    def key(self) -> bytes:
        return b"ruleset"


# ---------------------------------------------------------------------------------------
# Commands from people (published by the API)
# ---------------------------------------------------------------------------------------


class DedupeCommand(BaseModel):
    """A reviewer's decision: merge golden clients, or split source records off one."""

    command_id: UUID = Field(default_factory=uuid4)
    action: Literal["merge", "split"]
    client_ids: list[str] = Field(
        default_factory=list,
        description="merge: the clients to merge, survivor first; split: the client to split.",
    )
    source_keys: list[str] = Field(
        default_factory=list, description="split: `system:id` of the records to split off."
    )
    decided_by: str
    reason: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.action == "merge" and len(self.client_ids) < 2:
            raise ValueError("merge needs at least two client_ids")
        if self.action == "split" and (len(self.client_ids) != 1 or not self.source_keys):
            raise ValueError("split needs one client_id and the source_keys to split off")
        return self


class DedupeCommanded(Event[DedupeCommand]):
    topic: ClassVar[Topic] = Topic.DEDUPE_COMMAND
    event_type: Literal["dedupe.command"] = "dedupe.command"

    def key(self) -> bytes:
        return b"dedupe"


class RulesCommand(BaseModel):
    """Reassign every client now (the nightly job's trigger), or acknowledge a conflict."""

    command_id: UUID = Field(default_factory=uuid4)
    action: Literal["reassign", "acknowledge_conflict"]
    requested_by: str
    reason: str | None = None
    conflict_id: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.action == "acknowledge_conflict" and not self.conflict_id:
            raise ValueError("acknowledge_conflict needs conflict_id")
        return self


class RulesCommanded(Event[RulesCommand]):
    topic: ClassVar[Topic] = Topic.RULES_COMMAND
    event_type: Literal["rules.command"] = "rules.command"

    def key(self) -> bytes:
        return b"rules"


EVENT_TYPES: dict[Topic, type[Event[Any]]] = {
    cls.topic: cls
    for cls in (
        ClientReceived,
        ClientDeduplicated,
        AssignmentChanged,
        ConflictDetected,
        ClientRejected,
        RulesetPublished,
        DedupeCommanded,
        RulesCommanded,
    )
}
