"""Data quality: records refused by any stage (dead letters), by reason."""

from __future__ import annotations

from fastapi import APIRouter

from territory.api.dashboard_schemas import RejectedRecord, RejectionSummary
from territory.api.deps import PageDep, RuntimeDep, SessionDep, ShortText, Steward, masker_for
from territory.api.errors import PROBLEM_RESPONSES
from territory.api.queries import data_quality as queries
from territory.api.schemas import Paged

router = APIRouter(prefix="/api/data-quality", tags=["data quality"], responses=PROBLEM_RESPONSES)


@router.get("/rejections/summary", summary="Refused records by stage and reason")
def rejection_summary(session: SessionDep, principal: Steward) -> RejectionSummary:
    return queries.rejection_summary(session)


@router.get("/rejections", summary="Refused records, newest first (fields and messages only)")
def list_rejections(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Steward,
    page: PageDep,
    stage: ShortText = None,
    reason: ShortText = None,
) -> Paged[RejectedRecord]:
    items, total = queries.list_rejections(
        session, masker_for(runtime, principal), stage=stage, reason=reason, page=page
    )
    return Paged(items=items, total=total, limit=page.limit, offset=page.offset)
