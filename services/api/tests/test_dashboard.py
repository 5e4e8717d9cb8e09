"""The dashboard's routes: sign-in (development issuer, config, me), a territory's clients
keyset-paged, refused records by reason, and the bundle served with a SPA fallback."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, insert

from territory.api.app import create_app
from territory.api.counting import CountCache
from territory.api.security import Role, TokenVerifier
from territory.api.settings import ApiOptions, ApiSettings
from territory.shared.warehouse import schema as wh

from .utils.tokens import bearer, token_for
from .utils.warehouse import tax_id

pytestmark = pytest.mark.kafka

ADMIN = bearer(token_for(Role.ADMIN))
ANALYST = bearer(token_for(Role.CRM_ANALYST))
LEADER_EMEA = bearer(token_for(Role.SALES_LEADERSHIP, "EMEA"))


def _app_with(runtime, settings: ApiSettings):
    app = create_app(settings, manage_runtime=False)
    # A count cache of its own, as its settings say: the session runtime's cache holds
    # totals other tests counted (an empty table counted earlier stays 0 for 30 s).
    app.state.runtime = dataclasses.replace(
        runtime,
        settings=settings,
        verifier=TokenVerifier(settings.auth),
        counts=CountCache(settings.api.count_cache_seconds),
    )
    return app


async def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def test_auth_config_says_whether_the_development_issuer_answers(client):
    config = (await client.get("/api/auth/config")).json()
    assert config["development"] is False  # the test settings run as "test"
    assert set(config["roles"]) == {r.value for r in Role}
    assert "EMEA" in config["regions"]
    refused = await client.post("/api/auth/dev-token", json={"roles": ["TERRITORY_ADMIN"]})
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"


async def test_development_tokens_carry_the_role_and_regions_asked_for(runtime, settings):
    dev = settings.model_copy(update={"environment": "development"})
    async with await _client(_app_with(runtime, dev)) as c:
        assert (await c.get("/api/auth/config")).json()["development"] is True
        issued = await c.post(
            "/api/auth/dev-token", json={"roles": ["SALES_LEADERSHIP"], "regions": ["emea"]}
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        me = (await c.get("/api/auth/me", headers=bearer(token))).json()
        assert me["roles"] == ["SALES_LEADERSHIP"]
        assert me["regions"] == ["EMEA"]
        assert me["sees_emails"] is False
        assert me["sees_tax_id"] is False
        clients = (await c.get("/api/clients?limit=500", headers=bearer(token))).json()
        assert clients["items"]
        assert {i["region"] for i in clients["items"]} == {"EMEA"}
        bad = await c.post(
            "/api/auth/dev-token", json={"roles": ["CRM_ANALYST"], "regions": ["XX"]}
        )
        assert bad.status_code == 422


async def test_me_for_a_global_role_has_no_region_limit(client):
    me = (await client.get("/api/auth/me", headers=ADMIN)).json()
    assert me["regions"] is None
    assert me["sees_tax_id"] is True


@pytest.mark.parametrize("sort", ["name", "-name", "aum_usd", "-aum_usd", "tier", "client_id"])
async def test_territory_clients_keyset_pages_cover_every_client_once_in_order(client, sort):
    full = (
        await client.get(f"/api/clients?territory=na-east&limit=500&sort={sort}", headers=ADMIN)
    ).json()["items"]
    assert len(full) >= 2
    seen: list[str] = []
    cursor = None
    for _ in range(len(full) + 1):
        params = {"limit": 1, "sort": sort, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/api/territories/na-east/clients", params=params, headers=ADMIN)
        ).json()
        assert page["total"] == len(full)
        seen += [i["client_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c["client_id"] for c in full)
    assert len(seen) == len(set(seen))
    if sort in ("name", "-name"):
        names = [next(c["name"] for c in full if c["client_id"] == i) for i in seen]
        assert names == sorted(names, reverse=sort.startswith("-"))


async def test_territory_clients_search_scope_and_bad_cursors(client):
    everyone = (await client.get("/api/territories/na-east/clients", headers=ADMIN)).json()
    word = everyone["items"][0]["name"].split()[-1]  # the number that ends one name
    hit = (await client.get(f"/api/territories/na-east/clients?q={word}", headers=ADMIN)).json()
    assert hit["items"]
    assert all(word in i["name"] for i in hit["items"])
    assert hit["total"] < everyone["total"]
    # Outside the caller's regions the territory does not exist.
    hidden = await client.get("/api/territories/na-east/clients", headers=LEADER_EMEA)
    assert hidden.status_code == 404
    bad = await client.get("/api/territories/na-east/clients?cursor=xyz", headers=ADMIN)
    assert bad.status_code == 400
    first = (
        await client.get("/api/territories/na-east/clients?limit=1&sort=name", headers=ADMIN)
    ).json()
    other_sort = await client.get(
        f"/api/territories/na-east/clients?sort=-name&cursor={first['next_cursor']}",
        headers=ADMIN,
    )
    assert other_sort.status_code == 400


@pytest.fixture
def rejections(warehouse_engine):
    now = datetime.now(UTC)
    rows = [
        {
            "event_id": f"00000000-0000-4000-8000-00000000000{i}",
            "stage": stage,
            "reason": reason,
            "source_key": f"csv:{i}",
            "errors": [
                {
                    "field": "lei",
                    "code": "invalid_lei",
                    "message": f"bad LEI for {tax_id('c-na-1')}",
                }
            ]
            if reason == "invalid_record"
            else [],
            "original": "raw bytes",
            "original_encoding": "utf-8",
            "original_format": "csv",
            "row_number": i,
            "attempts": 1,
            "occurred_at": now,
            "loaded_at": now,
        }
        for i, (stage, reason) in enumerate(
            [("ingestion", "invalid_record")] * 3 + [("dedupe", "poison_message")]
        )
    ]
    with warehouse_engine.begin() as conn:
        conn.execute(insert(wh.rejected_records), rows)
    yield rows
    with warehouse_engine.begin() as conn:
        conn.execute(delete(wh.rejected_records))


async def test_refused_records_by_reason_and_newest_first(runtime, settings, rejections):
    fresh = settings.model_copy(
        update={"api": settings.api.model_copy(update={"count_cache_seconds": 0})}
    )
    async with await _client(_app_with(runtime, fresh)) as c:
        summary = (await c.get("/api/data-quality/rejections/summary", headers=ANALYST)).json()
        assert summary["total"] == 4
        assert summary["by_reason"][0] == {
            "stage": "ingestion",
            "reason": "invalid_record",
            "records": 3,
        }
        page = (
            await c.get("/api/data-quality/rejections?reason=invalid_record", headers=ANALYST)
        ).json()
        assert page["total"] == 3
        assert page["items"][0]["fields"] == ["lei"]
        assert "raw bytes" not in str(page)


def test_the_bundle_is_served_with_a_spa_fallback(tmp_path: Path, settings):
    from fastapi.testclient import TestClient

    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>dashboard</html>")
    (tmp_path / "assets" / "app-1.js").write_text("console.log(1)")
    served = settings.model_copy(
        update={"api": ApiOptions(**{**settings.api.model_dump(), "dashboard_dir": tmp_path})}
    )
    app = create_app(served, manage_runtime=False)
    with TestClient(app) as c:
        assert c.get("/").text == "<html>dashboard</html>"
        deep = c.get("/clients/c-na-1")
        assert deep.status_code == 200
        assert "dashboard" in deep.text
        assert deep.headers["cache-control"] == "no-cache"
        asset = c.get("/assets/app-1.js")
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
        assert c.get("/assets/missing.js").status_code == 404
        api_typo = c.get("/api/nothing-here")
        assert api_typo.status_code == 404
        assert api_typo.headers["content-type"] == "application/problem+json"


def test_without_a_bundle_the_root_says_how_to_build_it(tmp_path: Path, settings):
    from fastapi.testclient import TestClient

    served = settings.model_copy(
        update={"api": ApiOptions(**{**settings.api.model_dump(), "dashboard_dir": tmp_path})}
    )
    with TestClient(create_app(served, manage_runtime=False)) as c:
        root = c.get("/")
        assert root.status_code == 503
        assert "make frontend" in root.text


async def test_the_hierarchy_filters_by_region_and_segment(client):
    roots = (await client.get("/api/clients/hierarchy?limit=500", headers=ADMIN)).json()["items"]
    emea = (await client.get("/api/clients/hierarchy?region=emea&limit=500", headers=ADMIN)).json()[
        "items"
    ]
    assert emea
    assert {n["region"] for n in emea} == {"EMEA"}
    assert len(emea) < len(roots)
    pension = (
        await client.get("/api/clients/hierarchy?q=Fund&segment=Pension&limit=500", headers=ADMIN)
    ).json()["items"]
    assert pension
    assert {n["segment"] for n in pension} == {"Pension"}
