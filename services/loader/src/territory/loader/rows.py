"""Events → warehouse rows. Pure functions: no I/O, so they are tested without a database.

The warehouse model is flat on purpose (see `territory.shared.warehouse.schema`): the
filters of the dashboard are columns, while traces and evidence stay JSON beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from territory.shared import fields
from territory.shared.events import (
    AssignmentChanged,
    ClientDeduplicated,
    ClientReceived,
    ClientRecord,
    ClientRejected,
    ConflictDetected,
    Event,
    MessagePosition,
    RulesetPublished,
)
from territory.shared.rulesets import RulesetDimensions

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Loaded:
    """One decoded event and where it came from."""

    event: Event[Any]
    position: MessagePosition


# (field, column) for every descriptive field of the contract's record.
_RECORD_COLUMNS = tuple((f, fields.warehouse_name(f)) for f in fields.DESCRIPTIVE_FIELDS)
_ENUM_COLUMNS = tuple(c for f, c in _RECORD_COLUMNS if fields.is_enum(f))


def _record_columns(record: ClientRecord) -> Row:
    row = {column: getattr(record, field) for field, column in _RECORD_COLUMNS}
    for column in _ENUM_COLUMNS:
        value = row[column]
        row[column] = value.value if value is not None else None
    return row


def raw_client_row(item: Loaded, *, raw: str, batch_id: str, now: datetime) -> Row:
    event = item.event
    assert isinstance(event, ClientReceived)
    return {
        "event_id": str(event.event_id),
        "source_system": event.payload.source_system,
        "source_id": event.payload.source_id,
        "source_key": event.payload.source_key,
        "correlation_id": event.correlation_id,
        "producer": event.producer,
        "occurred_at": event.occurred_at,
        "payload": raw,
        "kafka_topic": item.position.topic,
        "kafka_partition": item.position.partition,
        "kafka_offset": item.position.offset,
        "batch_id": batch_id,
        "loaded_at": now,
    }


def staging_row(event: ClientReceived, *, now: datetime) -> Row:
    record = event.payload
    return {
        "source_key": record.source_key,
        "source_system": record.source_system,
        "source_id": record.source_id,
        "parent_source_id": record.parent_source_id,
        **_record_columns(record),
        "last_event_id": str(event.event_id),
        "occurred_at": event.occurred_at,
        "loaded_at": now,
    }


def field_issue_rows(event: ClientReceived, *, client_id: str | None, now: datetime) -> list[Row]:
    """One row per field issue of a source record (field-level quarantine)."""
    record = event.payload
    return [
        {
            "source_key": record.source_key,
            "issue_no": n,
            "client_id": client_id,
            "source_system": record.source_system,
            "source_id": record.source_id,
            "field": issue.field,
            "code": issue.code,
            "raw": issue.raw,
            "message": issue.message,
            "last_event_id": str(event.event_id),
            "occurred_at": event.occurred_at,
            "loaded_at": now,
        }
        for n, issue in enumerate(record.field_issues)
    ]


def client_row(event: ClientDeduplicated, *, now: datetime) -> Row:
    golden = event.payload
    return {
        "client_id": golden.client_id,
        **_record_columns(golden.record),
        "parent_client_id": golden.parent_client_id,
        "decision": golden.decision.value,
        "version": golden.version,
        "retired": golden.retired,
        # A retired client's own event names its survivor first; a live (or revived)
        # client is merged into nobody. Taken from the client's newest version only, so a
        # late event of the survivor can never retire a client that came back.
        "merged_into_client_id": (
            golden.evidence[0].candidate_client_id if golden.retired and golden.evidence else None
        ),
        "last_event_id": str(event.event_id),
        "occurred_at": event.occurred_at,
        "loaded_at": now,
    }


def lineage_rows(event: ClientDeduplicated) -> list[Row]:
    golden = event.payload
    refs = {ref.source_key: ref for ref in [*golden.source_records, golden.trigger]}
    return [
        {
            "client_id": golden.client_id,
            "source_key": key,
            "source_system": ref.source_system,
            "source_id": ref.source_id,
            "updated_at": ref.updated_at,
        }
        for key, ref in sorted(refs.items())
    ]


# Evidence entries CLIENT_SOURCE_MATCH keeps per source record (the most confident first):
# enough to say why, without copying every scored candidate of a crowded cluster.
MATCH_EVIDENCE_CAP = 5


def match_rows(event: ClientDeduplicated, *, now: datetime) -> list[Row]:
    """Why each source record the event explains sits in this client: one row per entry of
    `matches`, or, on an event from before that field, the trigger's row from the event's
    decision and evidence."""
    golden = event.payload
    explained = [(m.source.source_key, m.decision, m.evidence) for m in golden.matches] or [
        (golden.trigger.source_key, golden.decision, golden.evidence)
    ]
    rows = []
    for source_key, decision, evidence in explained:
        ranked = sorted(evidence, key=lambda e: -e.confidence)  # stable: ties keep order
        rows.append(
            {
                "client_id": golden.client_id,
                "source_key": source_key,
                "decision": decision.value,
                "confidence": max((e.confidence for e in evidence), default=None),
                "evidence": [e.model_dump(mode="json") for e in ranked[:MATCH_EVIDENCE_CAP]],
                "version": golden.version,
                "last_event_id": str(event.event_id),
                "occurred_at": event.occurred_at,
                "loaded_at": now,
            }
        )
    return rows


def review_row(event: ClientDeduplicated, *, now: datetime) -> Row:
    golden = event.payload
    evidence = [e.model_dump(mode="json") for e in golden.evidence]
    return {
        "event_id": str(event.event_id),
        "client_id": golden.client_id,
        "source_key": golden.trigger.source_key,
        "client_name": golden.record.name,
        "candidate_client_ids": sorted({e.candidate_client_id for e in golden.evidence}),
        "best_confidence": max((e.confidence for e in golden.evidence), default=None),
        "evidence": evidence,
        "status": "open",
        "occurred_at": event.occurred_at,
        "loaded_at": now,
    }


def assignment_row(event: AssignmentChanged, *, now: datetime) -> Row:
    a = event.payload
    return {
        "event_id": str(event.event_id),
        "client_id": a.client_id,
        "territory_id": a.territory_id,
        "advisor_email": a.advisor_email,
        "tier": a.tier,
        "previous_territory_id": a.previous_territory_id,
        "previous_advisor_email": a.previous_advisor_email,
        "ruleset_version": a.ruleset_version,
        "rule_id": a.rule_id,
        "decision_level": a.trace.level.value,
        "reason": a.reason,
        "trace": a.trace.model_dump(mode="json"),
        "changed_by": a.changed_by,
        "effective_from": a.effective_from,
        # Set for the whole client history after every load (SCD2 recomputation).
        "effective_to": None,
        "is_current": True,
        "correlation_id": event.correlation_id,
        "loaded_at": now,
    }


def conflict_row(event: ConflictDetected, *, now: datetime) -> Row:
    c = event.payload
    return {
        "conflict_id": c.conflict_id,
        "kind": c.kind.value,
        "severity": c.severity.value,
        "action": c.action.value,
        "client_id": c.client_id,
        "territory_ids": list(c.territory_ids),
        "advisor_email": c.advisor_email,
        "ruleset_version": c.ruleset_version,
        "detail": c.detail,
        "resolved": c.resolved,
        "first_seen_at": event.occurred_at,
        "last_seen_at": event.occurred_at,
        "last_event_id": str(event.event_id),
        "loaded_at": now,
    }


def rejected_row(event: ClientRejected, *, now: datetime) -> Row:
    r = event.payload
    return {
        "event_id": str(event.event_id),
        "stage": r.stage,
        "reason": r.reason.value,
        "source_key": r.source_key,
        "errors": [e.model_dump(mode="json") for e in r.errors],
        "original": r.original,
        "original_encoding": r.original_encoding,
        "original_format": r.original_format,
        "kafka_topic": r.position.topic if r.position else None,
        "kafka_partition": r.position.partition if r.position else None,
        "kafka_offset": r.position.offset if r.position else None,
        "upload_id": r.upload_id,
        "row_number": r.row_number,
        "attempts": r.attempts,
        "correlation_id": event.correlation_id,
        "occurred_at": event.occurred_at,
        "loaded_at": now,
        "origin_id": r.origin_id,
        "original_size": r.original_size,
        "original_sha256": r.original_sha256,
        "original_truncated": r.original_truncated,
        "archive_uri": r.archive_uri,
    }


def ruleset_row(event: RulesetPublished, *, now: datetime) -> Row:
    r = event.payload
    return {
        "version": r.version,
        "document": r.document,
        "published_by": r.published_by,
        "comment": r.comment,
        "published_at": event.occurred_at,
        "event_id": str(event.event_id),
        "loaded_at": now,
    }


# --- The part of a ruleset document the warehouse keeps (`territory.shared.rulesets`) ---


def territory_rows(dims: RulesetDimensions, *, now: datetime) -> list[Row]:
    return [
        {
            "territory_id": t.id,
            "name": t.name,
            "region": t.region.value,
            "segment": t.segment.value if t.segment else None,
            "tier": t.tier,
            "advisor_emails": list(t.advisors),
            "ruleset_version": dims.version,
            "active": True,
            "loaded_at": now,
        }
        for t in dims.territories
    ]


def territory_advisor_rows(dims: RulesetDimensions) -> list[Row]:
    pairs = {(t.id, a) for t in dims.territories for a in t.advisors}
    return [{"territory_id": t, "advisor_email": a} for t, a in sorted(pairs)]


def advisor_rows(dims: RulesetDimensions, *, now: datetime) -> list[Row]:
    return [
        {
            "advisor_email": a.email,
            "name": a.name,
            "capacity": a.capacity,
            "total_capacity": sum(a.capacity.values()),
            "ruleset_version": dims.version,
            "active": True,
            "loaded_at": now,
        }
        for a in dims.advisors
    ]
