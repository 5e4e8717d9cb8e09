"""Dependencies, declared once: the runtime, a warehouse session, the caller, a page.

Each route states who may call it by taking one of the principal aliases below; the
table of who may do what is in `security.py` and `docs/architecture.md`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from territory.api.errors import ApiProblem
from territory.api.masking import Masker
from territory.api.runtime import Runtime
from territory.api.security import ALL_ROLES, AuthError, Principal, Role


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with Session(runtime.engine, info={"count_cache": runtime.counts}) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An OIDC access token, or `territory token --role … --region …` in development.",
)


def authenticate(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer token is required")
    return runtime.verifier.verify(credentials.credentials)


def allow(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = frozenset(roles)

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.may(allowed):
            raise ApiProblem(
                403, f"this needs one of the roles: {', '.join(sorted(r.value for r in allowed))}"
            )
        return principal

    check.allowed_roles = allowed  # type: ignore[attr-defined]
    return check


# Who may call what (see the policy table in security.py).
Reader = Annotated[Principal, Depends(allow(*ALL_ROLES))]
Steward = Annotated[Principal, Depends(allow(Role.ADMIN, Role.DATA_ENGINEER, Role.CRM_ANALYST))]
RulesEditor = Annotated[Principal, Depends(allow(Role.ADMIN, Role.CRM_ANALYST))]
Operator = Annotated[Principal, Depends(allow(Role.ADMIN, Role.DATA_ENGINEER))]
Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int


def page_params(
    runtime: RuntimeDep,
    limit: Annotated[
        int | None,
        Query(ge=1, description="Page size; values above the server's maximum are capped."),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page:
    options = runtime.settings.api
    size = options.default_page_size if limit is None else limit
    return Page(limit=min(size, options.max_page_size), offset=offset)


PageDep = Annotated[Page, Depends(page_params)]


def masker_for(runtime: Runtime, principal: Principal, session: Session | None = None) -> Masker:
    """The caller's masker; with a session it also redacts ids of other regions' rows."""
    mask = Masker(principal, runtime.settings.secret_key.get_secret_value())
    if session is not None:
        mask.restrict_regions(session)
    return mask


def not_found(what: str) -> ApiProblem:
    # The same answer whether the row does not exist or lies outside the caller's regions:
    # a 403 would confirm that it exists.
    return ApiProblem(404, f"no such {what}")


ShortText = Annotated[str | None, Query(min_length=1, max_length=200)]
Search = Annotated[str | None, Query(min_length=1, max_length=200, description="Name contains.")]
