"""The dedupe review queue (read) and reviewers' decisions: merge or split."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import ValidationError

from territory.api import actions
from territory.api.deps import PageDep, RuntimeDep, SessionDep, Steward, masker_for
from territory.api.errors import PROBLEM_RESPONSES, ApiProblem
from territory.api.queries import dedupe as queries
from territory.api.queries.common import sort_pattern
from territory.api.schemas import Accepted, DedupeDecisionRequest, DedupeReviewItem, Paged
from territory.shared.events import DedupeCommand, DedupeCommanded

router = APIRouter(prefix="/api/dedupe", tags=["dedupe"], responses=PROBLEM_RESPONSES)


@router.get("/review", summary="Possible duplicates waiting for a reviewer, with evidence")
def review_queue(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Steward,
    page: PageDep,
    status: Literal["open", "merged", "split", "dismissed"] | None = "open",
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    sort: Annotated[str | None, Query(pattern=sort_pattern(list(queries.REVIEW_SORTS)))] = None,
) -> Paged[DedupeReviewItem]:
    items, total = queries.list_reviews(
        session,
        principal,
        masker_for(runtime, principal, session),
        status=status,
        min_confidence=min_confidence,
        page=page,
        sort=sort,
    )
    return Paged.of(items, total, page)


@router.post(
    "/review/decisions",
    status_code=202,
    summary="Merge golden clients, or split source records off one (`dedupe.command`)",
)
async def decide(
    body: DedupeDecisionRequest, runtime: RuntimeDep, session: SessionDep, principal: Steward
) -> Accepted:
    try:
        command = DedupeCommand(
            action=body.action,
            client_ids=body.client_ids,
            source_keys=body.source_keys,
            decided_by=principal.subject,
            reason=body.reason,
        )
    except ValidationError as exc:
        raise ApiProblem(422, "; ".join(e["msg"] for e in exc.errors())) from None
    # Checked against the warehouse before anything is published: a command naming
    # clients or records that do not exist would be accepted and silently do nothing.
    problem = queries.command_problem(session, principal, command)
    if problem is not None:
        raise ApiProblem(*problem)
    event = DedupeCommanded(producer=runtime.producer, payload=command)
    return await actions.publish(runtime, event, f"{body.action} requested")
