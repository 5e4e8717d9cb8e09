"""A pair comparison as match evidence naming a golden client (pairs are scored and
clustered in `clustering`; identifiers that veto a merge are `Clustering.may_join`).
"""

from __future__ import annotations

from territory.dedupe.master import Master
from territory.dedupe.scoring import Comparison
from territory.shared.events import (
    MatchEvidence,
)


class Matching(Master):
    @staticmethod
    def evidence_of(client_id: str, comparison: Comparison) -> MatchEvidence:
        return MatchEvidence(
            candidate_client_id=client_id,
            confidence=round(comparison.confidence, 6),
            field_scores={k: round(v, 3) for k, v in comparison.field_scores.items()},
            reasons=[f"matched source record {comparison.candidate_key}", *comparison.reasons],
        )
