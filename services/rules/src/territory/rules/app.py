"""Process wiring and the HTTP port of the rules service (8003).

`/healthz`, `/readyz`, `/metrics` as on every service, plus what the API forwards:
`POST /v1/preview` (the diff a candidate ruleset would cause) and `GET /v1/ruleset`
(the active ruleset). The Kafka subscribers run in the same process, started by the
app's lifespan after the state was rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from territory.rules.ruleset import RulesetError, loads_ruleset
from territory.rules.service import RulesService, register
from territory.rules.settings import RulesSettings
from territory.shared import collector
from territory.shared.broker import ensure_topics
from territory.shared.kernel import ServiceKernel, http_service, serving
from territory.shared.log import configure_logging
from territory.shared.ops import ReadinessCheck
from territory.shared.rulesets import ActiveRuleset, PreviewDiff

log = logging.getLogger(__name__)
SERVICE = "rules"


def build_service(settings: RulesSettings, *, subscribe: bool = True) -> RulesService:
    """Settings → kernel → the service with its handlers registered (nothing started)."""
    kernel = ServiceKernel(settings, SERVICE)
    service = RulesService(
        settings=settings,
        publisher=kernel.publisher,
        dead_letters=kernel.dead_letters,
        producer=kernel.producer,
    )
    if subscribe:
        register(kernel, service)
    return service


@asynccontextmanager
async def running(
    settings: RulesSettings, *, subscribe: bool = True
) -> AsyncIterator[RulesService]:
    """Broker, state rebuilt from the topics, subscribers started; stops them on exit."""
    service = build_service(settings, subscribe=subscribe)
    await ensure_topics(settings.kafka)
    broker = service.publisher.broker
    await broker.connect()
    try:
        await service.rebuild()
        collector.settle(settings.gc)  # the rebuilt book, out of full collections
        if subscribe:
            await broker.start()
        yield service
    finally:
        await broker.stop()


class Problem(BaseModel):
    path: str
    message: str


class RulesetProblems(BaseModel):
    """422 body of `POST /v1/preview` when the candidate is not a valid ruleset."""

    title: str = "Invalid ruleset"
    status: int = 422
    problems: list[Problem]


def create_app(settings: RulesSettings) -> FastAPI:
    def service_of(request: Request) -> RulesService:
        service: RulesService = request.app.state.service
        return service

    def checks(request: Request) -> Sequence[tuple[str, ReadinessCheck]]:
        service = service_of(request)

        async def state() -> bool:
            return service.ready

        return [("broker", service.publisher.ready), ("state", state)]

    app = http_service(
        title="Territory Engine rules",
        description="Territory assignment rules: the active ruleset and previews of candidates.",
        lifespan=serving(lambda: running(settings), "service"),
        checks=checks,
        ready_summary="Ready when the state is rebuilt",
    )

    @app.get("/v1/ruleset", response_model=ActiveRuleset, tags=["rules"])
    async def get_ruleset(request: Request) -> ActiveRuleset:
        return service_of(request).describe()

    @app.post(
        "/v1/preview",
        response_model=PreviewDiff,
        tags=["rules"],
        summary="What a candidate ruleset would change (publishes nothing)",
        responses={422: {"model": RulesetProblems}},
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
                "required": True,
            }
        },
    )
    async def post_preview(
        request: Request,
        limit: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    ) -> Any:
        service = service_of(request)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > settings.rules.max_preview_bytes:
                raise HTTPException(413, "ruleset too large")
        try:
            candidate = loads_ruleset(bytes(body))
        except RulesetError as exc:
            problems = RulesetProblems(
                problems=[Problem(path=p, message=m) for p, m in exc.problems]
            )
            return JSONResponse(problems.model_dump(), status_code=422)
        return await service.preview(
            candidate, limit=settings.rules.preview_limit if limit is None else limit
        )

    return app


def main() -> None:  # pragma: no cover - process entry point
    import uvicorn

    from territory.shared.settings import load_settings

    settings = load_settings(RulesSettings)
    configure_logging(SERVICE, level=settings.log_level, json_lines=settings.log_json)
    collector.tune(settings.gc)
    uvicorn.run(
        create_app(settings), host=settings.rules.host, port=settings.rules.port, log_config=None
    )
