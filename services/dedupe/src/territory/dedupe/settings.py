"""Dedupe settings (env: `TERRITORY_DEDUPE__*`, e.g. `TERRITORY_DEDUPE__PORT=8002`,
`TERRITORY_DEDUPE__ENGINE__THRESHOLDS__MERGE=0.95`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from territory.dedupe.engine import EngineSettings
from territory.shared.settings import ServiceSettings


class DedupeOptions(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8002, ge=1, le=65535)
    group_id: str = Field("territory-dedupe", description="Consumer group of the service.")
    rebuild_timeout_seconds: float = Field(
        600.0, gt=0, description="Longest wait for the master to be read back on start."
    )
    engine: EngineSettings = EngineSettings()


class DedupeSettings(ServiceSettings):
    dedupe: DedupeOptions = DedupeOptions()
