"""Loader settings (env: `TERRITORY_LOADER__*`; the warehouse is `TERRITORY_WAREHOUSE_URL`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from territory.shared.settings import ServiceSettings


class StagingOptions(BaseModel):
    """Snowflake load path: raw batches are staged to S3, then `COPY INTO` RAW."""

    s3_bucket: str | None = Field(None, min_length=3, description="Unset: insert RAW directly.")
    s3_prefix: str = "institutional_clients_raw/"
    s3_endpoint_url: str | None = Field(None, description="For S3-compatible stores or moto.")
    s3_region: str = "us-east-1"
    storage_integration: str | None = Field(
        None, description="Snowflake storage integration used by COPY INTO (production)."
    )


class LoaderOptions(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8004, ge=1, le=65535)
    group_id: str = "territory-loader"
    batch_size: int = Field(5_000, ge=1, description="Events per micro-batch (at most).")
    batch_max_wait_ms: int = Field(1_000, ge=1, description="Longest a batch waits to fill.")
    retry_initial_seconds: float = Field(0.5, gt=0, description="First wait after an outage.")
    retry_max_seconds: float = Field(
        5.0,
        gt=0,
        description="Cap of the exponential backoff (the kernel's retry cap): a warehouse "
        "that comes back is written to within seconds.",
    )
    migrate_on_start: bool = Field(True, description="Create / upgrade the warehouse on start.")
    staging: StagingOptions = StagingOptions()


class LoaderSettings(ServiceSettings):
    loader: LoaderOptions = LoaderOptions()
