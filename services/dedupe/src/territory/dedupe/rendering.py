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
    SourceRecordRef,
)


class Rendering(Clustering):
    def _ref(self, key: str) -> SourceRecordRef:
        r = self.records[key].record
        return SourceRecordRef(
            source_system=r.source_system, source_id=r.source_id, updated_at=r.updated_at
        )

    def render(self, golden: Golden) -> GoldenClient:
        if golden.retired_into is not None:
            return GoldenClient(
                client_id=golden.client_id,
                decision=DedupeDecision.MERGED,
                trigger=golden.trigger or _NO_TRIGGER,
                record=self._last_record(golden),
                source_records=[],
                evidence=golden.evidence,
                version=golden.version + 1,
                retired=True,
            )
        members = sorted(golden.members)
        records = [self.records[k].record for k in members]
        parent = self.parent_of(golden)
        decision, evidence, carrier = self.assess(golden)
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
            merged_client_ids=sorted(golden.merged_client_ids),
            version=golden.version + 1,
        )

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
        for client_id in sorted(self.dirty):
            golden = self.goldens[client_id]
            if not golden.members and golden.retired_into is None:
                continue
            rendered = self.render(golden)
            if fingerprint(rendered) != golden.fingerprint:
                out.append(rendered)
        return out

    def mark_emitted(self, emitted: Iterable[GoldenClient]) -> None:
        for event in emitted:
            golden = self.goldens[event.client_id]
            golden.version = event.version
            golden.fingerprint = fingerprint(event)
        self.dirty.clear()

    def drain(self) -> list[GoldenClient]:
        """`pending()` then `mark_emitted()`: for callers without a broker (reports, tests)."""
        out = self.pending()
        self.mark_emitted(out)
        return out


_NO_TRIGGER = SourceRecordRef(source_system="golden", source_id="-")
