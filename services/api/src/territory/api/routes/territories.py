"""Territories, one territory, and the assignments in it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from territory.api.dashboard_schemas import ClientKeysetPage
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
from territory.api.errors import PROBLEM_RESPONSES, ApiProblem
from territory.api.queries import assignments as assignment_queries
from territory.api.queries import territories as queries
from territory.api.queries.common import sort_pattern
from territory.api.schemas import AssignmentRecord, Paged, TerritoryDetail, TerritorySummary

router = APIRouter(prefix="/api/territories", tags=["territories"], responses=PROBLEM_RESPONSES)

TerritoryId = Annotated[str, Path(min_length=1, max_length=128)]


@router.get("", summary="Territories (filter by region, segment, tier; search by name)")
def list_territories(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    region: ShortText = None,
    segment: ShortText = None,
    tier: ShortText = None,
    q: Search = None,
    include_inactive: bool = False,
    sort: Annotated[str | None, Query(pattern=sort_pattern(list(queries.TERRITORY_SORTS)))] = None,
) -> Paged[TerritorySummary]:
    items, total = queries.list_territories(
        session,
        principal,
        masker_for(runtime, principal, session),
        region=region,
        segment=segment,
        tier=tier,
        q=q,
        include_inactive=include_inactive,
        page=page,
        sort=sort,
    )
    return Paged.of(items, total, page)


@router.get("/{territory_id}", summary="One territory with its advisors and clients by tier")
def get_territory(
    territory_id: TerritoryId, session: SessionDep, runtime: RuntimeDep, principal: Reader
) -> TerritoryDetail:
    detail = queries.territory_detail(
        session, principal, masker_for(runtime, principal, session), territory_id
    )
    if detail is None:
        raise not_found("territory")
    return detail


@router.get("/{territory_id}/assignments", summary="Current assignments in a territory")
def territory_assignments(
    territory_id: TerritoryId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    current_only: bool = True,
    sort: Annotated[
        str | None, Query(pattern=sort_pattern(list(assignment_queries.ASSIGNMENT_SORTS)))
    ] = None,
) -> Paged[AssignmentRecord]:
    if not queries.territory_visible(session, principal, territory_id):
        raise not_found("territory")
    items, total = assignment_queries.list_assignments(
        session,
        principal,
        masker_for(runtime, principal, session),
        assignment_queries.AssignmentFilters(territory_id=territory_id, current_only=current_only),
        page,
        sort,
    )
    return Paged.of(items, total, page)


@router.get(
    "/{territory_id}/clients",
    summary="A territory's clients: sorted, searched and keyset-paged (pass `next_cursor` back)",
)
def territory_clients(
    territory_id: TerritoryId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    q: Search = None,
    sort: Annotated[
        str | None, Query(pattern=sort_pattern(list(queries.CLIENT_KEYSET_SORTS)))
    ] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped).")] = None,
) -> ClientKeysetPage:
    if not queries.territory_visible(session, principal, territory_id):
        raise not_found("territory")
    options = runtime.settings.api
    size = min(options.default_page_size if limit is None else limit, options.max_page_size)
    try:
        items, total, next_cursor = queries.territory_clients(
            session,
            principal,
            masker_for(runtime, principal),
            territory_id,
            q=q,
            sort=sort,
            cursor=cursor,
            limit=size,
        )
    except queries.BadCursor as exc:
        raise ApiProblem(400, str(exc)) from None
    return ClientKeysetPage(items=items, total=total, limit=size, next_cursor=next_cursor)
