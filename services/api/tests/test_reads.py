"""What the read endpoints return: filters, sorting, paging bounds, detail, workload."""

from __future__ import annotations

import pytest

from territory.api.security import Role

from .utils.tokens import bearer, token_for
from .utils.warehouse import CLIENTS_PER_REGION

pytestmark = pytest.mark.kafka

ADMIN = bearer(token_for(Role.ADMIN))
TOTAL = sum(CLIENTS_PER_REGION.values())  # the retired client never counts


async def get(client, path, headers=ADMIN):
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_page_size_is_capped_and_offset_pages(client, settings):
    capped = await get(client, "/api/clients?limit=1000000")
    assert capped["limit"] == settings.api.max_page_size
    assert capped["total"] == TOTAL
    assert len(capped["items"]) == TOTAL
    default = await get(client, "/api/clients")
    assert default["limit"] == settings.api.default_page_size
    first = await get(client, "/api/clients?limit=5&sort=client_id")
    second = await get(client, "/api/clients?limit=5&offset=5&sort=client_id")
    ids = [c["client_id"] for c in first["items"] + second["items"]]
    assert len(set(ids)) == 10
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=-1", "offset=-1", "sort=tax_id", "sort=name;drop", "limit=abc"]
)
async def test_bad_paging_and_sorting_are_422(client, query):
    response = await client.get(f"/api/clients?{query}", headers=ADMIN)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_client_filters_and_sort(client):
    emea = await get(client, "/api/clients?region=emea")
    assert emea["total"] == CLIENTS_PER_REGION["EMEA"]
    pensions = await get(client, "/api/clients?segment=Pension&region=NA")
    assert {c["segment"] for c in pensions["items"]} == {"Pension"}
    assert pensions["total"] == 3
    in_territory = await get(client, "/api/clients?territory=emea-uk")
    assert {c["territory_id"] for c in in_territory["items"]} == {"emea-uk"}
    tier = await get(client, "/api/clients?tier=t1")
    assert {c["tier"] for c in tier["items"]} == {"t1"}
    search = await get(client, "/api/clients?q=endowment 4")
    assert {c["client_id"] for c in search["items"]} == {"c-na-4", "c-emea-4"}
    percent = await get(client, "/api/clients?q=%25")
    assert percent["total"] == 0  # LIKE wildcards are escaped
    by_aum = await get(client, "/api/clients?sort=-aum_usd&region=NA")
    aums = [c["aum_usd"] for c in by_aum["items"]]
    assert aums == sorted(aums, reverse=True)
    by_advisor = await get(client, "/api/clients?advisor=bob@emea.example")
    assert {c["advisor"]["email"] for c in by_advisor["items"]} == {"bob@emea.example"}
    assert by_advisor["total"] >= 1


async def test_client_detail(client):
    detail = await get(client, "/api/clients/c-na-3")
    assert detail["golden"]["name"] == "NA Pension Fund 3"
    assert detail["golden"]["parent_client_id"] == "c-na-1"
    assert sorted(s["source_key"] for s in detail["source_records"]) == [
        "hubspot:c-na-3",
        "salesforce:c-na-3",
    ]
    history = detail["history"]
    assert [h["is_current"] for h in history] == [True, False]  # newest first
    current = detail["current_assignment"]
    assert current["event_id"] == history[0]["event_id"]
    assert current["trace"]["matched_conditions"] == ["region eq NA"]
    assert current["ruleset_version"] == "2026.11.2"
    missing = await client.get("/api/clients/nope", headers=ADMIN)
    assert missing.status_code == 404
    retired = await client.get("/api/clients/c-na-retired", headers=ADMIN)
    assert retired.status_code == 200  # still readable by id (merged_into is in lineage)


async def test_hierarchy_roots_children_and_search(client):
    roots = await get(client, "/api/clients/hierarchy?limit=100")
    root_ids = {n["client_id"] for n in roots["items"]}
    assert "c-na-1" in root_ids
    assert "c-na-3" not in root_ids
    assert "c-emea-3" not in root_ids  # its parent is visible to an admin
    na1 = next(n for n in roots["items"] if n["client_id"] == "c-na-1")
    assert na1["child_count"] == 2
    children = await get(client, "/api/clients/hierarchy?parent_id=c-na-1")
    assert {n["client_id"] for n in children["items"]} == {"c-na-3", "c-emea-3"}
    found = await get(client, "/api/clients/hierarchy?q=endowment 4")
    emea4 = next(n for n in found["items"] if n["client_id"] == "c-emea-4")
    assert emea4["path"] == ["c-na-1", "c-emea-3"]
    assert (
        await client.get("/api/clients/hierarchy?parent_id=nope", headers=ADMIN)
    ).status_code == 404


async def test_territories(client):
    listed = await get(client, "/api/territories")
    assert "emea-old" not in {t["territory_id"] for t in listed["items"]}
    every = await get(client, "/api/territories?include_inactive=true")
    assert every["total"] == listed["total"] + 1
    detail = await get(client, "/api/territories/emea-uk")
    assert {a["email"] for a in detail["advisors"]} == {"bob@emea.example", "sam@global.example"}
    assert sum(t["clients"] for t in detail["clients_by_tier"]) == detail["client_count"]
    clients = await get(client, "/api/clients?territory=emea-uk&limit=100")
    assert detail["client_count"] == clients["total"]
    assignments = await get(client, "/api/territories/emea-uk/assignments")
    assert assignments["total"] == detail["client_count"]
    assert {a["territory_id"] for a in assignments["items"]} == {"emea-uk"}
    assert (await client.get("/api/territories/nope", headers=ADMIN)).status_code == 404


async def test_advisors_and_workload(client):
    advisors = await get(client, "/api/advisors?sort=name")
    names = [a["name"] for a in advisors["items"]]
    assert names == sorted(names)
    sam = next(a for a in advisors["items"] if a["email"] == "sam@global.example")
    assert sam["territory_ids"] == ["emea-uk", "na-east"]
    workload = await get(client, "/api/advisors/sam@global.example/workload?limit=100")
    assert workload["client_count"] == workload["clients"]["total"] == sam["client_count"]
    t1 = next(t for t in workload["by_tier"] if t["tier"] == "t1")
    assert t1["capacity"] == 2
    assert t1["utilisation"] == pytest.approx(t1["clients"] / 2)
    assert workload["utilisation"] == pytest.approx(workload["client_count"] / 2)
    by_id = await get(client, f"/api/advisors/{sam['advisor_id']}/workload")
    assert by_id["client_count"] == workload["client_count"]
    assert (await client.get("/api/advisors/adv_nope/workload", headers=ADMIN)).status_code == 404


async def test_assignments_and_trend(client):
    current = await get(client, "/api/assignments?limit=500")
    assert all(a["is_current"] for a in current["items"])
    history = await get(client, "/api/assignments?current_only=false&limit=500")
    assert history["total"] == 2 * current["total"]
    dates = [a["effective_from"] for a in history["items"]]
    assert dates == sorted(dates, reverse=True)
    trend = await get(client, "/api/assignments/trend?days=30")
    assert sum(p["changes"] for p in trend["points"]) == history["total"]
    short = await get(client, "/api/assignments/trend?days=7")
    assert sum(p["changes"] for p in short["points"]) == current["total"]


async def test_conflicts_dedupe_rulesets_summary(client):
    conflicts = await get(client, "/api/conflicts")
    assert conflicts["total"] == 4
    kinds = await get(client, "/api/conflicts?kind=advisor_over_capacity")
    assert kinds["total"] == 2
    assert (await client.get("/api/conflicts?kind=bogus", headers=ADMIN)).status_code == 422
    review = await get(client, "/api/dedupe/review")
    assert review["total"] == 2
    assert review["items"][0]["candidate_client_ids"][0] == review["items"][0]["client_id"]
    rulesets = await get(client, "/api/rulesets")
    assert [(r["version"], r["active"]) for r in rulesets["items"]] == [
        ("2026.11.2", True),
        ("2026.11.1", False),
    ]
    version = await get(client, "/api/rulesets/versions/2026.11.1")
    assert version["document"]["version"] == "2026.11.1"
    summary = await get(client, "/api/summary")
    assert summary["clients"] == TOTAL
    assert summary["clients_by_region"] == {k: v for k, v in CLIENTS_PER_REGION.items()}
    assert summary["unassigned_clients"] == 3  # client 2 of each region
    assert summary["open_conflicts"] == 4
    assert summary["open_dedupe_reviews"] == 2
    assert summary["active_ruleset_version"] == "2026.11.2"
    assert summary["regions"] is None
