"""`/healthz`, `/readyz` and `/metrics`, the same on every service.

Consumer services run as `faststream.asgi.AsgiFastStream(broker, asgi_routes=ops_routes(broker))`
(built by `kernel.ServiceKernel.app`); HTTP services include `kernel.ops_router`, which
answers from the same `readiness` function.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from territory.shared.broker import EventPublisher
from territory.shared.topics import Topics

ReadinessCheck = Callable[[], Awaitable[bool]]


async def broker_ready(broker: KafkaBroker, timeout: float = 2.0) -> bool:
    return await EventPublisher(broker, Topics()).ready(timeout)


async def readiness(checks: Sequence[tuple[str, ReadinessCheck]]) -> tuple[bool, dict[str, bool]]:
    """Run every check at once; a check that raises counts as not ready."""

    async def run(check: ReadinessCheck) -> bool:
        try:
            return bool(await check())
        except Exception:
            return False

    results = await asyncio.gather(*(run(check) for _, check in checks))
    answers = {name: ok for (name, _), ok in zip(checks, results, strict=True)}
    return all(answers.values()), answers


def ops_routes(
    broker: KafkaBroker,
    extra_checks: Sequence[tuple[str, ReadinessCheck]] = (),
    reasons: Callable[[], dict[str, str]] | None = None,
) -> list[tuple[str, Any]]:
    """`/healthz`, `/readyz` and `/metrics`; when not ready, `/readyz` adds `reasons`
    (what `reasons()` explains, e.g. a stuck consumer) to the answers."""
    checks: list[tuple[str, ReadinessCheck]] = [
        ("broker", lambda: broker_ready(broker)),
        *extra_checks,
    ]

    @get
    async def healthz(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"ok"}', 200, {"content-type": "application/json"})

    @get
    async def readyz(scope: Any) -> AsgiResponse:
        ok, answers = await readiness(checks)
        result: dict[str, Any] = dict(answers)
        if not ok and reasons is not None:
            result["reasons"] = reasons()
        body = json.dumps(result, separators=(",", ":")).encode()
        return AsgiResponse(body, 200 if ok else 503, {"content-type": "application/json"})

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", make_asgi_app())]


def serve_docs(app: AsgiFastStream, path: str = "/docs") -> AsgiFastStream:
    """Add the service's AsyncAPI document to a consumer service's ops port: `/docs` (the
    AsyncAPI HTML viewer, faststream's) and `/docs.json` (the document itself, which needs
    no browser nor network). The HTTP services have FastAPI's `/docs` already."""
    from faststream.asgi import make_asyncapi_asgi

    app.routes.append((path, make_asyncapi_asgi(app.schema, try_it_out_path=None)))

    @get(include_in_schema=False)
    async def document(scope: Any) -> AsgiResponse:
        body = json.dumps(app.schema.to_specification().to_jsonable()).encode()
        return AsgiResponse(body, status_code=200, headers={"content-type": "application/json"})

    app.routes.append((f"{path}.json", document))
    return app
