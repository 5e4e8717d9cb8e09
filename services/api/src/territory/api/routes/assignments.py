"""Assignments: current and historical (read), and the reassignment trigger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from territory.api import actions
from territory.api.deps import (
    Operator,
    PageDep,
    Reader,
    RuntimeDep,
    SessionDep,
    ShortText,
    masker_for,
)
from territory.api.errors import PROBLEM_RESPONSES
from territory.api.queries import advisors as advisor_queries
from territory.api.queries import assignments as queries
from territory.api.queries.common import sort_pattern
from territory.api.schemas import (
    Accepted,
    AssignmentRecord,
    AssignmentTrend,
    Paged,
    ReassignRequest,
)
from territory.shared.events import RulesCommand, RulesCommanded

router = APIRouter(prefix="/api/assignments", tags=["assignments"], responses=PROBLEM_RESPONSES)


@router.post(
    "/reassign",
    status_code=202,
    summary="Re-decide every client now with the active ruleset (`rules.command`)",
)
async def trigger_reassignment(
    body: ReassignRequest, runtime: RuntimeDep, principal: Operator
) -> Accepted:
    event = RulesCommanded(
        producer=runtime.producer,
        payload=RulesCommand(action="reassign", requested_by=principal.subject, reason=body.reason),
    )
    return await actions.publish(runtime, event, "reassignment requested")


@router.get("", summary="Assignments (current by default; all history with current_only=false)")
def list_assignments(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    territory: ShortText = None,
    advisor: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    client_id: ShortText = None,
    tier: ShortText = None,
    ruleset_version: ShortText = None,
    current_only: bool = True,
    since: datetime | None = None,
    sort: Annotated[str | None, Query(pattern=sort_pattern(list(queries.ASSIGNMENT_SORTS)))] = None,
) -> Paged[AssignmentRecord]:
    mask = masker_for(runtime, principal, session)
    advisor_email = advisor_queries.advisor_filter(session, principal, mask.secret, advisor)
    if advisor_email is False:
        return Paged.of([], 0, page)
    filters = queries.AssignmentFilters(
        territory_id=territory,
        advisor_email=advisor_email,
        client_id=client_id,
        tier=tier,
        ruleset_version=ruleset_version,
        current_only=current_only,
        since=since,
    )
    items, total = queries.list_assignments(session, principal, mask, filters, page, sort)
    return Paged.of(items, total, page)


@router.get("/trend", summary="Assignment changes per day (the trend chart)")
def assignment_trend(
    session: SessionDep,
    principal: Reader,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    territory: ShortText = None,
) -> AssignmentTrend:
    return AssignmentTrend(days=days, points=queries.trend(session, principal, days, territory))
