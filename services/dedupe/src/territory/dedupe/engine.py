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

A reused source key: when a newer version of a known source key shares nothing with the
version held (`shares_nothing`: no distinctive name word in common, no equal identifier
(LEI, tax id, web domain) and no equal street address), the source system has reused the
key for another organisation. The held client is not overwritten: the new version founds
its own golden client flagged `possible_duplicate`, with evidence naming the held client,
the reason `reused_source_key` and both versions. Later versions of the key update that
newest incarnation (its member key is `reused_member_key`).

Hierarchy: a record's `parent_source_id` names a record of the same source system. The
golden client's `parent_client_id` is the golden client holding that record; when the
parent arrives later, moves (merge, split) or is retired, every golden client whose members
point at it is rendered again, and re-emitted if its parent changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from territory.dedupe.commands import Commands
from territory.dedupe.knowledge import generic_words
from territory.dedupe.master import (
    REUSED_SOURCE_KEY,
    EngineSettings,
    Golden,
    Member,
    Placement,
    Restored,
    fingerprint,
    golden_id,
    reused_member_key,
)
from territory.dedupe.normalize import Profile, profile_of
from territory.dedupe.rendering import Rendering
from territory.dedupe.scoring import Comparison
from territory.shared.events import (
    ClientRecord,
    DedupeDecision,
    GoldenClient,
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


def _stamp(record: ClientRecord) -> str:
    return record.updated_at.isoformat() if record.updated_at is not None else "unknown"


# Words that join a name's parts ("Nakamura & Caldwell", "Bank of X"): like the generic
# words, two names that share only these do not name the same organisation.
_CONNECTIVES = frozenset({"and", "of", "the", "for", "und", "et", "de", "du", "des", "la", "le"})


def distinctive_tokens(profile: Profile) -> set[str]:
    """The name words that say which organisation it is: not generic ("investments",
    "bank") and not connectives; all of them when a name has nothing else."""
    tokens = set(profile.tokens)
    return (tokens - generic_words() - _CONNECTIVES) or tokens


def shares_nothing(old: Profile, new: Profile) -> bool:
    """Two versions of one source key describe different organisations: no distinctive
    name word in common, and no identifier (LEI, tax id, web domain) or street address
    equal on both sides. A shared postcode alone is no evidence: many organisations share
    one."""
    if old.name == new.name or distinctive_tokens(old) & distinctive_tokens(new):
        return False
    for attr in ("lei", "tax_id", "domain", "address"):
        a, b = getattr(old, attr), getattr(new, attr)
        if a is not None and a == b:
            return False
    return True


class DedupeEngine(Commands, Rendering):
    """Records and commands in, golden clients out. The master state and its restore are
    `master`, pair evidence and clusters `clustering`, reviewers' decisions `commands`,
    golden records `rendering`; this class places records."""

    def on_record(self, record: ClientRecord, profile: Profile | None = None) -> Placement:
        """Place one record. `profile` overrides `profile_of(record)` (callers that compare
        attributes the contract has no field for, such as the benchmarks' dates of birth)."""
        source_key = record.source_key
        key = self.reused.get(source_key, source_key)
        ref = SourceRecordRef(
            source_system=record.source_system,
            source_id=record.source_id,
            updated_at=record.updated_at,
        )
        known = self.records.get(key)
        new_profile = profile
        if known is not None and shares_nothing(known.profile, profile or profile_of(record)):
            return self._reused(record, ref, known, new_profile)
        if known is not None:
            if (
                known.updated_at is not None
                and record.updated_at is not None
                and record.updated_at < known.updated_at
            ):
                # An older version arriving late never overwrites a newer one.
                return Placement(key, known.client_id, DedupeDecision.MERGED, True, [])
            if known.record == record and profile is None:
                # A redelivery (or, after a restart, the record the master was restored
                # with): nothing to place again. Re-linking a restored record here would
                # score it against the whole index, not the one it met live, and a replay
                # could then change golden clients it must leave alone.
                golden = self.goldens[known.client_id]
                return Placement(key, golden.client_id, self.decision_of(golden), True, [])
            before = set(self.goldens[known.client_id].members)
            self._unlink_parent(known)
            known.record = record
            known.profile = profile or profile_of(record)
            self._link_parent(known)
            self.index.add(known.profile)
            self._unlink(key)
            self._link(key)
            self._recluster({key} | before, ref)
            golden = self.goldens[known.client_id]
            golden.trigger = ref
            self._touch(golden.client_id)
            return Placement(key, golden.client_id, self.decision_of(golden), True, [])
        member = Member(record=record, profile=new_profile or profile_of(record), client_id="")
        return self._place(key, member, ref)

    def _place(self, key: str, member: Member, ref: SourceRecordRef) -> Placement:
        """A record not held yet: its pairs scored, its cluster(s) recomputed."""
        if member.profile.source_key == key:
            key = member.profile.source_key  # one string for the master, index and profile
        self.records[key] = member
        self.index.add(member.profile)
        self._link_parent(member)
        scored = self._link(key)
        self._recluster({key}, ref)
        golden = self.goldens[member.client_id]
        golden.trigger = ref
        self._touch(golden.client_id)
        best: dict[str, Comparison] = {}
        for other, comparison in scored:
            cid = self.records[other].client_id
            if cid not in best or comparison.confidence > best[cid].confidence:
                best[cid] = comparison
        ranked = sorted(best.items(), key=lambda kv: (-kv[1].confidence, kv[0]))
        decision = self.decision_of(golden)
        return Placement(
            key, golden.client_id, decision, False, ranked[: self.settings.evidence_limit]
        )

    def _reused(
        self, record: ClientRecord, ref: SourceRecordRef, known: Member, profile: Profile | None
    ) -> Placement:
        """A newer version of a known source key that shares nothing with the held one:
        a new golden client for review, the held client untouched."""
        source_key = record.source_key
        if (
            known.updated_at is not None
            and record.updated_at is not None
            and record.updated_at < known.updated_at
        ):
            return Placement(source_key, known.client_id, DedupeDecision.MERGED, True, [])
        key = reused_member_key(source_key, record)
        profile = dataclasses.replace(profile or profile_of(record), source_key=key)
        old_id = self._live(known.client_id) or known.client_id
        reasons = [
            REUSED_SOURCE_KEY,
            f"source key {source_key} now names {record.name!r} "
            f"(updated {_stamp(record)}); it named {known.record.name!r} "
            f"(updated {_stamp(known.record)}), held by {old_id}: name, identifiers "
            "and street address all disagree, so it is not taken as an update",
        ]
        member = Member(record=record, profile=profile, client_id="", reused_reasons=reasons)
        self.reused[source_key] = key
        placement = self._place(key, member, ref)
        comparison = self.scorer.compare(profile, known.profile)
        return Placement(
            source_key,
            placement.client_id,
            DedupeDecision.POSSIBLE_DUPLICATE,
            False,
            [(old_id, comparison)],
        )

    def restore(
        self,
        last_events: Iterable[GoldenClient],
        records: Mapping[str, list[ClientRecord]],
        *,
        emitted_at: Mapping[str, datetime] | None = None,
        listed: Collection[str] = (),
    ) -> Restored:
        """The master from the topics (`Master.restore`, then the reviewers' constraints),
        and the repair of a batch a crash tore (see `Master.restore`). What the repair
        changed is pending: the service publishes it before it decides anything else.
        - a golden client that lost source keys to the client emitted after it is
          rendered again without them, or retired into that client when none is left
          (what its lost event said: the batch merged it);
        - a dropped source key is placed again (its latest version), as if it arrived
          now: scored, clustered, and the golden client it lands in emitted."""
        restored = super().restore(last_events, records, emitted_at=emitted_at, listed=listed)
        for client_id, lost in restored.lost.items():
            golden = self.goldens[client_id]
            if not golden.members:
                holders = {cid: self.goldens[cid].members for cid in set(lost.values())}
                # The trigger of the client that took the most of its keys: the record
                # whose batch merged them.
                taker = min(holders, key=lambda cid: (-len(holders[cid] & set(lost)), cid))
                self._retire(golden, set(lost), holders, self.goldens[taker].trigger)
                self._touch(taker)
            self._touch(client_id)
            for key in lost:
                for child in self.children.get(key, ()):
                    if child in self.records:
                        self.dirty.add(self.records[child].client_id)
        for key in restored.dropped:
            self.on_record(records[key][-1])
        return restored

    def seed(self, record: ClientRecord, profile: Profile | None = None) -> str:
        """Add a record as its own golden client without matching (bulk-loading a master
        known to be de-duplicated, e.g. a migration or a benchmark). Emits nothing."""
        key = record.source_key
        profile = profile or profile_of(record)
        if profile.source_key == key:
            key = profile.source_key  # one string for the master, index and profile
        gid = golden_id(key)
        self.goldens[gid] = Golden(client_id=gid, members={key}, fingerprint="seeded", version=1)
        member = Member(record=record, profile=profile, client_id=gid)
        self.records[key] = member
        self.index.add(profile)
        self._link_parent(member)
        return gid
