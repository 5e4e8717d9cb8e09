"""Data quality: quarantined field values (issue 12), summed and listed."""

from __future__ import annotations

from fastapi import APIRouter

from territory.api.deps import PageDep, Reader, RuntimeDep, SessionDep, ShortText, masker_for
from territory.api.errors import PROBLEM_RESPONSES
from territory.api.queries import quality as queries
from territory.api.schemas import DataQualitySummary, FieldIssueRecord, Paged

router = APIRouter(prefix="/api/data-quality", tags=["data quality"], responses=PROBLEM_RESPONSES)


@router.get("", summary="Quarantined field values by field and code, within your regions")
def data_quality(
    session: SessionDep, runtime: RuntimeDep, principal: Reader, field: ShortText = None
) -> DataQualitySummary:
    return queries.summary(session, principal, masker_for(runtime, principal), field=field)


@router.get("/issues", summary="The quarantined field values themselves (filters: field, code)")
def data_quality_issues(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    field: ShortText = None,
    code: ShortText = None,
) -> Paged[FieldIssueRecord]:
    mask = masker_for(runtime, principal)
    items, total = queries.list_issues(session, principal, mask, page, field=field, code=code)
    return Paged.of(items, total, page)
