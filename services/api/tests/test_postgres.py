"""The same queries on PostgreSQL (the warehouse's server option): every read route answers
as on the embedded SQLite file, row-level security included."""

from __future__ import annotations

import httpx
import pytest

from territory.api.app import create_app
from territory.api.runtime import running
from territory.api.security import Role
from territory.api.warehouse import make_engine

from .conftest import make_settings
from .test_rls_pii import NA_MARKERS, read_routes
from .utils.tokens import bearer, token_for
from .utils.warehouse import fill

pytestmark = pytest.mark.kafka


async def test_read_routes_on_postgresql(postgres_url, shared_kafka, fake_rules, client, runtime):
    engine = make_engine(postgres_url)
    fill(engine)
    settings = make_settings(shared_kafka, postgres_url, rules_url=fake_rules.url)
    app = create_app(settings, manage_runtime=False)
    admin = bearer(token_for(Role.ADMIN))
    leader = bearer(token_for(Role.SALES_LEADERSHIP, "EMEA"))
    try:
        async with running(settings, engine=engine) as rt:
            app.state.runtime = rt
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://pg") as pg:
                for route in [*read_routes(runtime), "/api/dedupe/review", "/api/rulesets"]:
                    on_pg = await pg.get(route, headers=admin)
                    on_sqlite = await client.get(route, headers=admin)
                    assert on_pg.status_code == 200, (route, on_pg.text)
                    assert _comparable(on_pg.json()) == _comparable(on_sqlite.json()), route
                    scoped = await pg.get(route, headers=leader)
                    if route.startswith(("/api/dedupe", "/api/rulesets")):
                        assert scoped.status_code == 403
                        continue
                    assert scoped.status_code == 200, (route, scoped.text)
                    assert NA_MARKERS.search(scoped.text) is None, route
                assert (await pg.get("/api/clients/c-na-1", headers=leader)).status_code == 404
                assert (await pg.get("/readyz")).json() == {"broker": True, "warehouse": True}
    finally:
        engine.dispose()


def _comparable(body):
    """Totals and ids; timestamps and float formatting may differ between backends."""
    if isinstance(body, dict) and "items" in body:
        return body["total"], [_key(i) for i in body["items"]]
    if isinstance(body, dict) and "points" in body:
        return [p["changes"] for p in body["points"]]
    if isinstance(body, dict) and "golden" in body:
        return body["golden"]["client_id"], len(body["history"]), len(body["source_records"])
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if not isinstance(v, str) or "T" not in v}
    return body


def _key(item):
    for field in ("client_id", "event_id", "territory_id", "conflict_id", "version", "advisor_id"):
        if field in item:
            return item[field]
    return None
