"""The dedupe review queue (read) and reviewers' decisions: merge or split."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError

from territory.api import actions
from territory.api.deps import RuntimeDep, Steward
from territory.api.errors import PROBLEM_RESPONSES, ApiProblem
from territory.api.schemas import Accepted, DedupeDecisionRequest
from territory.shared.events import DedupeCommand, DedupeCommanded

router = APIRouter(prefix="/api/dedupe", tags=["dedupe"], responses=PROBLEM_RESPONSES)


@router.post(
    "/review/decisions",
    status_code=202,
    summary="Merge golden clients, or split source records off one (`dedupe.command`)",
)
async def decide(body: DedupeDecisionRequest, runtime: RuntimeDep, principal: Steward) -> Accepted:
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
    event = DedupeCommanded(producer=runtime.producer, payload=command)
    return await actions.publish(runtime, event, f"{body.action} requested")
