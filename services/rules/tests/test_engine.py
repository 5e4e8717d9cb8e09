"""The engine, rule kind by rule kind, and its precedence: table tests."""

from __future__ import annotations

import pytest
from rules_factories import A, B, C, engine_of, golden

from territory.rules.book import Book
from territory.rules.engine import Placement, StateView
from territory.rules.facts import ClientFacts
from territory.shared.events import ConflictKind, DecisionLevel


def facts(**fields):
    return ClientFacts.build("c1", source_keys=("crm:c1",), **fields)


def rule(rule_id, when, territory="EU", level="segment", priority=0):
    return {
        "id": rule_id,
        "level": level,
        "priority": priority,
        "when": when,
        "territory": territory,
    }


def cmp(field, op, value=None):
    return {"field": field, "op": op} | ({} if value is None else {"value": value})


@pytest.mark.parametrize(
    ("when", "client", "matches"),
    [
        (cmp("country", "eq", "GB"), {"country": "GB"}, True),
        (cmp("country", "eq", "gb"), {"country": "GB"}, True),  # case-insensitive
        (cmp("country", "eq", "GB"), {"country": "FR"}, False),
        (cmp("country", "ne", "GB"), {"country": "FR"}, True),
        (cmp("country", "ne", "GB"), {}, False),  # a missing value fails comparisons
        (cmp("country", "in", ["GB", "FR"]), {"country": "FR"}, True),
        (cmp("country", "not_in", ["GB", "FR"]), {"country": "DE"}, True),
        (cmp("country", "not_in", ["GB", "FR"]), {"country": "GB"}, False),
        (cmp("state", "eq", "CA"), {"state": "CA"}, True),
        (cmp("industry", "prefix", ["bank"]), {"industry": "Banking"}, True),
        (cmp("industry", "prefix", ["bank"]), {"industry": "Insurance"}, False),
        (cmp("postal_code", "prefix", ["SW1"]), {"postal_code": "SW1A 1AA"}, True),
        (cmp("postal_code", "prefix", ["941"]), {"postal_code": "94105"}, True),
        (cmp("postal_code", "prefix", ["941"]), {"postal_code": "95105"}, False),
        (cmp("postal_code", "between", ["10000", "19999"]), {"postal_code": "10001"}, True),
        (cmp("postal_code", "between", ["10000", "19999"]), {"postal_code": "20001"}, False),
        (cmp("postal_code", "between", ["M5A", "M5Z"]), {"postal_code": "M5H 2N2"}, True),
        (cmp("aum_usd", "gt", 100), {"aum_usd": 101}, True),
        (cmp("aum_usd", "gt", 100), {"aum_usd": 100}, False),
        (cmp("aum_usd", "ge", 100), {"aum_usd": 100}, True),
        (cmp("aum_usd", "lt", 100), {"aum_usd": 99.5}, True),
        (cmp("aum_usd", "le", 100), {"aum_usd": 100.5}, False),
        (cmp("aum_usd", "lt", 100), {}, False),
        (cmp("employee_count", "between", [10, 20]), {"employee_count": 20}, True),
        (cmp("annual_revenue_usd", "eq", 5), {"annual_revenue_usd": 5}, True),
        (cmp("segment", "in", ["Pension", "Endowment"]), {"segment": "Endowment"}, True),
        (cmp("lei", "exists"), {"lei": "969500Q7NIG2CKRMQV29"}, True),
        (cmp("lei", "missing"), {"lei": "969500Q7NIG2CKRMQV29"}, False),
        (cmp("lei", "missing"), {}, True),
        (
            {"all": [cmp("country", "eq", "GB"), cmp("aum_usd", "gt", 5)]},
            {"country": "GB", "aum_usd": 6},
            True,
        ),
        (
            {"all": [cmp("country", "eq", "GB"), cmp("aum_usd", "gt", 5)]},
            {"country": "GB", "aum_usd": 4},
            False,
        ),
        (
            {"any": [cmp("country", "eq", "GB"), cmp("aum_usd", "gt", 5)]},
            {"country": "FR", "aum_usd": 6},
            True,
        ),
        (
            {"any": [cmp("country", "eq", "GB"), cmp("aum_usd", "gt", 5)]},
            {"country": "FR", "aum_usd": 4},
            False,
        ),
        ({"not": cmp("country", "eq", "GB")}, {"country": "FR"}, True),
        ({"not": cmp("country", "eq", "GB")}, {"country": "GB"}, False),
        (cmp("tier", "eq", "big"), {"aum_usd": 2e9}, True),
        (cmp("tier", "eq", "big"), {"aum_usd": 2e3}, False),
        (cmp("source_system", "eq", "salesforce"), {"source_system": "salesforce"}, True),
    ],
)
def test_each_condition_kind(when, client, matches):
    engine = engine_of(rules=[rule("only", when)])
    values = facts(**client).values
    found = engine.match(values)
    assert bool(found.candidates) is matches
    # the compiled, cached path agrees with the naive interpreter
    assert engine.match_naive(values) == found
    decision = engine.decide(facts(**client), StateView())
    assert decision.territory_id == ("EU" if matches else None)
    if matches:
        assert decision.trace.matched_conditions


@pytest.mark.parametrize(
    ("client", "extra", "territory", "level", "rule_id"),
    [
        # region rule only
        ({"country": "US", "region": "NA"}, {}, "NA", DecisionLevel.REGION, "r-na"),
        # segment beats region
        (
            {"country": "US", "region": "NA", "segment": "Pension"},
            {},
            "NA-PEN",
            DecisionLevel.SEGMENT,
            "s-pen",
        ),
        # tier beats segment
        (
            {"country": "US", "region": "NA", "segment": "Pension", "aum_usd": 5e9},
            {},
            "NA-BIG",
            DecisionLevel.TIER,
            "t-big",
        ),
        # blacklist vetoes the tier territory: the segment rule wins
        (
            {"country": "US", "region": "NA", "segment": "Pension", "aum_usd": 5e9},
            {"blacklist": [{"client_id": "c1", "territories": ["NA-BIG"], "reason": "x"}]},
            "NA-PEN",
            DecisionLevel.SEGMENT,
            "s-pen",
        ),
        # whitelist beats everything
        (
            {"country": "US", "region": "NA", "segment": "Pension", "aum_usd": 5e9},
            {
                "whitelist": [
                    {"source_key": "crm:c1", "territory": "EU", "reason": "r", "owner": "o"}
                ]
            },
            "EU",
            DecisionLevel.WHITELIST,
            "whitelist",
        ),
        # a whitelist that clashes with the blacklist loses (and is reported)
        (
            {"country": "US", "region": "NA"},
            {
                "whitelist": [{"client_id": "c1", "territory": "EU", "reason": "r", "owner": "o"}],
                "blacklist": [{"client_id": "c1", "territories": ["EU"], "reason": "no"}],
            },
            "NA",
            DecisionLevel.REGION,
            "r-na",
        ),
        # an expired whitelist entry is ignored
        (
            {"country": "US", "region": "NA"},
            {
                "whitelist": [
                    {
                        "client_id": "c1",
                        "territory": "EU",
                        "reason": "r",
                        "owner": "o",
                        "expires": "2020-01-01",
                    }
                ]
            },
            "NA",
            DecisionLevel.REGION,
            "r-na",
        ),
        # by LEI
        (
            {"country": "US", "region": "NA", "lei": "969500Q7NIG2CKRMQV29"},
            {
                "whitelist": [
                    {"lei": "969500Q7NIG2CKRMQV29", "territory": "EU", "reason": "r", "owner": "o"}
                ]
            },
            "EU",
            DecisionLevel.WHITELIST,
            "whitelist",
        ),
        # nothing matches
        ({"country": "JP", "region": "APAC"}, {}, None, DecisionLevel.UNASSIGNED, None),
        # a territory restricted to a tier refuses other tiers
        (
            {"country": "US", "region": "NA", "aum_usd": 5},
            {
                "rules": [
                    rule("x", cmp("country", "eq", "US"), "NA-BIG", "tier"),
                    rule("y", cmp("country", "eq", "US"), "NA", "region"),
                ]
            },
            "NA",
            DecisionLevel.REGION,
            "y",
        ),
    ],
)
def test_precedence(client, extra, territory, level, rule_id):
    from datetime import date

    engine = engine_of(**extra)
    decision = engine.decide(facts(**client), StateView(today=date(2026, 11, 29)))
    assert (decision.territory_id, decision.level, decision.rule_id) == (territory, level, rule_id)
    kinds = {f.kind for f in decision.findings}
    if "blacklist" in extra and "whitelist" in extra:
        assert ConflictKind.WHITELIST_BLACKLIST_CLASH in kinds
        assert decision.hold  # the default action for a clash is hold
    if territory is None:
        assert ConflictKind.NO_TERRITORY in kinds


def test_losing_candidates_are_in_the_trace_with_why():
    engine = engine_of(
        blacklist=[{"client_id": "c1", "territories": ["NA-BIG"], "reason": "conflict of interest"}]
    )
    d = engine.decide(facts(country="US", region="NA", segment="Pension", aum_usd=5e9), StateView())
    why = {c.rule_id: c.reason for c in d.trace.rejected_candidates}
    assert why["t-big"] == "blacklisted: conflict of interest"
    assert "lower precedence than s-pen" in why["r-na"]
    assert d.trace.ruleset_version == "t1"
    assert "tier big" in d.trace.matched_conditions


def test_equal_priority_tie_is_broken_by_rule_id_and_reported():
    rules = [
        rule("b-rule", cmp("country", "eq", "GB"), "EU-2"),
        rule("a-rule", cmp("country", "eq", "GB"), "EU"),
        rule("c-rule", cmp("country", "eq", "GB"), "EU-2", priority=-1),
    ]
    d = engine_of(rules=rules).decide(facts(country="GB"), StateView())
    assert (d.territory_id, d.rule_id) == ("EU", "a-rule")
    multi = [f for f in d.findings if f.kind == ConflictKind.MULTI_TERRITORY]
    assert len(multi) == 1
    assert set(multi[0].territory_ids) == {"EU", "EU-2"}
    # a higher priority is no tie
    rules[0]["priority"] = 5
    d = engine_of(rules=rules).decide(facts(country="GB"), StateView())
    assert (d.territory_id, d.rule_id, d.findings) == ("EU-2", "b-rule", ())


def test_least_utilised_advisor_and_strict_capacity():
    engine = engine_of()
    client = facts(country="US", region="NA")  # NA: advisors A and B, small capacity 5
    d = engine.decide(client, StateView(loads={A: {"small": 3}, B: {"small": 1}}))
    assert d.advisor_email == B
    d = engine.decide(client, StateView(loads={A: {"small": 3}, B: {"small": 5}}))
    assert d.advisor_email == A
    d = engine.decide(client, StateView(loads={A: {"small": 5}, B: {"small": 5}}))
    assert (d.territory_id, d.advisor_email) == ("NA", None)
    assert [f.kind for f in d.findings] == [ConflictKind.ADVISOR_OVER_CAPACITY]
    # equal utilisation: ties by e-mail
    d = engine.decide(client, StateView(loads={A: {"small": 2}, B: {"small": 2}}))
    assert d.advisor_email == A


def test_soft_capacity_overloads_the_least_utilised_and_reports_it():
    engine = engine_of(advisor_selection={"capacity": "soft"})
    d = engine.decide(
        facts(country="US", region="NA"), StateView(loads={A: {"small": 9}, B: {"small": 6}})
    )
    assert d.advisor_email == B
    assert [(f.kind, f.advisor_email) for f in d.findings] == [
        (ConflictKind.ADVISOR_OVER_CAPACITY, B)
    ]


def test_round_robin_rotates_inside_a_territory():
    engine = engine_of(advisor_selection={"strategy": "round_robin", "keep_current": False})
    book = Book()
    for i in range(4):
        book.put_client(ClientFacts.of(golden(f"c{i}", country="US")))
    for i in range(4):
        book.apply(engine, f"c{i}", changed_by="test")
    assert [book.placements[f"c{i}"].advisor_email for i in range(4)] == [A, B, A, B]


def test_current_advisor_is_kept_while_eligible():
    engine = engine_of()
    previous = Placement("NA", B, "small", "r-na", "t0")
    d = engine.decide(
        facts(country="US", region="NA"), StateView(previous=previous, loads={B: {"small": 4}})
    )
    assert d.advisor_email == B  # A would be less utilised, but nobody moves needlessly


def test_orphaned_assignment_is_reported():
    engine = engine_of()
    previous = Placement("GONE", A, "small", "old", "t0")
    d = engine.decide(facts(country="US", region="NA"), StateView(previous=previous))
    orphan = [f for f in d.findings if f.kind == ConflictKind.ORPHANED_ASSIGNMENT]
    assert len(orphan) == 1
    assert "GONE was removed" in orphan[0].detail
    previous = Placement("EU", A, "small", "old", "t0")  # A is not in EU
    d = engine.decide(facts(country="US", region="NA"), StateView(previous=previous))
    assert any(f.kind == ConflictKind.ORPHANED_ASSIGNMENT for f in d.findings)


def test_subsidiaries_follow_their_parent_and_mismatch_is_reported():
    engine = engine_of(hierarchy={"subsidiaries": "follow_parent", "advisors_must_agree": True})
    book = Book()
    book.put_client(ClientFacts.of(golden("p", country="GB")))
    book.put_client(ClientFacts.of(golden("s", country="US", parent="p")))
    book.apply(engine, "p", changed_by="t")
    book.apply(engine, "s", changed_by="t")
    assert book.placements["s"].territory_id == "EU"
    assert book.placements["s"].advisor_email == C
    assert book.decide(engine, "s", None).level == DecisionLevel.HIERARCHY
    # the subsidiary is whitelisted elsewhere: its advisor differs from the parent's
    engine = engine_of(
        hierarchy={"subsidiaries": "follow_parent", "advisors_must_agree": True},
        whitelist=[{"client_id": "s", "territory": "NA-PEN", "reason": "r", "owner": "o"}],
    )
    out = book.apply(engine, "s", changed_by="t")
    assert book.placements["s"].territory_id == "NA-PEN"
    assert [c.kind for c in out.conflicts] == [ConflictKind.HIERARCHY_ADVISOR_MISMATCH]


def test_parent_move_moves_following_subsidiaries():
    doc = {"hierarchy": {"subsidiaries": "follow_parent"}}
    book = Book()
    book.put_client(ClientFacts.of(golden("p", country="GB")))
    book.put_client(ClientFacts.of(golden("s", country="JP", parent="p")))
    book.put_client(ClientFacts.of(golden("g", country="JP", parent="s")))
    engine = engine_of(**doc)
    for client_id in book.order():
        book.apply(engine, client_id, changed_by="t")
    assert book.placements["g"].territory_id == "EU"
    moved = engine_of(
        **doc, whitelist=[{"client_id": "p", "territory": "NA", "reason": "r", "owner": "o"}]
    )
    out = book.apply(moved, "p", changed_by="t")
    assert [a.client_id for a in out.assignments] == ["p", "s", "g"]
    assert book.placements["g"].territory_id == "NA"


def test_index_skips_rules_of_other_countries():
    rules = [rule(f"r{i}", cmp("country", "eq", c), "EU") for i, c in enumerate(["GB", "FR", "DE"])]
    engine = engine_of(rules=rules)
    assert set(engine._index["country"]) == {"gb", "fr", "de"}
    assert engine._unindexed == []


def test_a_consumed_golden_client_is_not_validated_again_inside_rules(monkeypatch):
    """The consumer validated `client.deduplicated` at the boundary; turning it into facts,
    deciding and booking the assignment must not run the record's contract again."""
    import territory.shared.events.client as contract

    engine = engine_of()
    client = golden("c-1", country="US", segment="Pension", aum=5e9)
    calls: list[object] = []
    real = contract._country_code  # (run by every validation of a record with a country)

    def counting(value):
        calls.append(value)
        return real(value)

    monkeypatch.setattr(contract, "_country_code", counting)
    golden("probe", country="US")
    assert calls, "the probe must see a validation"
    calls.clear()
    book = Book()
    book.put_client(ClientFacts.of(client))
    outcome = book.apply(engine, "c-1", changed_by="test")
    assert outcome.assignments
    assert calls == []


FALLBACK = {"fallback": {"territory": "EU-2", "reason": "data review"}}


def test_a_client_no_rule_places_is_held_in_the_fallback_territory_and_flagged():
    engine = engine_of(**FALLBACK)
    d = engine.decide(facts(country="JP"), StateView())  # no rule covers JP
    assert (d.territory_id, d.level, d.rule_id, d.advisor_email) == (
        "EU-2",
        DecisionLevel.FALLBACK,
        "fallback",
        C,
    )
    assert "fallback territory EU-2: data review" in d.reason
    [finding] = d.findings
    assert finding.kind == ConflictKind.NO_TERRITORY
    assert "held in the fallback territory EU-2" in finding.detail
    # A rule that applies still wins over the fallback.
    placed = engine.decide(facts(country="GB"), StateView())
    assert (placed.territory_id, placed.level) == ("EU", DecisionLevel.REGION)
    # Without a fallback the same client stays unassigned, flagged.
    bare = engine_of().decide(facts(country="JP"), StateView())
    assert (bare.territory_id, bare.level) == (None, DecisionLevel.UNASSIGNED)


def test_a_blacklisted_fallback_leaves_the_client_unassigned_with_the_reason():
    engine = engine_of(
        **FALLBACK,
        blacklist=[{"client_id": "c1", "territories": ["EU-2"], "reason": "sanctions desk"}],
    )
    d = engine.decide(facts(country="JP"), StateView())
    assert d.territory_id is None
    why = {c.rule_id: c.reason for c in d.trace.rejected_candidates}
    assert why["fallback"] == "fallback territory is blacklisted: sanctions desk"
    assert [f.kind for f in d.findings] == [ConflictKind.NO_TERRITORY]


def test_a_subsidiary_does_not_follow_a_parent_held_in_the_fallback():
    engine = engine_of(**FALLBACK, hierarchy={"subsidiaries": "follow_parent"})
    book = Book()
    book.put_client(ClientFacts.of(golden("p", country="JP")))
    book.put_client(ClientFacts.of(golden("s", country="GB", parent="p")))
    book.put_client(ClientFacts.of(golden("t", country="JP", parent="p")))
    for client_id in book.order():
        book.apply(engine, client_id, changed_by="t")
    assert book.placements["p"].territory_id == "EU-2"
    assert book.placements["s"].territory_id == "EU"  # its own region rule, not the parent
    assert (book.placements["t"].territory_id, book.placements["t"].rule_id) == (
        "EU-2",
        "fallback",
    )


@pytest.mark.parametrize(
    ("fallback", "problem"),
    [
        ({"territory": "NOWHERE"}, "unknown territory 'NOWHERE'"),
        ({"territory": "NA-BIG"}, "serves only tier 'big'"),
    ],
)
def test_the_fallback_must_be_a_territory_for_every_tier(fallback, problem):
    from territory.rules.ruleset import RulesetError

    with pytest.raises(RulesetError) as caught:
        engine_of(fallback=fallback)
    assert any(
        path == "fallback.territory" and problem in msg for path, msg in caught.value.problems
    )
