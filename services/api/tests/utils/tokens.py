"""Tokens for tests: the way an OIDC provider (or the development issuer) would sign them."""

from __future__ import annotations

import time
from typing import Any

import jwt

from territory.api.security import Role, issue_dev_token
from territory.api.settings import AuthSettings

TEST_KEY = "test-signing-key-" + "0123456789abcdef" * 4
ISSUER = "https://issuer.territory.test"
AUDIENCE = "territory-api-test"


def auth_settings() -> AuthSettings:
    from pydantic import SecretStr

    return AuthSettings(issuer=ISSUER, audience=AUDIENCE, signing_key=SecretStr(TEST_KEY))


def token_for(role: Role | None, *regions: str, subject: str | None = None, **claims: Any) -> str:
    settings = auth_settings()
    if role is None:
        raise ValueError("use raw_token for a token without roles")
    if not claims:
        return issue_dev_token(
            settings,
            subject=subject or f"{role.value.lower()}@territory.test",
            roles=[role],
            regions=regions,
        )
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject or "someone@territory.test",
        "iat": now,
        "exp": now + 600,
        "roles": [role.value],
        "regions": list(regions),
    }
    body.update(claims)
    return raw_token(body)


def raw_token(claims: dict[str, Any], key: str = TEST_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
