"""Assignments: current and historical (read), and the reassignment trigger."""

from __future__ import annotations

from fastapi import APIRouter

from territory.api import actions
from territory.api.deps import Operator, RuntimeDep
from territory.api.errors import PROBLEM_RESPONSES
from territory.api.schemas import Accepted, ReassignRequest
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
