"""Every endpoint × every role: 200 / 202 / 403, and 401 without a token. The table below
is the access policy; a route missing from it fails the test, so none can escape it."""

from __future__ import annotations

import pytest

from territory.api.app import create_app
from territory.api.security import Role

from .utils.tokens import bearer, token_for

pytestmark = pytest.mark.kafka

A, D, C, S = Role.ADMIN, Role.DATA_ENGINEER, Role.CRM_ANALYST, Role.SALES_LEADERSHIP
EVERYONE = {A, D, C, S}

CANDIDATE = {"document": {"version": "9.9", "territories": [], "advisors": []}}

# (method, route template, concrete path, body, roles allowed, success status)
ENDPOINTS = [
    ("GET", "/api/summary", "/api/summary", None, EVERYONE, 200),
    ("GET", "/api/data-quality", "/api/data-quality", None, EVERYONE, 200),
    ("GET", "/api/data-quality/issues", "/api/data-quality/issues", None, EVERYONE, 200),
    ("GET", "/api/territories", "/api/territories", None, EVERYONE, 200),
    ("GET", "/api/territories/{territory_id}", "/api/territories/emea-uk", None, EVERYONE, 200),
    (
        "GET",
        "/api/territories/{territory_id}/assignments",
        "/api/territories/emea-uk/assignments",
        None,
        EVERYONE,
        200,
    ),
    ("GET", "/api/clients", "/api/clients", None, EVERYONE, 200),
    ("GET", "/api/clients/hierarchy", "/api/clients/hierarchy", None, EVERYONE, 200),
    ("GET", "/api/clients/{client_id}", "/api/clients/c-emea-1", None, EVERYONE, 200),
    ("GET", "/api/advisors", "/api/advisors", None, EVERYONE, 200),
    (
        "GET",
        "/api/advisors/{advisor}/workload",
        "/api/advisors/{bob}/workload",
        None,
        EVERYONE,
        200,
    ),
    ("GET", "/api/assignments", "/api/assignments", None, EVERYONE, 200),
    ("GET", "/api/assignments/trend", "/api/assignments/trend", None, EVERYONE, 200),
    ("GET", "/api/conflicts", "/api/conflicts", None, EVERYONE, 200),
    ("GET", "/api/dedupe/review", "/api/dedupe/review", None, {A, D, C}, 200),
    ("GET", "/api/rulesets", "/api/rulesets", None, {A, D, C}, 200),
    (
        "GET",
        "/api/rulesets/versions/{version}",
        "/api/rulesets/versions/2026.11.2",
        None,
        {A, D, C},
        200,
    ),
    ("POST", "/api/rulesets/preview", "/api/rulesets/preview", CANDIDATE, {A, C}, 200),
    ("POST", "/api/rulesets", "/api/rulesets", CANDIDATE, {A}, 202),
    (
        "POST",
        "/api/rulesets/whitelist",
        "/api/rulesets/whitelist",
        {"client_id": "c-emea-1", "territory_id": "emea-uk", "reason": "r"},
        {A, C},
        202,
    ),
    (
        "POST",
        "/api/rulesets/blacklist",
        "/api/rulesets/blacklist",
        {"client_id": "c-emea-1", "territory_ids": ["na-east"], "reason": "r"},
        {A, C},
        202,
    ),
    ("POST", "/api/assignments/reassign", "/api/assignments/reassign", {}, {A, D}, 202),
    (
        "POST",
        "/api/conflicts/{conflict_id}/acknowledge",
        "/api/conflicts/multi_territory:c-emea-1/acknowledge",
        {},
        {A, C},
        202,
    ),
    (
        "POST",
        "/api/dedupe/review/decisions",
        "/api/dedupe/review/decisions",
        {"action": "merge", "client_ids": ["c-emea-1", "c-emea-2"]},
        {A, D, C},
        202,
    ),
]


def test_the_table_covers_every_api_route(settings):
    app = create_app(settings, manage_runtime=False)
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api")
        for method in operations
    }
    assert routes == {(m, template) for m, template, *_ in ENDPOINTS}


def _path(path: str, runtime) -> str:
    from territory.api.security import advisor_id

    return path.replace(
        "{bob}", advisor_id("bob@emea.example", runtime.settings.secret_key.get_secret_value())
    )


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(
    ("method", "template", "path", "body", "allowed", "ok"),
    ENDPOINTS,
    ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS],
)
async def test_endpoint_by_role(client, runtime, role, method, template, path, body, allowed, ok):
    token = token_for(role, "EMEA")
    response = await client.request(method, _path(path, runtime), json=body, headers=bearer(token))
    expected = ok if role in allowed else 403
    assert response.status_code == expected, response.text


@pytest.mark.parametrize(
    ("method", "template", "path", "body", "allowed", "ok"),
    ENDPOINTS,
    ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS],
)
async def test_endpoint_without_token(client, runtime, method, template, path, body, allowed, ok):
    response = await client.request(method, _path(path, runtime), json=body)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
