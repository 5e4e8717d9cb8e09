"""The project's sample data (data/sample): 3,247 records of 1,813 organisations."""

import csv
from pathlib import Path

import pytest
from pydantic import ValidationError

from territory.dedupe.engine import DedupeEngine
from territory.dedupe.index import CandidateIndex
from territory.dedupe.normalize import profile_of
from territory.dedupe.report import build_report, read_records, read_truth
from territory.shared.events import ClientRecord, DedupeDecision

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


@pytest.fixture(scope="module")
def truth():
    return read_truth(SAMPLE / "truth.csv")


@pytest.fixture(scope="module")
def parents():
    with (SAMPLE / "truth.csv").open(encoding="utf-8") as fh:
        return {row["entity_id"]: row["parent_entity_id"] or None for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def sample_run(truth):
    return build_report(read_records(SAMPLE / "clients.csv"), truth=truth)


def test_sample_duplicates_collapse_with_good_f1(sample_run):
    report, _ = sample_run
    assert report.rejected > 0  # the ~1% unusable rows are no records
    assert report.quarantined > 100  # ~6% keep their record, a field quarantined
    assert report.quality is not None
    assert report.quality.precision >= 0.95
    assert report.quality.recall >= 0.98
    assert report.quality.f1 >= 0.97
    assert report.quality.cluster_f1 >= 0.95
    assert report.counts["merged"] > 1000
    assert report.counts["update"] > 0


def test_sample_hierarchy_resolves_to_the_parent_golden_client(sample_run, truth, parents):
    _, engine = sample_run
    entity_of_golden = {}
    for key, member in engine.records.items():
        if key in truth:  # (a reused source key's later incarnation has a member key)
            entity_of_golden.setdefault(member.client_id, truth[key])
    checked = correct = 0
    for golden in engine.goldens.values():
        if not golden.members:
            continue
        rendered = engine.render(golden)
        if rendered.parent_client_id is None:
            continue
        checked += 1
        child_entity = entity_of_golden[golden.client_id]
        correct += entity_of_golden[rendered.parent_client_id] == parents[child_entity]
    assert checked > 50
    assert correct / checked >= 0.97


def test_blocking_finds_nearly_every_true_duplicate(truth):
    records = []
    for row in read_records(SAMPLE / "clients.csv"):
        try:
            records.append(ClientRecord.model_validate(row))
        except ValidationError:
            continue
    index = CandidateIndex()
    profiles = {}
    for record in records:
        profiles[record.source_key] = profile_of(record)
        index.add(profiles[record.source_key])
    by_entity = {}
    for key in profiles:
        by_entity.setdefault(truth[key], set()).add(key)
    found = total = 0
    for key, profile in profiles.items():
        wanted = by_entity[truth[key]] - {key}
        if not wanted:
            continue
        candidates = set(index.candidates(profile))
        total += len(wanted)
        found += len(wanted & candidates)
    assert total > 1000
    assert found / total >= 0.995


def test_a_placements_decision_is_what_its_golden_clients_assessment_says():
    # `decision_of` spares a placement the evidence `assess` scores: on the sample (review
    # pairs, merges, reused source keys, singletons) every new record's placement carries
    # the decision `assess` gives its client at that moment, and at the end `decision_of`
    # agrees with `assess` on every golden client.
    engine = DedupeEngine()
    placed = 0
    for row in read_records(SAMPLE / "clients.csv"):
        try:
            record = ClientRecord.model_validate(row)
        except ValidationError:
            continue
        placement = engine.on_record(record)
        if not placement.update and record.source_key not in engine.reused:
            golden = engine.goldens[placement.client_id]
            assert placement.decision is engine.assess(golden)[0]
            placed += 1
    engine.drain()
    assert placed > 3_000
    live = [g for g in engine.goldens.values() if g.members and g.retired_into is None]
    decisions = {g.client_id: engine.assess(g)[0] for g in live}
    assert set(decisions.values()) == {
        DedupeDecision.NEW,
        DedupeDecision.MERGED,
        DedupeDecision.POSSIBLE_DUPLICATE,
    }
    assert {g.client_id: engine.decision_of(g) for g in live} == decisions
