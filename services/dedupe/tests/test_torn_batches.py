"""A crash while a batch's golden clients are being published leaves some of them on the
topic and not the others (each goes to its client's partition; nothing makes them atomic).
The restart rebuilds from the topic, repairs what the tear left (`DedupeEngine.restore`),
publishes the repairs and re-reads the batch: the topic must end where it would have
without the crash (found by the kill -9 fault test: one source record in two live golden
clients, the merged-away client's retirement lost)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territory.dedupe.engine import DedupeEngine, golden_id
from territory.shared.events import ClientRecord, GoldenClient

from .conftest import make_record
from .test_order import POOL, TORONTO

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Topic:
    """`client.deduplicated` as the rebuild reads it: every event with its `occurred_at`."""

    def __init__(self) -> None:
        self.events: list[tuple[datetime, GoldenClient]] = []

    def publish(self, goldens: list[GoldenClient]) -> None:
        stamp = T0 + timedelta(milliseconds=len(self.events))  # one batch: one instant
        self.events += [(stamp, g) for g in goldens]

    def restore(self, records: dict[str, list[ClientRecord]]) -> DedupeEngine:
        """What `DedupeService.rebuild` does with the topic, then the repairs published."""
        last: dict[str, GoldenClient] = {}
        emitted_at: dict[str, datetime] = {}
        listed: set[str] = set()
        for stamp, golden in self.events:
            listed.update(r.source_key for r in golden.source_records)
            if golden.client_id not in last or golden.version >= last[golden.client_id].version:
                last[golden.client_id] = golden
                emitted_at[golden.client_id] = stamp
        engine = DedupeEngine()
        engine.restore(last.values(), records, emitted_at=emitted_at, listed=listed)
        self.publish(engine.drain())
        return engine

    def final(self) -> dict[str, frozenset[str]]:
        """Every live golden client's source keys, from its last event."""
        last: dict[str, GoldenClient] = {}
        for _, golden in self.events:
            if golden.client_id not in last or golden.version > last[golden.client_id].version:
                last[golden.client_id] = golden
        return {
            cid: frozenset(r.source_key for r in g.source_records)
            for cid, g in last.items()
            if not g.retired
        }


def history(records: list[ClientRecord]) -> dict[str, list[ClientRecord]]:
    """`client.received` read back: every version of every key, oldest first."""
    out: dict[str, list[ClientRecord]] = defaultdict(list)
    for record in records:
        out[record.source_key].append(record)
    return out


def run(batches: list[list[ClientRecord]], crash: tuple[int, list[bool]] | None) -> Topic:
    """Feed the batches (each published once placed); `crash`: at batch n, only the
    golden clients whose flag is True reach the topic, then the process dies, restarts
    from the topic and the group redelivers batch n and the rest."""
    topic = Topic()
    engine = DedupeEngine()
    every = [r for batch in batches for r in batch]
    for n, batch in enumerate(batches):
        for record in batch:
            engine.on_record(record)
        out = engine.pending()
        if crash is not None and n == crash[0]:
            flags = crash[1]
            topic.publish([g for i, g in enumerate(out) if i < len(flags) and flags[i]])
            engine = topic.restore(history(every))
            for again in batches[n:]:
                for record in again:
                    engine.on_record(record)
                topic.publish(engine.drain())
            return topic
        engine.mark_emitted(out)
        topic.publish(out)
    return topic


def held_by_one(final: dict[str, frozenset[str]]) -> dict[str, list[str]]:
    holders: dict[str, list[str]] = defaultdict(list)
    for cid, keys in final.items():
        for key in keys:
            holders[key].append(cid)
    return {k: v for k, v in holders.items() if len(v) > 1}


def test_a_merge_whose_retirements_were_lost_retires_them_at_restart():
    web = make_record("hubspot", "1", name="Cedar Energy Inc.", website="cedar.ca", country="CA")
    place = make_record("dynamics", "2", name="Cedar Enrgy Inc", **TORONTO)
    bridge = make_record("salesforce", "3", name="Cedar Energy Inc", website="cedar.ca", **TORONTO)
    batches = [[web], [place], [bridge]]
    reference = run(batches, None).final()
    survivor = golden_id("salesforce:3")
    assert reference == {survivor: {"hubspot:1", "dynamics:2", "salesforce:3"}}
    # The bridge's batch emits the survivor first (sorted ids), then both retirements.
    torn = run(batches, (2, [True, False, False]))
    assert torn.final() == reference
    # The repairs are the two retirements, into the survivor, naming the bridge.
    repairs = [g for _, g in torn.events[-3:] if g.retired]
    assert {g.client_id for g in repairs} == {golden_id("hubspot:1"), golden_id("dynamics:2")}
    for golden in repairs:
        assert golden.evidence[0].candidate_client_id == survivor
        assert "salesforce:3" in golden.evidence[0].reasons[0]


def test_a_split_whose_new_client_was_lost_places_the_record_again():
    web = make_record("hubspot", "1", name="Cedar Energy Inc.", website="cedar.ca", country="CA")
    place = make_record("dynamics", "2", name="Cedar Enrgy Inc", **TORONTO)
    bridge = make_record("salesforce", "3", name="Cedar Energy Inc", website="cedar.ca", **TORONTO)
    unbridged = bridge.model_copy(
        update={"city": None, "postal_code": None, "address": None, "updated_at": T0}
    )
    batches = [[web, place, bridge], [unbridged]]
    reference = run(batches, None).final()
    assert golden_id("dynamics:2") in reference  # the update split it off again
    for n, flags in enumerate(([True, False], [False, True])):
        torn = run(batches, (1, flags))
        assert torn.final() == reference, n


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=st.lists(st.sampled_from(sorted(POOL)), min_size=3, unique=True),
    size=st.integers(1, 4),
    crash=st.integers(0, 20),
    flags=st.lists(st.booleans(), max_size=8),
    data=st.randoms(use_true_random=False),
)
def test_a_crash_anywhere_in_publishing_ends_where_no_crash_would(keys, size, crash, flags, data):
    """Any arrival order (each key's versions in order, as on its partition), any batch
    size, a crash at any batch with any subset of its golden clients published: the last
    event of every golden client says what it says without the crash, and no source key
    is in two live golden clients."""
    order = list(keys)
    data.shuffle(order)
    cursor = {k: iter(POOL[k]) for k in order}
    arrivals = [k for k in order for _ in POOL[k]]
    data.shuffle(arrivals)
    records = [next(cursor[k]) for k in arrivals]
    batches = [records[i : i + size] for i in range(0, len(records), size)]
    reference = run(batches, None).final()
    torn = run(batches, (crash % len(batches), flags)).final()
    assert held_by_one(torn) == {}
    assert torn == reference
