"""Clustering: golden clients as a function of the set of records, not of their order.

Pair evidence: when a record arrives (or changes) its candidates are looked up and scored
once; every pair at or above the review threshold is kept in `links` (both ways; the score
is symmetric). A pair at or above the merge threshold is a *merge edge*.

Clusters: the records of one connected component of the merge edges (plus reviewers'
"together" links) are grouped by a deterministic agglomeration: reviewers' "together"
links first, then the merge edges from the most confident down (ties by source keys);
an edge joins two groups unless some pair across them may not be one client (`apart`: a
parent link, different LEIs, tax ids more than one typo apart (`conflicting_tax_ids`),
two incarnations of one reused source key, or a reviewer's split). The result depends
only on the component's records and edges, so a record that links two golden clients
merges them, an update that removes the link splits them again, and any arrival order
ends in the same clusters.

Golden ids: a cluster's id is `golden_id(anchor)`, the anchor being its member of the most
trusted source system with the smallest source key (`Master.rank`), unless a reviewer's
decision pinned an id to one of its members (`pins`: a merge's survivor, a split's two
sides). A golden client whose id no cluster takes any more is retired into the cluster
that now holds most of its records (`retired=True`, evidence naming it, the survivor
lists it in `merged_client_ids`); an id that a cluster takes again is revived.

Only the affected clusters are recomputed: the records reached from the changed record
through merge edges, reviewers' links and current cluster membership (never the master).
"""

from __future__ import annotations

from collections.abc import Iterable

from territory.dedupe.master import Golden, golden_id
from territory.dedupe.matching import Matching
from territory.dedupe.scoring import Comparison, conflicting_tax_ids
from territory.shared.events import DedupeDecision, MatchEvidence, SourceRecordRef

# Name similarity (rapidfuzz ratio) above which a re-ranked candidate is scored even past
# the candidate limit (see `CandidateIndex.candidates`).
_SIMILAR = 80.0


class Clustering(Matching):
    # ------------------------------------------------------------------ pair evidence

    def _link(self, key: str) -> list[tuple[str, Comparison]]:
        """Look up and score the candidates of `key`; keep the pairs ≥ review."""
        member = self.records[key]
        found = self.index.candidates(member.profile, similar=_SIMILAR)
        found = [k for k in found if k in self.records]
        comparisons = self.scorer.compare_many(
            member.profile, [self.records[k].profile for k in found]
        )
        review = self.settings.thresholds.review
        for other, comparison in zip(found, comparisons, strict=True):
            if comparison.confidence >= review:
                self.links.setdefault(key, {})[other] = comparison.confidence
                self.links.setdefault(other, {})[key] = comparison.confidence
        self.linked.add(key)
        return list(zip(found, comparisons, strict=True))

    def _unlink(self, key: str) -> None:
        for other in self.links.pop(key, {}):
            theirs = self.links.get(other)
            if theirs is not None:
                theirs.pop(key, None)
                if not theirs:
                    del self.links[other]
        self.linked.discard(key)

    def may_join(self, a: str, b: str) -> bool:
        """Whether two records may be in one golden client (a reviewer's split, a parent
        link, different identifiers, or two incarnations of one reused key say no)."""
        if frozenset((a, b)) in self.apart:
            return False
        pa, pb = self.records[a].profile, self.records[b].profile
        if pa.parent_key == b or pb.parent_key == a:
            return False
        if pa.lei and pb.lei and pa.lei != pb.lei:
            return False
        if conflicting_tax_ids(pa.tax_id, pb.tax_id):
            return False
        return self.records[a].source_key != self.records[b].source_key

    # ------------------------------------------------------------------ clusters

    def _component(self, seeds: Iterable[str]) -> set[str]:
        merge = self.settings.thresholds.merge
        seen: set[str] = set()
        todo = [k for k in seeds if k in self.records]
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            if key not in self.linked:
                self._link(key)  # restored or seeded: looked up once, when first touched
            todo.extend(o for o, c in self.links.get(key, {}).items() if c >= merge)
            todo.extend(self.together.get(key, ()))
            golden = self.goldens.get(self.records[key].client_id)
            if golden is not None:
                todo.extend(golden.members)
        return seen

    def _groups(self, keys: set[str]) -> list[set[str]]:
        parent = {k: k for k in keys}
        groups = {k: {k} for k in keys}

        def find(k: str) -> str:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra == rb:
                return
            if len(groups[ra]) < len(groups[rb]):
                ra, rb = rb, ra
            parent[rb] = ra
            groups[ra] |= groups.pop(rb)

        for a in sorted(keys):
            for b in sorted(self.together.get(a, ())):
                if b in keys:
                    union(a, b)
        merge = self.settings.thresholds.merge
        edges = sorted(
            (-c, a, b)
            for a in keys
            for b, c in self.links.get(a, {}).items()
            if a < b and c >= merge and b in keys
        )
        for _, a, b in edges:
            ra, rb = find(a), find(b)
            if ra == rb:
                continue
            if all(self.may_join(x, y) for x in groups[ra] for y in groups[rb]):
                union(ra, rb)
        return list(groups.values())

    def _recluster(self, seeds: Iterable[str], trigger: SourceRecordRef | None) -> set[str]:
        """Recompute the clusters reached from `seeds`; returns the golden ids changed."""
        keys = self._component(seeds)
        if not keys:
            return set()
        old: dict[str, set[str]] = {}
        for key in keys:
            cid = self.records[key].client_id
            if cid in self.goldens and self.goldens[cid].retired_into is None:
                old.setdefault(cid, set()).add(key)
        assigned: dict[str, set[str]] = {}
        for group in sorted(self._groups(keys), key=lambda g: self.rank(self.anchor(g))):
            assigned[self._id_for(group, keys, assigned)] = group
        changed: set[str] = set()
        for cid, group in assigned.items():
            golden = self.goldens.setdefault(cid, Golden(client_id=cid))
            if golden.retired_into is not None:
                self._revive(golden, changed)
            if golden.members != group:
                golden.members = set(group)
                changed.add(cid)
            for key in group:
                self.records[key].client_id = cid
        for cid, members in old.items():
            if cid not in assigned:
                self._retire(self.goldens[cid], members, assigned, trigger)
                changed.add(cid)
        for cid in changed:
            self._touch(cid)
        # Review status is decided by neighbours: clients linked to these records by a
        # pair below the merge threshold may have gained or lost a possible duplicate.
        for key in keys:
            for other in self.links.get(key, ()):
                self.dirty.add(self.records[other].client_id)
        return changed

    def _id_for(self, group: set[str], keys: set[str], taken: dict[str, set[str]]) -> str:
        pinned = sorted((k for k in group if k in self.pins), key=self.rank)
        anchor = self.anchor(group)
        for cid in [*(self.pins[k] for k in pinned), golden_id(anchor)]:
            holder = self.goldens.get(cid)
            outside = holder is not None and holder.retired_into is None and holder.members - keys
            if cid not in taken and not outside:
                return cid
        return golden_id(f"{anchor}#{len(group)}:{min(group)}")  # (collisions: never seen)

    def _revive(self, golden: Golden, changed: set[str]) -> None:
        former = self._live(golden.retired_into) if golden.retired_into else None
        golden.retired_into = None
        golden.evidence = ()
        golden.decision = DedupeDecision.NEW
        if former is not None:
            survivor = self.goldens[former]
            if golden.client_id in survivor.merged_client_ids:
                merged = list(survivor.merged_client_ids)
                merged.remove(golden.client_id)
                survivor.merged_client_ids = merged
                changed.add(former)

    def _retire(
        self,
        golden: Golden,
        members: set[str],
        assigned: dict[str, set[str]],
        trigger: SourceRecordRef | None,
    ) -> None:
        target = min(assigned, key=lambda cid: (-len(assigned[cid] & members), cid))
        survivor = self.goldens[target]
        merged = list(survivor.merged_client_ids)
        for absorbed in [golden.client_id, *golden.merged_client_ids]:
            if absorbed != target and absorbed not in merged:
                merged.append(absorbed)
        survivor.merged_client_ids = merged
        golden.merged_client_ids = ()
        golden.members = set()
        golden.retired_into = target
        golden.decision = DedupeDecision.MERGED
        golden.manual = ()
        by = f" (record {trigger.source_key})" if trigger is not None else ""
        golden.evidence = [
            MatchEvidence(
                candidate_client_id=target,
                confidence=1.0,
                field_scores={},
                reasons=[f"merged into {target}: its records now link to {target}'s{by}"],
            )
        ]
        if trigger is not None:
            golden.trigger = trigger

    # ------------------------------------------------------------------ review

    def review_partners(self, golden: Golden) -> list[tuple[str, float, str, str]]:
        """The other golden clients this one is a possible duplicate of: (client id,
        confidence, member key, their key) of the best pair per client, most confident
        first. Of the two clients of a pair, the one whose anchor ranks later carries it
        (one review item per pair, whatever the order the records came in)."""
        best: dict[str, tuple[float, str, str]] = {}
        mine = self.rank(self.anchor(golden.members))
        anchors: dict[str, tuple[int, str]] = {}
        merge = self.settings.thresholds.merge
        for key in sorted(golden.members):
            if key not in self.linked:
                self._link(key)  # restored: scored once, when first needed
        for key in golden.members:
            for other, confidence in list(self.links.get(key, {}).items()):
                cid = self.records[other].client_id
                if cid == golden.client_id or frozenset((key, other)) in self.apart:
                    continue
                # A review pair is an uncertain one: below the merge threshold (a pair
                # above it that was not merged is known to be two clients: other LEIs, a
                # parent link), and not between two clients that each merged duplicates
                # of their own (a function of the clusters, so of the set of records,
                # whatever was scored when). On a 33k-row export every pair >= review
                # opened 3,636 items, 2.8% of them real duplicates; this rule 1,962 (4.6%).
                if confidence >= merge or (
                    len(golden.members) > 1 and len(self.goldens[cid].members) > 1
                ):
                    continue
                if cid not in anchors:
                    anchors[cid] = self.rank(self.anchor(self.goldens[cid].members))
                if anchors[cid] > mine:
                    continue
                held = best.get(cid)
                if held is None or (-confidence, key, other) < (-held[0], held[1], held[2]):
                    best[cid] = (confidence, key, other)
        return sorted(
            ((cid, c, k, o) for cid, (c, k, o) in best.items()), key=lambda t: (-t[1], t[0])
        )

    def reused_evidence(self, key: str) -> MatchEvidence | None:
        """For a reused source key's later incarnation: the evidence against the client
        holding the key's first incarnation (None for any other member)."""
        member = self.records[key]
        reasons = member.reused_reasons
        if reasons is None or not self._reused_incarnation(key):
            return None
        plain = member.source_key
        comparison = self.scorer.compare(member.profile, self.records[plain].profile)
        return self._pair_evidence(self.records[plain].client_id, comparison, reasons)

    def _reused_incarnation(self, key: str) -> bool:
        """Whether `key` is a reused source key's later incarnation, its first one held."""
        member = self.records[key]
        return member.reused_reasons is not None and member.source_key in self.records

    def decision_of(
        self, golden: Golden, partners: list[tuple[str, float, str, str]] | None = None
    ) -> DedupeDecision:
        """`assess(golden)`'s decision alone, without scoring its evidence pairs again (a
        placement needs the decision; the event rendered later, the evidence too)."""
        if any(self._reused_incarnation(key) for key in golden.members):
            return DedupeDecision.POSSIBLE_DUPLICATE
        if partners is None:
            partners = self.review_partners(golden)
        if partners:  # (evidence_limit >= 1: `assess` keeps at least one of them)
            return DedupeDecision.POSSIBLE_DUPLICATE
        if len(golden.members) > 1:
            return DedupeDecision.MERGED
        return DedupeDecision.NEW

    def assess(
        self, golden: Golden, partners: list[tuple[str, float, str, str]] | None = None
    ) -> tuple[DedupeDecision, list[MatchEvidence], str | None]:
        """A live golden client's decision, evidence and the member that carries it.
        `partners`: `review_partners(golden)`, when the caller has it already."""
        limit = self.settings.evidence_limit
        evidence: list[MatchEvidence] = []
        flagged: str | None = None
        for key in sorted(golden.members):
            reused = self.reused_evidence(key)
            if reused is not None:
                evidence.append(reused)
                flagged = flagged or key
        if partners is None:
            partners = self.review_partners(golden)
        for cid, _, key, other in partners[:limit]:
            comparison = self.scorer.compare(self.records[key].profile, self.records[other].profile)
            evidence.append(self.evidence_of(cid, comparison))
            flagged = flagged or key
        if evidence:
            return DedupeDecision.POSSIBLE_DUPLICATE, [*golden.manual, *evidence][:limit], flagged
        if len(golden.members) > 1:
            return (
                DedupeDecision.MERGED,
                (list(golden.manual) or self._merge_evidence(golden)),
                None,
            )
        return DedupeDecision.NEW, list(golden.manual), None

    def _merge_evidence(self, golden: Golden) -> list[MatchEvidence]:
        """The most confident pair inside the cluster (with the trigger if it has one)."""
        pairs = [
            (-c, a, b)
            for a in golden.members
            for b, c in self.links.get(a, {}).items()
            if b in golden.members
        ]
        trigger = golden.trigger.source_key if golden.trigger is not None else None
        mine = [p for p in pairs if self.records[p[1]].source_key == trigger]
        if not (mine or pairs):
            return []
        _, a, b = min(mine or pairs)
        comparison = self.scorer.compare(self.records[a].profile, self.records[b].profile)
        return [self.evidence_of(golden.client_id, comparison)]

    @staticmethod
    def _pair_evidence(cid: str, comparison: Comparison, reasons: list[str]) -> MatchEvidence:
        return MatchEvidence(
            candidate_client_id=cid,
            confidence=round(comparison.confidence, 6),
            field_scores={k: round(v, 3) for k, v in comparison.field_scores.items()},
            reasons=list(reasons),
        )
