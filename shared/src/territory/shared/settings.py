"""Settings shared by every service (pydantic-settings; nothing is read at import time).

Environment variables use the `TERRITORY_` prefix and `__` for nesting, e.g.
`TERRITORY_KAFKA__BOOTSTRAP_SERVERS=broker:9092`. Each service extends `ServiceSettings`
with its own section; call `load_settings(cls)` where the service starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self, TypeVar

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from territory.shared.collector import CollectorSettings
from territory.shared.topics import Topics

Environment = Literal["development", "test", "production"]


class KafkaSettings(BaseModel):
    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    topic_prefix: str = Field(
        "", description="Prefix for every topic name (isolates deployments or test runs)."
    )
    client_id: str = "territory"
    request_timeout_ms: int = 30_000
    linger_ms: int = Field(5, ge=0, description="Producer batching delay.")
    max_batch_bytes: int = Field(
        1024 * 1024, ge=16 * 1024, description="Producer batch size per partition."
    )
    consumer_max_records: int = Field(
        1_000, ge=1, description="Records a consumer handles as one batch (one poll), at most."
    )
    consumer_batch_timeout_ms: int = Field(
        100, ge=1, description="Longest a consumer's poll waits for records."
    )
    consumer_stall_seconds: float = Field(
        120.0,
        gt=0,
        description="A consumer holding one batch longer than this without completing it "
        "is stuck: /readyz answers 503 with the reason.",
    )

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.topic_prefix)


class ArchiveSettings(BaseModel):
    """Where raw uploads are archived: S3 when a bucket is set, a local folder otherwise."""

    s3_bucket: str | None = Field(None, min_length=3)
    s3_prefix: str = "institutional_clients_raw/uploads/"
    s3_endpoint_url: str | None = Field(None, description="For S3-compatible stores or moto.")
    s3_region: str = "us-east-1"
    local_dir: Path = Path("var/archive")


class DeadLetterSettings(BaseModel):
    """Dead letters always fit on the broker: a larger original is cut to
    `max_original_bytes` (its size and SHA-256 kept) and archived whole."""

    max_original_bytes: int = Field(
        64 * 1024,
        ge=1024,
        le=512 * 1024,
        description="Largest original carried inside a dead letter (well under the "
        "broker's max message size, 1 MiB by default, even base64-encoded).",
    )
    max_errors: int = Field(50, ge=1, description="Field errors kept per dead letter.")
    archive_prefix: str = Field(
        "institutional_clients_raw/dead_letters/",
        description="Where the whole originals go in the archive (S3 key or folder).",
    )


class RetrySettings(BaseModel):
    """Bounded retries before a message goes to the dead-letter topic."""

    attempts: int = Field(3, ge=1, le=20)
    backoff_seconds: float = Field(0.2, ge=0)
    max_backoff_seconds: float = Field(5.0, ge=0)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TERRITORY_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Environment = "development"
    log_level: str = "INFO"
    log_json: bool = Field(True, description="JSON log lines (false: human-readable).")
    kafka: KafkaSettings = KafkaSettings()
    archive: ArchiveSettings = ArchiveSettings()
    retry: RetrySettings = RetrySettings()
    dead_letters: DeadLetterSettings = DeadLetterSettings()
    gc: CollectorSettings = CollectorSettings()
    warehouse_url: str = Field(
        "sqlite:///var/warehouse.db",
        description="SQLAlchemy URL: sqlite (embedded default), postgresql+psycopg, snowflake.",
    )
    secret_key: SecretStr = SecretStr("dev-only-change-me")

    @model_validator(mode="after")
    def _no_placeholder_secrets_outside_development(self) -> Self:
        if self.environment == "production" and self.secret_key.get_secret_value().startswith(
            "dev-only"
        ):
            raise ValueError("TERRITORY_SECRET_KEY must be set to a real secret in production")
        return self


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(cls: type[SettingsT], **overrides: object) -> SettingsT:
    """Read settings from the environment now (never at import time)."""
    return cls(**overrides)  # type: ignore[arg-type]
