"""The dedupe engine: pure, in-memory, no I/O. Adapters (Kafka, CLI) feed it and publish
what it returns.

State: every known source record (its latest version and comparable profile), the golden
clients (member source keys, last emitted version and fingerprint), the candidate index
and the parent links between source records.

One record in: if its source key is known, it updates that golden client. Otherwise its
candidates are scored, the best golden client per candidate group is kept, and the record
joins it (confidence ≥ merge threshold: `merged`), founds a new golden client flagged for
review (≥ review threshold: `possible_duplicate`), or founds a new one (`new`).

Out: the golden clients whose rendered content changed (`pending()`), each with the next
version. A golden client is marked emitted only after the adapter published it
(`mark_emitted`), so a failed publish is retried rather than lost, and replaying the same
input renders the same content and emits nothing: golden ids are derived from source keys
(`golden_id`), never from clocks or counters, and every rendering is a pure function of the
member set.

Hierarchy: a record's `parent_source_id` names a record of the same source system. The
golden client's `parent_client_id` is the golden client holding that record; when the
parent arrives later, moves (merge, split) or is retired, every golden client whose members
point at it is rendered again, and re-emitted if its parent changed.
"""

from __future__ import annotations

from territory.dedupe.commands import Commands
from territory.dedupe.master import (
    EngineSettings,
    Golden,
    Member,
    Placement,
    fingerprint,
    golden_id,
)
from territory.dedupe.matching import Matching
from territory.dedupe.normalize import Profile, profile_of
from territory.dedupe.rendering import Rendering
from territory.shared.events import (
    ClientRecord,
    DedupeDecision,
    SourceRecordRef,
)

__all__ = [
    "DedupeEngine",
    "EngineSettings",
    "Golden",
    "Member",
    "Placement",
    "fingerprint",
    "golden_id",
]


class DedupeEngine(Matching, Commands, Rendering):
    """Records and commands in, golden clients out. The master state and its restore are
    `master`, candidate scoring `matching`, reviewers' decisions `commands`, golden
    records `rendering`; this class places records."""

    def on_record(self, record: ClientRecord, profile: Profile | None = None) -> Placement:
        """Place one record. `profile` overrides `profile_of(record)` (callers that compare
        attributes the contract has no field for, such as the benchmarks' dates of birth)."""
        key = record.source_key
        ref = SourceRecordRef(
            source_system=record.source_system,
            source_id=record.source_id,
            updated_at=record.updated_at,
        )
        known = self.records.get(key)
        if known is not None:
            if (
                known.record.updated_at is not None
                and record.updated_at is not None
                and record.updated_at < known.record.updated_at
            ):
                # An older version arriving late never overwrites a newer one.
                return Placement(key, known.client_id, DedupeDecision.MERGED, True, [])
            golden = self.goldens[known.client_id]
            self._unlink_parent(known)
            known.record = record
            known.profile = profile or profile_of(record)
            self._link_parent(known)
            self.index.add(known.profile)
            golden.trigger = ref
            self._touch(golden.client_id)
            return Placement(key, golden.client_id, golden.decision, True, [])

        profile = profile or profile_of(record)
        ranked = self.match(profile)
        thresholds = self.settings.thresholds
        limit = self.settings.evidence_limit
        if ranked and ranked[0][1].confidence >= thresholds.merge:
            gid, comparison = ranked[0]
            golden = self.goldens[gid]
            decision = DedupeDecision.MERGED
            golden.evidence = [self.evidence_of(gid, comparison)]
        else:
            gid = golden_id(key)
            golden = self.goldens.setdefault(gid, Golden(client_id=gid))
            review = [(g, c) for g, c in ranked if c.confidence >= thresholds.review]
            decision = DedupeDecision.POSSIBLE_DUPLICATE if review else DedupeDecision.NEW
            golden.evidence = [self.evidence_of(g, c) for g, c in (review or ranked[:1])][:limit]
        golden.decision = decision
        golden.trigger = ref
        golden.members.add(key)
        member = Member(record=record, profile=profile, client_id=gid)
        self.records[key] = member
        self.index.add(profile)
        self._link_parent(member)
        self._touch(gid)
        return Placement(key, gid, decision, False, ranked[:limit])

    def seed(self, record: ClientRecord, profile: Profile | None = None) -> str:
        """Add a record as its own golden client without matching (bulk-loading a master
        known to be de-duplicated, e.g. a migration or a benchmark). Emits nothing."""
        key = record.source_key
        profile = profile or profile_of(record)
        gid = golden_id(key)
        self.goldens[gid] = Golden(client_id=gid, members={key}, fingerprint="seeded", version=1)
        member = Member(record=record, profile=profile, client_id=gid)
        self.records[key] = member
        self.index.add(profile)
        self._link_parent(member)
        return gid
