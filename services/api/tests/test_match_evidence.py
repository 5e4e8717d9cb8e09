"""Client detail: each source record carries its match evidence (issue 10), scrubbed like
every other evidence for callers who may not see it: a SALES_LEADERSHIP caller gets no
out-of-region client id, in the candidate or in the reasons, no e-mail and no tax id."""

from __future__ import annotations

import json
import re

from territory.api.masking import EMAIL, OTHER_REGION
from territory.api.security import Role

from .utils.tokens import bearer, token_for
from .utils.warehouse import MATCHED_AT

ADMIN = bearer(token_for(Role.ADMIN))
LEADER_EMEA = bearer(token_for(Role.SALES_LEADERSHIP, "EMEA"))


async def sources(client, client_id: str, headers) -> dict[str, dict]:
    response = await client.get(f"/api/clients/{client_id}", headers=headers)
    assert response.status_code == 200, response.text
    return {s["source_key"]: s for s in response.json()["source_records"]}


async def test_client_detail_returns_each_source_records_match(client):
    records = await sources(client, "c-emea-3", ADMIN)
    match = records["salesforce:c-emea-3"]["match"]
    assert match["decision"] == "merged"
    assert match["confidence"] == 0.91
    # The best (first) evidence entry: who it was compared with, per-field scores, why.
    assert match["candidate_client_id"] == "c-na-2"
    assert match["field_scores"] == {"name": 0.95, "tax_id": 1.0, "postal_code": 0.0}
    assert match["reasons"] == [
        "matched source record hubspot:c-na-2",
        "same tax id TAXID-C-NA-2",
        "shares a parent with c-na-1",
        "advisor ann@na.example on both",
    ]
    assert match["occurred_at"] == MATCHED_AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    # A record without a recorded decision has no match (not an empty one).
    assert records["hubspot:c-emea-3"]["match"] is None


async def test_a_record_that_founded_its_client_has_a_match_without_evidence(client):
    match = (await sources(client, "c-na-1", ADMIN))["salesforce:c-na-1"]["match"]
    assert match["decision"] == "new"
    assert match["confidence"] is None
    assert (match["candidate_client_id"], match["reasons"], match["field_scores"]) == (
        None,
        [],
        {},
    )


async def test_a_regional_caller_gets_no_out_of_region_id_inside_evidence(client):
    match = (await sources(client, "c-emea-3", LEADER_EMEA))["salesforce:c-emea-3"]["match"]
    assert match["decision"] == "merged"
    assert match["confidence"] == 0.91
    assert match["candidate_client_id"] is None  # c-na-2 lies in NA
    assert match["field_scores"] == {"name": 0.95, "tax_id": 1.0, "postal_code": 0.0}
    text = json.dumps(match)
    assert not re.search(r"c-na-|TAXID-", text), text
    assert not EMAIL.search(text), text
    assert match["reasons"][0] == f"matched source record hubspot:{OTHER_REGION}"
    assert match["reasons"][2] == f"shares a parent with {OTHER_REGION}"
    # And nothing else in the answer names an NA row or carries PII.
    whole = (await client.get("/api/clients/c-emea-3", headers=LEADER_EMEA)).text
    assert not re.search(r"c-na-|na-east|na-west|TAXID-", whole), whole
    assert not EMAIL.search(whole), whole


async def test_a_regional_caller_keeps_an_in_region_candidate(client):
    match = (await sources(client, "c-emea-1", LEADER_EMEA))["hubspot:c-emea-1"]["match"]
    assert match["decision"] == "possible_duplicate"
    assert match["candidate_client_id"] == "c-emea-2"
    assert match["reasons"] == ["similar name to c-emea-2"]
