"""Golden clients: list with filters, hierarchy, detail."""

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
from territory.api.queries import advisors as advisor_queries
from territory.api.queries import clients as queries
from territory.api.queries.common import sort_pattern
from territory.api.schemas import ClientDetail, ClientSummary, HierarchyNode, Paged

router = APIRouter(prefix="/api/clients", tags=["clients"], responses=PROBLEM_RESPONSES)

ClientId = Annotated[str, Path(min_length=1, max_length=128)]


@router.get("", summary="Golden clients (filters: region, segment, tier, territory, advisor, name)")
def list_clients(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    region: ShortText = None,
    segment: ShortText = None,
    tier: ShortText = None,
    territory: ShortText = None,
    advisor: Annotated[
        str | None,
        Query(min_length=1, max_length=320, description="advisor_id (or e-mail, if you see them)"),
    ] = None,
    q: Search = None,
    sort: Annotated[str | None, Query(pattern=sort_pattern(list(queries.CLIENT_SORTS)))] = None,
) -> Paged[ClientSummary]:
    mask = masker_for(runtime, principal, session)
    advisor_email = advisor_queries.advisor_filter(session, principal, mask.secret, advisor)
    if advisor_email is False:
        return Paged.of([], 0, page)
    filters = queries.ClientFilters(
        region=region,
        segment=segment,
        tier=tier,
        territory_id=territory,
        advisor_email=advisor_email,
        q=q,
    )
    items, total = queries.list_clients(session, principal, mask, filters, page, sort)
    return Paged.of(items, total, page)


@router.get(
    "/hierarchy",
    summary="Organisation → subsidiary tree, one level at a time (roots, children, or search)",
)
def client_hierarchy(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    parent_id: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Expand this client.")
    ] = None,
    q: Search = None,
    region: ShortText = None,
    segment: ShortText = None,
) -> Paged[HierarchyNode]:
    result = queries.hierarchy(
        session,
        principal,
        masker_for(runtime, principal, session),
        parent_id=parent_id,
        q=q,
        page=page,
        region=region,
        segment=segment,
    )
    if result is None:
        raise not_found("client")
    items, total = result
    return Paged.of(items, total, page)


@router.get(
    "/{client_id}",
    summary="Golden record, source records, current assignment with its trace, history",
)
def get_client(
    client_id: ClientId, session: SessionDep, runtime: RuntimeDep, principal: Reader
) -> ClientDetail:
    detail = queries.client_detail(
        session, principal, masker_for(runtime, principal, session), client_id
    )
    if detail is None:
        raise not_found("client")
    return detail
