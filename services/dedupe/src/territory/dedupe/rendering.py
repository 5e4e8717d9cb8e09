"""Rendering golden clients as `client.deduplicated` payloads, and what is pending emission
(content changed since the last emitted fingerprint).
"""

from __future__ import annotations

from collections.abc import Iterable

from territory.dedupe.clustering import Clustering
from territory.dedupe.master import Golden, fingerprint
from territory.shared.events import (
    ClientRecord,
    DedupeDecision,
    GoldenClient,
    RecordMatch,
    SourceRecordRef,
)


class Rendering(Clustering):
    def _ref(self, key: str) -> SourceRecordRef:
        return self.records[key].ref()

    def render(self, golden: Golden) -> GoldenClient:
        if golden.retired_into is not None:
            return GoldenClient(
                client_id=golden.client_id,
                decision=DedupeDecision.MERGED,
                trigger=golden.trigger or _NO_TRIGGER,
                record=self._last_record(golden),
                source_records=[],
                evidence=list(golden.evidence),
                version=golden.version + 1,
                retired=True,
            )
        members = sorted(golden.members)
        records = [self.records[k].record for k in members]
        parent = self.parent_of(golden)
        partners = self.review_partners(golden)
        decision, evidence, carrier = self.assess(golden, partners)
        trigger = golden.trigger
        if carrier is not None:
            # A review item is (client, source record): the member of its best pair.
            trigger = self._ref(carrier)
        elif trigger is None or trigger.source_key not in {r.source_key for r in records}:
            # Lineage lists the trigger: it is always one of the client's own records.
            trigger = self._ref(self.anchor(golden.members))
        return GoldenClient(
            client_id=golden.client_id,
            decision=decision,
            trigger=trigger,
            record=self.survivorship.golden_record(golden.client_id, records, parent),
            parent_client_id=parent,
            source_records=[
                SourceRecordRef(
                    source_system=r.source_system, source_id=r.source_id, updated_at=r.updated_at
                )
                for r in records
            ],
            evidence=evidence,
            matches=self.record_matches(golden, trigger, partners),
            merged_client_ids=sorted(golden.merged_client_ids),
            version=golden.version + 1,
        )

    def record_matches(
        self,
        golden: Golden,
        trigger: SourceRecordRef,
        partners: list[tuple[str, float, str, str]],
    ) -> list[RecordMatch]:
        """Why each member is in this client, from the state the event is rendered from (so
        records placed in one batch each keep their own evidence, whatever was coalesced):
        a reused source key's later incarnation and the member of a review pair
        (`partners`: `review_partners(golden)`) are `possible_duplicate` against the other
        client; any other member of a client of several is `merged`, with its most
        confident pair inside the client (a reviewer's merge when it has none); a client's
        only record is `new`. The trigger's comes first, at most `match_limit` in all."""
        members = golden.members
        by_key = {key: (cid, other) for cid, _, key, other in partners}
        ordered = sorted(
            members, key=lambda k: (self.records[k].source_key != trigger.source_key, k)
        )
        out: list[RecordMatch] = []
        for key in ordered[: self.settings.match_limit]:
            member = self.records[key]
            decision, evidence = DedupeDecision.NEW, list(golden.manual[:1])
            reused = self.reused_evidence(key)
            if reused is not None:
                decision, evidence = DedupeDecision.POSSIBLE_DUPLICATE, [reused]
            elif key in by_key:
                cid, other = by_key[key]
                comparison = self.scorer.compare(member.profile, self.records[other].profile)
                decision = DedupeDecision.POSSIBLE_DUPLICATE
                evidence = [self.evidence_of(cid, comparison)]
            elif len(members) > 1:
                decision = DedupeDecision.MERGED
                inside = [(-c, o) for o, c in self.links.get(key, {}).items() if o in members]
                if inside:
                    _, other = min(inside)
                    comparison = self.scorer.compare(member.profile, self.records[other].profile)
                    evidence = [self.evidence_of(golden.client_id, comparison)]
            out.append(RecordMatch(source=self._ref(key), decision=decision, evidence=evidence))
        return out

    def _last_record(self, golden: Golden) -> ClientRecord:
        live = self._live(golden.client_id)
        if live is not None and live != golden.client_id and self.goldens[live].members:
            survivor = self.goldens[live]
            records = [self.records[k].record for k in sorted(survivor.members)]
            return self.survivorship.golden_record(golden.client_id, records, None)
        return ClientRecord.model_construct(
            source_system="golden", source_id=golden.client_id, name=golden.client_id
        )

    def pending(self) -> list[GoldenClient]:
        """Golden clients whose content changed since they were last emitted."""
        out = []
        self.rendered.clear()
        for client_id in sorted(self.dirty):
            golden = self.goldens[client_id]
            if not golden.members and golden.retired_into is None:
                continue
            rendered = self.render(golden)
            digest = fingerprint(rendered)
            if digest != golden.fingerprint:
                out.append(rendered)
                self.rendered[client_id] = (rendered, digest)
        return out

    def mark_emitted(self, emitted: Iterable[GoldenClient]) -> None:
        for event in emitted:
            golden = self.goldens[event.client_id]
            golden.version = event.version
            held = self.rendered.get(event.client_id)
            golden.fingerprint = held[1] if held and held[0] is event else fingerprint(event)
        self.rendered.clear()
        self.dirty.clear()

    def drain(self) -> list[GoldenClient]:
        """`pending()` then `mark_emitted()`: for callers without a broker (reports, tests)."""
        out = self.pending()
        self.mark_emitted(out)
        return out


_NO_TRIGGER = SourceRecordRef(source_system="golden", source_id="-")
