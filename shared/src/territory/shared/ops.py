"""`/healthz`, `/readyz` and `/metrics`, the same on every service.

Consumer services run as `faststream.asgi.AsgiFastStream(broker, asgi_routes=ops_routes(broker))`
under uvicorn; HTTP services mount the same pieces on their own app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

ReadinessCheck = Callable[[], Awaitable[bool]]


async def broker_ready(broker: KafkaBroker, timeout: float = 2.0) -> bool:
    try:
        return bool(await broker.ping(timeout=timeout))
    except Exception:
        return False


def ops_routes(
    broker: KafkaBroker, extra_checks: Sequence[tuple[str, ReadinessCheck]] = ()
) -> list[tuple[str, Any]]:
    @get
    async def healthz(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"ok"}', 200, {"content-type": "application/json"})

    @get
    async def readyz(scope: Any) -> AsgiResponse:
        checks = {"broker": await broker_ready(broker)}
        for name, check in extra_checks:
            try:
                checks[name] = await check()
            except Exception:
                checks[name] = False
        ok = all(checks.values())
        body = "{" + ",".join(f'"{k}":{str(v).lower()}' for k, v in checks.items()) + "}"
        return AsgiResponse(body.encode(), 200 if ok else 503, {"content-type": "application/json"})

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", make_asgi_app())]
