"""Properties of the engine over generated rulesets and clients (hypothesis)."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rules_factories import A, B, C, ruleset_doc

from territory.rules.book import Book
from territory.rules.engine import Engine
from territory.rules.facts import ClientFacts
from territory.rules.ruleset import parse_ruleset
from territory.shared.events import ConflictKind

COUNTRIES = ["US", "CA", "GB", "FR", "DE", "JP"]
SEGMENTS = ["Pension", "Bank", "Corporate", None]
TERRITORIES = ["NA", "NA-PEN", "NA-BIG", "EU", "EU-2"]
REGION = {"US": "NA", "CA": "NA", "GB": "EMEA", "FR": "EMEA", "DE": "EMEA", "JP": "APAC"}

comparison = st.one_of(
    st.builds(
        lambda c: {"field": "country", "op": "in", "value": c},
        st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda s: {"field": "segment", "op": "eq", "value": s}, st.sampled_from(SEGMENTS[:-1])
    ),
    st.builds(
        lambda op, v: {"field": "aum_usd", "op": op, "value": v},
        st.sampled_from(["lt", "le", "gt", "ge"]),
        st.sampled_from([0, 1e6, 1e9, 5e9]),
    ),
    st.builds(
        lambda p: {"field": "postal_code", "op": "prefix", "value": [p]},
        st.sampled_from(["1", "94", "SW"]),
    ),
    st.builds(
        lambda t: {"field": "tier", "op": "eq", "value": t}, st.sampled_from(["big", "small"])
    ),
    st.just({"field": "segment", "op": "missing"}),
)
condition = st.recursive(
    comparison,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=5,
)
rules = st.lists(
    st.builds(
        lambda when, level, priority, territory: {
            "level": level,
            "priority": priority,
            "when": when,
            "territory": territory,
        },
        condition,
        st.sampled_from(["tier", "segment", "region"]),
        st.integers(0, 2),
        st.sampled_from(TERRITORIES),
    ),
    min_size=1,
    max_size=8,
).map(lambda rs: [{"id": f"rule-{i}", **r} for i, r in enumerate(rs)])
clients = st.lists(
    st.builds(
        lambda country, segment, aum, postal: {
            "country": country,
            "region": REGION[country],
            "segment": segment,
            "aum_usd": aum,
            "postal_code": postal,
        },
        st.sampled_from(COUNTRIES),
        st.sampled_from(SEGMENTS),
        st.one_of(st.none(), st.sampled_from([0, 1e6, 1e9, 5e9]), st.floats(0, 1e10)),
        st.one_of(st.none(), st.sampled_from(["10001", "94105", "SW1A 1AA", "75008"])),
    ),
    min_size=1,
    max_size=25,
)
lists_of_entries = st.lists(st.tuples(st.integers(0, 24), st.sampled_from(TERRITORIES)), max_size=6)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def book_of(client_values) -> Book:
    book = Book()
    for i, values in enumerate(client_values):
        book.put_client(ClientFacts.build(f"c{i}", source_keys=(f"crm:c{i}",), **values))
    return book


def run(engine: Engine, book: Book, order=None) -> dict[str, tuple[str | None, str | None]]:
    for client_id in order or list(book.order()):
        book.apply(engine, client_id, changed_by="test")
    return {c: (p.territory_id, p.advisor_email) for c, p in book.placements.items()}


@SETTINGS
@given(rules, clients)
def test_deterministic_and_compiled_equals_naive(rule_list, client_values):
    engine = Engine(parse_ruleset(ruleset_doc(rules=rule_list)))
    first = run(engine, book_of(client_values))
    second = run(Engine(parse_ruleset(ruleset_doc(rules=rule_list))), book_of(client_values))
    assert first == second
    for values in client_values:
        facts = ClientFacts.build("x", **values)
        assert engine.match(facts.values) == engine.match_naive(facts.values)


@SETTINGS
@given(rules, clients, lists_of_entries)
def test_a_blacklisted_territory_is_never_assigned(rule_list, client_values, entries):
    blacklist = [{"client_id": f"c{i}", "territories": [t], "reason": "never"} for i, t in entries]
    # a whitelist naming blacklisted territories too: the blacklist must still win
    whitelist = [
        {"client_id": f"c{i}", "territory": t, "reason": "r", "owner": "o"} for i, t in entries[:2]
    ]
    engine = Engine(
        parse_ruleset(ruleset_doc(rules=rule_list, blacklist=blacklist, whitelist=whitelist))
    )
    placed = run(engine, book_of(client_values))
    forbidden = {(f"c{i}", t) for i, t in entries}
    assert not {(c, t) for c, (t, _) in placed.items()} & forbidden


@SETTINGS
@given(rules, clients, lists_of_entries, lists_of_entries)
def test_whitelist_wins_unless_blacklisted_which_is_reported(
    rule_list, client_values, white, black
):
    whitelist, seen = [], set()
    for i, t in white:
        if i not in seen:
            seen.add(i)
            whitelist.append({"client_id": f"c{i}", "territory": t, "reason": "r", "owner": "o"})
    blacklist = [{"client_id": f"c{i}", "territories": [t], "reason": "no"} for i, t in black]
    engine = Engine(
        parse_ruleset(ruleset_doc(rules=rule_list, whitelist=whitelist, blacklist=blacklist))
    )
    book = book_of(client_values)
    conflicts = []
    for client_id in list(book.order()):
        conflicts.extend(book.apply(engine, client_id, changed_by="test").conflicts)
    clashes = {c.client_id for c in conflicts if c.kind == ConflictKind.WHITELIST_BLACKLIST_CLASH}
    banned = {(f"c{i}", t) for i, t in black}
    for entry in whitelist:
        cid = entry["client_id"]
        if cid not in book.clients:
            continue
        if (cid, entry["territory"]) in banned:
            assert cid in clashes
            assert book.placements.get(cid) is None or (
                book.placements[cid].territory_id != entry["territory"]
            )
        else:
            assert cid not in clashes
            assert book.placements[cid].territory_id == entry["territory"]


@SETTINGS
@given(
    rules,
    clients,
    st.dictionaries(st.sampled_from([A, B, C]), st.integers(0, 3), min_size=3),
    st.randoms(use_true_random=False),
)
def test_strict_capacity_is_never_exceeded(rule_list, client_values, caps, rnd):
    doc = ruleset_doc(rules=rule_list)
    for advisor in doc["advisors"]:
        advisor["capacity"] = {"big": caps[advisor["email"]], "small": caps[advisor["email"]]}
    engine = Engine(parse_ruleset(doc))
    book = book_of(client_values)
    order = list(book.order())
    run(engine, book, order)
    rnd.shuffle(order)
    run(engine, book, order)  # re-deciding in another order keeps the bound
    recount: Counter[tuple[str, str]] = Counter(
        (p.advisor_email, p.tier) for p in book.placements.values() if p.advisor_email and p.tier
    )
    for (advisor, tier), n in recount.items():
        assert n <= engine.capacity[advisor][tier]
        assert book.loads[advisor][tier] == n


@SETTINGS
@given(rules, clients)
def test_replaying_an_unchanged_ruleset_moves_nobody(rule_list, client_values):
    engine = Engine(parse_ruleset(ruleset_doc(rules=rule_list)))
    book = book_of(client_values)
    run(engine, book)
    again = [
        a
        for client_id in list(book.order())
        for a in book.apply(engine, client_id, changed_by="replay").assignments
    ]
    assert again == []
