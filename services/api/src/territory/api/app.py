"""The API's FastAPI application."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from territory.api import dashboard, errors
from territory.api.deps import get_runtime
from territory.api.middleware import BodySizeLimit, Metrics, RateLimit, TokenBucketLimiter
from territory.api.routes import (
    advisors,
    assignments,
    clients,
    conflicts,
    dedupe,
    quality,
    rulesets,
    summary,
    territories,
)
from territory.api.runtime import running
from territory.api.settings import ApiSettings
from territory.api.warehouse import warehouse_ready
from territory.shared import collector
from territory.shared.kernel import http_service, serving
from territory.shared.log import configure_logging
from territory.shared.ops import ReadinessCheck

DESCRIPTION = """Read and admin API over the Territory Engine warehouse, for the dashboard.

Every `/api` route needs an OAuth2 bearer JWT (any OIDC provider; in development
`territory token --role CRM_ANALYST --region NA` prints one). Roles: TERRITORY_ADMIN,
DATA_ENGINEER, CRM_ANALYST, SALES_LEADERSHIP; SALES_LEADERSHIP sees only the regions in
its token, and PII (tax ids, e-mails) is masked for roles that may not see it. Actions are
published as events (202 with the event id): the API never writes an assignment itself.
Errors are `application/problem+json`."""


def create_app(settings: ApiSettings, *, manage_runtime: bool = True) -> FastAPI:
    """`manage_runtime=False`: the caller sets `app.state.runtime` (tests share one)."""

    def checks(request: Request) -> Sequence[tuple[str, ReadinessCheck]]:
        runtime = get_runtime(request)

        async def warehouse() -> bool:
            return await asyncio.to_thread(warehouse_ready, runtime.engine)

        return [("broker", runtime.publisher.ready), ("warehouse", warehouse)]

    docs = settings.docs_enabled
    app = http_service(
        title="Territory Engine API",
        description=DESCRIPTION,
        lifespan=serving(lambda: running(settings), "runtime") if manage_runtime else None,
        checks=checks,
        ready_summary="Ready when the broker and the warehouse answer",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    errors.install(app)
    for module in (
        summary,
        territories,
        clients,
        advisors,
        assignments,
        conflicts,
        dedupe,
        quality,
        rulesets,
    ):
        app.include_router(module.router)
    dashboard.install(app, settings)  # the dashboard's routes and bundle (last: SPA fallback)

    options = settings.api
    # Outermost first: metrics see every answer, including 413 and 429.
    app.add_middleware(BodySizeLimit, max_bytes=options.max_request_bytes)
    app.add_middleware(
        RateLimit,
        limiter=TokenBucketLimiter(options.rate_limit_per_second, options.rate_limit_burst),
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=options.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        max_age=600,
    )
    app.add_middleware(Metrics)
    return app


def app_from_env() -> FastAPI:
    """The app with settings from the environment (`uvicorn --factory`, and each worker)."""
    from territory.shared.settings import load_settings

    settings = load_settings(ApiSettings)
    configure_logging("api", level=settings.log_level, json_lines=settings.log_json)
    collector.tune(settings.gc)
    return create_app(settings)


def main() -> None:  # pragma: no cover - process entry point
    import uvicorn

    from territory.shared.settings import load_settings

    settings = load_settings(ApiSettings)
    configure_logging("api", level=settings.log_level, json_lines=settings.log_json)
    collector.tune(settings.gc)
    options = settings.api
    if options.workers > 1:
        # Several processes share the port; each builds its app (and its runtime) itself.
        uvicorn.run(
            "territory.api.app:app_from_env",
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
            # A worker busy with a long scan must not be taken for a dead one.
            timeout_worker_healthcheck=30,
            log_config=None,
            access_log=False,
        )
        return
    uvicorn.run(
        create_app(settings),
        host=options.host,
        port=options.port,
        log_config=None,
        access_log=False,
    )
