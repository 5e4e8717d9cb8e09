"""Conflicts found by the rules service (read), and their acknowledgement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from territory.api import actions
from territory.api.deps import RulesEditor, RuntimeDep
from territory.api.errors import PROBLEM_RESPONSES
from territory.api.schemas import Accepted, AcknowledgeRequest
from territory.shared.events import RulesCommand, RulesCommanded

router = APIRouter(prefix="/api/conflicts", tags=["conflicts"], responses=PROBLEM_RESPONSES)

ConflictId = Annotated[str, Path(min_length=1, max_length=256)]


@router.post(
    "/{conflict_id}/acknowledge",
    status_code=202,
    summary="Acknowledge a conflict (`rules.command`)",
)
async def acknowledge_conflict(
    conflict_id: ConflictId, body: AcknowledgeRequest, runtime: RuntimeDep, principal: RulesEditor
) -> Accepted:
    event = RulesCommanded(
        producer=runtime.producer,
        payload=RulesCommand(
            action="acknowledge_conflict",
            requested_by=principal.subject,
            reason=body.reason,
            conflict_id=conflict_id,
        ),
    )
    return await actions.publish(runtime, event, f"conflict {conflict_id} acknowledged")
