"""Data quality endpoints: quarantined field values per client and by field and code, for
every role: SALES_LEADERSHIP sees only its regions, raw PII values are masked for roles
that may not see them."""

from __future__ import annotations

from datetime import datetime

import pytest

from territory.api.security import Role

from .utils.tokens import bearer, token_for
from .utils.warehouse import NOW

pytestmark = pytest.mark.kafka

ADMIN = bearer(token_for(Role.ADMIN))
ENGINEER = bearer(token_for(Role.DATA_ENGINEER))
ANALYST = bearer(token_for(Role.CRM_ANALYST))
LEADER_EMEA = bearer(token_for(Role.SALES_LEADERSHIP, "EMEA"))
LEADER_NA = bearer(token_for(Role.SALES_LEADERSHIP, "NA"))


async def get(client, path, headers):
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("headers", [ADMIN, ENGINEER, ANALYST])
async def test_summary_by_field_and_code_for_roles_with_every_region(client, headers):
    body = await get(client, "/api/data-quality", headers)
    # The retired client's issue and the one not yet linked to a client never count.
    assert body["issues"] == 6
    assert body["clients_with_issues"] == 4
    assert body["by_field"] == {
        "advisor_email": 1,
        "aum_usd": 1,
        "lei": 1,
        "segment": 2,
        "tax_id": 1,
    }
    top = body["by_field_and_code"][0]
    assert top == {"field": "segment", "code": "unknown_segment", "issues": 2, "clients": 2}


async def test_sales_leadership_sees_only_its_regions(client):
    emea = await get(client, "/api/data-quality", LEADER_EMEA)
    assert emea["issues"] == 2
    assert emea["by_field"] == {"advisor_email": 1, "segment": 1}
    assert emea["masked"] == ["tax_id", "emails"]
    na = await get(client, "/api/data-quality", LEADER_NA)
    assert na["by_field"] == {"lei": 1, "segment": 1, "tax_id": 1}
    listed = await get(client, "/api/data-quality/issues?limit=100", LEADER_EMEA)
    assert {i["client_id"] for i in listed["items"]} == {"c-emea-1"}
    assert listed["total"] == 2


async def test_issue_list_filters_and_masks_pii_raw_values(client):
    admin = await get(client, "/api/data-quality/issues?field=tax_id", ADMIN)
    assert [(i["client_id"], i["raw"]) for i in admin["items"]] == [("c-na-1", "98-7654321X")]
    analyst = await get(client, "/api/data-quality/issues?field=tax_id", ANALYST)
    (masked,) = analyst["items"]
    assert masked["raw"] is None
    assert "98-7654321X" not in masked["message"]
    # E-mails: visible to the analyst, not to sales leadership.
    seen = await get(client, "/api/data-quality/issues?code=invalid_email", ANALYST)
    assert seen["items"][0]["raw"] == "ann.at.example"
    hidden = await get(client, "/api/data-quality/issues?code=invalid_email", LEADER_EMEA)
    assert hidden["items"][0]["raw"] is None
    lei = await get(client, "/api/data-quality/issues?field=lei&code=invalid_lei", LEADER_NA)
    assert [i["raw"] for i in lei["items"]] == ["5493001KJTIIGC8Y1R19"]  # not PII


async def test_issues_say_when_the_record_carrying_them_arrived(client):
    listed = await get(client, "/api/data-quality/issues?limit=100", ADMIN)
    assert {datetime.fromisoformat(i["occurred_at"]) for i in listed["items"]} == {NOW}
    detail = await get(client, "/api/clients/c-na-1", ADMIN)
    assert all(datetime.fromisoformat(i["occurred_at"]) == NOW for i in detail["field_issues"])


async def test_client_detail_lists_its_field_issues(client):
    detail = await get(client, "/api/clients/c-na-1", ADMIN)
    assert [(i["source_key"], i["field"], i["raw"]) for i in detail["field_issues"]] == [
        ("hubspot:c-na-1", "tax_id", "98-7654321X"),
        ("salesforce:c-na-1", "lei", "5493001KJTIIGC8Y1R19"),
    ]
    leader = await get(client, "/api/clients/c-na-1", LEADER_NA)
    assert [i["raw"] for i in leader["field_issues"]] == [None, "5493001KJTIIGC8Y1R19"]
    clean = await get(client, "/api/clients/c-na-2", ADMIN)
    assert clean["field_issues"] == []
    outside = await client.get("/api/data-quality/issues", headers=LEADER_EMEA)
    assert all(i["client_id"].startswith("c-emea") for i in outside.json()["items"])


@pytest.mark.parametrize("path", ["/api/data-quality", "/api/data-quality/issues"])
async def test_data_quality_needs_a_token(client, path):
    response = await client.get(path)
    assert response.status_code == 401
