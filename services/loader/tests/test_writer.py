"""The writer on every backend (SQLite, PostgreSQL, Snowflake via fakesnow): idempotent
reloads, SCD2 history of assignments, hierarchy and lineage, newest-wins state tables,
ruleset dimensions."""

from datetime import UTC, datetime

import pytest
from factories import (
    assigned,
    conflict,
    golden,
    loaded,
    received,
    rejected,
    ruleset,
)
from sqlalchemy import func, select

from territory.loader.rows import MATCH_EVIDENCE_CAP
from territory.loader.writer import WarehouseWriter
from territory.shared.events import (
    ClientDeduplicated,
    DedupeDecision,
    MatchEvidence,
    RecordMatch,
    SourceRecordRef,
)
from territory.shared.warehouse import schema as s


def write(engine, events, **kwargs):
    items, raw = loaded(events)
    return WarehouseWriter(engine).write(
        items, raw_json=raw, batch_id=kwargs.pop("batch_id", "b1"), started_at=datetime.now(UTC)
    )


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in s.metadata.sorted_tables
            if t is not s.load_batches
        }


def naive(value):
    return value.replace(tzinfo=None) if value is not None else None


def test_reloading_the_same_batch_changes_nothing(warehouse):
    batch = [
        received("001", minute=0),
        received("002", "Beta Endowment", minute=1),
        golden("c1", ["001"], minute=2),
        assigned("c1", "na-east", "ann@example.com", minute=3),
        conflict("multi:c1", minute=3),
        rejected(),
        ruleset("v1"),
    ]
    write(warehouse, batch)
    first = counts(warehouse)
    assert first["clients"] == 2
    assert first["clients_staging"] == 2
    assert first["client_dim"] == 1
    assert first["assignments_fact"] == 1
    assert first["conflicts"] == 1
    assert first["rejected_records"] == 1
    assert first["ruleset_versions"] == 1
    assert first["territory_dim"] == 2
    assert first["advisor_dim"] == 3

    write(warehouse, batch, batch_id="b2")  # redelivery of the whole batch
    write(warehouse, batch + batch, batch_id="b3")  # and of every event twice in one batch
    assert counts(warehouse) == first
    with warehouse.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.load_batches)).scalar_one() == 3


def test_assignment_history_is_scd2_whatever_the_arrival_order(warehouse):
    first = assigned("c1", "na-east", "ann@example.com", minute=10)
    second = assigned("c1", "na-pension", "bob@example.com", minute=20)
    third = assigned("c1", "na-east", "ann@example.com", minute=30, ruleset="v2")
    other = assigned("c2", "emea-pension", "cleo@example.com", minute=15)
    write(warehouse, [golden("c1", ["001"]), third, other], batch_id="b1")
    write(warehouse, [first], batch_id="b2")  # late
    write(warehouse, [second, first], batch_id="b3")  # late, with a redelivery

    af = s.assignments_fact
    with warehouse.connect() as conn:
        history = conn.execute(
            select(af.c.territory_id, af.c.effective_from, af.c.effective_to, af.c.is_current)
            .where(af.c.client_id == "c1")
            .order_by(af.c.effective_from)
        ).all()
        c2 = conn.execute(
            select(af.c.is_current, af.c.effective_to).where(af.c.client_id == "c2")
        ).one()
        dim = conn.execute(
            select(s.client_dim.c.territory_id, s.client_dim.c.advisor_email, s.client_dim.c.tier)
        ).one()
    assert [h.territory_id for h in history] == ["na-east", "na-pension", "na-east"]
    assert [naive(h.effective_to) for h in history] == [
        naive(second.payload.effective_from),
        naive(third.payload.effective_from),
        None,
    ]
    assert [bool(h.is_current) for h in history] == [False, False, True]
    assert (bool(c2.is_current), c2.effective_to) == (True, None)
    # The dashboard's filter columns on CLIENT_DIM follow the current assignment.
    assert tuple(dim) == ("na-east", "ann@example.com", "tier-1")


def test_only_the_assignment_rows_whose_interval_changes_are_rewritten(warehouse):
    """A reassignment ends one row per moved client: the SCD2 recomputation rewrites that
    row, not the client's whole history (nor, on a first load, the rows inserted current)."""
    import re

    from sqlalchemy import event

    rewritten: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if re.match(r'\s*UPDATE\s+(\S+\.)?"?assignments_fact\b', statement, re.I):
            rewritten.append(cursor.rowcount)

    event.listen(warehouse, "after_cursor_execute", count)
    try:
        first = [assigned(f"c{n}", "na-east", "ann@example.com", minute=10) for n in range(3)]
        write(warehouse, [golden(f"c{n}", [f"00{n}"]) for n in range(3)] + first, batch_id="b1")
        assert sum(rewritten) == 0
        rewritten.clear()
        moved = [assigned("c0", "na-west", "bob@example.com", minute=20, ruleset="v2")]
        write(warehouse, moved, batch_id="b2")
        assert sum(rewritten) == 1  # c0's first row ends; the new one was inserted current
        rewritten.clear()
        late = [assigned("c0", "na-pension", "cleo@example.com", minute=15)]
        write(warehouse, late, batch_id="b3")
        assert sum(rewritten) == 2  # the late row lands between: it and the first one end
    finally:
        event.remove(warehouse, "after_cursor_execute", count)
    af = s.assignments_fact
    with warehouse.connect() as conn:
        history = conn.execute(
            select(af.c.territory_id, af.c.is_current)
            .where(af.c.client_id == "c0")
            .order_by(af.c.effective_from)
        ).all()
    assert [(h.territory_id, bool(h.is_current)) for h in history] == [
        ("na-east", False),
        ("na-pension", False),
        ("na-west", True),
    ]


def test_hierarchy_and_lineage(warehouse):
    write(
        warehouse,
        [
            golden("parent", ["p1"], name="Acme Holdings"),
            golden("child", ["c1", "c2"], name="Acme Pension Fund", parent="parent"),
            golden("grandchild", ["g1"], name="Acme Pension Fund Canada", parent="child"),
        ],
    )
    cd, lineage = s.client_dim, s.client_source_record
    with warehouse.connect() as conn:
        parents = dict(conn.execute(select(cd.c.client_id, cd.c.parent_client_id)).tuples().all())
        sources = (
            conn.execute(
                select(lineage.c.source_key)
                .where(lineage.c.client_id == "child")
                .order_by(lineage.c.source_key)
            )
            .scalars()
            .all()
        )
        # Walk up from the grandchild with SQL, as the hierarchy explorer does.
        child = cd.alias("child")
        up = conn.execute(
            select(cd.c.name)
            .join(child, child.c.parent_client_id == cd.c.client_id)
            .where(child.c.client_id == "grandchild")
        ).scalar_one()
    assert parents == {"parent": None, "child": "parent", "grandchild": "child"}
    assert sources == ["salesforce:c1", "salesforce:c2"]
    assert up == "Acme Pension Fund"


def test_newer_versions_win_and_older_ones_never_overwrite(warehouse):
    v2 = golden("c1", ["001", "002"], name="Acme Pension Fund (v2)", version=2, minute=5)
    v1 = golden("c1", ["001"], name="Acme Pension Fund (v1)", version=1, minute=1)
    new_staging = received("001", "Acme New Name", minute=9, updated_at="2026-10-02T00:00:00Z")
    old_staging = received("001", "Acme Old Name", minute=10, updated_at="2026-10-01T00:00:00Z")
    write(warehouse, [v2, new_staging], batch_id="b1")
    write(warehouse, [v1, old_staging], batch_id="b2")
    with warehouse.connect() as conn:
        name, version = conn.execute(select(s.client_dim.c.name, s.client_dim.c.version)).one()
        lineage = conn.execute(
            select(func.count()).select_from(s.client_source_record)
        ).scalar_one()
        staged = conn.execute(select(s.clients_staging.c.name)).scalar_one()
        raw = conn.execute(select(func.count()).select_from(s.raw_clients)).scalar_one()
    assert (name, version, lineage) == ("Acme Pension Fund (v2)", 2, 2)
    assert staged == "Acme New Name"
    assert raw == 2  # RAW keeps every record as sent


def test_conflicts_keep_their_latest_state_and_first_sighting(warehouse):
    write(warehouse, [conflict("multi:c1", minute=5)], batch_id="b1")
    write(warehouse, [conflict("multi:c1", minute=9, resolved=True)], batch_id="b2")
    write(warehouse, [conflict("multi:c1", minute=7)], batch_id="b3")  # late and stale
    with warehouse.connect() as conn:
        row = conn.execute(select(s.conflicts)).mappings().one()
    assert bool(row["resolved"]) is True
    assert naive(row["first_seen_at"]).minute == 5
    assert naive(row["last_seen_at"]).minute == 9


def test_possible_duplicates_enter_the_review_queue_with_evidence(warehouse):
    evidence = [
        MatchEvidence(candidate_client_id="c9", confidence=0.87, field_scores={"name": 0.9})
    ]
    write(
        warehouse,
        [golden("c1", ["001"], decision=DedupeDecision.POSSIBLE_DUPLICATE, evidence=evidence)],
    )
    with warehouse.connect() as conn:
        row = conn.execute(select(s.dedupe_review)).mappings().one()
    assert row["candidate_client_ids"] == ["c9"]
    assert row["evidence"][0]["field_scores"] == {"name": 0.9}
    assert float(row["best_confidence"]) == pytest.approx(0.87)
    assert row["status"] == "open"


def test_dimensions_follow_the_latest_ruleset(warehouse):
    v2_doc = {
        "territories": [
            {
                "id": "na-east",
                "name": "NA East (renamed)",
                "region": "NA",
                "advisors": ["bob@example.com"],
            }
        ],
        "advisors": [
            {"email": "bob@example.com", "name": "Bob", "capacity": {"tier-1": 7, "tier-2": 3}}
        ],
    }
    write(warehouse, [ruleset("v1", minute=1)], batch_id="b1")
    write(warehouse, [ruleset("v2", minute=10, document=v2_doc)], batch_id="b2")
    write(warehouse, [ruleset("v1", minute=1)], batch_id="b3")  # older, redelivered late
    td, ad, ta = s.territory_dim, s.advisor_dim, s.territory_advisor
    with warehouse.connect() as conn:
        territories = {
            row.territory_id: (row.name, bool(row.active), row.ruleset_version)
            for row in conn.execute(select(td))
        }
        advisors = {
            row.advisor_email: (row.total_capacity, bool(row.active))
            for row in conn.execute(select(ad))
        }
        pairs = conn.execute(select(ta.c.territory_id, ta.c.advisor_email)).all()
        versions = conn.execute(select(func.count()).select_from(s.ruleset_versions)).scalar_one()
    assert versions == 2
    assert territories["na-east"] == ("NA East (renamed)", True, "v2")
    assert territories["emea-pension"][1] is False
    assert advisors["bob@example.com"] == (10, True)
    assert advisors["ann@example.com"][1] is False
    assert [tuple(p) for p in pairs] == [("na-east", "bob@example.com")]


def test_a_ruleset_with_invalid_territories_keeps_the_last_valid_dimensions(warehouse):
    bad = {
        "territories": [{"id": "mars", "name": "Mars", "region": "MARS", "advisors": []}],
        "advisors": [],
    }
    write(warehouse, [ruleset("v1", minute=1)], batch_id="b1")
    write(warehouse, [ruleset("v2", minute=10, document=bad)], batch_id="b2")
    with warehouse.connect() as conn:
        versions = conn.execute(select(s.ruleset_versions.c.version)).scalars().all()
        territories = {
            row.territory_id: (bool(row.active), row.ruleset_version)
            for row in conn.execute(select(s.territory_dim))
        }
    assert sorted(versions) == ["v1", "v2"]  # the audit trail keeps the refused version
    assert territories == {"na-east": (True, "v1"), "emea-pension": (True, "v1")}


@pytest.mark.parametrize(("action", "status"), [("merge", "merged"), ("split", "split")])
def test_a_review_decision_closes_the_open_review_row(warehouse, action, status):
    from territory.shared.events import DedupeCommand, DedupeCommanded

    evidence = [MatchEvidence(candidate_client_id="c9", confidence=0.7)]
    write(
        warehouse,
        [golden("c1", ["001"], decision=DedupeDecision.POSSIBLE_DUPLICATE, evidence=evidence)],
    )
    command = DedupeCommand(
        action=action,
        client_ids=["c1", "c9"] if action == "merge" else ["c1"],
        source_keys=[] if action == "merge" else ["salesforce:001"],
        decided_by="reviewer@example.com",
    )
    write(warehouse, [DedupeCommanded(producer="api", payload=command)], batch_id="b2")
    with warehouse.connect() as conn:
        row = conn.execute(select(s.dedupe_review)).mappings().one()
    assert row["status"] == status


def test_field_issues_land_one_row_each_with_their_golden_client(warehouse):
    dirty = received("001", minute=0, lei="5493001KJTIIGC8Y1R19", segment="Casino", aum_usd="-3")
    assert len(dirty.payload.field_issues) == 3
    fi = s.client_field_issues

    def issues():
        with warehouse.connect() as conn:
            return sorted(
                conn.execute(
                    select(fi.c.client_id, fi.c.source_key, fi.c.field, fi.c.code, fi.c.raw)
                ).tuples()
            )

    write(warehouse, [dirty, received("002", "Clean Bank", minute=0)], batch_id="b1")
    assert issues() == [
        (None, "salesforce:001", "aum_usd", "greater_than_equal", "-3"),
        (None, "salesforce:001", "lei", "invalid_lei", "5493001KJTIIGC8Y1R19"),
        (None, "salesforce:001", "segment", "unknown_segment", "Casino"),
    ]
    # Dedupe's golden client links them; a redelivery changes nothing.
    write(warehouse, [golden("c1", ["001"], minute=1)], batch_id="b2")
    write(warehouse, [dirty, golden("c1", ["001"], minute=1)], batch_id="b3")
    assert {row[0] for row in issues()} == {"c1"}
    assert len(issues()) == 3
    # A newer version with the LEI corrected clears that issue, keeps the client link.
    fixed = received("001", minute=5, segment="Casino", lei="5493001KJTIIGC8Y1R12")
    write(warehouse, [fixed], batch_id="b4")
    assert issues() == [("c1", "salesforce:001", "segment", "unknown_segment", "Casino")]


def _stale_count(table: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("territory_loader_stale_skipped_total", {"table": table})
    return value or 0.0


def test_older_versions_are_counted_as_stale_and_not_applied(warehouse):
    v2 = golden("c9", ["009"], name="Nine (v2)", version=2, minute=5)
    v1 = golden("c9", ["009"], name="Nine (v1)", version=1, minute=9)
    new = received("009", "Nine New", minute=1, updated_at="2026-10-02T00:00:00Z")
    old = received("009", "Nine Old", minute=2, updated_at="2026-10-01T00:00:00Z")
    write(warehouse, [v2, new], batch_id="b1")
    dim, staging = _stale_count("client_dim"), _stale_count("clients_staging")
    write(warehouse, [v1, old], batch_id="b2")
    assert _stale_count("client_dim") - dim == 1
    assert _stale_count("clients_staging") - staging == 1
    with warehouse.connect() as conn:
        assert conn.execute(select(s.client_dim.c.name)).scalar_one() == "Nine (v2)"
        assert conn.execute(select(s.clients_staging.c.name)).scalar_one() == "Nine New"


def test_a_reused_event_id_for_another_record_is_found_a_redelivery_is_not(warehouse):
    first = received("101", "First Record")
    write(warehouse, [first], batch_id="b1")
    writer = WarehouseWriter(warehouse)
    same_again = first.model_copy()
    other = received("102", "Another Record").model_copy(update={"event_id": first.event_id})
    fresh = received("103", "Fresh Record")
    twin = received("104", "Twin").model_copy(update={"event_id": fresh.event_id})
    items, _ = loaded([same_again, other, fresh, twin])
    # `other` reuses an id RAW holds; `twin` reuses the id of an earlier event of the batch.
    assert writer.reused_event_ids(items) == [1, 3]


def test_one_open_review_item_per_client_and_source_key(warehouse):
    """Issue 13: each re-rendering of a possible duplicate became one more open item."""

    def possible(version: int, minute: int, confidence: float) -> ClientDeduplicated:
        evidence = [MatchEvidence(candidate_client_id="c9", confidence=confidence)]
        return golden(
            "c1",
            ["001"],
            version=version,
            minute=minute,
            decision=DedupeDecision.POSSIBLE_DUPLICATE,
            evidence=evidence,
        )

    first, second = possible(1, 1, 0.71), possible(2, 5, 0.82)
    write(warehouse, [first], batch_id="b1")
    third = possible(3, 3, 0.5)  # a newer version, stamped earlier: the version decides
    write(warehouse, [second, third], batch_id="b2")  # one batch, two versions
    write(warehouse, [first, possible(1, 0, 0.6)], batch_id="b3")  # redelivered, and older
    other = golden(
        "c2",
        ["002"],
        minute=2,
        decision=DedupeDecision.POSSIBLE_DUPLICATE,
        evidence=[MatchEvidence(candidate_client_id="c9", confidence=0.9)],
    )
    write(warehouse, [other], batch_id="b4")
    with warehouse.connect() as conn:
        rows = conn.execute(select(s.dedupe_review).order_by(s.dedupe_review.c.client_id))
        items = rows.mappings().all()
    assert [(i["client_id"], i["source_key"], i["status"]) for i in items] == [
        ("c1", "salesforce:001", "open"),
        ("c2", "salesforce:002", "open"),
    ]
    assert items[0]["event_id"] == str(third.event_id)
    assert float(items[0]["best_confidence"]) == pytest.approx(0.5)


def test_a_merged_client_brought_back_by_dedupe_stays_live_whatever_arrives_late(warehouse):
    """Dedupe retires x into s when a record links them and revives x when an update
    removes the link; the survivor's events (other partition) may arrive after that."""
    named_s = [MatchEvidence(candidate_client_id="s", confidence=0.97, reasons=["merged"])]
    s_with_x = golden("s", ["001", "002"], version=2, minute=2, decision=DedupeDecision.MERGED)
    s_with_x.payload.merged_client_ids = ["x"]
    x_retired = golden("x", ["002"], version=2, minute=2, evidence=named_s)
    x_retired.payload.retired = True
    x_retired.payload.source_records = []
    x_back = golden("x", ["002"], version=3, minute=4)
    write(
        warehouse, [golden("s", ["001"], minute=0), golden("x", ["002"], minute=1)], batch_id="b1"
    )
    write(warehouse, [x_retired], batch_id="b2")
    cd = s.client_dim

    def state(client_id: str):
        with warehouse.connect() as conn:
            return conn.execute(
                select(cd.c.retired, cd.c.merged_into_client_id, cd.c.version).where(
                    cd.c.client_id == client_id
                )
            ).one()

    assert tuple(state("x")) == (True, "s", 2)  # its own event names the survivor
    write(warehouse, [x_back], batch_id="b3")
    assert tuple(state("x")) == (False, None, 3)
    write(warehouse, [s_with_x], batch_id="b4")  # the survivor's older news, late
    assert tuple(state("x")) == (False, None, 3)
    assert tuple(state("s"))[:2] == (False, None)


def test_a_review_item_closes_when_the_clients_newest_version_settles_it(warehouse):
    """Dedupe re-decides clients as records arrive: a possible duplicate that a later
    record merged, retired or re-triggered leaves no stale open item behind."""
    ev = [MatchEvidence(candidate_client_id="c9", confidence=0.7)]
    pd = DedupeDecision.POSSIBLE_DUPLICATE

    def open_items() -> list[tuple[str, str]]:
        t = s.dedupe_review
        with warehouse.connect() as conn:
            rows = conn.execute(select(t.c.client_id, t.c.source_key).where(t.c.status == "open"))
            return sorted(tuple(r) for r in rows)

    write(warehouse, [golden("c1", ["001"], decision=pd, evidence=ev, minute=1)], batch_id="b1")
    write(warehouse, [golden("c2", ["002"], decision=pd, evidence=ev, minute=1)], batch_id="b2")
    write(warehouse, [golden("c3", ["003"], decision=pd, evidence=ev, minute=1)], batch_id="b3")
    assert open_items() == [
        ("c1", "salesforce:001"),
        ("c2", "salesforce:002"),
        ("c3", "salesforce:003"),
    ]
    merged = golden("c1", ["001", "004"], version=2, minute=3, decision=DedupeDecision.MERGED)
    gone = golden("c2", ["002"], version=2, minute=3, evidence=ev)
    gone.payload.retired = True
    moved = golden("c3", ["003", "005"], version=2, minute=3, decision=pd, evidence=ev)
    write(warehouse, [merged, gone, moved], batch_id="b4")
    assert open_items() == [("c3", "salesforce:005")]  # its trigger is now its record 005
    # An older version redelivered late reopens nothing.
    write(warehouse, [golden("c1", ["001"], decision=pd, evidence=ev, minute=1)], batch_id="b5")
    assert open_items() == [("c3", "salesforce:005")]


def _evidence(candidate: str, confidence: float, **scores: float) -> MatchEvidence:
    return MatchEvidence(
        candidate_client_id=candidate,
        confidence=confidence,
        field_scores=scores,
        reasons=[f"matched source record salesforce:{candidate}"],
    )


def matches(engine) -> list[dict]:
    t = s.client_source_match
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.client_id, t.c.source_key)).mappings()
        return [
            {k: v for k, v in row.items() if k != "loaded_at"}  # load time is not content
            for row in rows
        ]


def test_each_source_record_keeps_the_newest_decision_that_placed_it(warehouse):
    # Two versions of c1 whose trigger is the same source record: only the newest counts,
    # whatever the arrival order, and a replay (in one batch or another) changes nothing.
    v1 = golden(
        "c1",
        ["001"],
        decision=DedupeDecision.POSSIBLE_DUPLICATE,
        evidence=[_evidence("c9", 0.71, name=0.8)],
        version=1,
        minute=1,
    )
    v2 = golden(
        "c1",
        ["001"],
        decision=DedupeDecision.MERGED,
        evidence=[_evidence("c1", 0.64, name=0.6), _evidence("c1", 0.97, name=1.0, lei=1.0)],
        version=2,
        minute=2,
    )
    write(warehouse, [v2], batch_id="b1")
    write(warehouse, [v1], batch_id="b2")  # older, late
    (row,) = matches(warehouse)
    assert (row["client_id"], row["source_key"]) == ("c1", "salesforce:001")
    assert (row["decision"], row["version"]) == ("merged", 2)
    assert float(row["confidence"]) == pytest.approx(0.97)
    # Most confident first; each entry says why (candidate, field scores, reasons).
    assert [e["confidence"] for e in row["evidence"]] == [0.97, 0.64]
    assert row["evidence"][0]["field_scores"] == {"name": 1.0, "lei": 1.0}
    assert row["evidence"][0]["reasons"] == ["matched source record salesforce:c1"]
    assert row["last_event_id"] == str(v2.event_id)
    first = matches(warehouse)
    write(warehouse, [v1, v2, v2, v1], batch_id="b3")  # replay, out of order, twice
    write(warehouse, [v2], batch_id="b4")  # redelivery
    assert matches(warehouse) == first
    with warehouse.connect() as conn:
        assert counts(warehouse)["client_source_match"] == 1
        assert conn.execute(select(s.client_dim.c.version)).scalar_one() == 2


def test_every_trigger_of_a_batch_gets_its_match_row(warehouse):
    # The record merged into c1 in one batch: each version names another trigger.
    crowded = [_evidence(f"c{n}", n / 10) for n in range(1, 9)]
    batch = [
        golden("c1", ["001"], version=1, minute=1),
        golden("c1", ["001", "002"], decision=DedupeDecision.MERGED, evidence=crowded, version=2),
    ]
    write(warehouse, batch)
    rows = {row["source_key"]: row for row in matches(warehouse)}
    assert sorted(rows) == ["salesforce:001", "salesforce:002"]
    assert rows["salesforce:001"]["decision"] == "new"
    assert rows["salesforce:001"]["evidence"] == []
    assert rows["salesforce:001"]["confidence"] is None
    merged = rows["salesforce:002"]
    assert len(merged["evidence"]) == MATCH_EVIDENCE_CAP  # capped, the best kept
    assert merged["evidence"][0]["candidate_client_id"] == "c8"
    assert float(merged["confidence"]) == pytest.approx(0.8)


def test_a_source_record_that_moves_leaves_no_match_row_behind(warehouse):
    write(warehouse, [golden("c1", ["001"], version=1), golden("c1", ["001", "002"], version=2)])
    # 002 is split off into c2: c1's newest version no longer links it.
    moved = [golden("c1", ["001"], version=3, minute=3), golden("c2", ["002"], minute=3)]
    write(warehouse, moved, batch_id="b2")
    pairs = [(row["client_id"], row["source_key"]) for row in matches(warehouse)]
    assert pairs == [("c1", "salesforce:001"), ("c2", "salesforce:002")]
    # c1's older version, redelivered late, does not bring the stale row back.
    write(warehouse, [golden("c1", ["001", "002"], version=2)], batch_id="b3")
    assert [(row["client_id"], row["source_key"]) for row in matches(warehouse)] == pairs


def test_an_event_with_matches_explains_every_source_record_it_lists(warehouse):
    # Dedupe coalesced two records placed in one batch into one event: its `matches` explain
    # both, each with its own decision and evidence, not only the trigger.
    def refs(*ids: str) -> list[RecordMatch]:
        return [
            RecordMatch(
                source=SourceRecordRef(source_system="salesforce", source_id=sid),
                decision=DedupeDecision.MERGED,
                evidence=[_evidence("c1", conf, name=conf)],
            )
            for sid, conf in zip(ids, (0.93, 0.91, 0.88), strict=False)
        ]

    event = golden("c1", ["001", "002", "003"], decision=DedupeDecision.MERGED, version=4)
    event.payload.matches = refs("003", "001", "002")
    write(warehouse, [event])
    rows = {row["source_key"]: row for row in matches(warehouse)}
    assert sorted(rows) == ["salesforce:001", "salesforce:002", "salesforce:003"]
    assert {k: float(r["confidence"]) for k, r in rows.items()} == pytest.approx(
        {"salesforce:003": 0.93, "salesforce:001": 0.91, "salesforce:002": 0.88}
    )
    assert {r["decision"] for r in rows.values()} == {"merged"}
    assert {r["version"] for r in rows.values()} == {4}
    # An older version redelivered late changes none of them.
    stale = golden("c1", ["001", "002", "003"], version=3)
    stale.payload.matches = [
        RecordMatch(source=ref, decision=DedupeDecision.NEW) for ref in stale.payload.source_records
    ]
    write(warehouse, [stale], batch_id="b2")
    assert {k: r["decision"] for k, r in ((r["source_key"], r) for r in matches(warehouse))} == (
        dict.fromkeys(rows, "merged")
    )


def test_on_sqlite_every_lookup_of_a_batch_goes_through_an_index(tmp_path):
    """The embedded warehouse has no statistics, so SQLite's planner picks indexes by rule
    of thumb: once it walked every current assignment of the table (the `is_current`
    index) for each chunk of clients, which made a 1M-client reassignment quadratic. Every
    statement the writer runs on a batch of every kind is checked with EXPLAIN QUERY PLAN:
    no table that grows with the clients is scanned, and no lookup goes through the
    low-cardinality flag indexes. (The ruleset's own tables are read and flagged whole.)"""
    import re

    from sqlalchemy import event

    from territory.shared.warehouse.engine import create_warehouse_engine
    from territory.shared.warehouse.migrate import migrate

    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    evidence = [_evidence("c1", 0.7, name=0.8)]
    batches = [
        [
            received("001", minute=0, lei="5493001KJTIIGC8Y1R19", segment="Casino"),
            received("002", "Beta Endowment", minute=0),
            received("003", "Acme Pension", minute=0),
            golden("c1", ["001"], minute=1),
            golden("c2", ["002"], name="Beta Endowment", minute=1),
            golden(
                "c3",
                ["003"],
                decision=DedupeDecision.POSSIBLE_DUPLICATE,
                evidence=evidence,
                minute=1,
            ),
            assigned("c1", "na-east", "ann@example.com", minute=2),
            assigned("c2", "na-west", "bob@example.com", minute=2),
            conflict("multi:c1", minute=2),
            rejected(),
            ruleset("v1"),
        ],
        [
            golden("c1", ["001", "003"], version=2, minute=3),
            assigned("c1", "na-west", "bob@example.com", minute=4),
            assigned("c2", "na-east", "ann@example.com", minute=4),
            conflict("multi:c1", minute=4, resolved=True),
        ],
    ]
    statements: dict[str, tuple[str, object]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        shape = re.sub(r"\(\?(, \?)*\)", "(?…)", statement)
        statements.setdefault(shape, (statement, parameters[0] if executemany else parameters))

    for n, batch in enumerate(batches):
        write(engine, batch, batch_id=f"b{n}")
    event.remove(engine, "before_cursor_execute", capture)

    flag_indexes = {
        ix.name
        for t in s.metadata.sorted_tables
        for ix in t.indexes
        if ix.columns[0].name in {"is_current", "retired", "status", "resolved"}
    }
    assert "ix_assignments_fact_is_current_territory_id" in flag_indexes
    ruleset_sized = re.compile(r"\b(ruleset_versions|territory_dim|advisor_dim)\b")
    bad = {}
    checked = 0
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in statements.values():
            if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                continue
            checked += 1
            steps = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
            wrong = [
                step
                for step in steps
                if (
                    re.match(r"SCAN (?!\(|anon_|CONSTANT)", step) and not ruleset_sized.search(step)
                )
                or any(f"INDEX {name} " in step for name in flag_indexes)
            ]
            if wrong:
                bad[statement[:160]] = wrong
    assert checked >= 10
    assert bad == {}, "\n".join(f"{k}\n    {v}" for k, v in bad.items())
