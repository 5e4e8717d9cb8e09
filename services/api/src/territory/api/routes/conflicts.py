"""Conflicts found by the rules service (read), and their acknowledgement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from territory.api import actions
from territory.api.deps import (
    PageDep,
    Reader,
    RulesEditor,
    RuntimeDep,
    SessionDep,
    ShortText,
    masker_for,
    not_found,
)
from territory.api.errors import PROBLEM_RESPONSES, ApiProblem
from territory.api.queries import conflicts as queries
from territory.api.queries.common import sort_pattern
from territory.api.schemas import Accepted, AcknowledgeRequest, ConflictRecord, Paged
from territory.shared.events import ConflictKind, RulesCommand, RulesCommanded, Severity

router = APIRouter(prefix="/api/conflicts", tags=["conflicts"], responses=PROBLEM_RESPONSES)

ConflictId = Annotated[str, Path(min_length=1, max_length=256)]


@router.get("", summary="Conflicts (open ones first by default)")
def list_conflicts(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    kind: ConflictKind | None = None,
    severity: Severity | None = None,
    resolved: bool | None = False,
    client_id: ShortText = None,
    sort: Annotated[str | None, Query(pattern=sort_pattern(list(queries.CONFLICT_SORTS)))] = None,
) -> Paged[ConflictRecord]:
    items, total = queries.list_conflicts(
        session,
        principal,
        masker_for(runtime, principal, session),
        kind=kind,
        severity=severity,
        resolved=resolved,
        client_id=client_id,
        page=page,
        sort=sort,
    )
    return Paged.of(items, total, page)


@router.post(
    "/{conflict_id}/acknowledge",
    status_code=202,
    summary="Acknowledge a conflict (`rules.command`)",
)
async def acknowledge_conflict(
    conflict_id: ConflictId,
    body: AcknowledgeRequest,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: RulesEditor,
) -> Accepted:
    resolved = queries.conflict_resolved(session, principal, conflict_id)
    if resolved is None:
        raise not_found("conflict")
    if resolved:
        raise ApiProblem(409, f"conflict {conflict_id} is already resolved")
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
