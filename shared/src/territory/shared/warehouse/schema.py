"""The warehouse model: one SQLAlchemy Core definition for every backend.

Tables carry a *logical* schema (`raw`, `stage`, `core_hierarchy`, …). The engine factory
(`territory.shared.warehouse.engine`) translates it per backend with SQLAlchemy's
`schema_translate_map`: the embedded SQLite file has no schemas (every table name is
unique, so they all live in one file), PostgreSQL gets schemas `raw`, `stage`, `core`,
and Snowflake gets databases RAW / STAGE / CORE with schemas CLIENT_HIERARCHY,
TERRITORIES, ASSIGNMENTS, SEGMENTATION_RULES (see `deploy/snowflake/`).

This model is the warehouse's, not the events' nor the API's: rows are flattened so that
every column the dashboard filters on (region, segment, tier, territory, advisor, name) is a
real, indexed column; nested evidence and traces are kept as JSON beside them.

Keys: Snowflake does not enforce PRIMARY KEY / UNIQUE, so the loader never relies on the
database to refuse a duplicate: every write is keyed by `event_id` or a business key and
checked (or merged) by the loader itself. The constraints here still hold on SQLite and
PostgreSQL, where they are a second line of defence.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

from territory.shared import fields

# Logical schema names (translated per backend by the engine factory).
RAW = "raw"
STAGE = "stage"
CORE_HIERARCHY = "core_hierarchy"
CORE_TERRITORIES = "core_territories"
CORE_ASSIGNMENTS = "core_assignments"
CORE_RULES = "core_rules"
OPS = "ops"

LOGICAL_SCHEMAS = (RAW, STAGE, CORE_HIERARCHY, CORE_TERRITORIES, CORE_ASSIGNMENTS, CORE_RULES, OPS)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class _JsonText(TypeDecorator[Any]):
    """JSON kept as text. Used on Snowflake, where a VARIANT cannot take a bound parameter
    in INSERT … VALUES; views and queries read it with PARSE_JSON."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, default=str, ensure_ascii=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


Json = JSON().with_variant(_JsonText(), "snowflake")
Timestamp = DateTime(timezone=True)
EventId = String(36)
ClientId = String(128)
SourceKey = String(200)
Email = String(320)
Money = Numeric(22, 2)


# Contract fields whose type carries no length the warehouse could take; every other
# column's type follows the contract (text length, money, count, timestamp).
_CLIENT_COLUMN_TYPES: dict[str, Any] = {
    "segment": String(40),
    "region": String(10),
    "country": String(2),
    "lei": String(20),
    fields.ADVISOR_HINT: Email,  # the upstream hint, not the assignment (PII)
}


def _client_column_type(field: str) -> Any:
    if field in _CLIENT_COLUMN_TYPES:
        return _CLIENT_COLUMN_TYPES[field]
    kind = fields.value_type(field)
    if kind is Decimal:
        return Money
    if kind is int:
        return Integer
    if kind is datetime:
        return Timestamp
    length = fields.max_length(field)
    if kind is not str or length is None:
        raise TypeError(f"no warehouse type for ClientRecord.{field}; add it above")
    return String(length)


def _client_columns() -> list[Column[Any]]:
    """The flattened client record, shared by staging (per source) and CLIENT_DIM (golden):
    one column per descriptive field of the contract's `ClientRecord`, in its order, named
    by `territory.shared.fields` (PII columns: `territory.shared.access`)."""
    return [
        Column(
            fields.warehouse_name(field),
            _client_column_type(field),
            nullable=not fields.field_info(field).is_required(),
        )
        for field in fields.DESCRIPTIVE_FIELDS
    ]


# --- RAW ------------------------------------------------------------------------------

raw_clients = Table(
    "clients",
    metadata,
    Column("event_id", EventId, primary_key=True),
    Column("source_system", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("source_key", SourceKey, nullable=False, index=True),
    Column("correlation_id", String(128)),
    Column("producer", String(200)),
    Column("occurred_at", Timestamp, nullable=False),
    Column("payload", Text, nullable=False),  # the event as sent (JSON text)
    Column("kafka_topic", String(249)),
    Column("kafka_partition", Integer),
    Column("kafka_offset", Integer),
    Column("batch_id", String(36)),
    Column("loaded_at", Timestamp, nullable=False),
    schema=RAW,
    comment="Every client.received event, as sent.",
)

# --- STAGE ----------------------------------------------------------------------------

clients_staging = Table(
    "clients_staging",
    metadata,
    Column("source_key", SourceKey, primary_key=True),
    Column("source_system", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("parent_source_id", String(128)),
    *_client_columns(),
    Column("last_event_id", EventId, nullable=False),
    Column("occurred_at", Timestamp, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    schema=STAGE,
    comment="Latest version of each source record (by updated_at, then occurred_at).",
)

# --- CORE: client hierarchy -----------------------------------------------------------

client_dim = Table(
    "client_dim",
    metadata,
    Column("client_id", ClientId, primary_key=True),
    *_client_columns(),
    Column("parent_client_id", ClientId, index=True),
    Column("decision", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("retired", Boolean, nullable=False, default=False),
    Column("merged_into_client_id", ClientId),
    # Current assignment, denormalised from ASSIGNMENTS_FACT for the dashboard's filters.
    Column("territory_id", String(128), index=True),
    Column("advisor_email", Email, index=True),
    Column("tier", String(64), index=True),
    Column("last_event_id", EventId, nullable=False),
    Column("occurred_at", Timestamp, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    Index(None, "name"),
    Index(None, "region"),
    Index(None, "segment"),
    schema=CORE_HIERARCHY,
    comment="Golden clients (latest version) with their hierarchy.",
)

client_source_record = Table(
    "client_source_record",
    metadata,
    Column("client_id", ClientId, primary_key=True),
    Column("source_key", SourceKey, primary_key=True),
    Column("source_system", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("updated_at", Timestamp),
    Index(None, "source_key"),
    schema=CORE_HIERARCHY,
    comment="Lineage: the source records of each golden client.",
)

client_source_match = Table(
    "client_source_match",
    metadata,
    Column("client_id", ClientId, primary_key=True),
    Column("source_key", SourceKey, primary_key=True),
    Column("decision", String(32), nullable=False),  # merged / possible_duplicate / new
    Column("confidence", Numeric(6, 5)),  # the best evidence's (NULL: no evidence)
    # At most a few entries (the loader's `rows.MATCH_EVIDENCE_CAP`), most confident
    # first: candidate_client_id, confidence, field_scores, reasons.
    Column("evidence", Json, nullable=False),
    Column("version", Integer, nullable=False),  # the golden client's dedupe version
    Column("last_event_id", EventId, nullable=False),
    Column("occurred_at", Timestamp, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    Index(None, "source_key"),
    schema=CORE_HIERARCHY,
    comment=(
        "Match evidence: the newest dedupe decision that placed each source record in its "
        "golden client (only for source keys in the client's current lineage)."
    ),
)

dedupe_review = Table(
    "dedupe_review",
    metadata,
    Column("event_id", EventId, primary_key=True),
    Column("client_id", ClientId, nullable=False, index=True),
    Column("source_key", SourceKey, nullable=False),
    Column("client_name", String(300)),
    Column("candidate_client_ids", Json, nullable=False),
    Column("best_confidence", Numeric(6, 5)),
    Column("evidence", Json, nullable=False),
    Column("status", String(16), nullable=False, default="open", index=True),
    Column("occurred_at", Timestamp, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    schema=CORE_HIERARCHY,
    comment="Dedupe review queue: possible_duplicate decisions with their evidence.",
)

client_field_issues = Table(
    "client_field_issues",
    metadata,
    Column("source_key", SourceKey, primary_key=True),
    Column("issue_no", Integer, primary_key=True),  # position in the record's field_issues
    Column("client_id", ClientId, index=True),  # golden client (from lineage; NULL until deduped)
    Column("source_system", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("field", String(64), nullable=False, index=True),
    Column("code", String(64), nullable=False, index=True),
    Column("raw", Text),  # the value as received: PII when field is tax_id / advisor_email
    Column("message", Text, nullable=False),
    Column("last_event_id", EventId, nullable=False),
    Column("occurred_at", Timestamp, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    schema=CORE_HIERARCHY,
    comment=(
        "Field-level quarantine: one row per refused optional value of the latest version "
        "of each source record, with its golden client."
    ),
)

rejected_records = Table(
    "rejected_records",
    metadata,
    Column("event_id", EventId, primary_key=True),
    Column("stage", String(32), nullable=False, index=True),
    Column("reason", String(64), nullable=False, index=True),
    Column("source_key", SourceKey, index=True),
    Column("errors", Json, nullable=False),
    Column("original", Text, nullable=False),
    Column("original_encoding", String(8), nullable=False),
    Column("original_format", String(8), nullable=False),
    Column("kafka_topic", String(249)),
    Column("kafka_partition", Integer),
    Column("kafka_offset", Integer),
    Column("upload_id", String(128)),
    Column("row_number", Integer),
    Column("attempts", Integer, nullable=False),
    Column("correlation_id", String(128)),
    Column("occurred_at", Timestamp, nullable=False, index=True),
    Column("loaded_at", Timestamp, nullable=False),
    # 0003: one id for every stage's dead letter of one bad message; the original's
    # whole size and hash, and where it is archived when `original` holds only its head.
    Column("origin_id", String(36), index=True),
    Column("original_size", Integer),
    Column("original_sha256", String(64)),
    Column("original_truncated", Boolean),
    Column("archive_uri", String(1024)),
    schema=CORE_HIERARCHY,
    comment="Dead letters (client.rejected) from every stage.",
)

# --- CORE: territories ----------------------------------------------------------------

territory_dim = Table(
    "territory_dim",
    metadata,
    Column("territory_id", String(128), primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("region", String(10), index=True),
    Column("segment", String(40), index=True),
    Column("tier", String(64), index=True),
    Column("advisor_emails", Json, nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    schema=CORE_TERRITORIES,
    comment="Territories of the latest published ruleset (inactive: dropped from it).",
)

territory_advisor = Table(
    "territory_advisor",
    metadata,
    Column("territory_id", String(128), primary_key=True),
    Column("advisor_email", Email, primary_key=True),
    Index(None, "advisor_email"),
    schema=CORE_TERRITORIES,
    comment="Which advisors serve which territory (latest ruleset).",
)

advisor_dim = Table(
    "advisor_dim",
    metadata,
    Column("advisor_email", Email, primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("capacity", Json, nullable=False),  # {tier_id: max_clients}
    Column("total_capacity", Integer, nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    schema=CORE_TERRITORIES,
    comment="Advisors of the latest published ruleset with capacity per tier.",
)

# --- CORE: assignments ----------------------------------------------------------------

assignments_fact = Table(
    "assignments_fact",
    metadata,
    Column("event_id", EventId, primary_key=True),
    Column("client_id", ClientId, nullable=False),
    Column("territory_id", String(128), index=True),
    Column("advisor_email", Email, index=True),
    Column("tier", String(64), index=True),
    Column("previous_territory_id", String(128)),
    Column("previous_advisor_email", Email),
    Column("ruleset_version", String(64), nullable=False, index=True),
    Column("rule_id", String(128)),
    Column("decision_level", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("trace", Json, nullable=False),
    Column("changed_by", String(200), nullable=False),
    Column("effective_from", Timestamp, nullable=False),
    Column("effective_to", Timestamp),  # NULL while current (SCD type 2)
    Column("is_current", Boolean, nullable=False),
    Column("correlation_id", String(128)),
    Column("loaded_at", Timestamp, nullable=False),
    Index(None, "client_id", "effective_from"),
    Index(None, "is_current", "territory_id"),
    # Newest first (the API's assignment feed), the trend chart and "changes in 7 days".
    Index(None, "effective_from"),
    schema=CORE_ASSIGNMENTS,
    comment="Assignment history (SCD2): one row per assignment.changed.",
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("conflict_id", String(200), primary_key=True),
    Column("kind", String(40), nullable=False, index=True),
    Column("severity", String(16), nullable=False, index=True),
    Column("action", String(20), nullable=False),
    Column("client_id", ClientId, index=True),
    Column("territory_ids", Json, nullable=False),
    Column("advisor_email", Email, index=True),
    Column("ruleset_version", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("resolved", Boolean, nullable=False, index=True),
    Column("first_seen_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
    Column("last_event_id", EventId, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    schema=CORE_ASSIGNMENTS,
    comment="Conflicts (latest state of each conflict_id).",
)

# --- CORE: segmentation rules ---------------------------------------------------------

ruleset_versions = Table(
    "ruleset_versions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("document", Json, nullable=False),
    Column("published_by", String(200), nullable=False),
    Column("comment", Text),
    Column("published_at", Timestamp, nullable=False, index=True),
    Column("event_id", EventId, nullable=False),
    Column("loaded_at", Timestamp, nullable=False),
    schema=CORE_RULES,
    comment="Every published ruleset version.",
)

# --- OPS ------------------------------------------------------------------------------

load_batches = Table(
    "load_batches",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp, nullable=False, index=True),
    Column("events", Integer, nullable=False),
    Column("events_by_topic", Json, nullable=False),
    Column("dead_letters", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    schema=OPS,
    comment="One row per micro-batch the loader made durable (load status).",
)

CORE_TABLES = (
    client_dim,
    client_source_record,
    client_source_match,
    dedupe_review,
    client_field_issues,
    rejected_records,
    territory_dim,
    territory_advisor,
    advisor_dim,
    assignments_fact,
    conflicts,
    ruleset_versions,
)
