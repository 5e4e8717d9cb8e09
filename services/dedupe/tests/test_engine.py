from decimal import Decimal

import pytest

from territory.dedupe.engine import DedupeEngine, EngineSettings, golden_id, shares_nothing
from territory.dedupe.normalize import profile_of
from territory.dedupe.scoring import Thresholds
from territory.dedupe.survivorship import SurvivorshipSettings
from territory.shared.events import DedupeCommand, DedupeDecision

from .conftest import at, make_record

ADDRESS = {"country": "CA", "city": "Toronto", "postal_code": "M5H 2N2", "address": "38 Bay St."}


def test_new_then_merged_with_evidence():
    engine = DedupeEngine()
    first = engine.on_record(make_record("salesforce", "1", name="Cedar Energy Inc.", **ADDRESS))
    out = engine.drain()
    assert first.decision is DedupeDecision.NEW
    assert [g.client_id for g in out] == [golden_id("salesforce:1")]
    second = engine.on_record(make_record("hubspot", "7", name="CEDAR ENERGY INC", **ADDRESS))
    (golden,) = engine.drain()
    assert second.decision is DedupeDecision.MERGED
    assert golden.client_id == first.client_id
    assert golden.decision is DedupeDecision.MERGED
    assert golden.version == 2
    assert {r.source_key for r in golden.source_records} == {"salesforce:1", "hubspot:7"}
    (evidence,) = golden.evidence
    assert evidence.confidence >= EngineSettings().thresholds.merge
    assert evidence.field_scores["postal_code"] > 0


def test_records_placed_in_one_batch_each_keep_their_own_match_evidence():
    # Three records of one client and a look-alike arrive before one emission (a consumer
    # batch): the one event explains every record, not only the last one placed.
    engine = DedupeEngine()
    engine.on_record(make_record("salesforce", "1", name="Cedar Energy Inc.", **ADDRESS))
    engine.on_record(make_record("hubspot", "7", name="CEDAR ENERGY INC", **ADDRESS))
    engine.on_record(make_record("dynamics", "3", name="Cedar Energy", **ADDRESS))
    (golden,) = engine.drain()
    assert golden.trigger.source_key == "dynamics:3"
    by_key = {m.source.source_key: m for m in golden.matches}
    assert golden.matches[0].source.source_key == "dynamics:3"
    assert sorted(by_key) == ["dynamics:3", "hubspot:7", "salesforce:1"]
    merge = EngineSettings().thresholds.merge
    for key, match in by_key.items():
        assert match.decision is DedupeDecision.MERGED, key
        (evidence,) = match.evidence
        assert evidence.candidate_client_id == golden.client_id
        assert evidence.confidence >= merge
        # The pair named is another record of the same client.
        assert evidence.reasons[0] != f"matched source record {key}"
    engine.on_record(make_record("csv", "9", name="Summit Logistics"))
    (alone,) = engine.drain()
    (only,) = alone.matches
    assert only.decision is DedupeDecision.NEW
    assert only.evidence == []


def test_thresholds_decide_between_merge_review_and_new():
    a = make_record("salesforce", "1", name="Cedar Energy", country="CA")
    b = make_record("hubspot", "2", name="Cedar Energy", country="CA")
    for thresholds, expected in [
        (Thresholds(merge=0.9, review=0.5), DedupeDecision.MERGED),
        (Thresholds(merge=0.999, review=0.5), DedupeDecision.POSSIBLE_DUPLICATE),
        (Thresholds(merge=0.999, review=0.998), DedupeDecision.NEW),
    ]:
        engine = DedupeEngine(EngineSettings(thresholds=thresholds))
        engine.on_record(a)
        engine.drain()
        placement = engine.on_record(b)
        assert placement.decision is expected, thresholds
        (golden,) = engine.drain()
        if expected is DedupeDecision.POSSIBLE_DUPLICATE:
            assert golden.client_id != golden_id("salesforce:1")
            assert golden.evidence[0].candidate_client_id == golden_id("salesforce:1")


def test_different_organisations_stay_apart():
    engine = DedupeEngine()
    engine.on_record(make_record("salesforce", "1", name="Cedar Energy", country="CA"))
    placement = engine.on_record(make_record("salesforce", "2", name="Summit Logistics"))
    assert placement.decision is DedupeDecision.NEW


def test_update_of_a_known_record_updates_its_golden_client():
    engine = DedupeEngine()
    engine.on_record(make_record(name="Cedar Energy", employee_count=10, updated_at=at(1)))
    engine.drain()
    placement = engine.on_record(
        make_record(name="Cedar Energy", employee_count=35, updated_at=at(5))
    )
    (golden,) = engine.drain()
    assert placement.update
    assert golden.record.employee_count == 35
    assert golden.version == 2
    # An older version arriving late changes nothing.
    engine.on_record(make_record(name="Cedar Energy", employee_count=1, updated_at=at(2)))
    assert engine.drain() == []


def test_redelivery_emits_nothing():
    engine = DedupeEngine()
    record = make_record(name="Cedar Energy", updated_at=at(1))
    engine.on_record(record)
    assert len(engine.drain()) == 1
    engine.on_record(record)
    assert engine.drain() == []


def test_survivorship_most_recent_source_priority_and_no_blank_overwrite():
    settings = EngineSettings(
        survivorship=SurvivorshipSettings(
            source_priority=["dynamics", "salesforce"],
            default_rule="most_recent",
            rules={"name": "source_priority", "aum_usd": "most_complete"},
        )
    )
    engine = DedupeEngine(settings)
    engine.on_record(
        make_record(
            "salesforce",
            "1",
            name="Cedar Energy Inc.",
            employee_count=10,
            aum_usd="100",
            website="cedar.example.com",
            updated_at=at(1),
            **ADDRESS,
        )
    )
    engine.on_record(
        make_record(
            "dynamics",
            "2",
            name="CEDAR ENERGY, INC",
            employee_count=20,
            updated_at=at(9),
            **ADDRESS,
        )
    )
    golden = engine.drain()[-1]
    assert golden.record.name == "CEDAR ENERGY, INC"  # dynamics is trusted first
    assert golden.record.employee_count == 20  # most recent
    assert golden.record.website == "cedar.example.com"  # a blank never overwrites
    assert golden.record.aum_usd == Decimal("100")  # the most complete record has it
    assert golden.record.source_system == "golden"
    assert golden.record.source_id == golden.client_id


def test_parent_arriving_after_its_child_re_emits_the_child():
    engine = DedupeEngine()
    engine.on_record(
        make_record("salesforce", "c", name="Atlas Holdings Europe Ltd", parent_source_id="p")
    )
    (child,) = engine.drain()
    assert child.parent_client_id is None
    engine.on_record(make_record("salesforce", "p", name="Atlas Holdings Ltd"))
    out = {g.client_id: g for g in engine.drain()}
    parent_id, child_id = golden_id("salesforce:p"), golden_id("salesforce:c")
    assert set(out) == {parent_id, child_id}
    assert out[child_id].parent_client_id == parent_id
    assert out[child_id].version == 2
    assert out[child_id].record.parent_source_id == parent_id


@pytest.mark.parametrize("newer", ["salesforce", "hubspot"])
def test_members_naming_two_parents_take_the_most_recent_members(newer: str) -> None:
    # Two records of one client name different parents: the golden client's parent is the
    # one its most recently updated member names (whatever the order the members are held
    # in, and however many records are unpacked to rank them).
    engine = DedupeEngine()
    engine.on_record(make_record("salesforce", "p", name="Atlas Holdings Ltd"))
    engine.on_record(make_record("hubspot", "q", name="Brightwater Power Group"))
    days = {"salesforce": 1, "hubspot": 1, newer: 9}
    engine.on_record(
        make_record(
            "salesforce",
            "c",
            name="Cedar Energy Inc.",
            parent_source_id="p",
            updated_at=at(days["salesforce"]),
            **ADDRESS,
        )
    )
    engine.on_record(
        make_record(
            "hubspot",
            "d",
            name="CEDAR ENERGY INC",
            parent_source_id="q",
            updated_at=at(days["hubspot"]),
            **ADDRESS,
        )
    )
    out = {g.client_id: g for g in engine.drain()}
    child = out[golden_id("salesforce:c")]
    assert {r.source_key for r in child.source_records} == {"salesforce:c", "hubspot:d"}
    parent = {"salesforce": "salesforce:p", "hubspot": "hubspot:q"}[newer]
    assert child.parent_client_id == golden_id(parent)


def test_merge_command_retires_the_absorbed_client_and_repoints_children():
    engine = DedupeEngine()
    engine.on_record(make_record("salesforce", "a", name="Cedar Energy"))
    engine.on_record(make_record("dynamics", "b", name="Brightwater Power"))
    engine.on_record(make_record("dynamics", "k", name="Kid Co", parent_source_id="b"))
    engine.drain()
    a, b = golden_id("salesforce:a"), golden_id("dynamics:b")
    command = DedupeCommand(action="merge", client_ids=[a, b], decided_by="reviewer@x.com")
    assert engine.on_command(command) == [a, b]
    out = {g.client_id: g for g in engine.drain()}
    assert out[b].retired
    assert out[b].evidence[0].candidate_client_id == a
    assert out[a].merged_client_ids == [b]
    assert {r.source_key for r in out[a].source_records} == {"salesforce:a", "dynamics:b"}
    assert out[golden_id("dynamics:k")].parent_client_id == a
    # Applying the same command again changes nothing.
    assert engine.on_command(command) == []
    assert engine.drain() == []


def test_split_command_moves_records_to_a_new_client():
    engine = DedupeEngine()
    engine.on_record(make_record("salesforce", "1", name="Cedar Energy", **ADDRESS))
    engine.on_record(make_record("hubspot", "2", name="Cedar Energy", **ADDRESS))
    engine.drain()
    gid = golden_id("salesforce:1")
    command = DedupeCommand(
        action="split", client_ids=[gid], source_keys=["hubspot:2"], decided_by="r@x.com"
    )
    changed = engine.on_command(command)
    out = {g.client_id: g for g in engine.drain()}
    assert set(out) == set(changed)
    assert len(changed) == 2
    new_id = changed[1]
    assert [r.source_key for r in out[gid].source_records] == ["salesforce:1"]
    assert [r.source_key for r in out[new_id].source_records] == ["hubspot:2"]
    # Updates of the split-off record stay with its new client.
    engine.on_record(make_record("hubspot", "2", name="Cedar Energy", employee_count=3, **ADDRESS))
    assert [g.client_id for g in engine.drain()] == [new_id]


def test_restore_rebuilds_the_master_without_re_emitting():
    engine = DedupeEngine()
    records = [
        make_record("salesforce", "1", name="Cedar Energy", updated_at=at(1), **ADDRESS),
        make_record("hubspot", "2", name="Cedar Energy Inc", updated_at=at(2), **ADDRESS),
        make_record("salesforce", "3", name="Summit Logistics", parent_source_id="1"),
    ]
    emitted = {}
    for record in records:
        engine.on_record(record)
        for golden in engine.drain():
            emitted[golden.client_id] = golden
    by_key = {}
    for record in records:
        by_key.setdefault(record.source_key, []).append(record)
    restored = DedupeEngine()
    assert restored.restore(emitted.values(), by_key).missing == []
    for record in records:  # redelivered after a crash
        restored.on_record(record)
    assert restored.drain() == []
    # … and new input continues from the same state.
    restored.on_record(make_record("dynamics", "9", name="CEDAR ENERGY", **ADDRESS))
    (golden,) = restored.drain()
    assert golden.client_id == golden_id("salesforce:1")
    assert golden.version == emitted[golden.client_id].version + 1


def test_a_consumed_record_is_not_validated_again_inside_dedupe(monkeypatch):
    """The consumer validated the record at the boundary; placing it, surviving its values
    into the golden record and rendering the event must not run the contract again."""
    import territory.shared.events.client as contract

    first = make_record("crm", "1", name="Acme Pension Fund", country="CA", city="Toronto")
    second = make_record("erp", "9", name="ACME Pension Fund", country="CA", city="Toronto")
    calls: list[object] = []
    real = contract._country_code  # (run by every validation of a record with a country)

    def counting(value):
        calls.append(value)
        return real(value)

    monkeypatch.setattr(contract, "_country_code", counting)
    make_record("probe", "0", name="Probe", country="CA")
    assert calls, "the probe must see a validation"
    calls.clear()
    engine = DedupeEngine()
    engine.on_record(first)
    engine.on_record(second)
    emitted = engine.drain()
    assert emitted
    assert {e.record.name for e in emitted} >= {"Acme Pension Fund"}
    assert calls == []


def test_a_reused_source_key_is_flagged_not_taken_as_an_update():
    from territory.dedupe.master import REUSED_SOURCE_KEY

    engine = DedupeEngine()
    old = make_record(
        "salesforce",
        "1",
        name="Cedar Energy Inc.",
        country="CA",
        city="Toronto",
        postal_code="M5H 2N2",
        website="cedar.example.com",
        updated_at=at(1),
    )
    first = engine.on_record(old)
    engine.drain()
    new = make_record(
        "salesforce",
        "1",
        name="Summit Logistics GmbH",
        country="DE",
        city="München",
        postal_code="80331",
        updated_at=at(2),
    )
    placement = engine.on_record(new)
    out = engine.drain()
    assert placement.decision == DedupeDecision.POSSIBLE_DUPLICATE
    assert not placement.update
    assert placement.client_id != first.client_id
    (golden,) = out  # the held client is untouched: nothing re-emitted for it
    assert golden.client_id == placement.client_id
    assert golden.record.name == "Summit Logistics GmbH"
    assert [r.source_key for r in golden.source_records] == ["salesforce:1"]
    (evidence,) = golden.evidence
    assert evidence.candidate_client_id == first.client_id
    assert evidence.reasons[0] == REUSED_SOURCE_KEY
    assert "Cedar Energy Inc." in evidence.reasons[1]
    assert "Summit Logistics GmbH" in evidence.reasons[1]
    held = engine.render(engine.goldens[first.client_id])
    assert held.record.name == "Cedar Energy Inc."
    # A later version of the key updates its newest incarnation.
    later = engine.on_record(new.model_copy(update={"employee_count": 7, "updated_at": at(3)}))
    assert later.update
    assert later.client_id == placement.client_id
    (updated,) = engine.drain()
    assert updated.record.employee_count == 7
    # Restored from its events, the master holds both incarnations the same way.
    restored = DedupeEngine()
    missing = restored.restore(
        [held, updated], {"salesforce:1": [old, new, new.model_copy(update={"updated_at": at(3)})]}
    )
    assert missing.missing == []
    assert restored.goldens[first.client_id].members == {"salesforce:1"}
    assert restored.reused["salesforce:1"] in restored.goldens[placement.client_id].members


def test_a_renamed_record_sharing_an_identifier_is_an_update():
    engine = DedupeEngine()
    engine.on_record(
        make_record(
            "salesforce", "1", name="Cedar Energy Inc.", website="cedar.com", updated_at=at(1)
        )
    )
    placement = engine.on_record(
        make_record(
            "salesforce", "1", name="Northwind Power", website="cedar.com", updated_at=at(2)
        )
    )
    assert placement.update
    (golden,) = engine.drain()
    assert golden.record.name == "Northwind Power"


@pytest.mark.parametrize(
    ("old", "new", "reused"),
    [
        # Only generic words and a connective in common: another organisation.
        (
            {"name": "Nakamura & Caldwell Investments LLC"},
            {"name": "Bianchi & Chen Investments Ltd."},
            True,
        ),
        (
            {"name": "Oakridge Municipal Pension Fund"},
            {"name": "Summit Municipal Pension Fund"},
            True,
        ),
        # A shared postcode alone is no evidence (many organisations share one).
        (
            {"name": "Rutherford Stiftung", "postal_code": "80331"},
            {"name": "Vasquez Family Office LLC", "postal_code": "80331"},
            True,
        ),
        # A distinctive word, an identifier or the street address in common: an update.
        ({"name": "Pinnacle Asset Management SA"}, {"name": "Pinnacle Partners AB"}, False),
        (
            {"name": "Rutherford Stiftung", "website": "rutherford.example.org"},
            {"name": "Vasquez Family Office LLC", "website": "rutherford.example.org"},
            False,
        ),
        (
            {"name": "Rutherford Stiftung", "address": "12 Harbour Street"},
            {"name": "Vasquez Family Office LLC", "address": "12 Harbour Street"},
            False,
        ),
        ({"name": "Capital Bank"}, {"name": "Capital Bank"}, False),
    ],
)
def test_a_reused_key_is_told_from_an_update_by_distinctive_evidence(old, new, reused):
    a = profile_of(make_record("salesforce", "1", country="DE", **old))
    b = profile_of(make_record("salesforce", "1", country="DE", **new))
    assert shares_nothing(a, b) is reused


@pytest.mark.parametrize(
    ("other_tax_id", "together"),
    [
        ("04-2103549", True),  # two neighbouring digits swapped: a typo, one entity
        ("04-2108594", True),  # one digit mistyped
        ("27-1234567", False),  # another tax id altogether: another legal entity
    ],
)
def test_a_typo_in_a_tax_id_does_not_keep_a_duplicate_apart(
    other_tax_id: str, together: bool
) -> None:
    engine = DedupeEngine(EngineSettings())
    fields = {"name": "Cedar Energy Inc.", "country": "US", "city": "Boston"}
    fields |= {"address": "12 Harbor Street", "postal_code": "02110"}
    first = engine.on_record(make_record("salesforce", "1", tax_id="04-2103594", **fields))
    second = engine.on_record(make_record("hubspot", "7", tax_id=other_tax_id, **fields))
    engine.drain()
    assert (first.client_id == engine.records[second.source_key].client_id) is together
