"""API models (what callers see), one module per resource like `routes/` and `queries/`;
the warehouse tables live in `territory.shared.warehouse`. Every model is exported here."""

from __future__ import annotations

from territory.api.schemas.advisors import (
    AdvisorSummary,
    AdvisorWorkload,
    TierLoad,
)
from territory.api.schemas.assignments import (
    AssignmentRecord,
    AssignmentTrend,
    ReassignRequest,
    TrendPoint,
)
from territory.api.schemas.clients import (
    ClientDetail,
    ClientSummary,
    GoldenRecord,
    HierarchyNode,
    SourceMatch,
    SourceRecord,
)
from territory.api.schemas.common import (
    Accepted,
    AdvisorRef,
    Paged,
)
from territory.api.schemas.conflicts import (
    AcknowledgeRequest,
    ConflictRecord,
)
from territory.api.schemas.dedupe import (
    DedupeDecisionRequest,
    DedupeReviewItem,
)
from territory.api.schemas.quality import (
    DataQualitySummary,
    FieldIssueCount,
    FieldIssueRecord,
)
from territory.api.schemas.rulesets import (
    BlacklistOverride,
    OverridePublished,
    PreviewResult,
    RulesetCandidate,
    RulesetDocument,
    RulesetPublication,
    RulesetVersionDetail,
    RulesetVersionSummary,
    WhitelistOverride,
)
from territory.api.schemas.summary import Summary
from territory.api.schemas.territories import (
    TerritoryDetail,
    TerritorySummary,
    TierCount,
)

__all__ = [
    "Accepted",
    "AcknowledgeRequest",
    "AdvisorRef",
    "AdvisorSummary",
    "AdvisorWorkload",
    "AssignmentRecord",
    "AssignmentTrend",
    "BlacklistOverride",
    "ClientDetail",
    "ClientSummary",
    "ConflictRecord",
    "DataQualitySummary",
    "DedupeDecisionRequest",
    "DedupeReviewItem",
    "FieldIssueCount",
    "FieldIssueRecord",
    "GoldenRecord",
    "HierarchyNode",
    "OverridePublished",
    "Paged",
    "PreviewResult",
    "ReassignRequest",
    "RulesetCandidate",
    "RulesetDocument",
    "RulesetPublication",
    "RulesetVersionDetail",
    "RulesetVersionSummary",
    "SourceMatch",
    "SourceRecord",
    "Summary",
    "TerritoryDetail",
    "TerritorySummary",
    "TierCount",
    "TierLoad",
    "TrendPoint",
    "WhitelistOverride",
]
