"""Signing in to the dashboard: which issuer to use, development tokens, and who am I.

`POST /api/auth/dev-token` answers only when the API runs in development: it signs with
the same development issuer as `territory token`. Elsewhere it is a 404, and the dashboard
asks for the OIDC provider's bearer token instead.
"""

from __future__ import annotations

from fastapi import APIRouter

from territory.api.dashboard_schemas import AuthConfig, DevTokenRequest, IssuedToken, Me
from territory.api.deps import Reader, RuntimeDep
from territory.api.errors import PROBLEM_RESPONSES, ApiProblem
from territory.api.security import ALL_ROLES, issue_dev_token
from territory.shared.geo import Region

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=PROBLEM_RESPONSES)

REGIONS = sorted(r.value for r in Region)


def _development(runtime: RuntimeDep) -> bool:
    return runtime.settings.environment == "development"


@router.get("/config", summary="How to sign in (no token needed)")
def auth_config(runtime: RuntimeDep) -> AuthConfig:
    auth = runtime.settings.auth
    return AuthConfig(
        development=_development(runtime),
        issuer=auth.issuer,
        audience=auth.audience,
        roles=sorted(ALL_ROLES),
        regions=REGIONS,
    )


@router.post("/dev-token", summary="A development token for a role and regions (development only)")
def dev_token(body: DevTokenRequest, runtime: RuntimeDep) -> IssuedToken:
    if not _development(runtime):
        raise ApiProblem(404, "the development issuer only works in development")
    unknown = sorted({r.upper() for r in body.regions} - set(REGIONS))
    if unknown:
        raise ApiProblem(422, f"unknown regions: {', '.join(unknown)}")
    auth = runtime.settings.auth
    try:
        token = issue_dev_token(auth, subject=body.subject, roles=body.roles, regions=body.regions)
    except ValueError as exc:
        raise ApiProblem(404, str(exc)) from None
    return IssuedToken(access_token=token, expires_in=auth.dev_token_ttl_seconds)


@router.get("/me", summary="The caller: roles, visible regions, what is masked")
def me(principal: Reader) -> Me:
    scope = principal.region_scope
    return Me(
        subject=principal.subject,
        roles=sorted(principal.roles),
        regions=None if scope is None else sorted(scope),
        sees_emails=principal.sees_emails,
        sees_tax_id=principal.sees_tax_id,
    )
