"""The loader process: the consume loop plus `/healthz`, `/readyz` (broker + warehouse)
and `/metrics` on `TERRITORY_LOADER__PORT` (8004)."""

from __future__ import annotations

import asyncio
import logging

from faststream.asgi import AsgiFastStream

from territory.loader.runtime import build_broker, build_loader
from territory.loader.settings import LoaderSettings
from territory.shared.broker import ensure_topics
from territory.shared.log import configure_logging
from territory.shared.ops import ops_routes
from territory.shared.settings import load_settings
from territory.shared.warehouse.migrate import migrate

log = logging.getLogger(__name__)


def create_app(settings: LoaderSettings) -> AsgiFastStream:
    broker = build_broker(settings)
    loader = build_loader(settings, broker)
    task: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal task
        await ensure_topics(settings.kafka)
        if settings.loader.migrate_on_start:
            revision = await asyncio.to_thread(migrate, loader.engine)
            log.info("warehouse ready", extra={"revision": revision})
        task = asyncio.create_task(loader.run(), name="loader")

    async def stop() -> None:
        loader.stop()
        if task is not None:
            await task
        await asyncio.to_thread(loader.engine.dispose)
        log.info("loader stopped", extra={"batches": loader.state.batches})

    async def consuming() -> bool:
        # Ready once the warehouse is migrated and the consume loop runs (and has not died).
        return task is not None and not task.done()

    return AsgiFastStream(
        broker,
        asgi_routes=ops_routes(
            broker, [("warehouse", loader.warehouse_ready), ("loader", consuming)]
        ),
        after_startup=[start],
        on_shutdown=[stop],
    )


def main() -> None:  # pragma: no cover - process entry point
    import uvicorn

    settings = load_settings(LoaderSettings)
    configure_logging("loader", level=settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        create_app(settings), host=settings.loader.host, port=settings.loader.port, log_config=None
    )
