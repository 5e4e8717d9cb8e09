"""The master: every known source record, the golden clients and the parent links between
records; how a golden client is found after merges, marked for rendering, and restored
from the topics on start.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import cast

from pydantic import BaseModel, Field

from territory.dedupe.index import CandidateIndex, IndexSettings
from territory.dedupe.normalize import Profile, profile_of
from territory.dedupe.scoring import Comparison, FieldWeights, Scorer, Thresholds
from territory.dedupe.survivorship import Survivorship, SurvivorshipSettings
from territory.shared.events import (
    ClientRecord,
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
    match_limit: int = Field(
        100,
        ge=1,
        description="Source records whose match evidence one event carries (the trigger's "
        "first); a bigger client's other records keep the evidence last loaded for them.",
    )


REUSED_SOURCE_KEY = "reused_source_key"


def reused_member_key(source_key: str, record: ClientRecord) -> str:
    """The member key of a reused source key's later incarnation (the first keeps the
    plain source key): `<source key>@reused:<updated_at>`."""
    stamp = record.updated_at.isoformat() if record.updated_at is not None else "unknown"
    return f"{source_key}@{REUSED_SOURCE_KEY}:{stamp}"


def golden_id(seed: str) -> str:
    """Deterministic golden id: the same founding record always gives the same id."""
    return "gc-" + hashlib.blake2b(seed.encode(), digest_size=10).hexdigest()


class _Layout:
    """Which fields of a packed record are stored (those not at their default), and the
    record's `model_fields_set`: shared by every record of that shape."""

    __slots__ = ("fields_set", "lists", "names", "template")

    def __init__(self, names: tuple[str, ...], fields_set: frozenset[str]) -> None:
        self.names = names
        self.fields_set = fields_set
        # Every field at its default, in the model's order (a dump follows this order).
        self.template: dict[str, object] = dict.fromkeys(_RECORD_FIELDS)
        self.lists = tuple(n for n in _RECORD_FIELDS if n in _LIST_FIELDS and n not in names)


_RECORD_FIELDS = tuple(ClientRecord.model_fields)
# Fields whose default is a fresh empty list (stored only when not empty).
_LIST_FIELDS = frozenset(
    n for n, f in ClientRecord.model_fields.items() if f.default_factory is list
)
_NONE_FIELDS = frozenset(
    n for n, f in ClientRecord.model_fields.items() if f.default is None and n not in _LIST_FIELDS
)
# Fields whose values repeat across records (interned: one string per distinct value).
_REPEATED_FIELDS = frozenset(
    {"source_system", "country", "state", "city", "postal_code", "industry"}
)
_LAYOUTS: dict[tuple[tuple[str, ...], frozenset[str]], _Layout] = {}
_new_record = ClientRecord.__new__
_set = object.__setattr__


def pack_record(record: ClientRecord) -> tuple[object, ...] | ClientRecord:
    """A record as one tuple `(layout, *values not at their default)`: about a tenth of a
    pydantic model's bytes (its `__dict__` of 21 fields and its fields set), for a master
    that holds every record of a million golden clients. A record the packing cannot
    reproduce exactly (extra or private attributes, another field order) is kept as is."""
    values = record.__dict__
    if (
        type(record) is not ClientRecord
        or record.__pydantic_extra__
        or record.__pydantic_private__
        or len(values) != len(_RECORD_FIELDS)
    ):
        return record
    names = []
    stored = []
    for name, value in values.items():
        if value is None and name in _NONE_FIELDS:
            continue
        if name in _LIST_FIELDS and type(value) is list and not value:
            continue
        if name in _REPEATED_FIELDS and type(value) is str:
            value = sys.intern(value)
        names.append(name)
        stored.append(value)
    shape = (tuple(names), frozenset(record.__pydantic_fields_set__))
    layout = _LAYOUTS.get(shape)
    if layout is None:
        if tuple(values) != _RECORD_FIELDS:
            return record
        layout = _LAYOUTS.setdefault(shape, _Layout(*shape))
    return (layout, *stored)


def unpack_record(packed: tuple[object, ...] | ClientRecord) -> ClientRecord:
    """The `ClientRecord` `pack_record` packed: equal to it field by field, fields set
    included (what `model_construct` builds, without its per-field default lookups)."""
    if not isinstance(packed, tuple):
        return packed
    layout = packed[0]
    assert isinstance(layout, _Layout)
    values = layout.template.copy()
    values.update(zip(layout.names, packed[1:], strict=True))
    for name in layout.lists:
        values[name] = []
    record = _new_record(ClientRecord)
    _set(record, "__dict__", values)
    _set(record, "__pydantic_fields_set__", set(layout.fields_set))
    _set(record, "__pydantic_extra__", None)
    _set(record, "__pydantic_private__", None)
    return record


def packed_value(packed: tuple[object, ...] | ClientRecord, name: str) -> object:
    """One field of a packed record (`pack_record`), without unpacking it."""
    if not isinstance(packed, tuple):
        return getattr(packed, name)
    layout = packed[0]
    assert isinstance(layout, _Layout)
    if name in layout.names:
        return packed[1 + layout.names.index(name)]
    return [] if name in _LIST_FIELDS else None


_NO_IDS: frozenset[str] = frozenset()  # (CPython makes a new empty frozenset each time)
_NO_EXTRA = cast(dict[str, str], MappingProxyType({}))  # read-only: shared by every profile


def compact_profile(
    profile: Profile, held: Profile | None, packed: tuple[object, ...] | ClientRecord
) -> Profile:
    """The profile a member keeps, its values unchanged but not stored twice: words,
    cities and postcodes interned (a million records use a few hundred thousand), empty
    sets and maps shared, the LEI and the source key the very strings the record and the
    profile held before already hold. Done before the profile is indexed."""
    intern = sys.intern
    profile.tokens = tuple([intern(t) for t in profile.tokens])
    for attr in ("city", "postal_code", "country", "legal_form", "city_id"):
        value = getattr(profile, attr)
        if type(value) is str:
            setattr(profile, attr, intern(value))
    if not profile.unchecked_ids:
        profile.unchecked_ids = _NO_IDS
    if not profile.legal_jurisdictions:
        profile.legal_jurisdictions = _NO_IDS
    if not profile.extra:
        profile.extra = _NO_EXTRA
    lei = packed_value(packed, "lei")
    if profile.lei is not None and profile.lei == lei:
        assert isinstance(lei, str)
        profile.lei = lei
    if held is not None and held.source_key == profile.source_key:
        profile.source_key = held.source_key
    return profile


class Member:
    """One held source record: its latest version (stored packed, `pack_record`), its
    comparable profile and the golden client holding it."""

    __slots__ = ("_packed", "_profile", "client_id", "reused_reasons")

    def __init__(
        self,
        record: ClientRecord,
        profile: Profile,
        client_id: str,
        reused_reasons: list[str] | None = None,
    ) -> None:
        self._packed = pack_record(record)
        self._profile = compact_profile(profile, None, self._packed)
        self.client_id = client_id
        # A reused source key's later incarnation: the reasons naming both versions (its
        # golden client is flagged for review against the held client's).
        self.reused_reasons = reused_reasons

    @property
    def record(self) -> ClientRecord:
        return unpack_record(self._packed)

    @record.setter
    def record(self, record: ClientRecord) -> None:
        self._packed = pack_record(record)

    @property
    def profile(self) -> Profile:
        return self._profile

    @profile.setter
    def profile(self, profile: Profile) -> None:
        self._profile = compact_profile(profile, self._profile, self._packed)

    @property
    def source_key(self) -> str:
        """The record's source key (`record.source_key`, without unpacking it)."""
        packed = self._packed
        if isinstance(packed, tuple):
            return f"{packed[1]}:{packed[2]}"  # source_system, source_id: always stored
        return packed.source_key

    def ref(self) -> SourceRecordRef:
        """The record's reference (source system, id, version), without unpacking it."""
        packed = self._packed
        if isinstance(packed, tuple):
            system, source_id = packed[1], packed[2]  # always stored
            assert isinstance(system, str)
            assert isinstance(source_id, str)
        else:
            system, source_id = packed.source_system, packed.source_id
        return SourceRecordRef(
            source_system=system, source_id=source_id, updated_at=self.updated_at
        )

    @property
    def updated_at(self) -> datetime | None:
        """`record.updated_at`, without unpacking the record."""
        value = packed_value(self._packed, "updated_at")
        assert value is None or isinstance(value, datetime)
        return value

    def __repr__(self) -> str:
        return f"Member({self.record!r}, client_id={self.client_id!r})"


@dataclass(slots=True)
class Golden:
    client_id: str
    members: set[str] = field(default_factory=set)
    decision: DedupeDecision = DedupeDecision.NEW
    # The record that last changed it, packed (`pack_ref`): read and set as `trigger`.
    packed_trigger: PackedRef | SourceRecordRef | None = None
    # Sequences that are replaced, never changed in place: the empty ones (most clients')
    # are then one shared tuple, not three new lists per golden client.
    evidence: Sequence[MatchEvidence] = ()
    merged_client_ids: Sequence[str] = ()
    retired_into: str | None = None
    # Reviewers' decisions that shaped this client (sticky: every later event carries
    # them, so a restart reads the decision back as constraints).
    manual: Sequence[MatchEvidence] = ()
    version: int = 0  # last emitted
    fingerprint: str | None = None  # of the last emitted content

    @property
    def trigger(self) -> SourceRecordRef | None:
        return unpack_ref(self.packed_trigger)

    @trigger.setter
    def trigger(self, ref: SourceRecordRef | None) -> None:
        self.packed_trigger = pack_ref(ref)


PackedRef = tuple[str, str, datetime | None, frozenset[str]]
_REF_FIELDS = tuple(SourceRecordRef.model_fields)
_REF_SETS: dict[frozenset[str], frozenset[str]] = {}
_new_ref = SourceRecordRef.__new__


def pack_ref(ref: SourceRecordRef | None) -> PackedRef | SourceRecordRef | None:
    """A source record reference as a plain tuple (source system, source id, updated at,
    fields set): 72 bytes for what a pydantic model with its `__dict__` and fields set
    holds in about 500 (one per golden client). Kept as is when it cannot be reproduced."""
    if ref is None:
        return None
    values = ref.__dict__
    if (
        type(ref) is not SourceRecordRef
        or ref.__pydantic_extra__
        or ref.__pydantic_private__
        or tuple(values) != _REF_FIELDS
    ):
        return ref
    fields_set = frozenset(ref.__pydantic_fields_set__)
    return (
        sys.intern(ref.source_system),
        ref.source_id,
        ref.updated_at,
        _REF_SETS.setdefault(fields_set, fields_set),
    )


def unpack_ref(packed: PackedRef | SourceRecordRef | None) -> SourceRecordRef | None:
    """The `SourceRecordRef` `pack_ref` packed (equal to it, fields set included)."""
    if packed is None or not isinstance(packed, tuple):
        return packed
    system, source_id, updated_at, fields_set = packed
    ref = _new_ref(SourceRecordRef)
    _set(
        ref, "__dict__", {"source_system": system, "source_id": source_id, "updated_at": updated_at}
    )
    _set(ref, "__pydantic_fields_set__", set(fields_set))
    _set(ref, "__pydantic_extra__", None)
    _set(ref, "__pydantic_private__", None)
    return ref


@dataclass(slots=True)
class Placement:
    """Where one incoming record went, and the comparisons that decided it."""

    source_key: str
    client_id: str
    decision: DedupeDecision
    update: bool
    comparisons: list[tuple[str, Comparison]]  # (candidate golden id, best comparison)


def fingerprint(golden: GoldenClient) -> str:
    """Content of a golden client that matters downstream (not the event's metadata): the
    golden record, lineage, parent, retirement, and its review status (decision and the
    clients its evidence names), so a client that becomes (or stops being) a possible
    duplicate because of another client's records is emitted again. Per-record `matches`
    follow from the same state and ride along on every emission."""
    content = golden.model_dump_json(  # (pydantic's own JSON: no dict built, no json.dumps)
        exclude={"version", "trigger", "decision", "evidence", "matches"}
    )
    review = [golden.decision.value, *sorted({e.candidate_client_id for e in golden.evidence})]
    digest = hashlib.blake2b(content.encode(), digest_size=16)
    digest.update(json.dumps(review).encode())
    return digest.hexdigest()


MANUAL = "manual"


def system_of(key: str) -> str:
    return key.split(":", 1)[0]


@dataclass
class Restored:
    """What `Master.restore` read back besides the state (see there)."""

    # Source keys a golden client names whose record was not found.
    missing: list[str] = field(default_factory=list)
    # Golden id -> {source key it lost -> the golden id that holds the key now}.
    lost: dict[str, dict[str, str]] = field(default_factory=dict)
    # Source keys some event named that no live golden client holds.
    dropped: list[str] = field(default_factory=list)


class Master:
    """The engine's state and the bookkeeping every step shares (following merges,
    parent links, marking golden clients for rendering, restore)."""

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
        # What `pending()` rendered, with its fingerprint, for `mark_emitted` to reuse.
        self.rendered: dict[str, tuple[GoldenClient, str]] = {}
        # source key -> the member key of its current incarnation, for source keys reused
        # by their system for another organisation (see `DedupeEngine.on_record`).
        self.reused: dict[str, str] = {}
        # Pair evidence between member keys, both ways: confidence of every scored pair at
        # or above the review threshold (see `clustering`). Keys in `linked` had their
        # candidates looked up (a restored record is looked up when its cluster is touched).
        self.links: dict[str, dict[str, float]] = {}
        self.linked: set[str] = set()
        # Reviewers' constraints: records kept together / apart, and the golden id a
        # reviewer's decision fixed for the cluster holding an anchor key.
        self.together: dict[str, set[str]] = defaultdict(set)
        self.apart: set[frozenset[str]] = set()
        self.pins: dict[str, str] = {}
        self._priority = {s: i for i, s in enumerate(self.settings.survivorship.source_priority)}

    def rank(self, key: str) -> tuple[int, str]:
        """Order of member keys for choosing a cluster's anchor (its golden id): the most
        trusted source system first, then the smallest source key."""
        return (self._priority.get(system_of(key), len(self._priority)), key)

    def anchor(self, keys: Iterable[str]) -> str:
        return min(keys, key=self.rank)

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
        """The golden client of the parent named by the most recent member naming one held
        (most members name none: only those that do are ranked)."""
        records = self.records
        # (`Member.record` unpacks a new object each time: the list holds the ones ranked,
        # as `Survivorship._rank`'s cache by identity needs.)
        naming = [
            (m.record, parent)
            for m in (records[k] for k in golden.members)
            if (parent := m.profile.parent_key) and parent in records
        ]
        facts: dict[int, tuple[float, int, int, str]] = {}
        rank = self.survivorship._rank
        for _, parent in sorted(naming, key=lambda rp: rank("most_recent", rp[0], facts)):
            parent_id = records[parent].client_id
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

    def restore(
        self,
        last_events: Iterable[GoldenClient],
        records: Mapping[str, list[ClientRecord]],
        *,
        emitted_at: Mapping[str, datetime] | None = None,
        listed: Collection[str] = (),
    ) -> Restored:
        """Rebuild the master from the last event of every golden client and the source
        records (every version read back, oldest first).

        `emitted_at`: when each golden client's last event was emitted (its
        `occurred_at`); without it, the order of `last_events`. `listed`: every source key
        any golden client event ever named. Both serve the repair of a *torn batch*: the
        golden clients one batch changed are published together but not atomically (one
        partition each), so a crash can leave some of them on the topic and not the
        others. What that leaves is found here, and `DedupeEngine.restore` repairs it
        (`Restored`):
        - a source key in the last events of several live golden clients, none of them
          naming it as a reused key (`reused_source_key` evidence): a move or merge whose
          other side was lost. The client emitted last holds it (its event is the later
          decision); the others lose it (`Restored.lost`);
        - a source key some event named that no live golden client holds any more
          (`Restored.dropped`): a split or move whose receiving side was lost.
        """
        missing: list[str] = []
        placed: dict[str, list[tuple[Golden, ClientRecord]]] = defaultdict(list)
        # A live client's evidence is rendered afresh from the links (`assess`): only a
        # retired client's is kept; a live one's is read here for a reused key's reasons.
        shown: dict[str, Sequence[MatchEvidence]] = {}
        order: dict[str, int] = {}
        for event in last_events:
            order[event.client_id] = len(order)
            golden = Golden(
                client_id=event.client_id,
                decision=event.decision,
                packed_trigger=pack_ref(event.trigger),
                evidence=tuple(event.evidence) if event.retired else (),
                merged_client_ids=tuple(event.merged_client_ids),
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
            shown[event.client_id] = event.evidence
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
                placed[ref.source_key].append((golden, record))

        def emitted(holder: tuple[Golden, ClientRecord]) -> tuple[float, int]:
            cid = holder[0].client_id
            stamp = emitted_at.get(cid) if emitted_at else None
            return (stamp.timestamp() if stamp else float("-inf"), order[cid])

        restored = Restored(missing=missing)
        for source_key, holders in placed.items():
            if len(holders) > 1:
                holders = self._untorn(source_key, holders, shown, emitted, restored)
            # A source key held by several golden clients was reused by its system: the
            # oldest incarnation keeps the plain key, later ones their `reused` member key.
            for n, (golden, record) in enumerate(holders):
                key = source_key if n == 0 else reused_member_key(source_key, record)
                profile = profile_of(record)
                if key != source_key:
                    profile.source_key = key
                    self.reused[source_key] = key
                key = profile.source_key  # one string for the master, index and profile
                member = Member(record=record, profile=profile, client_id=golden.client_id)
                if key != source_key:
                    member.reused_reasons = next(
                        (
                            list(e.reasons)
                            for e in shown[golden.client_id]
                            if e.reasons and e.reasons[0] == REUSED_SOURCE_KEY
                        ),
                        [REUSED_SOURCE_KEY, f"source key {source_key} was reused"],
                    )
                golden.members.add(key)
                self.records[key] = member
                self.index.add(member.profile)
                self._link_parent(member)
        restored.dropped = sorted(k for k in listed if k not in placed and k in records)
        self.dirty.clear()
        return restored

    @staticmethod
    def _untorn(
        source_key: str,
        holders: list[tuple[Golden, ClientRecord]],
        shown: Mapping[str, Sequence[MatchEvidence]],
        emitted: Callable[[tuple[Golden, ClientRecord]], tuple[float, int]],
        restored: Restored,
    ) -> list[tuple[Golden, ClientRecord]]:
        """The holders of one source key in the order `restore` places them: its plain
        incarnation first (of several clients holding it plainly, the one emitted last;
        the others go to `restored.lost`), then its reused incarnations, oldest first."""
        prefix = f"source key {source_key} "

        def names_reuse(golden: Golden) -> bool:
            return any(
                len(e.reasons) > 1
                and e.reasons[0] == REUSED_SOURCE_KEY
                and e.reasons[1].startswith(prefix)
                for e in shown[golden.client_id]
            )

        def oldest(holder: tuple[Golden, ClientRecord]) -> tuple[bool, datetime | None]:
            return (holder[1].updated_at is not None, holder[1].updated_at)

        plain = [h for h in holders if not names_reuse(h[0])]
        reused = sorted((h for h in holders if names_reuse(h[0])), key=oldest)
        if not plain:
            return reused
        plain.sort(key=emitted)
        for golden, _ in plain[:-1]:
            restored.lost.setdefault(golden.client_id, {})[source_key] = plain[-1][0].client_id
        return [plain[-1], *reused]
