"""Row-level security and PII masking, probed by every read route.

A SALES_LEADERSHIP token for EMEA must not see one NA client by any route, even when it
asks for NA explicitly; detail routes answer 404 (not 403) for rows outside its regions.
Unprivileged roles never receive a tax id (or, for SALES_LEADERSHIP, an e-mail) in any
response, including free text and JSON traces.
"""

from __future__ import annotations

import re

import pytest

from territory.api.masking import EMAIL
from territory.api.security import Role, advisor_id

from .utils.tokens import bearer, token_for
from .utils.warehouse import CLIENTS_PER_REGION, NA_ONLY_ADVISOR, tax_id

pytestmark = pytest.mark.kafka

EMEA_LEADER = bearer(token_for(Role.SALES_LEADERSHIP, "EMEA"))
NA_MARKERS = re.compile(r"c-na-|na-east|na-west|Nick Westley|NA Pension|NA Endowment|TAXID-C-NA")


def _secret(runtime) -> str:
    return runtime.settings.secret_key.get_secret_value()


def read_routes(runtime) -> list[str]:
    """Every GET route, plainly and with filters that point at NA data."""
    nick = advisor_id(NA_ONLY_ADVISOR, _secret(runtime))
    sam = advisor_id("sam@global.example", _secret(runtime))
    return [
        "/api/summary",
        "/api/territories",
        "/api/territories?region=NA",
        "/api/territories?include_inactive=true&q=a",
        "/api/territories/emea-uk",
        "/api/territories/emea-uk/assignments?current_only=false",
        "/api/clients",
        "/api/clients?region=NA",
        "/api/clients?territory=na-east",
        f"/api/clients?advisor={nick}",
        f"/api/clients?advisor={sam}",
        "/api/clients?advisor=ann@na.example",
        "/api/clients?q=NA",
        "/api/clients?q=Fund&sort=-aum_usd&limit=1000",
        "/api/clients/hierarchy",
        "/api/clients/hierarchy?q=Fund",
        "/api/clients/hierarchy?parent_id=c-emea-3",
        *[f"/api/clients/c-emea-{i}" for i in range(1, CLIENTS_PER_REGION["EMEA"] + 1)],
        "/api/advisors",
        "/api/advisors?include_inactive=true",
        "/api/advisors?territory=na-east",
        f"/api/advisors/{sam}/workload?limit=1000",
        "/api/assignments",
        "/api/assignments?current_only=false&limit=1000",
        "/api/assignments?territory=na-east",
        "/api/assignments?client_id=c-na-1",
        f"/api/assignments?advisor={sam}",
        "/api/assignments/trend?days=365",
        "/api/assignments/trend?territory=na-east",
        "/api/conflicts",
        "/api/conflicts?resolved=false&limit=1000",
        "/api/conflicts?client_id=c-na-4",
    ]


NA_DETAIL_ROUTES = [
    "/api/clients/c-na-1",
    "/api/clients/c-na-3",
    "/api/clients/hierarchy?parent_id=c-na-1",
    "/api/territories/na-east",
    "/api/territories/na-west/assignments",
    "/api/advisors/{nick}/workload",
    "/api/advisors/nick@na.example/workload",
    "/api/conflicts/multi_territory:c-na-4/acknowledge",
]


async def test_emea_leadership_sees_no_na_row_on_any_route(client, runtime):
    for route in read_routes(runtime):
        response = await client.get(route, headers=EMEA_LEADER)
        assert response.status_code == 200, (route, response.text)
        leak = NA_MARKERS.search(response.text)
        assert leak is None, f"{route} leaks {leak.group(0)!r}: {response.text[:500]}"


async def test_emea_leadership_sees_its_own_rows(client):
    clients = (await client.get("/api/clients?limit=100", headers=EMEA_LEADER)).json()
    assert clients["total"] == CLIENTS_PER_REGION["EMEA"]
    assert {c["region"] for c in clients["items"]} == {"EMEA"}
    roots = (await client.get("/api/clients/hierarchy", headers=EMEA_LEADER)).json()
    # c-emea-3's parent is in NA: it appears as a root, its parent id hidden.
    root = next(n for n in roots["items"] if n["client_id"] == "c-emea-3")
    assert root["parent_client_id"] is None
    assert root["child_count"] == 1
    detail = (await client.get("/api/clients/c-emea-3", headers=EMEA_LEADER)).json()
    assert detail["golden"]["parent_client_id"] is None


async def test_na_rows_are_not_found_for_emea_leadership(client, runtime):
    nick = advisor_id(NA_ONLY_ADVISOR, _secret(runtime))
    for route in NA_DETAIL_ROUTES:
        method = "POST" if route.endswith("acknowledge") else "GET"
        response = await client.request(
            method, route.replace("{nick}", nick), headers=EMEA_LEADER, json={}
        )
        expected = 403 if method == "POST" else 404  # leadership may not acknowledge at all
        assert response.status_code == expected, (route, response.text)
        assert NA_MARKERS.search(response.text.replace(route, "")) is None


async def test_a_leadership_token_without_regions_sees_nothing(client):
    nobody = bearer(token_for(Role.SALES_LEADERSHIP))
    assert (await client.get("/api/clients", headers=nobody)).json()["total"] == 0
    assert (await client.get("/api/summary", headers=nobody)).json()["clients"] == 0
    assert (await client.get("/api/clients/c-emea-1", headers=nobody)).status_code == 404


async def test_a_global_role_sees_every_region(client):
    analyst = bearer(token_for(Role.CRM_ANALYST, "EMEA"))  # regions do not limit analysts
    clients = (await client.get("/api/clients?limit=100", headers=analyst)).json()
    assert clients["total"] == sum(CLIENTS_PER_REGION.values())


ALL_TAX_IDS = re.compile(r"TAXID-")


@pytest.mark.parametrize("role", [Role.CRM_ANALYST, Role.SALES_LEADERSHIP])
async def test_no_pii_in_any_response_of_unprivileged_roles(client, runtime, role):
    headers = bearer(token_for(role, "EMEA", "NA", "APAC"))
    routes = [
        *read_routes(runtime),
        *[f"/api/clients/c-na-{i}" for i in range(1, CLIENTS_PER_REGION["NA"] + 1)],
    ]
    if role is Role.CRM_ANALYST:
        routes += ["/api/dedupe/review", "/api/rulesets", "/api/rulesets/versions/2026.11.2"]
    for route in routes:
        response = await client.get(route, headers=headers)
        assert response.status_code == 200, (route, response.text)
        assert ALL_TAX_IDS.search(response.text) is None, (route, response.text[:500])
        if role is Role.SALES_LEADERSHIP:
            email = EMAIL.search(response.text)
            assert email is None, f"{route} shows {email.group(0)!r}"


async def test_privileged_roles_see_pii(client):
    """The positive control: masking is by role, not a blanket removal of the data."""
    admin = bearer(token_for(Role.ADMIN))
    detail = (await client.get("/api/clients/c-na-1", headers=admin)).json()
    assert detail["golden"]["tax_id"] == tax_id("c-na-1")
    assert detail["masked"] == []
    assert {s["tax_id"] for s in detail["source_records"]} == {tax_id("c-na-1")}
    trace = detail["current_assignment"]["trace"]
    assert "@" in trace["advisor_selection"]

    analyst = bearer(token_for(Role.CRM_ANALYST))
    detail = (await client.get("/api/clients/c-na-1", headers=analyst)).json()
    assert detail["golden"]["tax_id"] is None
    assert detail["masked"] == ["tax_id"]
    assert detail["current_assignment"]["advisor"]["email"] == "nick@na.example"
    review = (await client.get("/api/dedupe/review", headers=analyst)).json()
    reasons = review["items"][0]["evidence"][0]["reasons"]
    assert reasons == ["same tax id [masked]", "advisor ann@na.example on both"]


async def test_leadership_uses_advisor_ids_not_emails(client, runtime):
    leader = bearer(token_for(Role.SALES_LEADERSHIP, "EMEA"))
    advisors = (await client.get("/api/advisors", headers=leader)).json()["items"]
    bob = next(a for a in advisors if a["name"] == "Bob Europa")
    assert bob["email"] is None
    assert bob["advisor_id"] == advisor_id("bob@emea.example", _secret(runtime))
    workload = await client.get(f"/api/advisors/{bob['advisor_id']}/workload", headers=leader)
    assert workload.status_code == 200
    # An e-mail is not a key for a role that may not see e-mails.
    by_email = await client.get("/api/advisors/bob@emea.example/workload", headers=leader)
    assert by_email.status_code == 404


async def test_texts_name_no_row_of_another_region(client):
    """Issue 13: reasons, traces and conflict details written by the rules service name
    parent clients and territories of other regions; a region-scoped reader gets those ids
    replaced, the ids of its own region kept, and the global roles the texts unchanged."""
    detail = (await client.get("/api/clients/c-emea-3", headers=EMEA_LEADER)).json()
    current = detail["current_assignment"]
    assert current["reason"].startswith("c-emea-3 follows its parent another region into")
    assert "another region" in current["reason"]
    assert "c-na-1" not in current["reason"]
    assert current["previous_territory_id"] == "another region"
    assert current["trace"]["notes"] == [
        "follows its parent another region (another region)",
        "kept c-emea-3 in region",
    ]
    assert current["trace"]["rejected_candidates"][0]["territory_id"] == "another region"
    conflicts = (await client.get("/api/conflicts", headers=EMEA_LEADER)).json()["items"]
    emea1 = next(c for c in conflicts if c["client_id"] == "c-emea-1")
    assert emea1["detail"] == (
        "c-emea-1 matches emea-uk and another region (shares a parent with another region)"
    )

    admin = bearer(token_for(Role.ADMIN))
    raw = (await client.get("/api/clients/c-emea-3", headers=admin)).json()["current_assignment"]
    assert "c-na-1 into na-east" in raw["reason"]
    assert raw["previous_territory_id"] == "na-west"
    conflicts = (await client.get("/api/conflicts", headers=admin)).json()["items"]
    assert "na-west" in next(c for c in conflicts if c["client_id"] == "c-emea-1")["detail"]


async def test_assignments_name_their_advisor(client):
    """Issue 13: `advisor.name` was null in every assignment; it comes from ADVISOR_DIM."""
    admin = bearer(token_for(Role.ADMIN))
    items = (await client.get("/api/assignments?limit=100", headers=admin)).json()["items"]
    assert items
    assert all(a["advisor"]["name"] for a in items if a["advisor"])
    bob = next(a for a in items if a["advisor"] and a["advisor"]["email"] == "bob@emea.example")
    assert bob["advisor"]["name"] == "Bob Europa"
    detail = (await client.get("/api/clients/c-na-1", headers=admin)).json()
    assert detail["current_assignment"]["advisor"]["name"]
