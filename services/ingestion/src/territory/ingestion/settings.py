"""Ingestion settings (env: `TERRITORY_INGESTION__*`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from territory.shared.settings import ServiceSettings


class IngestionOptions(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8001, ge=1, le=65535)
    max_upload_bytes: int = Field(10 * 1024**3, ge=1, description="One uploaded file.")
    max_request_bytes: int = Field(16 * 1024**2, ge=1, description="One JSON request body.")
    max_records_per_request: int = Field(10_000, ge=1)
    max_record_bytes: int = Field(64 * 1024, ge=1024, description="One record in a file.")
    publish_batch_size: int = Field(2_000, ge=1)
    publish_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long a batch may wait for the broker's acknowledgement before the "
        "request is answered 503 (the CLI exits with an error).",
    )
    spool_dir: str | None = Field(None, description="Where uploads are spooled (default: tmp).")


class IngestionSettings(ServiceSettings):
    ingestion: IngestionOptions = IngestionOptions()
