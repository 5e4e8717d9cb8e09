"""Contract events for the loader's tests (built with the shared models, never by hand)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from territory.loader.rows import Loaded
from territory.shared.events import (
    Assignment,
    AssignmentChanged,
    ClientDeduplicated,
    ClientReceived,
    ClientRecord,
    ClientRejected,
    Conflict,
    ConflictDetected,
    DecisionLevel,
    DecisionTrace,
    DedupeDecision,
    Event,
    GoldenClient,
    MatchEvidence,
    MessagePosition,
    Rejection,
    RejectReason,
    RulesetPublished,
    RulesetRelease,
    SourceRecordRef,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PRODUCER = "tests"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record(source_id: str, name: str = "Acme Pension Fund", **extra: Any) -> ClientRecord:
    return ClientRecord(
        source_system=extra.pop("source_system", "salesforce"),
        source_id=source_id,
        name=name,
        country=extra.pop("country", "CA"),
        segment=extra.pop("segment", "Pension"),
        **extra,
    )


def received(source_id: str, name: str = "Acme Pension Fund", *, minute: int = 0, **extra: Any):
    return ClientReceived(
        producer=PRODUCER, occurred_at=at(minute), payload=record(source_id, name, **extra)
    )


def golden(
    client_id: str,
    source_ids: Sequence[str],
    *,
    name: str = "Acme Pension Fund",
    version: int = 1,
    parent: str | None = None,
    decision: DedupeDecision = DedupeDecision.NEW,
    evidence: Sequence[MatchEvidence] = (),
    minute: int = 0,
    **extra: Any,
) -> ClientDeduplicated:
    refs = [SourceRecordRef(source_system="salesforce", source_id=sid) for sid in source_ids]
    return ClientDeduplicated(
        producer=PRODUCER,
        occurred_at=at(minute),
        payload=GoldenClient(
            client_id=client_id,
            decision=decision,
            trigger=refs[-1],
            record=record(source_ids[-1], name, **extra),
            parent_client_id=parent,
            source_records=refs,
            evidence=list(evidence),
            version=version,
        ),
    )


def assigned(
    client_id: str,
    territory: str | None,
    advisor: str | None,
    *,
    minute: int,
    ruleset: str = "v1",
    tier: str | None = "tier-1",
) -> AssignmentChanged:
    return AssignmentChanged(
        producer=PRODUCER,
        occurred_at=at(minute),
        payload=Assignment(
            client_id=client_id,
            territory_id=territory,
            advisor_email=advisor,
            tier=tier,
            ruleset_version=ruleset,
            rule_id=f"rule-{territory}",
            reason=f"region rule put {client_id} in {territory}",
            trace=DecisionTrace(
                ruleset_version=ruleset,
                level=DecisionLevel.REGION,
                rule_id=f"rule-{territory}",
                matched_conditions=["region == NA"],
            ),
            changed_by="rules-engine",
            effective_from=at(minute),
        ),
    )


def conflict(conflict_id: str, *, minute: int, resolved: bool = False) -> ConflictDetected:
    return ConflictDetected(
        producer=PRODUCER,
        occurred_at=at(minute),
        payload=Conflict(
            conflict_id=conflict_id,
            kind="multi_territory",
            severity="warning",
            action="flag",
            client_id="c1",
            territory_ids=["na-east", "na-pension"],
            ruleset_version="v1",
            detail="two territories match",
            resolved=resolved,
        ),
    )


def rejected(source_key: str = "salesforce:bad") -> ClientRejected:
    return ClientRejected(
        producer=PRODUCER,
        payload=Rejection(
            stage="ingestion",
            reason=RejectReason.INVALID_VALUE,
            original='{"name": ""}',
            source_key=source_key,
        ),
    )


RULESET_DOC = {
    "version": "v1",
    "territories": [
        {
            "id": "na-east",
            "name": "North America East",
            "region": "NA",
            "advisors": ["Ann@Example.com", "bob@example.com"],
        },
        {
            "id": "emea-pension",
            "name": "EMEA Pensions",
            "region": "EMEA",
            "segment": "Pension",
            "tier": "tier-1",
            "advisors": ["cleo@example.com"],
        },
    ],
    "advisors": [
        {"email": "ann@example.com", "name": "Ann", "capacity": {"tier-1": 10, "tier-2": 30}},
        {"email": "bob@example.com", "name": "Bob", "capacity": {"tier-1": 5}},
        {"email": "cleo@example.com", "name": "Cleo", "capacity": {}},
    ],
    "rules": [{"id": "ignored-by-the-loader"}],
}


def ruleset(version: str = "v1", *, minute: int = 0, document: dict[str, Any] | None = None):
    doc = dict(document or RULESET_DOC, version=version)
    return RulesetPublished(
        producer=PRODUCER,
        occurred_at=at(minute),
        payload=RulesetRelease(version=version, document=doc, published_by="admin@example.com"),
    )


def loaded(events: Sequence[Event[Any]]) -> tuple[list[Loaded], list[str]]:
    items = [
        Loaded(e, MessagePosition(topic=e.topic.value, partition=0, offset=i))
        for i, e in enumerate(events)
    ]
    return items, [e.model_dump_json() for e in events]
