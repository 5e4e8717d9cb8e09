"""API settings (env: `TERRITORY_API__*`, e.g. `TERRITORY_API__PORT=8000`)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, SecretStr, model_validator

from territory.shared.settings import ServiceSettings

# The development issuer signs with this key. It is public (it is in the repository), so
# the settings refuse it anywhere but in development.
DEV_SIGNING_KEY = "dev-only-territory-api-signing-key-not-secret"
DEV_ISSUER = "territory-dev"


class AuthSettings(BaseModel):
    """OAuth2 bearer JWTs, OIDC-compatible.

    Verification key: `jwks_url` (an OIDC provider's `jwks_uri`; asymmetric algorithms),
    else `public_key` (PEM), else `signing_key` (shared secret for HS* algorithms; the
    development issuer signs with it). `algorithms` is pinned: a token whose header names
    any other algorithm (`none` included) is refused before its signature is looked at.
    """

    issuer: str = DEV_ISSUER
    audience: str = "territory-api"
    algorithms: list[str] = Field(default_factory=lambda: ["HS256"], min_length=1)
    jwks_url: str | None = None
    jwks_cache_seconds: int = Field(300, ge=0)
    public_key: SecretStr | None = Field(None, description="PEM public key (RS*/ES*/EdDSA).")
    signing_key: SecretStr = SecretStr(DEV_SIGNING_KEY)
    leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew tolerated.")
    roles_claim: str = Field("roles", description="Claim with the role names (list or str).")
    regions_claim: str = Field("regions", description="Claim with the sales regions.")
    dev_token_ttl_seconds: int = Field(8 * 3600, ge=60)

    @model_validator(mode="after")
    def _no_alg_none(self) -> Self:
        if any(a.lower() == "none" for a in self.algorithms):
            raise ValueError("algorithm 'none' is never accepted")
        symmetric = {a.startswith("HS") for a in self.algorithms}
        if len(symmetric) > 1:
            # Mixing HS* with asymmetric algorithms invites key confusion attacks.
            raise ValueError("do not mix HS* with asymmetric algorithms")
        return self


class ApiOptions(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    rules_url: str = Field(
        "http://127.0.0.1:8003", description="Base URL of the rules service (preview)."
    )
    rules_timeout_seconds: float = Field(10.0, gt=0)
    default_page_size: int = Field(50, ge=1)
    max_page_size: int = Field(500, ge=1, description="Larger `limit`s are capped to this.")
    max_request_bytes: int = Field(1024 * 1024, ge=1024, description="One request body.")
    rate_limit_per_second: float = Field(50.0, gt=0, description="Sustained, per client.")
    rate_limit_burst: int = Field(200, ge=1)
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:5173", "http://127.0.0.1:5173"],
        description="Browser origins allowed to call the API (the dashboard).",
    )
    docs: bool | None = Field(
        None, description="Serve /docs and /openapi.json (default: off in production)."
    )
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes.")
    count_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="How old a list's `total` and the aggregates may be (0: always computed).",
    )
    db_pool_size: int = Field(16, ge=1, description="Warehouse connections per process.")
    dashboard_dir: Path | None = Field(
        None, description="The built dashboard to serve at / (default: frontend/dist)."
    )


class ApiSettings(ServiceSettings):
    api: ApiOptions = ApiOptions()
    auth: AuthSettings = AuthSettings()

    @property
    def docs_enabled(self) -> bool:
        if self.api.docs is not None:
            return self.api.docs
        return self.environment != "production"

    @model_validator(mode="after")
    def _no_dev_signing_key_outside_development(self) -> Self:
        uses_shared_secret = self.auth.jwks_url is None and self.auth.public_key is None
        dev_key = self.auth.signing_key.get_secret_value() == DEV_SIGNING_KEY
        if self.environment != "development" and uses_shared_secret and dev_key:
            raise ValueError(
                "the development signing key is public: set TERRITORY_AUTH__JWKS_URL, "
                "TERRITORY_AUTH__PUBLIC_KEY or TERRITORY_AUTH__SIGNING_KEY outside development"
            )
        if self.environment != "development" and self.auth.issuer == DEV_ISSUER:
            raise ValueError("set TERRITORY_AUTH__ISSUER to the real issuer outside development")
        if uses_shared_secret and len(self.auth.signing_key.get_secret_value()) < 32:
            raise ValueError("TERRITORY_AUTH__SIGNING_KEY must be at least 32 characters")
        return self
