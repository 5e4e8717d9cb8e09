"""The loader process: the kernel's consumer plus `/healthz`, `/readyz` (broker +
warehouse) and `/metrics` on `TERRITORY_LOADER__PORT` (8004)."""

from __future__ import annotations

import asyncio
import logging

from faststream.asgi import AsgiFastStream

from territory.loader.runtime import SERVICE, build_kernel, build_loader
from territory.loader.settings import LoaderSettings
from territory.shared import collector
from territory.shared.log import configure_logging
from territory.shared.ops import serve_docs
from territory.shared.settings import load_settings
from territory.shared.warehouse.migrate import migrate

log = logging.getLogger(__name__)


def create_app(settings: LoaderSettings) -> AsgiFastStream:
    """Settings → kernel → the loader registered as its consumer → the ASGI app."""
    kernel = build_kernel(settings)
    loader = build_loader(settings, kernel)
    migrated = False

    async def migrate_warehouse() -> None:
        nonlocal migrated
        if settings.loader.migrate_on_start:
            revision = await asyncio.to_thread(migrate, loader.engine)
            log.info("warehouse ready", extra={"revision": revision})
        migrated = True

    async def stop() -> None:
        loader.stop()  # before the broker stops: a batch waiting out an outage gives up

    async def disposed() -> None:
        await asyncio.to_thread(loader.engine.dispose)
        log.info("loader stopped", extra={"batches": loader.state.batches})

    async def consuming() -> bool:
        # Ready once the warehouse is migrated and the consumer runs.
        return migrated and await kernel.consuming()

    app = kernel.app(
        readiness=[("warehouse", loader.warehouse_ready), ("loader", consuming)],
        on_startup=[migrate_warehouse],
        on_shutdown=[stop],
    )
    app.after_shutdown(disposed)
    return serve_docs(app)


def main() -> None:  # pragma: no cover - process entry point
    import uvicorn

    settings = load_settings(LoaderSettings)
    configure_logging(SERVICE, level=settings.log_level, json_lines=settings.log_json)
    collector.tune(settings.gc)
    uvicorn.run(
        create_app(settings), host=settings.loader.host, port=settings.loader.port, log_config=None
    )
