"""The event contract: one pydantic model per topic, with a common envelope.

One module per topic (`client`, `golden`, `assignment`, `conflict`, `rejection`,
`ruleset`, `commands`), the envelope (`envelope`) and the field validators
(`validators`); every name is exported here, so `territory.shared.events` stays the one
import path.

Every event is JSON: `{event_id, event_type, schema_version, occurred_at, producer,
correlation_id, payload}`. Adding an optional payload field keeps `schema_version`; a
breaking change makes a new version. Consumers ignore fields they do not know, so an
older consumer keeps working while producers move ahead.

Every consumer validates again (upstream CRMs may publish `client.received` directly), so
the field validators are part of the contract (`validators`).
"""

from __future__ import annotations

from typing import Any

from territory.shared.events.assignment import (
    Assignment,
    AssignmentChanged,
    DecisionLevel,
    DecisionTrace,
    RejectedCandidate,
)
from territory.shared.events.client import (
    ClientReceived,
    ClientRecord,
    FieldError,
    FieldIssue,
    Segment,
    fold_segment_label,
    segment_aliases,
)
from territory.shared.events.commands import (
    DedupeCommand,
    DedupeCommanded,
    RulesCommand,
    RulesCommanded,
)
from territory.shared.events.conflict import (
    Conflict,
    ConflictAction,
    ConflictDetected,
    ConflictKind,
    Severity,
)
from territory.shared.events.envelope import (
    SCHEMA_VERSION,
    Event,
    PayloadT,
)
from territory.shared.events.golden import (
    ClientDeduplicated,
    DedupeDecision,
    GoldenClient,
    MatchEvidence,
    RecordMatch,
    SourceRecordRef,
)
from territory.shared.events.rejection import (
    ClientRejected,
    MessagePosition,
    Rejection,
    RejectReason,
)
from territory.shared.events.ruleset import (
    RulesetPublished,
    RulesetRelease,
)
from territory.shared.events.validators import (
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
    clean_text,
    validate_lei,
)
from territory.shared.topics import Topic

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

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "Assignment",
    "AssignmentChanged",
    "ClientDeduplicated",
    "ClientReceived",
    "ClientRecord",
    "ClientRejected",
    "Conflict",
    "ConflictAction",
    "ConflictDetected",
    "ConflictKind",
    "DecisionLevel",
    "DecisionTrace",
    "DedupeCommand",
    "DedupeCommanded",
    "DedupeDecision",
    "Event",
    "FieldError",
    "FieldIssue",
    "GoldenClient",
    "MatchEvidence",
    "MessagePosition",
    "NonNegativeCount",
    "NonNegativeMoney",
    "OptionalCode",
    "OptionalId",
    "OptionalLongText",
    "OptionalPostalCode",
    "OptionalShortText",
    "PayloadT",
    "RecordMatch",
    "RejectReason",
    "RejectedCandidate",
    "Rejection",
    "RequiredId",
    "RequiredName",
    "RulesCommand",
    "RulesCommanded",
    "RulesetPublished",
    "RulesetRelease",
    "Segment",
    "Severity",
    "SourceRecordRef",
    "UtcDatetime",
    "clean_text",
    "fold_segment_label",
    "segment_aliases",
    "validate_lei",
]
