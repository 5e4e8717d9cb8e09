"""Advisors and their workload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from territory.api.deps import (
    PageDep,
    Reader,
    RuntimeDep,
    Search,
    SessionDep,
    ShortText,
    masker_for,
    not_found,
)
from territory.api.errors import PROBLEM_RESPONSES
from territory.api.queries import advisors as queries
from territory.api.queries.common import sort_pattern
from territory.api.schemas import AdvisorSummary, AdvisorWorkload, Paged

router = APIRouter(prefix="/api/advisors", tags=["advisors"], responses=PROBLEM_RESPONSES)


@router.get("", summary="Advisors with capacity, clients and utilisation")
def list_advisors(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    territory: ShortText = None,
    q: Search = None,
    include_inactive: bool = False,
    sort: Annotated[str | None, Query(pattern=sort_pattern(list(queries.ADVISOR_SORTS)))] = None,
) -> Paged[AdvisorSummary]:
    items, total = queries.list_advisors(
        session,
        principal,
        masker_for(runtime, principal, session),
        territory_id=territory,
        q=q,
        include_inactive=include_inactive,
        page=page,
        sort=sort,
    )
    return Paged.of(items, total, page)


@router.get(
    "/{advisor}/workload",
    summary="An advisor's clients, capacity and utilisation by tier (by e-mail or advisor_id)",
)
def advisor_workload(
    advisor: Annotated[str, Path(min_length=1, max_length=320)],
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
) -> AdvisorWorkload:
    mask = masker_for(runtime, principal, session)
    email = queries.resolve_advisor(session, principal, mask.secret, advisor)
    if email is None:
        raise not_found("advisor")
    result = queries.workload(session, principal, mask, email, page)
    if result is None:
        raise not_found("advisor")
    return result
