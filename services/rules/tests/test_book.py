"""The book: only changes become events; hold, churn guard, orphans, retirement."""

from __future__ import annotations

from pathlib import Path

from rules_factories import A, B, C, engine_of, golden, ruleset_doc
from typer.testing import CliRunner

from territory.rules.book import Book
from territory.rules.cli import app
from territory.rules.facts import ClientFacts
from territory.rules.preview import preview, replay
from territory.rules.ruleset import parse_ruleset
from territory.shared.events import ConflictKind


def book_with(*goldens) -> Book:
    book = Book()
    for g in goldens:
        book.put_client(ClientFacts.of(g))
    return book


def test_hold_keeps_the_current_assignment_for_review():
    book = book_with(golden("c1", country="US"))
    book.apply(engine_of(), "c1", changed_by="t")
    assert book.placements["c1"].territory_id == "NA"
    clash = engine_of(
        whitelist=[{"client_id": "c1", "territory": "EU", "reason": "r", "owner": "o"}],
        blacklist=[{"client_id": "c1", "territories": ["EU"], "reason": "no"}],
        rules=[],  # without a rule the client would otherwise lose its territory
    )
    out = book.apply(clash, "c1", changed_by="t")
    assert out.assignments == []
    assert book.placements["c1"].territory_id == "NA"
    assert {c.kind for c in out.conflicts} == {
        ConflictKind.WHITELIST_BLACKLIST_CLASH,
        ConflictKind.NO_TERRITORY,
    }
    assert all(not c.resolved for c in out.conflicts)
    # the same decision again: nothing new to say
    assert book.apply(clash, "c1", changed_by="t").conflicts == []
    # the clash is lifted: the conflicts are published as resolved
    out = book.apply(engine_of(), "c1", changed_by="t")
    assert {(c.kind, c.resolved) for c in out.conflicts} == {
        (ConflictKind.WHITELIST_BLACKLIST_CLASH, True),
        (ConflictKind.NO_TERRITORY, True),
    }


def test_churn_guard_caps_moves_per_advisor_and_reports_the_rest():
    book = book_with(*(golden(f"g{i}", country="GB") for i in range(5)))
    replay(book, engine_of(), changed_by="t")
    moved_rules = ruleset_doc(
        churn={"max_moves_per_advisor": 2},
        rules=[
            {
                "id": "gb",
                "level": "region",
                "when": {"field": "country", "op": "eq", "value": "GB"},
                "territory": "NA",
            }
        ],
    )
    engine = engine_of(**{k: moved_rules[k] for k in ("churn", "rules")})
    diff = preview(book, engine_of(), parse_ruleset(moved_rules))
    assert (diff.moved, diff.held_back) == (2, 3)
    moved, _, held = replay(book, engine, changed_by="t")
    assert (len(moved), len(held)) == (2, 3)
    moved, _, held = replay(book, engine, changed_by="t")  # the next run moves the rest
    assert (len(moved), len(held)) == (2, 1)


def test_orphaned_assignment_repaired_in_the_same_decision_is_reported_resolved():
    book = book_with(golden("c1", country="US"))
    book.apply(engine_of(), "c1", changed_by="t")
    advisor = book.placements["c1"].advisor_email
    doc = ruleset_doc()
    doc["territories"][0]["advisors"] = [a for a in (A, B) if a != advisor]
    engine = engine_of(territories=doc["territories"])
    out = book.apply(engine, "c1", changed_by="t")
    assert [a.advisor_email for a in out.assignments] == [next(a for a in (A, B) if a != advisor)]
    assert [(c.kind, c.resolved) for c in out.conflicts] == [
        (ConflictKind.ORPHANED_ASSIGNMENT, True)
    ]
    assert book.open_conflicts == {}
    assert book.apply(engine, "c1", changed_by="t").conflicts == []


def test_end_of_a_merged_client_frees_its_advisor():
    book = book_with(golden("c1", country="US"))
    engine = engine_of()
    book.apply(engine, "c1", changed_by="t")
    advisor = book.placements["c1"].advisor_email
    assert sum(book.loads[advisor].values()) == 1
    out = book.end(engine, "c1", reason="merged into c2", changed_by="t")
    assert [(a.territory_id, a.previous_territory_id) for a in out.assignments] == [(None, "NA")]
    assert sum(book.loads[advisor].values()) == 0
    assert "c1" not in book.clients
    assert book.end(engine, "c1", reason="again", changed_by="t").assignments == []


def test_cli_validate(tmp_path: Path):
    runner = CliRunner()
    sample = Path(__file__).resolve().parents[3] / "data" / "sample" / "ruleset.yaml"
    result = runner.invoke(app, ["validate", str(sample)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(sample.read_text().replace("territory: LATAM", "territory: ATLANTIS"))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "unknown territory 'ATLANTIS'" in result.output


def test_a_tier_change_with_the_same_territory_and_advisor_is_published():
    # Found by the full-size replay: a tier change without a move stayed in memory only,
    # so a restart rebuilt per-tier loads from the old tier and decided capacity otherwise.
    book = book_with(golden("c1", country="GB", aum=2_000_000_000))
    engine = engine_of(rules=[r for r in ruleset_doc()["rules"] if r["id"] == "r-eu"])
    (first,) = book.apply(engine, "c1", changed_by="t").assignments
    assert (first.territory_id, first.advisor_email, first.tier) == ("EU", C, "big")
    book.put_client(ClientFacts.of(golden("c1", country="GB", aum=10_000_000, version=2)))
    (retiered,) = book.apply(engine, "c1", changed_by="t").assignments
    assert (retiered.territory_id, retiered.advisor_email, retiered.tier) == ("EU", C, "small")
    assert (retiered.previous_territory_id, retiered.previous_advisor_email) == ("EU", C)
    assert dict(book.loads[C]) == {"big": 0, "small": 1}
    # The same facts again: nothing to publish.
    assert book.apply(engine, "c1", changed_by="t").assignments == []


def test_another_rule_placing_a_client_in_the_same_place_is_published():
    # A renamed rule (or a new one that now wins) leaves territory, advisor and tier as
    # they were; the warehouse's "why here" must name the rule that decides now.
    book = book_with(golden("c1", country="GB", aum=10_000_000))
    eu_only = [r for r in ruleset_doc()["rules"] if r["id"] == "r-eu"]
    (first,) = book.apply(engine_of(rules=eu_only), "c1", changed_by="t").assignments
    assert (first.territory_id, first.rule_id) == ("EU", "r-eu")
    renamed = [dict(eu_only[0], id="r-europe")]
    (again,) = book.apply(engine_of(rules=renamed), "c1", changed_by="t").assignments
    assert (again.territory_id, again.advisor_email, again.tier) == ("EU", C, "small")
    assert again.rule_id == "r-europe"
    # A new ruleset version with the same rule: nothing to publish.
    same = engine_of(version="t2", rules=renamed)
    assert book.apply(same, "c1", changed_by="t").assignments == []
