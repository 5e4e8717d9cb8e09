"""What every HTTP service (FastAPI) shares: the ops routes and problem+json errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from territory.shared.ops import ReadinessCheck, readiness

PROBLEM = "application/problem+json"


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem: `{type, title, status, detail, ...extra}`."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def ops_router(
    checks: Callable[[Request], Sequence[tuple[str, ReadinessCheck]]],
    *,
    ready_summary: str = "Ready when every dependency answers",
) -> APIRouter:
    """`/healthz` and `/readyz` (the checks of the request's app); `http_service` adds
    `/metrics`."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary=ready_summary,
        responses={503: {"description": "A dependency does not answer"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        ok, results = await readiness(checks(request))
        return JSONResponse(results, status_code=200 if ok else 503)

    return router


def serving(
    start: Callable[[], AbstractAsyncContextManager[Any]], attribute: str
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that runs `start()` for the app's life and keeps what it yields on
    `app.state.<attribute>` (the runtime the routes use)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with start() as value:
            setattr(app.state, attribute, value)
            yield

    return lifespan


def http_service(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None,
    checks: Callable[[Request], Sequence[tuple[str, ReadinessCheck]]],
    ready_summary: str = "Ready when every dependency answers",
    **options: Any,
) -> FastAPI:
    """A FastAPI app with the ops routes every service has: `/healthz`, `/readyz` (the
    request's `checks`) and `/metrics`. Routes and error handlers are the caller's."""
    app = FastAPI(title=title, version="1", description=description, lifespan=lifespan, **options)
    app.include_router(ops_router(checks, ready_summary=ready_summary))
    app.mount("/metrics", make_asgi_app())
    return app
