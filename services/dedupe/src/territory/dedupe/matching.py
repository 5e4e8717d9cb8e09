"""Matching one record's profile against the master: the best comparison per candidate
golden client (parent/child and conflicting identifiers veto a merge), and its evidence.
"""

from __future__ import annotations

from territory.dedupe.master import Master
from territory.dedupe.normalize import Profile
from territory.dedupe.scoring import Comparison, conflicting_tax_ids
from territory.shared.events import (
    MatchEvidence,
)


class Matching(Master):
    def match(self, profile: Profile) -> list[tuple[str, Comparison]]:
        """Best comparison per candidate golden client, most confident first."""
        keys = self.index.candidates(profile)
        members = [self.records[k] for k in keys if k in self.records]
        comparisons = self.scorer.compare_many(profile, [m.profile for m in members])
        best: dict[str, Comparison] = {}
        vetoed: set[str] = set()
        for member, comparison in zip(members, comparisons, strict=True):
            gid = member.client_id
            if "hierarchy" in comparison.field_scores or self._conflicts(profile, gid):
                # A record never merges into its own parent or child, nor into a client
                # holding another legal entity identifier.
                vetoed.add(gid)
                best[gid] = comparison
                continue
            if gid in vetoed:
                continue
            if gid not in best or comparison.confidence > best[gid].confidence:
                best[gid] = comparison
        return sorted(best.items(), key=lambda kv: (-kv[1].confidence, kv[0]))

    def _conflicts(self, profile: Profile, client_id: str) -> bool:
        if profile.lei is None and profile.tax_id is None:
            return False
        for key in self.goldens[client_id].members:
            other = self.records[key].profile
            if profile.lei and other.lei and other.lei != profile.lei:
                return True
            if conflicting_tax_ids(profile.tax_id, other.tax_id):
                return True
        return False

    @staticmethod
    def evidence_of(client_id: str, comparison: Comparison) -> MatchEvidence:
        return MatchEvidence(
            candidate_client_id=client_id,
            confidence=round(comparison.confidence, 6),
            field_scores={k: round(v, 3) for k, v in comparison.field_scores.items()},
            reasons=[f"matched source record {comparison.candidate_key}", *comparison.reasons],
        )
