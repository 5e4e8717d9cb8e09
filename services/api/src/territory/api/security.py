"""Who is calling, and what they may see.

Tokens are OAuth2 bearer JWTs from any OIDC provider (issuer, audience, expiry and a
pinned algorithm list are checked; keys come from its JWKS URL or a configured key), or
from the development issuer (`territory token`), which signs with the development key.

Roles mirror the warehouse's roles. What each role sees (regions, tax ids, e-mails) is one
table, `territory.shared.access.POLICY`, from which the Snowflake policies are generated
too. Which role may call which endpoint is declared on each route (`deps.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from territory.api.settings import AuthSettings
from territory.shared.access import Pii, Role, roles_seeing, roles_with_all_regions

__all__ = [
    "ALL_ROLES",
    "AuthError",
    "Principal",
    "Role",
    "TokenVerifier",
    "advisor_id",
    "issue_dev_token",
]


ALL_ROLES = frozenset(Role)
_ROLE_NAMES = frozenset(r.value for r in Role)
log = logging.getLogger(__name__)

_GLOBAL_ROLES = frozenset(roles_with_all_regions())
_TAX_ID_ROLES = frozenset(roles_seeing(Pii.TAX_ID))
_EMAIL_ROLES = frozenset(roles_seeing(Pii.EMAIL))


class AuthError(Exception):
    """The request carries no usable credentials (401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    regions: frozenset[str]

    @property
    def region_scope(self) -> frozenset[str] | None:
        """The regions this caller may see; None means every region."""
        if self.roles & _GLOBAL_ROLES:
            return None
        return self.regions  # empty: nothing at all (fail closed)

    @property
    def sees_tax_id(self) -> bool:
        return bool(self.roles & _TAX_ID_ROLES)

    @property
    def sees_emails(self) -> bool:
        return bool(self.roles & _EMAIL_ROLES)

    def may(self, allowed: Iterable[Role]) -> bool:
        return bool(self.roles & frozenset(allowed))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (`realm_access.roles` for Keycloak-style tokens)."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._key: Any = None
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(
                settings.jwks_url,
                cache_keys=True,
                lifespan=max(settings.jwks_cache_seconds, 1),
                timeout=5,
            )
        elif settings.public_key is not None:
            self._key = settings.public_key.get_secret_value()
        else:
            self._key = settings.signing_key.get_secret_value()

    def verify(self, token: str) -> Principal:
        """Check signature, algorithm, issuer, audience and expiry; never trust the header."""
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in s.algorithms:
                raise AuthError("token algorithm not accepted")
            key = (
                self._jwks.get_signing_key_from_jwt(token).key
                if self._jwks is not None
                else self._key
            )
            claims = jwt.decode(
                token,
                key,
                algorithms=s.algorithms,
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except AuthError:
            raise
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWKClientError:
            raise AuthError("token signing key not found") from None
        except jwt.PyJWTError as exc:
            # What was wrong is for the operator (logged), not for the caller: naming the
            # library's exception tells a prober which check it got past.
            log.info("token refused", extra={"error": type(exc).__name__, "detail": str(exc)})
            raise AuthError("invalid token") from None
        roles = frozenset(
            Role(r) for r in _as_list(_claim(claims, s.roles_claim)) if r in _ROLE_NAMES
        )
        if not roles:
            raise AuthError("token carries no Territory Engine role")
        regions = frozenset(r.upper() for r in _as_list(_claim(claims, s.regions_claim)))
        return Principal(subject=str(claims["sub"]), roles=roles, regions=regions)


def issue_dev_token(
    settings: AuthSettings,
    *,
    subject: str,
    roles: Iterable[Role],
    regions: Iterable[str] = (),
    ttl_seconds: int | None = None,
    now: float | None = None,
) -> str:
    """A token from the development issuer, signed with the configured shared key."""
    algorithm = next((a for a in settings.algorithms if a.startswith("HS")), None)
    if algorithm is None or settings.jwks_url or settings.public_key is not None:
        raise ValueError("the development issuer needs a shared-secret (HS*) configuration")
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + (ttl_seconds or settings.dev_token_ttl_seconds),
        "jti": uuid.uuid4().hex,
        settings.roles_claim: [Role(r).value for r in roles],
        settings.regions_claim: sorted({r.upper() for r in regions}),
    }
    return jwt.encode(claims, settings.signing_key.get_secret_value(), algorithm=algorithm)


def advisor_id(email: str, secret: str) -> str:
    """Opaque, stable advisor key for roles that may not see e-mails (keyed, not reversible)."""
    digest = hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256)
    return "adv_" + digest.hexdigest()[:20]
