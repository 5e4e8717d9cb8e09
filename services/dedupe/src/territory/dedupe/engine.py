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

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from territory.dedupe.index import CandidateIndex, IndexSettings
from territory.dedupe.normalize import Profile, profile_of
from territory.dedupe.scoring import Comparison, FieldWeights, Scorer, Thresholds
from territory.dedupe.survivorship import Survivorship, SurvivorshipSettings
from territory.shared.events import (
    ClientRecord,
    DedupeCommand,
    DedupeDecision,
    GoldenClient,
    MatchEvidence,
    SourceRecordRef,
)


class EngineSettings(BaseModel):
    thresholds: Thresholds = Thresholds()
    weights: FieldWeights = FieldWeights()
    survivorship: SurvivorshipSettings = SurvivorshipSettings()
    candidate_limit: int = Field(25, ge=1, description="Candidates scored per record.")
    max_postings: int = Field(500, ge=10, description="Blocking keys more common are skipped.")
    evidence_limit: int = Field(5, ge=1, description="Evidence entries kept per event.")


def golden_id(seed: str) -> str:
    """Deterministic golden id: the same founding record always gives the same id."""
    return "gc-" + hashlib.blake2b(seed.encode(), digest_size=10).hexdigest()


@dataclass(slots=True)
class Member:
    record: ClientRecord
    profile: Profile
    client_id: str


@dataclass(slots=True)
class Golden:
    client_id: str
    members: set[str] = field(default_factory=set)
    decision: DedupeDecision = DedupeDecision.NEW
    trigger: SourceRecordRef | None = None
    evidence: list[MatchEvidence] = field(default_factory=list)
    merged_client_ids: list[str] = field(default_factory=list)
    retired_into: str | None = None
    version: int = 0  # last emitted
    fingerprint: str | None = None  # of the last emitted content


@dataclass(slots=True)
class Placement:
    """Where one incoming record went, and the comparisons that decided it."""

    source_key: str
    client_id: str
    decision: DedupeDecision
    update: bool
    comparisons: list[tuple[str, Comparison]]  # (candidate golden id, best comparison)


def fingerprint(golden: GoldenClient) -> str:
    """Content of a golden client that matters downstream (not the event's metadata)."""
    data = golden.model_dump(mode="json", exclude={"version", "trigger", "decision", "evidence"})
    return hashlib.blake2b(
        json.dumps(data, sort_keys=True, default=str).encode(), digest_size=16
    ).hexdigest()


class DedupeEngine:
    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.scorer = Scorer(self.settings.weights, self.settings.thresholds.review)
        self.survivorship = Survivorship(self.settings.survivorship)
        self.index = CandidateIndex(
            IndexSettings(
                limit=self.settings.candidate_limit, max_postings=self.settings.max_postings
            )
        )
        self.records: dict[str, Member] = {}
        self.goldens: dict[str, Golden] = {}
        # parent source key -> source keys of records naming it as their parent
        self.children: dict[str, set[str]] = defaultdict(set)
        self.dirty: set[str] = set()

    # ---------------------------------------------------------------- matching

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
            if profile.tax_id and other.tax_id and other.tax_id != profile.tax_id:
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

    # ---------------------------------------------------------------- records in

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

    # ---------------------------------------------------------------- commands

    def on_command(self, command: DedupeCommand) -> list[str]:
        """Apply a reviewer's merge or split; returns the golden ids it changed."""
        if command.action == "merge":
            return self._merge(command.client_ids, command)
        return self._split(command.client_ids[0], command.source_keys, command)

    def _merge(self, client_ids: list[str], command: DedupeCommand) -> list[str]:
        survivor_id = self._live(client_ids[0])
        if survivor_id is None:
            return []
        survivor = self.goldens[survivor_id]
        changed = [survivor_id]
        for other_id in client_ids[1:]:
            live = self._live(other_id)
            if live is None or live == survivor_id:
                continue
            other = self.goldens[live]
            for key in other.members:
                self.records[key].client_id = survivor_id
            survivor.members |= other.members
            other.members = set()
            other.retired_into = survivor_id
            other.decision = DedupeDecision.MERGED
            other.evidence = [self._manual_evidence(survivor_id, command, "merged into")]
            for absorbed in [live, *other.merged_client_ids]:
                if absorbed not in survivor.merged_client_ids:
                    survivor.merged_client_ids.append(absorbed)
            other.merged_client_ids = []
            self._touch(live)
            changed.append(live)
        if len(changed) > 1:
            survivor.decision = DedupeDecision.MERGED
            survivor.evidence = [
                self._manual_evidence(cid, command, "merged") for cid in changed[1:]
            ]
            self._touch(survivor_id)
        return changed if len(changed) > 1 else []

    def _split(self, client_id: str, source_keys: list[str], command: DedupeCommand) -> list[str]:
        golden = self.goldens.get(client_id)
        if golden is None or golden.retired_into is not None:
            return []
        moving = sorted(k for k in set(source_keys) if k in golden.members)
        if not moving or len(moving) == len(golden.members):
            return []  # nothing to split, or nothing would stay
        new_id = golden_id(f"split:{command.command_id}:{moving[0]}")
        new = self.goldens.setdefault(new_id, Golden(client_id=new_id))
        for key in moving:
            golden.members.discard(key)
            new.members.add(key)
            self.records[key].client_id = new_id
        new.decision = DedupeDecision.NEW
        new.evidence = [self._manual_evidence(client_id, command, "split off")]
        golden.evidence = [self._manual_evidence(new_id, command, "split into")]
        self._touch(client_id)
        self._touch(new_id)
        return [client_id, new_id]

    @staticmethod
    def _manual_evidence(client_id: str, command: DedupeCommand, what: str) -> MatchEvidence:
        reason = f"{what} {client_id} by {command.decided_by} (command {command.command_id})"
        if command.reason:
            reason += f": {command.reason}"
        return MatchEvidence(
            candidate_client_id=client_id,
            confidence=1.0,
            field_scores={"manual": 1.0},
            reasons=[reason],
        )

    def _live(self, client_id: str) -> str | None:
        """The golden id that now holds `client_id` (following merges), if any."""
        seen: set[str] = set()
        current: str | None = client_id
        while current is not None and current not in seen:
            seen.add(current)
            golden = self.goldens.get(current)
            if golden is None:
                return None
            if golden.retired_into is None:
                return current
            current = golden.retired_into
        return None

    # ---------------------------------------------------------------- hierarchy

    def _link_parent(self, member: Member) -> None:
        if member.profile.parent_key:
            self.children[member.profile.parent_key].add(member.profile.source_key)

    def _unlink_parent(self, member: Member) -> None:
        parent = member.profile.parent_key
        if parent and parent in self.children:
            self.children[parent].discard(member.profile.source_key)
            if not self.children[parent]:
                del self.children[parent]

    def parent_of(self, golden: Golden) -> str | None:
        members = sorted(
            (self.records[k] for k in golden.members),
            key=lambda m: self.survivorship._rank("most_recent", m.record),
        )
        for member in members:
            parent_key = member.profile.parent_key
            if parent_key and parent_key in self.records:
                parent_id = self.records[parent_key].client_id
                if parent_id != golden.client_id:
                    return parent_id
        return None

    def _touch(self, client_id: str) -> None:
        """Mark a golden client for rendering, and every golden client whose members name
        one of its members as their parent (their parent id may have changed)."""
        self.dirty.add(client_id)
        golden = self.goldens[client_id]
        for key in golden.members:
            for child in self.children.get(key, ()):
                child_member = self.records.get(child)
                if child_member is not None:
                    self.dirty.add(child_member.client_id)

    # ---------------------------------------------------------------- rendering

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
        return GoldenClient(
            client_id=golden.client_id,
            decision=golden.decision,
            trigger=golden.trigger or _NO_TRIGGER,
            record=self.survivorship.golden_record(golden.client_id, records, parent),
            parent_client_id=parent,
            source_records=[
                SourceRecordRef(
                    source_system=r.source_system, source_id=r.source_id, updated_at=r.updated_at
                )
                for r in records
            ],
            evidence=golden.evidence,
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

    # ---------------------------------------------------------------- restore

    def restore(
        self, last_events: Iterable[GoldenClient], records: Mapping[str, list[ClientRecord]]
    ) -> list[str]:
        """Rebuild the master from the last event of every golden client and the source
        records (every version read back, oldest first). Returns the source keys that a
        golden client names but whose record was not found."""
        missing: list[str] = []
        for event in last_events:
            golden = Golden(
                client_id=event.client_id,
                decision=event.decision,
                trigger=event.trigger,
                evidence=list(event.evidence),
                merged_client_ids=list(event.merged_client_ids),
                version=event.version,
                fingerprint=fingerprint(event),
            )
            if event.retired:
                for ev in event.evidence:
                    golden.retired_into = ev.candidate_client_id
                    break
                golden.retired_into = golden.retired_into or event.client_id
            self.goldens[event.client_id] = golden
            if event.retired:
                continue
            for ref in event.source_records:
                versions = records.get(ref.source_key)
                if not versions:
                    missing.append(ref.source_key)
                    continue
                # The version this golden client was built from (later, unprocessed versions
                # are redelivered by the consumer group and applied as updates).
                record = next(
                    (r for r in reversed(versions) if r.updated_at == ref.updated_at),
                    versions[-1],
                )
                member = Member(
                    record=record, profile=profile_of(record), client_id=golden.client_id
                )
                golden.members.add(ref.source_key)
                self.records[ref.source_key] = member
                self.index.add(member.profile)
                self._link_parent(member)
        self.dirty.clear()
        return missing


_NO_TRIGGER = SourceRecordRef(source_system="golden", source_id="-")
