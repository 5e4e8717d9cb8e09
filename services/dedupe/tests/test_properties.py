import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from territory.dedupe.engine import DedupeEngine, EngineSettings
from territory.dedupe.normalize import profile_of
from territory.dedupe.scoring import Scorer
from territory.shared.events import DedupeCommand

from .conftest import make_record

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü", min_size=2, max_size=10)
names = st.lists(words, min_size=1, max_size=5).map(" ".join)
legal = st.sampled_from(["", " Inc.", " GmbH", " S.A. de C.V.", " Ltd", " & Co. KG"])
countries = st.sampled_from([None, "US", "DE", "MX", "JP"])


@settings(max_examples=200, deadline=None)
@given(
    name=names,
    suffix=legal,
    country=countries,
    postal=st.none() | st.text("0123456789", min_size=4, max_size=5),
)
def test_a_record_always_matches_itself(name, suffix, country, postal):
    record = make_record(name=f"{name}{suffix}", country=country, postal_code=postal)
    profile = profile_of(record)
    comparison = Scorer().compare(profile, profile)
    assert comparison.confidence >= EngineSettings().thresholds.merge
    assert "qualifier" not in comparison.field_scores


def _clients(n):
    engine = DedupeEngine()
    unrelated = ["Cedar Energy", "Summit Logistics", "Harbor Foods", "Atlas Mining", "Beacon Media"]
    for i in range(n):
        engine.on_record(make_record("salesforce", str(i), name=unrelated[i], country="US"))
    engine.drain()
    return engine, sorted(engine.goldens)


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(1, 5)), st.integers(min_value=1, max_value=3))
def test_merging_is_order_independent_for_the_golden_id(order, chunk):
    """Merges naming the same survivor, in any order and grouping, give the same golden
    client: same id, same members, same golden record."""
    results = []
    for permutation in (list(order), sorted(order)):
        engine, ids = _clients(5)
        survivor = ids[0]
        others = [ids[i] for i in permutation]
        for start in range(0, len(others), chunk):
            engine.on_command(
                DedupeCommand(
                    action="merge",
                    client_ids=[survivor, *others[start : start + chunk]],
                    decided_by="r@x.com",
                )
            )
        final = {g.client_id: g for g in engine.drain()}
        live = [g for g in final.values() if not g.retired]
        assert [g.client_id for g in live] == [survivor]
        results.append(
            (
                survivor,
                sorted(r.source_key for r in live[0].source_records),
                live[0].record.model_dump(),
                sorted(live[0].merged_client_ids),
            )
        )
    assert results[0] == results[1]


@settings(max_examples=20, deadline=None)
@given(st.permutations(range(4)))
def test_golden_record_does_not_depend_on_arrival_order(order):
    variants = [
        make_record("salesforce", "1", name="Cedar Energy Inc.", country="CA", employee_count=5),
        make_record(
            "hubspot", "2", name="CEDAR ENERGY INC", country="CA", website="cedar.example.com"
        ),
        make_record(
            "dynamics", "3", name="Cedar Energy, Incorporated", country="CA", city="Toronto"
        ),
        make_record("csv", "4", name="Cedar Energy", country="CA", postal_code="M5H 2N2"),
    ]
    engine = DedupeEngine()
    for i in order:
        engine.on_record(variants[i])
    out = engine.drain()
    (golden,) = [g for g in out if len(g.source_records) == 4]
    record = golden.record.model_dump(exclude={"source_id"})
    reference = DedupeEngine()
    for v in variants:
        reference.on_record(v)
    (ref,) = [g for g in reference.drain() if len(g.source_records) == 4]
    assert record == ref.record.model_dump(exclude={"source_id"})
    assert list(itertools.chain(golden.source_records)) == ref.source_records
