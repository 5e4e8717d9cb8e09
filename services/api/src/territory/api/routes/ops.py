"""`/healthz` (the process answers) and `/readyz` (broker and warehouse reachable)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from territory.api.deps import RuntimeDep
from territory.api.warehouse import warehouse_ready
from territory.shared.ops import broker_ready

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready when the broker and the warehouse answer",
    responses={503: {"description": "A dependency does not answer"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    broker, warehouse = await asyncio.gather(
        broker_ready(runtime.broker), asyncio.to_thread(warehouse_ready, runtime.engine)
    )
    ok = broker and warehouse
    return JSONResponse({"broker": broker, "warehouse": warehouse}, status_code=200 if ok else 503)
