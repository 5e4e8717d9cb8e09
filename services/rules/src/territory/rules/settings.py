"""Rules service settings (env: `TERRITORY_RULES__*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from territory.shared.settings import ServiceSettings


class RulesOptions(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8003, ge=1, le=65535)
    initial_ruleset: Path = Field(
        Path("data/sample/ruleset.yaml"),
        description="Ruleset used while no valid `ruleset.published` event exists.",
    )
    group_id: str = Field("territory-rules", description="Consumer group of the service.")
    replay_chunk: int = Field(
        2_000, ge=1, description="Clients re-decided between two yields to the event loop."
    )
    preview_limit: int = Field(1_000, ge=0, le=100_000, description="Moves listed in a preview.")
    max_preview_bytes: int = Field(8 * 1024**2, ge=1024)


class RulesSettings(ServiceSettings):
    rules: RulesOptions = RulesOptions()
